"""``PanopticResult``s built for a batch from the panoptic heads' channel maps.

All tensors stay on the network's device; per-segment statistics come from one ``unique`` and a few
scatter reductions over the whole batch (no per-segment or per-pixel Python loops). They are those of
the full-resolution maps, computed exactly on the network's own small maps (``model.nearest``), so
nothing here works at the input's resolution: the results write their full-size maps when asked.
"""
from __future__ import annotations

import torch

from panoptic_ros.categories import VOID, CategoryTable
from panoptic_ros.model.nearest import NearestGrid
from panoptic_ros.structures import Detections, PanopticResult, VOID_ID, panoptic_id

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
    """Channel maps [B, h, w] -> one ``PanopticResult`` per image at ``out_size`` (maps resized nearest).

    Areas, boxes and mean confidences are those of the resized maps: each small-map pixel counts as
    the block of output pixels it becomes (none where downscaling skips it). A segment is an
    (image, channel) pair, and every non-void channel has its own id, so pixels are binned by channel
    directly (no sort over pixels); segments come out ordered by image, then id.
    """
    cats, inst = channel_tables(dets, categories)                  # [B, C]
    ids = torch.where(cats >= 0, panoptic_id(cats, inst), VOID_ID)      # [B, C] panoptic id of each channel
    b, h, w = channels.shape
    c = ids.shape[1]
    device = channels.device
    grid = NearestGrid.between((h, w), out_size or (h, w), device)
    row_first, row_count, col_first, col_count = grid.runs()
    weight = row_count[:, None] * col_count[None, :]               # output pixels per small-map pixel
    covered = weight > 0
    big_h, big_w = grid.out_size

    bins = (channels + torch.arange(b, device=device)[:, None, None] * c).flatten()
    def reduce(per_pixel: torch.Tensor, op: str, init: int | float) -> torch.Tensor:
        values = per_pixel.expand(b, h, w).flatten()
        return torch.full((b * c,), init, dtype=values.dtype, device=device).scatter_reduce_(0, bins, values, op)
    areas = reduce(weight, "sum", 0)
    boxes = torch.stack([reduce(torch.where(covered, col_first[None, :], big_w), "amin", big_w),
                         reduce(torch.where(covered, row_first[:, None], big_h), "amin", big_h),
                         reduce(torch.where(covered, (col_first + col_count)[None, :], 0), "amax", 0),
                         reduce(torch.where(covered, (row_first + row_count)[:, None], 0), "amax", 0)], 1)
    mean_conf = (reduce(confidence.double() * weight, "sum", 0.0) / areas.clamp(min=1)).float()
    thing = inst.flatten() > 0
    score = torch.where(thing, torch.cat([mean_conf.view(b, -1)[:, : c - dets.num_slots], dets.scores.float()],
                                         1).flatten(), mean_conf)
    flat_ids = ids.flatten()
    image = torch.arange(b, device=device).repeat_interleave(c)
    present = (flat_ids >= 0) & (areas > 0)
    order = torch.argsort(torch.where(present, image * (1 << 32) + flat_ids, 1 << 62))  # present ones first
    per_image = torch.zeros(b, dtype=torch.int64, device=device).index_add_(0, image, present.long())
    per_image = per_image.tolist()  # the one host sync
    order = order[: sum(per_image)]
    fields = [t[order] for t in (flat_ids.int(), cats.flatten(), inst.flatten(), score, areas, boxes)]
    split = [torch.split(t, per_image) for t in fields]
    coarse = ids.gather(1, channels.flatten(1)).view(b, h, w).int()
    semantic = torch.where(cats >= 0, cats, VOID).gather(1, channels.flatten(1)).view(b, h, w).to(torch.uint8)
    return [PanopticResult(*(s[i] for s in split), coarse[i], semantic[i], grid, mask_cues=mask_cues)
            for i in range(b)]
