"""Heuristic-merge baseline (Panoptic-FPN style), for comparison with the learnt heads.

Instances are painted in score order (at each pixel the highest-scoring instance whose binary mask
covers it wins), an instance left with less than ``min_visible`` of its mask visible is dropped, and
the rest of the image takes the semantic head's stuff class; thing pixels no instance claims are void.
Done as two vectorised passes (paint, drop, repaint) instead of the usual per-instance loop. The masks
are ``postprocess.instance_masks``, the same every head's post-processing uses; ``panoptic_heads`` wraps it
behind the interface the learnt heads share.
Output: a channel map in the panoptic-logit layout of ``upsnet_head``.
"""
from __future__ import annotations

import torch

from panoptic_ros.structures import Detections
from panoptic_ros.model.postprocess import covered_instances


def _paint(masks: torch.Tensor, scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(winning slot [B, H, W], covered [B, H, W]) with the highest score winning overlaps."""
    ranked = torch.where(masks, scores[:, :, None, None], -1.0)
    best, winner = ranked.max(dim=1)
    return winner, best >= 0


def heuristic_channels(sem_logits: torch.Tensor, dets: Detections, masks: torch.Tensor, num_stuff: int,
                       min_visible: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """``sem_logits`` [B, K, H, W] and the detections' masks [B, N, H, W] at the output size ->
    (channel map [B, H, W], confidence [B, H, W])."""
    prob, sem_cls = sem_logits.float().softmax(dim=1).max(dim=1)
    stuff_or_unknown = torch.where(sem_cls < num_stuff, sem_cls, torch.full_like(sem_cls, num_stuff))
    if dets.num_slots == 0:
        return stuff_or_unknown, prob
    winner, covered = _paint(masks, dets.scores)
    if min_visible > 0:
        channels = torch.where(covered, num_stuff + 1 + winner, num_stuff)
        masks = masks & ~covered_instances(channels, masks, num_stuff, min_visible)[:, :, None, None]
        winner, covered = _paint(masks, dets.scores)
    channels = torch.where(covered, num_stuff + 1 + winner, stuff_or_unknown)
    confidence = torch.where(covered, dets.scores.gather(1, winner.flatten(1)).view_as(prob), prob)
    return channels, confidence
