"""RViz-friendly overlay: the input blended with per-segment colours and white segment borders.

Category colour from the table, instances of one category told apart by a brightness shift, void
left as the input, a border wherever a pixel's label differs from its left or upper neighbour's.

Why it is cheap at camera resolution: the labels are a nearest resize of a small map, so along each
axis an output pixel either starts a new block of its source pixel or repeats the one before it, and
only a block start can be a border. Colours and borders are therefore decided per (source pixel,
starts a row block, starts a column block) on the small map, and that table is expanded to the output
with one gather per axis (a style is one 32-bit word); the per-pixel work left is the blend, in uint8.
"""
from __future__ import annotations

import cv2
import torch

from panoptic_ros.inference.resize import resize_rgb
from panoptic_ros.model.nearest import NearestGrid, take_grid
from panoptic_ros.structures import ID_DIVISOR, PanopticResult, category_of, instance_of

ROLE_VOID, SEGMENT, BORDER = 0, 1, 2  # what a pixel shows: the input, the blend, white
# the border's style word (white, role BORDER) as a Python number: filled with a tensor instead, CUDA's
# masked_fill_ reads the value back to the host, a wait for the device per call
BORDER_WORD = int(torch.tensor([255, 255, 255, BORDER], dtype=torch.uint8).view(torch.int32))
MAX_ID = 256 * ID_DIVISOR  # category ids are uint8 (the semantic map), so every panoptic id is below


