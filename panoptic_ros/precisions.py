"""The inference precisions' names and the default, defined once (the node's parameter, every command
line and the predictor take them from here); ``device.PRECISIONS`` maps each to the dtype autocast runs in."""
from __future__ import annotations

from typing import Literal, get_args

Precision = Literal["fp32", "fp16", "bf16"]
PRECISION_NAMES: tuple[str, ...] = get_args(Precision)
DEFAULT_PRECISION: Precision = "fp32"
