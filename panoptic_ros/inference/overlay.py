"""RViz-friendly overlay: the input blended with per-segment colours and white segment borders.

Computed on the device from the panoptic map: category colour from the table, instances of one
category told apart by a brightness shift, void left as the input.
"""
from __future__ import annotations

import torch

from panoptic_ros.model.result import ID_DIVISOR


def render_overlay(image: torch.Tensor, panoptic: torch.Tensor, colors: torch.Tensor, alpha: float) -> torch.Tensor:
    """``image`` RGB uint8 [3, H, W], ``panoptic`` [H, W], ``colors`` [256, 3] uint8 -> [H, W, 3] uint8."""
    valid = panoptic >= 0
    category = torch.where(valid, panoptic // ID_DIVISOR, 0).long()
    instance = torch.where(valid, panoptic % ID_DIVISOR, 0)
    shift = ((instance * 47) % 96 - 48).where(instance > 0, 0)  # distinct shades per instance
    color = (colors[category].int() + shift[..., None]).clamp(0, 255).float()
    base = image.permute(1, 2, 0).float()
    out = torch.where(valid[..., None], (1 - alpha) * base + alpha * color, base)
    border = torch.zeros_like(valid)
    border[:, 1:] |= panoptic[:, 1:] != panoptic[:, :-1]
    border[1:, :] |= panoptic[1:, :] != panoptic[:-1, :]
    out[border] = 255.0
    return out.round().to(torch.uint8)
