"""The names of the panoptic heads, defined once: the model dispatches on them, and the config, the
node's ``head`` parameter and every CLI take their choices from here. Free of torch and ROS, so the
launch file and parameter checks can import it cheaply."""
from __future__ import annotations

from typing import Literal, get_args

HeadKind = Literal["affinity", "upsnet", "heuristic"]
HEAD_KINDS: tuple[str, ...] = get_args(HeadKind)
