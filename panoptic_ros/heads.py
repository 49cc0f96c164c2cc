"""The names of the panoptic heads and of the mask-cue modes, defined once: the model dispatches on
them, and the config, the node's ``head`` parameter, every CLI and the reports take their choices and
run names from here. Free of torch and ROS, so the
launch file and parameter checks can import it cheaply."""
from __future__ import annotations

from typing import Literal, get_args

HeadKind = Literal["affinity", "upsnet", "heuristic"]
HEAD_KINDS: tuple[str, ...] = get_args(HeadKind)

# --mask-cues on the command lines: which modes a run covers (True: mask cues, False: boxes only)
MASK_CUE_MODES: dict[str, tuple[bool, ...]] = {"on": (True,), "off": (False,), "both": (True, False)}


def run_name(head: str, mask_cues: bool) -> str:
    """An evaluation run's name in reports, ``upsnet/mask`` or ``upsnet/boxes``, which tables read back."""
    return f"{head}/{'mask' if mask_cues else 'boxes'}"
