"""The three panoptic heads behind one interface.

Every head is a function ``PanopticInputs -> (channel map [B, H, W], confidence [B, H, W])`` in the
channel layout of ``upsnet_head``, with the ``min_visible`` step of the shared post-processing already
applied (it needs each head's own instance masks). ``PANOPTIC_HEADS`` maps every name of
``heads.HEAD_KINDS`` to its function; the network, the benchmark and the tests dispatch through it, so
adding a head means one function and one name.

* ``heuristic``: the Panoptic-FPN style merge (``heuristic_merge``), the baseline;
* ``upsnet``: UPSNet's parameter-free logits (``upsnet_head``), argmax;
* ``affinity``: those logits propagated by the learnt dense affinity (``affinity_head``), argmax.

The learnt heads take their instance masks for ``min_visible`` from the mask pixels their logits were
built with (``InstanceLogits.mask``), so a frame pastes its masks once whatever the head.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import torch

from panoptic_ros.heads import HEAD_KINDS, HeadKind
from panoptic_ros.model.affinity_head import AffinityHead
from panoptic_ros.model.heuristic_merge import heuristic_channels
from panoptic_ros.model.postprocess import drop_covered, instance_masks, remove_overlapping_masks
from panoptic_ros.model.upsnet_head import InstanceLogits, paste_in_boxes, upsnet_logits
from panoptic_ros.structures import Detections


@dataclasses.dataclass(frozen=True)
class PanopticInputs:
    """What every panoptic head is given, at the output grid (stride 1)."""
    sem_logits: torch.Tensor          # [B, K, H, W] float32 semantic logits
    fused: torch.Tensor               # [B, C, H/4, W/4] the semantic head's fused features
    dets: Detections                  # after class-agnostic overlap suppression
    mask_logits: torch.Tensor | None  # [B, N, m, m] box-aligned mask logits; None without mask cues
    affinity: AffinityHead            # the learnt affinity (used by the ``affinity`` head only)
    affinity_pool: int                # fused 1/4 features -> the affinity's grid
    num_stuff: int
    min_visible: float                # post-processing: see ``postprocess.drop_covered``
    mask_removal: float               # learnt heads: see ``postprocess.remove_overlapping_masks`` (1: off)


PanopticHeadFn = Callable[[PanopticInputs], tuple[torch.Tensor, torch.Tensor]]


def heuristic_head(x: PanopticInputs) -> tuple[torch.Tensor, torch.Tensor]:
    """Instances painted in score order over the semantic head's stuff (the baseline)."""
    h, w = x.sem_logits.shape[-2:]
    pixels = paste_in_boxes(x.mask_logits, x.dets.boxes, (h, w), 1.0) > 0 if x.mask_logits is not None else None
    masks = instance_masks(x.sem_logits, x.dets, pixels, x.num_stuff)
    return heuristic_channels(x.sem_logits, x.dets, masks, x.num_stuff, x.min_visible)


def _argmax_of_logits(x: PanopticInputs, logits: torch.Tensor, inst: InstanceLogits
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """A learnt head's output: the argmax of its panoptic logits after ``min_visible``, judged on the
    mask pixels already pasted behind those logits."""
    masks = instance_masks(x.sem_logits, x.dets, inst.mask, x.num_stuff) if x.min_visible > 0 else None
    return drop_covered(logits, masks, x.num_stuff, x.min_visible)


def _masks_removed(x: PanopticInputs) -> tuple[PanopticInputs, torch.Tensor | None]:
    """A learnt head's inputs after UPSNet's mask removal, and the mask logits it pasted (pasted once:
    the logits are built from the same); without mask cues, as given."""
    if x.mask_logits is None:
        return x, None
    pasted = paste_in_boxes(x.mask_logits, x.dets.boxes, tuple(x.sem_logits.shape[-2:]), 1.0)
    return dataclasses.replace(x, dets=remove_overlapping_masks(x.dets, pasted > 0, x.mask_removal)), pasted


def upsnet_head(x: PanopticInputs) -> tuple[torch.Tensor, torch.Tensor]:
    """Argmax of UPSNet's parameter-free logits."""
    x, pasted = _masks_removed(x)
    logits, inst = upsnet_logits(x.sem_logits, x.dets, x.mask_logits, x.num_stuff, 1.0, pasted)
    return _argmax_of_logits(x, logits, inst)


def affinity_head(x: PanopticInputs) -> tuple[torch.Tensor, torch.Tensor]:
    """Argmax of the UPSNet logits after propagation by the learnt dense affinity."""
    x, pasted = _masks_removed(x)
    logits, _, inst, _ = x.affinity(x.sem_logits, x.fused, x.dets, x.mask_logits, x.num_stuff, 1.0, x.affinity_pool,
                                    pasted)
    return _argmax_of_logits(x, logits, inst)


PANOPTIC_HEADS: dict[HeadKind, PanopticHeadFn] = {
    "heuristic": heuristic_head,
    "upsnet": upsnet_head,
    "affinity": affinity_head,
}
if tuple(sorted(PANOPTIC_HEADS)) != tuple(sorted(HEAD_KINDS)):  # pragma: no cover - a programming error
    raise ImportError(f"PANOPTIC_HEADS {sorted(PANOPTIC_HEADS)} must implement every HEAD_KINDS {HEAD_KINDS}")


def run_panoptic_head(head: HeadKind, inputs: PanopticInputs) -> tuple[torch.Tensor, torch.Tensor]:
    """``PANOPTIC_HEADS[head](inputs)`` with a clear error for an unknown name."""
    if head not in PANOPTIC_HEADS:
        raise ValueError(f"unknown panoptic head {head!r}; choose one of {', '.join(HEAD_KINDS)}")
    return PANOPTIC_HEADS[head](inputs)
