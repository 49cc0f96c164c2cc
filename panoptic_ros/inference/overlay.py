"""RViz-friendly overlay: the input blended with per-segment colours and white segment borders.

Category colour from the table, instances of one category told apart by a brightness shift, void
left as the input, a border wherever a pixel's label differs from its left or upper neighbour's.

Why it is cheap at camera resolution: the labels are a nearest resize of a small map, so along each
axis an output pixel either starts a new block of its source pixel or repeats the one before it, and
only a block start can be a border. Colours and borders are therefore decided per (source pixel,
starts a row block, starts a column block) on the small map, and that table is expanded to the output
with one gather per axis; the per-pixel work left is an integer blend in the input's own layout.
"""
from __future__ import annotations

import torch

from panoptic_ros.inference.resize import resize_rgb
from panoptic_ros.model.nearest import NearestGrid
from panoptic_ros.model.result import ID_DIVISOR, PanopticResult

ALPHA_BITS = 7  # alpha in steps of 1/128: (colour - input) * alpha stays within int16
_FULL = 1 << ALPHA_BITS
# Styles are int16 ``colour | alpha << 8`` taken as 16 unsigned bits: alpha 128 sets the sign bit,
# so alpha is read back as ``(style >> 8) & 255``. White at full opacity:
_BORDER = (255 | _FULL << 8) - (1 << 16)


def _blocks(index: torch.Tensor, n_in: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """One axis of a nearest resize -> (kind of each output index [n_out], previous source [n_in], kinds per source).

    Upscaling, a source's block has a first index and repeats: kind ``2 * source + (0 if first else 1)``.
    Otherwise every index starts its own block and the kind is the source. ``previous[i]`` is the
    source just before source i's block (-1 for the first block, and for sources never read).
    """
    start = torch.ones_like(index, dtype=torch.bool)
    start[1:] = index[1:] != index[:-1]
    before = torch.cat([index.new_full((1,), -1), index[:-1]])
    previous = index.new_full((n_in,), -1).scatter_reduce_(0, index, torch.where(start, before, -1), "amax")
    if index.numel() > n_in:
        return 2 * index + (~start).long(), previous, 2
    return index, previous, 1


def _colours(labels: torch.Tensor, colors: torch.Tensor, alpha: int) -> torch.Tensor:
    """[R, C] panoptic ids -> [R, C, 3] int16 ``colour | alpha << 8`` (void: alpha 0, the input shows)."""
    valid = labels >= 0
    category = torch.where(valid, labels // ID_DIVISOR, 0).long()
    instance = torch.where(valid, labels % ID_DIVISOR, 0)
    shift = ((instance * 47) % 96 - 48).where(instance > 0, 0)  # distinct shades per instance
    colour = (colors[category].int() + shift[..., None]).clamp_(0, 255)
    return torch.where(valid[..., None], colour | (alpha << 8), 0).to(torch.int16)  # wraps, see _BORDER


def render_overlay(image: torch.Tensor, panoptic: torch.Tensor | PanopticResult, colors: torch.Tensor,
                   alpha: float, max_size: int | None = None) -> torch.Tensor:
    """``image`` RGB uint8 [3, H, W] -> [H, W, 3] uint8 overlay (smaller when capped by ``max_size``).

    ``panoptic``: a result (its small map is used: the cheap way) or any [H, W] map. ``colors``:
    [256, 3] uint8 by category id. ``max_size`` caps the overlay's longer side (input resized
    bilinearly, labels taken from the small map by nearest resize). The blend is
    ``input + round((colour - input) * alpha)`` with alpha in steps of 1/128.
    """
    if isinstance(panoptic, PanopticResult):
        coarse, grid = panoptic.coarse, panoptic.grid
    else:
        coarse = panoptic
        grid = NearestGrid.between(tuple(panoptic.shape), tuple(panoptic.shape), panoptic.device)
    h, w = image.shape[-2:]
    if max_size is not None and max(h, w) > max_size:
        size = (max(1, round(h * max_size / max(h, w))), max(1, round(w * max_size / max(h, w))))
        image, grid = resize_rgb(image, size), NearestGrid.between(grid.in_size, size, coarse.device)
    h_in, w_in = grid.in_size
    row_kind, row_prev, nr = _blocks(grid.rows, h_in)
    col_kind, col_prev, nc = _blocks(grid.cols, w_in)
    # borders with the block above / to the left, per source pixel (sources never read come out False)
    top = (row_prev >= 0)[:, None] & (coarse != coarse.index_select(0, row_prev.clamp(min=0)))
    left = (col_prev >= 0)[None, :] & (coarse != coarse.index_select(1, col_prev.clamp(min=0)))
    # style per kind [h, nr, w, nc, 3]; only the first index of a block (kind flag 0) can be a border
    first_row = (torch.arange(nr, device=coarse.device) == 0)[None, :, None, None]
    first_col = (torch.arange(nc, device=coarse.device) == 0)[None, None, None, :]
    border = (first_row & top[:, None, :, None]) | (first_col & left[:, None, :, None])
    style = _colours(coarse, colors, round(alpha * _FULL))[:, None, :, None].repeat(1, nr, 1, nc, 1)
    style = style.masked_fill_(border[..., None], _BORDER).view(h_in * nr, w_in * nc, 3)
    # Full resolution: one gather per axis, then the blend in place, all int16 in the input's layout
    # (mixed dtypes, broadcasts and strided operands take PyTorch's slow CPU paths).
    mix = style.index_select(1, col_kind).index_select(0, row_kind)      # [H, W, 3] colour | alpha << 8
    weight = (mix >> 8).bitwise_and_(255)
    rgb = image.permute(1, 2, 0)
    base = torch.empty(rgb.shape, dtype=torch.int16, device=rgb.device).copy_(rgb)
    mix.bitwise_and_(255).sub_(base).mul_(weight).add_(_FULL // 2).bitwise_right_shift_(ALPHA_BITS).add_(base)
    return torch.empty(rgb.shape, dtype=torch.uint8, device=rgb.device).copy_(mix)
