"""Inference post-processing shared by every panoptic head, so their comparison is fair.

UPSNet's inference does more than take the argmax of its logits; these are its steps, each a value of
``PanopticHeadConfig`` (a step is off at 1.0 / 0.0 respectively):

* ``overlap_nms``: class-agnostic suppression of a detection whose box overlaps a higher-scored one
  by more than this IoU (the box head's NMS is per class: a car and a cyclist box on one object both
  survive it);
* ``min_visible``: an instance left with less than this fraction of its own mask visible in the
  panoptic map (mostly covered by others) is dropped and its pixels go to their next-best channel;
* ``min_stuff_area``: a stuff segment smaller than this fraction of the image becomes void;
* ``mask_removal`` (the learnt heads, with mask cues): a detection whose mask lies more than this
  fraction on the masks of higher-scored detections of its own class is dropped before the logits.

Every step is vectorised over the batch and the detection slots.
"""
from __future__ import annotations

import dataclasses

import torch

from panoptic_ros.structures import Detections
from panoptic_ros.model.fixed_size_detection import rank_order
from panoptic_ros.model.matching import pairwise_iou
from panoptic_ros.model.upsnet_head import NEG, box_masks


def suppress_overlaps(dets: Detections, iou_threshold: float) -> Detections:
    """Invalidate every detection whose box overlaps a higher-scored valid one by more than ``iou_threshold``.

    All pairs are judged at once (a suppressed box still suppresses lower ones, as in YOLACT's fast
    NMS), which keeps it one batched operation; ties go to the lower slot.
    """
    if iou_threshold >= 1.0 or dets.num_slots == 0:
        return dets
    iou = pairwise_iou(dets.boxes.float(), dets.boxes.float())               # [B, i, j]
    score_i, score_j = dets.scores[:, :, None], dets.scores[:, None, :]
    slot = torch.arange(dets.num_slots, device=dets.boxes.device)
    ranks_above = (score_j > score_i) | ((score_j == score_i) & (slot[None, :] < slot[:, None]))
    suppressed = (ranks_above & (iou > iou_threshold) & dets.valid[:, None, :]).any(dim=2)
    return dataclasses.replace(dets, valid=dets.valid & ~suppressed)


MASK_REMOVAL_ROUNDS = 4  # fixed-point rounds of ``remove_overlapping_masks`` (see there)


def remove_overlapping_masks(dets: Detections, pixels: torch.Tensor, max_overlap: float) -> Detections:
    """UPSNet's mask removal (official code, ``MaskRemoval``): in descending score, a detection whose
    mask lies more than ``max_overlap`` of its area on the masks kept before it *of its own class*, or
    whose mask is empty, is dropped, before any panoptic logit is built.

    The sequential rule is computed as a fixed point, as ``greedy_nms`` computes greedy NMS: a
    detection is kept unless the union of the kept higher-ranked masks of its class covers too much
    of it. The pixels each mask shares with that union come from one batched product per round (the
    number of covering masks per pixel), so there is no loop over detections. Each round settles the
    detections one step further down a chain of would-be removers; the number of rounds is fixed
    (asking whether a round changed anything would make a GPU wait), and a detection still undecided
    after them is dropped (as in ``greedy_nms``, a short count can only lose a detection).

    Args:
        dets: the detections (after ``suppress_overlaps``).
        pixels: [B, N, H, W] bool, each detection's mask pixels (pasted logits above 0).
        max_overlap: the share of its mask a detection may have on earlier kept ones; 1 or more: off.
    Returns:
        The detections with the removed ones invalid.
    """
    if max_overlap >= 1.0 or dets.num_slots == 0:
        return dets
    masks = pixels.flatten(2)
    area = masks.sum(dim=2)
    order = rank_order(dets.scores, dets.valid)
    rank = torch.empty_like(order).scatter_(1, order, torch.arange(dets.num_slots, device=order.device).expand_as(order))
    earlier_same_class = (rank[:, None, :] < rank[:, :, None]) & (dets.labels[:, None, :] == dets.labels[:, :, None])
    candidates = dets.valid & (area > 0)
    values = masks.float()
    kept = previous = candidates
    for _ in range(MASK_REMOVAL_ROUNDS):  # kept: a candidate not covered too much by the union of kept earlier ones
        removers = (earlier_same_class & kept[:, None, :]).float()              # [B, i, j]
        covered = (torch.bmm(removers, values) > 0) & masks                     # [B, i, pixels]
        previous, kept = kept, candidates & (covered.sum(dim=2) <= max_overlap * area)
    return dataclasses.replace(dets, valid=kept & previous)


