"""The node's parameters: one table that the node declares from (with the descriptors built here)
and the tests check the launch file and ``config/panoptic.yaml`` against. Validation happens here,
without rclpy, so a bad value is refused at start-up with a message that names the parameter.
The ``cameras`` parameter's topic names are made here too, for the node and the launch file alike.
"""
from __future__ import annotations

import array
import dataclasses
import re
from pathlib import Path
from typing import Any

import yaml
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

from panoptic_ros.defaults import (CHECKPOINT_SCORE_THRESHOLD, DEFAULT_DEVICE, DEFAULT_OVERLAY_ALPHA, DEVICE_CHOICES,
                                   FULL_BITS, OVERLAY_ALPHA_RANGE, SCORE_THRESHOLD_RANGE)
from panoptic_ros.heads import HEAD_KINDS
from panoptic_ros.image_size import DEFAULT_INFERENCE_SIZE, MAX_ASPECT, check_inference_size
from panoptic_ros.precisions import DEFAULT_PRECISION, PRECISION_NAMES
from panoptic_ros.ros.topics import IMAGE, RAW, TRANSPORTS, camera_topic


@dataclasses.dataclass(frozen=True)
class ParameterSpec:
    """One node parameter: default (which fixes its type), description, and what is allowed."""

    name: str
    default: Any
    description: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    dynamic: bool = False  # may change while the node runs
    at_configure: bool = False  # may change while the node is unconfigured; the next configure applies it


PARAMETERS: tuple[ParameterSpec, ...] = (
    ParameterSpec("autostart", True, "Configure and activate at start; false: a lifecycle manager drives the "
                  "node through ~/change_state."),
    ParameterSpec("model", "", "Checkpoint path; empty = the model shipped in the package's models/ folder.",
                  at_configure=True),
    ParameterSpec("device", DEFAULT_DEVICE, f"{DEVICE_CHOICES} (auto: the first GPU if any, else the CPU).",
                  at_configure=True),
    ParameterSpec("cpu_threads", 0, "Threads PyTorch's CPU work may use, for the whole process; 0 = its default "
                  "(one per core, or OMP_NUM_THREADS). Fewer leave cores to the robot's other processes when the "
                  "network runs on the CPU.", minimum=0, maximum=1024, at_configure=True),
    ParameterSpec("precision", DEFAULT_PRECISION, "Inference precision (fp16 needs a GPU).", choices=PRECISION_NAMES,
                  at_configure=True),
    ParameterSpec("mask_cues", True, "true: instances start from the mask head; false: boxes only, the mask "
                  "head is skipped (lightweight mode).", at_configure=True),
    ParameterSpec("head", "", "Panoptic head; empty = the checkpoint's choice.",
                  choices=("", *HEAD_KINDS), at_configure=True),
    ParameterSpec("score_threshold", CHECKPOINT_SCORE_THRESHOLD, "Minimum detection score of an instance; "
                  f"negative ({CHECKPOINT_SCORE_THRESHOLD:g}) = the checkpoint's own (its config's, at which "
                  "panoptic-eval scored it).", minimum=CHECKPOINT_SCORE_THRESHOLD, maximum=SCORE_THRESHOLD_RANGE[1],
                  dynamic=True),
    ParameterSpec("cameras", [""], "Camera names; camera c subscribes c/image (or c/image/compressed) and publishes "
                  "~/c/panoptic, ~/c/semantic, ~/c/segments and ~/c/overlay. The newest frame of every camera goes "
                  "through the network in one batch. [''] = one camera on image and ~/panoptic, ..."),
    ParameterSpec("input_bits", FULL_BITS, "Significant bits of 16-bit camera frames (mono16, rgb16, "
                  "bayer_*16, ...): 16 scales them to 8 bits as cv_bridge does; a camera that sends 12-bit "
                  "values (0-4095) in them needs 12, or its frames look nearly black.", minimum=9, maximum=FULL_BITS,
                  dynamic=True),
    ParameterSpec("input_transport", RAW, "raw: subscribe image (sensor_msgs/Image); compressed: "
                  "image/compressed (sensor_msgs/CompressedImage, JPEG/PNG).", choices=TRANSPORTS),
    ParameterSpec("publish_overlay", False, "Publish ~/overlay even when nobody subscribes to it.", dynamic=True),
    ParameterSpec("overlay_alpha", DEFAULT_OVERLAY_ALPHA, "Opacity of the segment colours in ~/overlay.",
                  minimum=OVERLAY_ALPHA_RANGE[0], maximum=OVERLAY_ALPHA_RANGE[1], dynamic=True),
    ParameterSpec("overlay_max_size", 0, "Longest side of ~/overlay in pixels (smaller overlays cost less to "
                  "draw and send); 0 = the input's size.", minimum=0, maximum=8192, dynamic=True),
    ParameterSpec("inference_size", list(DEFAULT_INFERENCE_SIZE), "[height, width] the network runs at; a 0 follows "
                  "each input's aspect ratio ([360, 0]: 360 rows, 640 columns for 16:9), so objects keep their shape, "
                  f"up to {MAX_ASPECT}:1; [0, 0] = each input's own size. Outputs always come back at the input's "
                  "resolution.", at_configure=True),
    ParameterSpec("diagnostics_period", 1.0, "Seconds between /diagnostics messages.", minimum=0.05, maximum=60.0),
    ParameterSpec("shutdown_timeout", 5.0, "Seconds a stop waits for the frame being inferred; a frame still "
                  "running then is abandoned and the process exits without it.", minimum=0.0, maximum=600.0),
)

