"""Heuristic-merge baseline (Panoptic-FPN style), for comparison with the learnt heads.

Instances are painted in score order (at each pixel the highest-scoring instance whose binary mask
covers it wins), an instance left with less than ``overlap`` of its mask visible is dropped, and the
rest of the image takes the semantic head's stuff class; thing pixels no instance claims are void.
Done as two vectorised passes (paint, drop, repaint) instead of the usual per-instance loop. Without
mask cues an instance's mask is its box intersected with its class's semantic prediction.
Output: a channel map in the panoptic-logit layout of ``upsnet_head``.
"""
from __future__ import annotations

import torch

from panoptic_ros.model.detections import Detections
from panoptic_ros.model.upsnet_head import box_masks, paste_in_boxes


def _paint(masks: torch.Tensor, scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(winning slot [B, H, W], covered [B, H, W]) with the highest score winning overlaps."""
    ranked = torch.where(masks, scores[:, :, None, None], scores.new_tensor(-1.0))
    best, winner = ranked.max(dim=1)
    return winner, best >= 0


def heuristic_channels(sem_logits: torch.Tensor, dets: Detections, mask_logits: torch.Tensor | None,
                       num_stuff: int, overlap: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """``sem_logits`` at the output size [B, K, H, W] -> (channel map [B, H, W], confidence [B, H, W])."""
    h, w = sem_logits.shape[-2:]
    prob, sem_cls = sem_logits.float().softmax(dim=1).max(dim=1)
    stuff_or_unknown = torch.where(sem_cls < num_stuff, sem_cls, torch.full_like(sem_cls, num_stuff))
    if dets.num_slots == 0:
        return stuff_or_unknown, prob
    if mask_logits is not None:
        masks = paste_in_boxes(mask_logits, dets.boxes, (h, w), 1.0) > 0
    else:
        own_class = (num_stuff + dets.labels - 1)[:, :, None, None]
        masks = box_masks(dets.boxes, (h, w), 1.0) & (sem_cls[:, None] == own_class)
    masks = masks & dets.valid[:, :, None, None]
    winner, covered = _paint(masks, dets.scores)
    area = masks.sum(dim=(2, 3))
    visible = torch.zeros_like(area).scatter_add_(1, winner.flatten(1), covered.flatten(1).long())
    masks = masks & (visible >= overlap * area)[:, :, None, None]
    winner, covered = _paint(masks, dets.scores)
    channels = torch.where(covered, num_stuff + 1 + winner, stuff_or_unknown)
    confidence = torch.where(covered, dets.scores.gather(1, winner.flatten(1)).view_as(prob), prob)
    return channels, confidence