def _blocks(index: torch.Tensor, n_in: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """One axis of a nearest resize -> (kind of each output index [n_out], previous source [n_in], kinds per source).

    Upscaling, a source's block has a first index and repeats: kind ``source`` for the first and
    ``n_in + source`` for the repeats (first indices make one contiguous half of the table, which is
    where borders are drawn). Otherwise every index starts its own block and the kind is the source.
    ``previous[i]`` is the source just before source i's block (-1 for the first block, and for
    sources never read).
    """
    start = torch.ones_like(index, dtype=torch.bool)
    start[1:] = index[1:] != index[:-1]
    before = torch.cat([index.new_full((1,), -1), index[:-1]])
    previous = index.new_full((n_in,), -1).scatter_reduce_(0, index, torch.where(start, before, -1), "amax")
    if index.numel() > n_in:
        return index + n_in * (~start).long(), previous, 2
    return index, previous, 1


def _styles(ids: torch.Tensor, colors: torch.Tensor) -> torch.Tensor:
    """[K] segment ids -> [K + 2] int32 styles: the K segments, then void and the border (white).

    A style is four bytes, red, green, blue and the pixel's role, viewed as one int32, so that expanding
    the styles to full resolution is one gather of one word per pixel.
    """
    ids = ids.long()
    instance = instance_of(ids)
    shift = ((instance * 47) % 96 - 48).where(instance > 0, 0)  # distinct shades per instance
    colour = (colors[category_of(ids)].long() + shift[:, None]).clamp_(0, 255)
    role = torch.arange(4, device=ids.device) == 3  # the fourth byte (no tensor from host data: on a GPU it waits)
    void, border = (torch.where(role, r, rgb)[None] for r, rgb in ((ROLE_VOID, 0), (BORDER, 255)))  # black, white
    segments = torch.cat([colour, torch.full_like(colour[:, :1], SEGMENT)], dim=1)
    return torch.cat([segments, void, border]).to(torch.uint8).view(torch.int32)[:, 0]


def _expand(table: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """``table[rows][:, cols]`` for a 2-d int32 table: one gather per axis (NumPy's on the CPU, as in
    ``NearestGrid.resize``)."""
    if table.device.type == "cpu":
        return take_grid(table, rows, cols)
    return table.index_select(1, cols).index_select(0, rows)


def _blend_opencv(rgb: torch.Tensor, styled: torch.Tensor, alpha: float) -> torch.Tensor:
    """``_blend`` for CPU tensors: OpenCV's vectorised channel split, blend and masked copies over
    uint8 (PyTorch's CPU kernels would need int16 or float copies of the frame: several times slower
    at camera resolution)."""
    src, rgba = rgb.contiguous().numpy(), styled.numpy()
    colour, roles = cv2.cvtColor(rgba, cv2.COLOR_RGBA2RGB), cv2.extractChannel(rgba, 3)
    blended = cv2.addWeighted(src, 1.0 - alpha, colour, alpha, 0.0)
    # inRange, not compare: compare takes a 1x1 array for a scalar and refuses a 1x1 image
    blended = cv2.copyTo(src, cv2.inRange(roles, ROLE_VOID, ROLE_VOID), blended)
    blended = cv2.copyTo(colour, cv2.inRange(roles, BORDER, BORDER), blended)
    return torch.from_numpy(blended)


def _blend_torch(rgb: torch.Tensor, styled: torch.Tensor, alpha: float) -> torch.Tensor:
    """``_blend`` in PyTorch, on the tensors' device (a GPU's)."""
    colour, role = styled[..., :3], styled[..., 3:]
    blended = torch.lerp(rgb.float(), colour.float(), alpha).round_().to(torch.uint8)
    return torch.where(role == ROLE_VOID, rgb, torch.where(role == BORDER, colour, blended))


def _blend(rgb: torch.Tensor, styled: torch.Tensor, alpha: float) -> torch.Tensor:
    """[H, W, 3] uint8 input, [H, W, 4] uint8 styles (colour, role) -> the overlay:
    ``input + (colour - input) * alpha`` on segments, the input on void, the colour on borders."""
    return (_blend_opencv if rgb.device.type == "cpu" else _blend_torch)(rgb, styled, alpha)


def _codes(coarse: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """[h, w] panoptic ids -> index of each pixel's segment in ``ids`` (len(ids) for void), by lookup."""
    lut = torch.full((MAX_ID + 1,), ids.numel(), dtype=torch.int64, device=ids.device)
    lut[ids.long() + 1] = torch.arange(ids.numel(), device=ids.device)
    return lut.index_select(0, coarse.flatten().long() + 1).view(coarse.shape)


def render_overlay(image: torch.Tensor, panoptic: torch.Tensor | PanopticResult, colors: torch.Tensor,
                   alpha: float, max_size: int | None = None) -> torch.Tensor:
    """``image`` RGB uint8 [3, H, W] -> [H, W, 3] uint8 overlay (smaller when capped by ``max_size``).

    ``panoptic``: a result (its small map is used: the cheap way) or any [H, W] map. ``colors``:
    [256, 3] uint8 by category id. ``max_size`` caps the overlay's longer side (input resized
    bilinearly, labels those of a nearest resize of the full-size map, read from the small one). The blend is
    ``input + (colour - input) * alpha``, rounded.
    """
    if isinstance(panoptic, PanopticResult):
        coarse, grid, ids = panoptic.coarse, panoptic.grid, panoptic.segment_ids
    else:
        coarse = panoptic
        grid = NearestGrid.between(tuple(panoptic.shape), tuple(panoptic.shape), panoptic.device)
        ids = torch.arange(MAX_ID, device=panoptic.device)  # every possible id: no pass over the map to find them
    h, w = image.shape[-2:]
    if max_size is not None and max(h, w) > max_size:
        size = (max(1, round(h * max_size / max(h, w))), max(1, round(w * max_size / max(h, w))))
        image, grid = resize_rgb(image, size), grid.then(size)
    h_in, w_in = grid.in_size
    row_kind, row_prev, nr = _blocks(grid.rows, h_in)
    col_kind, col_prev, nc = _blocks(grid.cols, w_in)
    # borders with the block above / to the left, per source pixel (sources never read come out False)
    top = (row_prev >= 0)[:, None] & (coarse != coarse.index_select(0, row_prev.clamp(min=0)))
    left = (col_prev >= 0)[None, :] & (coarse != coarse.gather(1, col_prev.clamp(min=0).expand(h_in, -1)))
    # style per kind [nr, h, nc, w]: the source pixel's, but only the first index of a block (kind
    # flag 0) can be a border
    palette = _styles(ids, colors)
    styles = palette.index_select(0, _codes(coarse, ids).flatten()).view(1, h_in, 1, w_in)
    styles = styles.expand(nr, h_in, nc, w_in).contiguous()
    styles[0].masked_fill_(top[:, None, :], BORDER_WORD)
    styles[:, :, 0].masked_fill_(left, BORDER_WORD)
    styles = styles.view(nr * h_in, nc * w_in)
    styled = _expand(styles, row_kind, col_kind)  # [H, W] int32: full resolution from here
    return _blend(image.permute(1, 2, 0), styled.view(torch.uint8).view(*styled.shape, 4), alpha)
