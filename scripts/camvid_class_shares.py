"""Pixel share of each street class (void included) and how many frames show it, per CamVid split.

Why: the model card compares the held-out drive's make-up with the training drives'; this prints
the figures it quotes. Usage: python scripts/camvid_class_shares.py ../shared/data/camvid [split ...]
"""
import sys

import cv2
import numpy as np

from panoptic_ros.data.camvid import CAMVID_TO_STREET, CamVidDataset
from panoptic_ros.data.street_categories import STREET_CATEGORIES

NAME_OF = {c.id: c.name for c in STREET_CATEGORIES.categories}
NAMES = [NAME_OF[c] for c in CAMVID_TO_STREET] + ["void"]

root, splits = sys.argv[1], sys.argv[2:] or ["train", "heldout"]
for split in splits:
    data = CamVidDataset(root, split)
    pixels = np.zeros(len(NAMES), np.int64)
    frames = np.zeros(len(NAMES), np.int64)
    for _, label_path in data.pairs:
        counts = np.bincount(cv2.imread(str(data.root / label_path), cv2.IMREAD_GRAYSCALE).ravel(),
                             minlength=len(NAMES))[: len(NAMES)]
        pixels += counts
        frames += counts > 0
    shares = 100 * pixels / pixels.sum()
    print(f"{split} ({len(data)} frames): " + ", ".join(
        f"{name} {share:.2f} % ({n} frames)" for name, share, n in zip(NAMES, shares, frames)))
