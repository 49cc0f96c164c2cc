"""Nearest-neighbour resizing of label maps, described by where each output row and column comes from.

``F.interpolate(mode="nearest")`` takes output row ``y`` from source row ``rows[y]`` (non-decreasing)
and output column ``x`` from ``cols[x]``, so the resized map is the source with each row repeated
``row_counts[i]`` times and each column ``col_counts[j]`` times (0 where downscaling skips it). Any
per-segment statistic of the output (area, box) therefore follows exactly from the small source map
weighted by those counts, and the only full-resolution work left is writing the resized map itself.
"""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F


def source_index(n_in: int, n_out: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """[n_out] int64: the source index ``F.interpolate(mode="nearest")`` reads for each output index.

    Asked of the operator itself (on an arange, exact in float32 below 2^24) so that its float
    rounding of the scale is reproduced on every device and for every ratio.
    """
    src = torch.arange(n_in, dtype=torch.float32, device=device)[None, None]
    return F.interpolate(src, size=n_out, mode="nearest")[0, 0].long()


def _first_and_count(index: torch.Tensor, n_in: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per source index: (first output index that reads it, how many do); first is valid where count > 0."""
    count = torch.zeros(n_in, dtype=torch.int64, device=index.device).scatter_add_(0, index, torch.ones_like(index))
    return count.cumsum(0) - count, count


@dataclasses.dataclass(frozen=True)
class NearestGrid:
    """Nearest resize from ``in_size`` to ``(len(rows), len(cols))``, as source rows and columns."""

    rows: torch.Tensor  # [H] int64 source row of each output row
    cols: torch.Tensor  # [W] int64 source column of each output column
    in_size: tuple[int, int]
    direct: bool = True  # made by ``between``: ``F.interpolate`` to ``out_size`` reads the same (``then``'s: not)

    @classmethod
    def between(cls, in_size: tuple[int, int], out_size: tuple[int, int], device: torch.device | str) -> "NearestGrid":
        """The grid of ``F.interpolate(mode="nearest")`` from ``in_size`` to ``out_size``."""
        return cls(source_index(in_size[0], out_size[0], device), source_index(in_size[1], out_size[1], device),
                   (int(in_size[0]), int(in_size[1])))

    @property
    def out_size(self) -> tuple[int, int]:
        return (self.rows.numel(), self.cols.numel())

    def then(self, out_size: tuple[int, int]) -> "NearestGrid":
        """This resize followed by a nearest resize of its output to ``out_size``, as one grid from
        ``in_size``: it reads only source pixels that this grid's output holds (a direct grid to a size
        below the source's can read ones this grid skips)."""
        h, w = self.out_size
        return dataclasses.replace(self, rows=self.rows[source_index(h, out_size[0], self.rows.device)],
                                   cols=self.cols[source_index(w, out_size[1], self.cols.device)], direct=False)

    def to(self, device: torch.device | str) -> "NearestGrid":
        return dataclasses.replace(self, rows=self.rows.to(device), cols=self.cols.to(device))

    def runs(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(row_first [h], row_count [h], col_first [w], col_count [w]): source pixel (i, j) becomes the
        output block of ``row_count[i] x col_count[j]`` pixels starting at ``(row_first[i], col_first[j])``."""
        return (*_first_and_count(self.rows, self.in_size[0]), *_first_and_count(self.cols, self.in_size[1]))

    def resize(self, labels: torch.Tensor) -> torch.Tensor:
        """[..., h, w] int32 or uint8 labels -> [..., H, W], equal to ``F.interpolate(mode="nearest")``.

        On the CPU that is one NumPy ``take`` per axis: single-threaded, as fast as PyTorch's nearest
        kernel on idle cores and several times faster when other work shares them (measured beside a
        training run), as on a robot. Elsewhere nearest resizing only copies values, so an int32 map
        goes through the float32 kernel as its raw bits (a view, no conversion pass over the output
        and exact for every id); a composed grid (``then``) is two gathers.
        """
        if labels.dtype not in (torch.int32, torch.uint8):
            raise TypeError(f"labels must be int32 or uint8, got {labels.dtype}")
        if labels.device.type == "cpu":
            return take_grid(labels, self.rows, self.cols)
        if not self.direct:  # no single interpolation reads these rows and columns
            return labels.index_select(-2, self.rows).index_select(-1, self.cols)
        lead = labels.shape[:-2]
        flat = labels.reshape(-1, 1, *labels.shape[-2:])
        if labels.dtype == torch.int32:
            out = F.interpolate(flat.view(torch.float32), size=self.out_size, mode="nearest").view(torch.int32)
        else:
            out = F.interpolate(flat, size=self.out_size, mode="nearest")
        return out.view(*lead, *self.out_size)


def take_grid(table: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """``table[..., rows, :][..., cols]`` for CPU tensors: one NumPy ``take`` per axis, the one with the
    smaller intermediate first (columns first when an upscale repeats rows; rows first for a frame
    far wider than tall, whose columns-first intermediate was 360 map rows x millions of columns), the
    second written straight into a new tensor. The indices must be in range: ``mode="clip"`` (which
    writes without a buffer) does not check them."""
    out = torch.empty((*table.shape[:-2], len(rows), len(cols)), dtype=table.dtype)
    src, r, c = table.numpy(), rows.numpy(), cols.numpy()
    if table.shape[-2] * len(cols) <= len(rows) * table.shape[-1]:
        src.take(c, axis=-1).take(r, axis=-2, out=out.numpy(), mode="clip")
    else:
        src.take(r, axis=-2).take(c, axis=-1, out=out.numpy(), mode="clip")
    return out
