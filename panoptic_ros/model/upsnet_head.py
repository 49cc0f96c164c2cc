"""UPSNet's parameter-free panoptic head.

Channel layout of the panoptic logits (shared by every head and by post-processing):
``[0, S)`` stuff classes, ``S`` the **unknown** class, ``S + 1 + i`` detection slot ``i``.

Instance ``i`` (box B_i, class c_i, mask logits M_i): Y_i = X[c_i] + M_i inside B_i, 0 outside.
Unknown = max over thing classes of X minus max over instances of the box-cropped semantic logit
X[c_i] (as UPSNet's official code: the mask logits take no part): high where the semantic head sees a
thing that no instance's box explains. Outside its box an instance gets a very low logit (it has no
say there), and padding slots always do, so softmax and argmax ignore them.

``panoptic_targets`` writes ground truth in this same layout, so it lives here too.
"""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from panoptic_ros.categories import VOID
from panoptic_ros.structures import Detections

NEG = -1e4  # "no say" logit; finite so softmax/cross-entropy stay defined (float32 only)


IGNORE = -100  # panoptic target of pixels no channel should be trained towards (void, crowd)


@dataclasses.dataclass
class InstanceLogits:
    """UPSNet's per-instance panoptic logits and what else the heads need of them, at the panoptic grid.

    One [B, N, h, w] float tensor per frame (``values``) besides the boolean ones: with a fixed number
    of detection slots (50 on a GPU) each such tensor is 400 MiB at 1024x2048, so the parts are
    reduced as soon as they are made (the cropped semantic logits to their maximum, the mask logits to
    their pixels) instead of kept.
    """

    values: torch.Tensor    # [B, N, h, w] Y_i, zero outside box (finite: fit for propagation)
    best_cropped: torch.Tensor  # [B, 1, h, w] max over real detections of X[c_i] in the box, 0 outside (unknown's term)
    in_box: torch.Tensor    # [B, N, h, w] bool
    mask: torch.Tensor | None  # [B, N, h, w] bool: the mask head's pixels (pasted logit > 0); None: no mask cues


def box_masks(boxes: torch.Tensor, size: tuple[int, int], stride: float) -> torch.Tensor:
    """[B, N, h, w] bool: which cells of a 1/stride grid have their centre inside each box."""
    h, w = size
    ys = (torch.arange(h, device=boxes.device, dtype=torch.float32) + 0.5) * stride  # exact centres, also
    xs = (torch.arange(w, device=boxes.device, dtype=torch.float32) + 0.5) * stride  # for bf16 boxes
    x0, y0, x1, y1 = (boxes[..., k, None, None] for k in range(4))
    inside_y = (ys[:, None] >= y0) & (ys[:, None] < y1)
    inside_x = (xs[None, :] >= x0) & (xs[None, :] < x1)
    return inside_y & inside_x


def _axis_weights(centres: torch.Tensor, low: torch.Tensor, high: torch.Tensor, m: int) -> torch.Tensor:
    """[BN, n, m]: how much each of a mask's m cells along one axis contributes to each grid cell's
    centre, bilinearly (pixel centres at ``(i + 0.5) / m`` of the box, as ``grid_sample`` with
    ``align_corners=False``); centres outside a cell range read the border cell; rows outside the box 0."""
    extent = (high - low).clamp(min=1e-3)
    source = ((centres[None, :] - low[:, None]) / extent[:, None] * m - 0.5).clamp(0, m - 1)  # [BN, n]
    first = source.floor()
    frac = (source - first)[..., None]
    first = first.long()
    weights = (1 - frac) * F.one_hot(first, m) + frac * F.one_hot((first + 1).clamp(max=m - 1), m)
    inside = (centres[None, :] >= low[:, None]) & (centres[None, :] < high[:, None])
    return weights * inside[..., None]


def paste_in_boxes(masks: torch.Tensor, boxes: torch.Tensor, size: tuple[int, int], stride: float) -> torch.Tensor:
    """Resample box-aligned maps [B, N, m, m] into their boxes on a 1/stride grid: [B, N, h, w], 0 outside.

    Bilinear resampling is separable, so each instance's paste is ``rows @ mask @ cols^T`` with
    [h, m] and [w, m] weight matrices (the box folded into them): two batched matrix products over
    all instances, no per-instance loop, and nothing of the output's size but the output itself (a
    ``grid_sample`` needs an [N, h, w, 2] grid: 800 MiB for 50 slots at 1024x2048). Cells near the box
    edge read the mask's border value (not a blend with zero logits, which would mean "50 % foreground").
    """
    b, n, m = masks.shape[:3]
    h, w = size
    if n == 0:
        return masks.new_zeros(b, 0, h, w)
    ys = (torch.arange(h, device=masks.device, dtype=torch.float32) + 0.5) * stride
    xs = (torch.arange(w, device=masks.device, dtype=torch.float32) + 0.5) * stride
    bx = boxes.float().reshape(b * n, 4)
    rows = _axis_weights(ys, bx[:, 1], bx[:, 3], m)  # [BN, h, m]
    cols = _axis_weights(xs, bx[:, 0], bx[:, 2], masks.shape[3])  # [BN, w, m]
    with torch.autocast(masks.device.type, enabled=False):  # in float32, as grid_sample ran under autocast
        pasted = rows @ masks.reshape(b * n, m, masks.shape[3]).float() @ cols.transpose(1, 2)
    return pasted.reshape(b, n, h, w)


