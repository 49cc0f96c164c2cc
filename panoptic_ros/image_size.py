"""Image sizes, without PyTorch or OpenCV: the largest frame accepted, and the size the network runs a
frame at (the node's ``inference_size``). The parameter table and the launch file check sizes with
these, and a launch must not import a deep-learning stack to do so."""
from __future__ import annotations

import math
from collections.abc import Sequence

MAX_PIXELS = 8192 * 8192  # refuse absurd sizes before touching memory (raw and compressed alike)
MIN_SIDE = 32  # the smallest side the network is run at
MAX_ASPECT = 4  # a side that follows the aspect ratio is at most this many times the given one
DEFAULT_INFERENCE_SIZE = (360, 0)  # the node's default: 360 rows, the width each frame's aspect ratio asks


def check_inference_size(size: Sequence[int], name: str = "inference_size") -> None:
    """Raise ``ValueError`` (naming ``name``) unless ``size`` is [height, width] of whole numbers, each
    at least ``MIN_SIDE`` or 0 (one 0: that side follows each input's aspect ratio; both: its own size)."""
    if len(size) != 2 or any(not isinstance(v, int) or isinstance(v, bool) or v < 0 for v in size):
        raise ValueError(f"{name} must be [height, width], whole numbers >= 0, got {list(size)!r}")
    if any(0 < v < MIN_SIDE for v in size) or size[0] * size[1] > MAX_PIXELS or max(size) ** 2 > MAX_PIXELS:
        raise ValueError(f"{name} {list(size)!r} is out of range ({MIN_SIDE}..{math.isqrt(MAX_PIXELS)} per "
                         "side, or 0)")


def inference_size_or_none(size: Sequence[int] | None) -> tuple[int, int] | None:
    """``inference_size`` as a tuple, or None where the network runs at each input's own size (None,
    empty, or ``[0, 0]``: the parameter's way of saying so), decided here for every caller."""
    return (int(size[0]), int(size[1])) if size is not None and len(size) and any(size) else None


def network_size(image_size: tuple[int, int], inference_size: tuple[int, int] | None) -> tuple[int, int]:
    """The (height, width) the network runs an image of ``image_size`` at, from the node's
    ``inference_size``: both sides given, exactly that; one side 0, that side follows the image's
    aspect ratio (``(360, 0)``: 360 rows, a 16:9 frame 640 columns, a 1242x375 one 1192), so objects
    keep their shape, within ``MAX_ASPECT`` (a 1x100 frame still costs no more than 360x1440);
    ``None`` or ``(0, 0)``, the image's own size."""
    if inference_size_or_none(inference_size) is None:
        return tuple(image_size)  # type: ignore[return-value]
    rows, cols = inference_size
    height, width = image_size
    if rows and cols:
        return rows, cols
    if cols == 0:
        return rows, min(max(MIN_SIDE, round(rows * width / height)), MAX_ASPECT * rows)
    return min(max(MIN_SIDE, round(cols * height / width)), MAX_ASPECT * cols), cols
