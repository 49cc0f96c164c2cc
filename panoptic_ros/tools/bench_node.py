"""The node's per-frame path, timed stage by stage at a camera's resolution.

Everything ``panoptic_node`` does with one frame, in its order: camera message -> RGB tensor
(``conversion``), the input resize to ``inference_size`` (``resize``), the ``network``, the results at
the input's resolution (``results``: ids, areas, boxes), the label / semantic / segments messages
(``messages``, with the full-size maps the label images are made of) and the
overlay with its message (``overlay``). All but the network is the node's own work, reported as a
share of the network's time from the same runs.
"""
from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import torch

from panoptic_ros.tools.bench_stages import StageTimer, medians
from panoptic_ros.defaults import DEFAULT_OVERLAY_ALPHA
from panoptic_ros.device import autocast
from panoptic_ros.image_encoding import ImageEncodingError, image_view, rgb_tensor, unpadded_layout
from panoptic_ros.inference.overlay import render_overlay
from panoptic_ros.image_size import network_size
from panoptic_ros.inference.resize import resize_batch
from panoptic_ros.model.network import PanopticNet
from panoptic_ros.model.result import build_results

DEFAULT_ENCODING = "rgb8"  # the camera frames' unless ``--encoding`` names others
DEFAULT_INPUT_SIZE = [1024, 2048]  # a 2 MP camera, unless ``--input-size`` names others
NODE_STAGES = ("conversion", "resize", "network", "results", "messages", "overlay")
OWN_STAGES = tuple(s for s in NODE_STAGES if s != "network")


@torch.inference_mode()
def time_node_path(model: PanopticNet, input_size: tuple[int, int], inference_size: tuple[int, int],
                   precision: str, mask_cues: bool, head: str, warmup: int, iters: int,
                   overlay_max_size: int | None = None, label_images: list[str] | None = None,
                   encoding: str = DEFAULT_ENCODING) -> dict[str, float]:
    """Medians (ms) per stage of one frame of ``input_size`` in ``encoding`` (random bytes: a conversion
    costs the same whatever the pixels) through the node's path, plus ``own`` (all but the network),
    ``own_share`` (own / network) and ``detections``. ``label_images``: those the messages stage makes, as
    the node makes the ones with subscribers (None: all)."""
    from sensor_msgs.msg import Image  # the ROS message packages are needed for this table only

    from panoptic_ros.ros import conversions
    from panoptic_ros.ros.topics import LABEL_IMAGES

    made = LABEL_IMAGES if label_images is None else tuple(label_images)

    device = model.device
    h, w = input_size
    step, size = unpadded_layout(h, w, encoding)
    frame = np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8)
    msg = Image(height=h, width=w, encoding=encoding, step=step, data=frame.tobytes())
    colors = model.categories.colors_by_id(device)
    runs: list[dict[str, float]] = []
    for i in range(warmup + iters):
        t = StageTimer(device)
        with t("conversion"):
            rgb = conversions.rgb_from_message(msg, device)
        with t("resize"):
            small = resize_batch([rgb], network_size((h, w), inference_size))  # as ``predictor.predict_at``
        with t("network"), autocast(device, precision):
            channels, confidence, dets = model.panoptic_maps(small, mask_cues, head)
        with t("results"):
            result = build_results(channels, confidence, dets, model.categories, (h, w), mask_cues)[0]
        with t("messages"):
            conversions.frame_messages(result, msg.header, None, made)
        with t("overlay"):
            conversions.overlay_message(render_overlay(rgb, result, colors, DEFAULT_OVERLAY_ALPHA, overlay_max_size),
                                        msg.header)
        if i >= warmup:
            runs.append(t.elapsed_ms())
    out = medians(runs, NODE_STAGES)
    own = medians(runs, OWN_STAGES)["total"]
    out.update(own=own, own_share=own / out["network"], detections=float(dets.valid.sum()))
    return out


def check_encodings(encodings: list[str], sizes: list[list[int]]) -> None:
    """Raise ``ValueError`` before any timing where an encoding cannot carry a frame size (nv12 and
    yuv422 need even sides), naming both, instead of a traceback once the earlier rows have run."""
    for encoding, (h, w) in itertools.product(encodings, sizes):
        step, size = unpadded_layout(h, w, encoding)
        try:
            rgb_tensor(image_view(h, w, encoding, step, bytearray(size)), encoding)
        except ImageEncodingError as exc:
            raise ValueError(f"--encoding {encoding} at --input-size {h} {w}: {exc}") from None


def node_table(rows: list[dict[str, Any]]) -> str:
    """The node-path rows as a fixed-width table: ms per stage, the node's own share beside the network."""
    head = f"{'node path: input <- inference (HxW), head':52s}" + "".join(
        f"{s:>11s}" for s in (*NODE_STAGES, "own", "own/net", "dets"))
    lines = [head, "-" * len(head)]
    for r in rows:
        ms = r["ms"]
        cells = "".join(f"{ms[s]:11.1f}" for s in (*NODE_STAGES, "own"))
        lines.append(f"{r['name']:52s}{cells}{100 * ms['own_share']:10.0f}%{ms['detections']:11.0f}")
    return "\n".join(lines)