def instance_logits(sem_logits: torch.Tensor, dets: Detections, mask_logits: torch.Tensor | None,
                    num_stuff: int, stride: float, pasted: torch.Tensor | None = None) -> InstanceLogits:
    """Y_i: the semantic logits of each detection's class inside its box, plus its pasted mask logits
    (``pasted``: already pasted at this grid, else pasted here from ``mask_logits``)."""
    b, _, h, w = sem_logits.shape
    channel = (num_stuff + dets.labels - 1).clamp(min=0)  # thing label l -> semantic channel
    sem = sem_logits.gather(1, channel[:, :, None, None].expand(-1, -1, h, w))
    valid = dets.valid[:, :, None, None]
    in_box = box_masks(dets.boxes, (h, w), stride) & valid
    # padding slots take no part in the maximum, so an image's unknown channel does not depend on what
    # it is batched with (a real detection's box-cropped logit is 0 outside its box, as in UPSNet)
    if sem.shape[1]:
        best = torch.where(in_box, sem, 0.0).masked_fill_(~valid, NEG).amax(dim=1, keepdim=True)
    else:
        best = sem.new_zeros(b, 1, h, w)
    if mask_logits is None:
        return InstanceLogits(sem.mul_(in_box), best, in_box, None)
    if pasted is None:
        pasted = paste_in_boxes(mask_logits, dets.boxes, (h, w), stride)
    return InstanceLogits(sem.add_(pasted).mul_(in_box), best, in_box, pasted > 0)


def unknown_logit(sem_logits: torch.Tensor, inst: InstanceLogits, valid: torch.Tensor, num_stuff: int) -> torch.Tensor:
    """[B, 1, h, w]: max thing semantic logit minus max box-cropped semantic logit over the image's real
    detections (an image without detections subtracts 0, as outside every box)."""
    max_thing = sem_logits[:, num_stuff:].amax(dim=1, keepdim=True)
    if inst.values.shape[1] == 0:
        return max_thing
    return max_thing - torch.where(valid.any(dim=1)[:, None, None, None], inst.best_cropped, 0.0)


def upsnet_logits(sem_logits: torch.Tensor, dets: Detections, mask_logits: torch.Tensor | None,
                  num_stuff: int, stride: float, pasted: torch.Tensor | None = None
                  ) -> tuple[torch.Tensor, InstanceLogits]:
    """Panoptic logits [B, S + 1 + N, h, w] (float32) and the instance logits they were built from
    (``pasted``: see ``instance_logits``)."""
    sem = sem_logits.float()
    inst = instance_logits(sem, dets, mask_logits, num_stuff, stride, pasted)
    logits = torch.cat([sem[:, :num_stuff], unknown_logit(sem, inst, dets.valid, num_stuff), inst.values], dim=1)
    logits[:, num_stuff + 1:].masked_fill_(~inst.in_box, NEG)  # in place: no second [B, N, h, w] copy
    return logits, inst


def panoptic_targets(semantic: torch.Tensor, instances: torch.Tensor, shown_slot: torch.Tensor,
                     num_stuff: int) -> torch.Tensor:
    """Ground truth in the panoptic-logit layout, for the detections the heads were shown.

    Args:
        semantic: [B, h, w] semantic channel (stuff ``< num_stuff``; void 255).
        instances: [B, h, w] ground-truth instance index per pixel, -1 for none.
        shown_slot: [B, G] the detection slot that shows each ground-truth instance, -1 if none does
            (hidden on purpose, or missed by the detector).
    Returns:
        [B, h, w] int64: a stuff channel, ``S + 1 + slot`` for a shown instance's pixels, ``S``
        (unknown) for an instance no detection shows and for thing pixels of no instance (crowd),
        ``IGNORE`` for void.
    """
    thing = (semantic >= num_stuff) & (semantic != VOID)
    # thing pixels of no instance (a crowd region, a group label) are what the unknown class is for, as
    # in UPSNet's official mask matching; stuff keeps its class, void is ignored
    stuff = torch.where(semantic < num_stuff, semantic.long(), torch.where(thing, num_stuff, IGNORE))
    if shown_slot.shape[1] == 0:
        return stuff
    slot = shown_slot.gather(1, instances.clamp(min=0).flatten(1)).view_as(instances)
    thing = torch.where(slot >= 0, num_stuff + 1 + slot, num_stuff)
    return torch.where(instances >= 0, thing, stuff)