BY_NAME = {p.name: p for p in PARAMETERS}

# A camera name is a relative ROS name (tokens of letters, digits and _, not starting with a digit,
# joined by /), so ``c/image`` and ``~/c/panoptic`` are valid topic names in any namespace.
CAMERA_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*")
CAMERA_NAME_RULE = "letters, digits, _ and /, not starting with a digit or /"  # CAMERA_NAME in words


def camera_remappings(cameras: list[str], camera: str, default: str) -> list[tuple[str, str]]:
    """The launch file's remappings from its ``camera`` argument: one topic, or a YAML list of topics
    (``[/front/image_raw, /left/image_raw]``), one per camera; each camera's ``image`` goes to its
    topic (and with it the compressed stream, ``topic/compressed``: see ``topics.camera_input_topic``).
    Left at ``default`` with several cameras, it remaps nothing: camera ``c`` stays on ``c/image``."""
    if camera.startswith("["):
        topics = yaml.safe_load(camera)
    elif len(cameras) > 1 and camera == default:
        return []
    else:
        topics = [camera]
    if not isinstance(topics, list) or len(topics) != len(cameras) or not all(
            isinstance(t, str) and t for t in topics):
        raise ValueError(f"camera:={camera!r} for cameras {cameras}: give one topic per camera")
    return [(camera_topic(name, IMAGE), topic) for name, topic in zip(cameras, topics)]


def _node_key_pattern(key: str) -> re.Pattern[str]:
    """A params file's node key as a pattern over fully qualified node names, by rcl's rules: a
    leading ``/`` is implied, a token ``*`` stands for any one token and ``**`` for any number of them."""
    tokens = key.strip("/").split("/")
    return re.compile("".join({"**": "(/[^/]+)*", "*": "/[^/]+"}.get(t, "/" + re.escape(t)) for t in tokens))


def file_parameters(path: str | Path, node: str) -> dict[str, Any]:
    """The ``ros__parameters`` a params file gives the node ``node`` (fully qualified, ``/ns/panoptic``),
    merged in file order as rcl applies them; ``{}`` for a missing file (the node's start names it)."""
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except FileNotFoundError:
        return {}
    values: dict[str, Any] = {}
    for key, entry in data.items():
        if _node_key_pattern(str(key)).fullmatch(node) and isinstance(entry, dict):
            values.update(entry.get("ros__parameters") or {})
    return values


def score_threshold_option(value: float) -> float | None:
    """The predictor's score threshold for the parameter's ``value``: None (the checkpoint's own) where it
    is negative."""
    return None if value < SCORE_THRESHOLD_RANGE[0] else value


def descriptor(spec: ParameterSpec) -> ParameterDescriptor:
    """What ``ros2 param describe`` shows: description, range or choices; read-only unless it may change
    while the node runs or while it is unconfigured (the node refuses the latter in other states)."""
    desc = ParameterDescriptor(description=spec.description, read_only=not (spec.dynamic or spec.at_configure))
    if spec.choices:
        desc.additional_constraints = "one of: " + ", ".join(repr(c) for c in spec.choices)
    if spec.minimum is not None and isinstance(spec.default, float):
        desc.floating_point_range = [FloatingPointRange(from_value=spec.minimum, to_value=spec.maximum)]
    elif spec.minimum is not None:
        desc.integer_range = [IntegerRange(from_value=int(spec.minimum), to_value=int(spec.maximum), step=1)]
    return desc


def validate(values: dict[str, Any]) -> dict[str, Any]:
    """Check types, choices and ranges; returns the values, or raises ``ValueError`` naming the problem.

    Integers for float parameters become floats, and the arrays rclpy makes of a list parameter set
    over its service (``ros2 param set``: ``array('q')``) become lists, as declared."""
    for name, value in values.items():
        spec = BY_NAME.get(name)
        if spec is None:
            raise ValueError(f"unknown parameter {name[:80]!r}")
        expected = type(spec.default)
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = values[name] = float(value)
        if expected is list and isinstance(value, (array.array, tuple)):
            value = values[name] = list(value)
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ValueError(f"parameter {name!r} must be {expected.__name__}, got {value!r}")
        if spec.choices and value not in spec.choices:
            raise ValueError(f"parameter {name!r} must be one of {list(spec.choices)}, got {value!r}")
        if spec.minimum is not None and value < spec.minimum:
            raise ValueError(f"parameter {name!r} must be >= {spec.minimum}, got {value!r}")
        if spec.maximum is not None and value > spec.maximum:
            raise ValueError(f"parameter {name!r} must be <= {spec.maximum}, got {value!r}")
    cameras = values.get("cameras")
    if cameras is not None:
        named = all(isinstance(c, str) and CAMERA_NAME.fullmatch(c) for c in cameras)
        if not (cameras == [""] or (cameras and named and len(set(cameras)) == len(cameras))):
            raise ValueError(f"parameter 'cameras' must be distinct camera names ({CAMERA_NAME_RULE}), or [''] "
                             f"for one unnamed camera, got {cameras!r}")
    if values.get("inference_size") is not None:
        check_inference_size(values["inference_size"], "parameter 'inference_size'")
    return values