def instance_masks(sem_logits: torch.Tensor, dets: Detections, mask_pixels: torch.Tensor | None,
                   num_stuff: int) -> torch.Tensor:
    """Each detection's own binary mask at the logits' resolution: [B, N, H, W] bool.

    Args:
        sem_logits: [B, K, H, W] semantic logits.
        dets: the detections.
        mask_pixels: [B, N, H, W] bool, the mask head's pixels at this resolution (its logits pasted
            into their boxes, ``paste_in_boxes``, above 0), or None without mask cues.
    Returns:
        With mask cues the mask head's pixels; without them the box intersected with the pixels the
        semantic head gives the detection's class; nothing for padding slots.
    """
    h, w = sem_logits.shape[-2:]
    if mask_pixels is not None:
        masks = mask_pixels
    else:
        own_class = (num_stuff + dets.labels - 1)[:, :, None, None]
        masks = box_masks(dets.boxes, (h, w), 1.0) & (sem_logits.argmax(dim=1, keepdim=True) == own_class)
    return masks & dets.valid[:, :, None, None]


def visible_area(channels: torch.Tensor, num_stuff: int, num_slots: int) -> torch.Tensor:
    """[B, N] pixels of the channel map [B, H, W] that each detection slot holds."""
    counts = torch.zeros(channels.shape[0], num_stuff + 1 + num_slots, dtype=torch.int64, device=channels.device)
    counts.scatter_add_(1, channels.flatten(1), torch.ones_like(channels.flatten(1)))
    return counts[:, num_stuff + 1:]


def covered_instances(channels: torch.Tensor, masks: torch.Tensor, num_stuff: int, min_visible: float) -> torch.Tensor:
    """[B, N] bool: detections that hold fewer pixels of ``channels`` (inside their mask or not) than
    ``min_visible`` times their mask's area."""
    area = masks.sum(dim=(2, 3))
    return (area > 0) & (visible_area(channels, num_stuff, masks.shape[1]) < min_visible * area)


def drop_covered(logits: torch.Tensor, masks: torch.Tensor | None, num_stuff: int,
                 min_visible: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The argmax of the panoptic logits, with the pixels of mostly covered instances re-decided
    without them.

    Args:
        logits: [B, S + 1 + N, H, W] panoptic logits.
        masks: [B, N, H, W] the detections' own masks (``instance_masks``); None: nothing is dropped.
    Returns:
        (channel map, confidence), both [B, H, W].
    """
    if masks is not None and min_visible > 0 and masks.shape[1] > 0:
        dropped = covered_instances(logits.argmax(dim=1), masks, num_stuff, min_visible)
        stuff = torch.zeros_like(dropped[:, :1]).expand(-1, num_stuff + 1)
        logits = logits.masked_fill(torch.cat([stuff, dropped], dim=1)[:, :, None, None], NEG)
    confidence, channels = logits.softmax(dim=1).max(dim=1)
    return channels, confidence


def void_small_stuff(channels: torch.Tensor, num_stuff: int, min_area: float) -> torch.Tensor:
    """Stuff segments (one per stuff channel and image) under ``min_area`` of the image become void (the
    unknown channel ``S``)."""
    if min_area <= 0:
        return channels
    counts = torch.zeros(channels.shape[0], num_stuff + 1, dtype=torch.int64, device=channels.device)
    flat = channels.flatten(1)
    counts.scatter_add_(1, flat.clamp(max=num_stuff), (flat < num_stuff).long())
    stuff = torch.arange(num_stuff + 1, device=channels.device) < num_stuff  # the unknown channel stays
    small = (counts < min_area * channels[0].numel()) & stuff
    return torch.where(small.gather(1, flat.clamp(max=num_stuff)).view_as(channels), num_stuff, channels)
