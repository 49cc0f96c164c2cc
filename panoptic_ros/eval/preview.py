"""A picture to look at before trusting the figures: rows of input | prediction overlay | ground truth."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from panoptic_ros.data.dataset import SampleSource
from panoptic_ros.defaults import DEFAULT_OVERLAY_ALPHA
from panoptic_ros.data.sample import panoptic_ids
from panoptic_ros.inference.predictor import predict_at
from panoptic_ros.inference.overlay import render_overlay
from panoptic_ros.heads import HeadKind
from panoptic_ros.model.network import PanopticNet

PREVIEW_FRAMES = 6


@torch.no_grad()
def write_preview(path: Path, model: PanopticNet, source: SampleSource, head: HeadKind, mask_cues: bool,
                  frames: int = PREVIEW_FRAMES, inference_size: tuple[int, int] | None = None) -> Path:
    """Write ``frames`` evenly spaced samples of ``source`` as one PNG strip, one row per frame (the
    network at ``inference_size``, as in ``evaluate_model``); rows of frames of other sizes are padded
    on the right with black to the widest, their pixels unscaled."""
    device = model.device
    colors = source.categories.colors_by_id(device)
    things = {c.id for c in source.categories.things}
    rows = []
    for i in np.linspace(0, len(source) - 1, min(frames, len(source))).round().astype(int):
        sample = source[int(i)]
        image = torch.from_numpy(sample.image).permute(2, 0, 1).to(device)
        result = predict_at(model, image[None], mask_cues, head, inference_size)[0]
        truth = torch.from_numpy(panoptic_ids(sample.segments, sample.categories, things)).to(device)
        rows.append(np.concatenate([sample.image,
                                    render_overlay(image, result, colors, DEFAULT_OVERLAY_ALPHA).cpu().numpy(),
                                    render_overlay(image, truth, colors, DEFAULT_OVERLAY_ALPHA).cpu().numpy()], axis=1))
    width = max(row.shape[1] for row in rows)
    strip = np.concatenate([np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0))) for row in rows], axis=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR)):
        raise OSError(f"cannot write {path}")
    return path
