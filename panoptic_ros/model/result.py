"""``PanopticResult``: the network's output for one image, and its batched construction.

All tensors stay on the network's device; per-segment statistics come from one ``unique`` and a few
scatter reductions over the whole batch (no per-segment or per-pixel Python loops).
"""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from panoptic_ros.categories import VOID, CategoryTable
from panoptic_ros.model.detections import Detections

ID_DIVISOR = 1000  # panoptic id = category_id * 1000 + instance_id; -1 = void / unknown


@dataclasses.dataclass
class PanopticResult:
    panoptic: torch.Tensor      # [H, W] int32
    semantic: torch.Tensor      # [H, W] uint8 category id, 255 = void
    segment_ids: torch.Tensor   # [K] int32, the values present in ``panoptic`` (void excluded)
    category_ids: torch.Tensor  # [K] int64
    instance_ids: torch.Tensor  # [K] int64, 0 for stuff
    is_thing: torch.Tensor      # [K] bool
    scores: torch.Tensor        # [K] float32
    areas: torch.Tensor         # [K] int64 pixels
    boxes: torch.Tensor         # [K, 4] int64 x0, y0, x1, y1 (x1/y1 exclusive)
    mask_cues: bool = True

    def to(self, device: torch.device | str) -> "PanopticResult":
        return dataclasses.replace(self, **{f.name: getattr(self, f.name).to(device)
                                            for f in dataclasses.fields(self) if f.name != "mask_cues"})


def channel_tables(dets: Detections, categories: CategoryTable) -> tuple[torch.Tensor, torch.Tensor]:
    """Per image, panoptic channel -> (category id or -1, instance id): [B, S + 1 + N] each."""
    b, n = dets.labels.shape
    device = dets.labels.device
    cat_of_channel = categories.channel_category_ids(device)
    s = categories.num_stuff
    stuff_cat = cat_of_channel[:s].expand(b, s)
    thing_cat = torch.where(dets.valid, cat_of_channel[(s + dets.labels - 1).clamp(min=0)], -1)
    cats = torch.cat([stuff_cat, torch.full((b, 1), -1, device=device, dtype=torch.int64), thing_cat], dim=1)
    inst = torch.cat([torch.zeros(b, s + 1, dtype=torch.int64, device=device),
                      torch.arange(1, n + 1, device=device).expand(b, n)], dim=1)
    return cats, inst


def build_results(channels: torch.Tensor, confidence: torch.Tensor, dets: Detections,
                  categories: CategoryTable, out_size: tuple[int, int] | None = None,
                  mask_cues: bool = True) -> list[PanopticResult]:
    """Channel maps [B, H, W] -> one ``PanopticResult`` per image, resized (nearest) to ``out_size``."""
    cats, inst = channel_tables(dets, categories)
    flat = channels.flatten(1)
    cat = cats.gather(1, flat).view_as(channels)
    panoptic = torch.where(cat >= 0, cat * ID_DIVISOR + inst.gather(1, flat).view_as(channels), -1)
    if out_size is not None and tuple(panoptic.shape[-2:]) != tuple(out_size):
        panoptic = F.interpolate(panoptic[:, None].double(), size=out_size, mode="nearest")[:, 0].long()
        confidence = F.interpolate(confidence[:, None].float(), size=out_size, mode="nearest")[:, 0]
    b, h, w = panoptic.shape
    semantic = torch.where(panoptic >= 0, panoptic // ID_DIVISOR, VOID).to(torch.uint8)

    # One unique over (image, id) keys for the whole batch.
    key = torch.arange(b, device=panoptic.device)[:, None, None] * (1 << 32) + (panoptic + 1)
    keys, inverse, areas = torch.unique(key.flatten(), return_inverse=True, return_counts=True)
    k = keys.numel()
    ys = torch.arange(h, device=panoptic.device).repeat_interleave(w).repeat(b)
    xs = torch.arange(w, device=panoptic.device).repeat(h * b)
    def reduce(values: torch.Tensor, op: str) -> torch.Tensor:
        init = torch.zeros(k, dtype=values.dtype, device=values.device)
        return init.scatter_reduce(0, inverse, values, op, include_self=False)
    boxes = torch.stack([reduce(xs, "amin"), reduce(ys, "amin"), reduce(xs, "amax") + 1, reduce(ys, "amax") + 1], 1)
    mean_conf = reduce(confidence.flatten().float(), "mean")
    image = keys >> 32
    ids = (keys & 0xFFFFFFFF) - 1
    keep = ids >= 0
    category = ids // ID_DIVISOR
    instance = ids % ID_DIVISOR
    thing = instance > 0
    det_score = dets.scores[image, (instance - 1).clamp(0, dets.num_slots - 1)] if dets.num_slots else mean_conf
    score = torch.where(thing, det_score.float(), mean_conf)
    per_image = torch.bincount(image[keep], minlength=b).tolist()  # the one host sync
    fields = [t[keep] for t in (ids.int(), category, instance, thing, score, areas, boxes)]
    split = [torch.split(t, per_image) for t in fields]
    return [PanopticResult(panoptic[i].int(), semantic[i], *(s[i] for s in split), mask_cues=mask_cues)
            for i in range(b)]
