"""The inference precisions' names, defined once and free of torch, so the launch file and the node's
parameter checks import them cheaply; ``device.PRECISIONS`` maps each to the dtype autocast runs in."""
from __future__ import annotations

from typing import Literal, get_args

Precision = Literal["fp32", "fp16", "bf16"]
PRECISION_NAMES: tuple[str, ...] = get_args(Precision)
