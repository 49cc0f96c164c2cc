"""Which ground-truth instance each training-time box stands for: the glue between the detector's
own outputs and the targets of the mask and panoptic heads.

Li, Qi & Torr train the panoptic head on the detections it will see at inference, so it learns what
to do with misses, duplicates and loose boxes; Mask R-CNN trains its mask head on sampled positive
proposals rather than on perfect boxes. Both need the same step: batched IoU between padded boxes
and the image's ground truth. Everything here is vectorised over the batch (no per-image loops).
"""
from __future__ import annotations

import torch

from panoptic_ros.structures import Detections


def pairwise_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of every box in ``a`` [B, N, 4] with every box in ``b`` [B, G, 4]: [B, N, G]."""
    lt = torch.maximum(a[:, :, None, :2], b[:, None, :, :2])
    rb = torch.minimum(a[:, :, None, 2:], b[:, None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(dim=-1)
    area_a = (a[..., 2:] - a[..., :2]).clamp(min=0).prod(dim=-1)
    area_b = (b[..., 2:] - b[..., :2]).clamp(min=0).prod(dim=-1)
    return inter / (area_a[:, :, None] + area_b[:, None, :] - inter).clamp(min=1e-6)


def match_detections(dets: Detections, gt: Detections, iou_threshold: float = 0.5) -> torch.Tensor:
    """The detection slot that stands for each ground-truth instance, one-to-one.

    A detection may stand for the ground-truth box of its own class that it overlaps most, if by at
    least ``iou_threshold``; of several detections of one instance, the best-overlapping wins and the
    others (duplicates) stand for nothing, so their pixels train them to lose.

    Args:
        dets: [B, N] padded detections; gt: [B, G] padded ground truth (labels 1-based things).
    Returns:
        [B, G] int64 detection slot per ground-truth instance, -1 where none matches.
    """
    b, n = dets.valid.shape
    g = gt.valid.shape[1]
    if n == 0 or g == 0:
        return torch.full((b, g), -1, dtype=torch.int64, device=gt.boxes.device)
    iou = pairwise_iou(dets.boxes.float(), gt.boxes.float())
    usable = (dets.valid[:, :, None] & gt.valid[:, None, :] & (dets.labels[:, :, None] == gt.labels[:, None, :])
              & (iou >= iou_threshold))
    iou = torch.where(usable, iou, -1.0)
    own = iou.argmax(dim=2, keepdim=True)                              # each detection's best instance
    iou = torch.where(torch.arange(g, device=iou.device) == own, iou, -1.0)
    best, slot = iou.max(dim=1)                                        # each instance's best detection
    return torch.where(best >= 0, slot, -1)


def positive_proposals(proposals: list[torch.Tensor], gt: Detections, per_image: int,
                       iou_threshold: float = 0.5) -> tuple[Detections, torch.Tensor]:
    """Mask R-CNN's mask-head training boxes: up to ``per_image`` randomly drawn proposals that overlap
    a ground-truth box by ``iou_threshold`` or more, plus the ground-truth boxes themselves.

    Args:
        proposals: per image [P_i, 4] region proposals (the RPN's, already detached).
        gt: [B, G] padded ground truth.
    Returns:
        (boxes labelled with their instance's class [B, K + G], [B, K + G] the ground-truth index each
        slot's mask target comes from; -1 on padding).
    """
    device = gt.boxes.device
    props = Detections.from_lists(proposals, [torch.zeros(len(p), dtype=torch.int64, device=device)
                                              for p in proposals])
    g = gt.valid.shape[1]
    if g == 0 or props.num_slots == 0:
        source = torch.zeros(props.valid.shape[0], 0, dtype=torch.int64, device=device)
        drawn = Detections(props.boxes[:, :0], props.labels[:, :0], props.scores[:, :0], props.valid[:, :0])
    else:
        iou = pairwise_iou(props.boxes.float(), gt.boxes.float()).masked_fill(~gt.valid[:, None, :], -1.0)
        best, source = iou.max(dim=2)
        positive = props.valid & (best >= iou_threshold)
        k = min(per_image, props.num_slots)
        draw = torch.where(positive, torch.rand(positive.shape, device=device), -1.0)
        rank, pick = draw.topk(k, dim=1)
        source = torch.where(rank >= 0, source.gather(1, pick), -1)
        drawn = Detections(props.boxes.gather(1, pick[..., None].expand(-1, -1, 4)),
                           gt.labels.gather(1, source.clamp(min=0)), torch.ones_like(rank), rank >= 0)
    own = torch.where(gt.valid, torch.arange(g, device=device), -1).expand_as(gt.valid)
    merged = Detections(torch.cat([drawn.boxes, gt.boxes], 1), torch.cat([drawn.labels, gt.labels], 1),
                        torch.cat([drawn.scores, gt.scores], 1), torch.cat([drawn.valid, gt.valid], 1))
    return merged, torch.cat([source, own], 1)


def keep_some_instances(valid: torch.Tensor, keep_fraction: float) -> torch.Tensor:
    """UPSNet's hidden instances: each ground-truth box is kept with probability ``keep_fraction`` (at
    least one per image that has any); the hidden ones' pixels teach the unknown class.

    Args:
        valid: [B, G] real ground-truth slots.
    Returns:
        [B, G] bool, the kept boxes.
    """
    draw = torch.rand(valid.shape, device=valid.device).masked_fill(~valid, 2.0)
    keep = valid & (draw < keep_fraction)
    if valid.shape[1] == 0:
        return keep
    first = torch.zeros_like(valid).scatter_(1, draw.argmin(dim=1, keepdim=True), True) & valid
    return keep | (first & ~keep.any(dim=1, keepdim=True))
