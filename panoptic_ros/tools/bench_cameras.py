"""Several cameras through one network, batched (what ``panoptic_node`` does with ``cameras``),
against one predictor per camera run one after another (one single-camera node per camera).

One step is the node's per-frame path for every camera: camera message -> RGB tensor, the
``Predictor``, the label / semantic / segments messages. *batched*: one predictor, one ``predict``
call on the newest frame of all N cameras. *separate*: N predictors, each with its own copy of the
weights, each called on its own camera's frame in turn. Throughput is N frames over the median step;
the process's CPU time per frame (all its threads) is reported beside it, since it measures the work
done whatever else the machine runs, where wall-clock throughput on a loaded machine does not.
Each configuration runs in a fresh process, so its peak RSS (and, on a GPU, peak allocated memory)
is its own; N separate nodes would be N processes, each also paying for the runtime, so the
*separate* RSS here (N weight copies in one process) is a lower bound for them.
"""
from __future__ import annotations

import argparse
import copy
import multiprocessing
import resource
import statistics
import time
from typing import Any, Callable

import numpy as np
import torch

from panoptic_ros.image_size import DEFAULT_INFERENCE_SIZE
from panoptic_ros.device import resolve_device, set_cpu_threads, synchronize
from panoptic_ros.inference.predictor import PredictorOptions, TorchPredictor
from panoptic_ros.model.network import PanopticNet

ModelLoader = Callable[[argparse.Namespace, torch.device], PanopticNet]
MODES = ("batched", "separate")


def _time_cameras(args: argparse.Namespace, load_model: ModelLoader, cameras: int, mode: str) -> dict[str, Any]:
    """Runs in its own process: median ms per step of ``cameras`` frames in ``mode``, peak memory."""
    from sensor_msgs.msg import Image  # the ROS message packages are needed for this table only

    from panoptic_ros.ros import conversions

    set_cpu_threads(args.threads or 0)  # a process of its own
    device = resolve_device(args.device)
    options = PredictorOptions(args.device, args.precision[0], args.mask_cues[0], args.head[0], 0.0,
                               tuple(args.inference_size[0]) if args.inference_size else DEFAULT_INFERENCE_SIZE)
    model = load_model(args, device)
    copies = 1 if mode == "batched" else cameras
    predictors = [TorchPredictor(model if k == 0 else copy.deepcopy(model), "bench", options) for k in range(copies)]
    h, w = args.input_size[0] if args.input_size else (360, 480)
    rng = np.random.default_rng(0)
    msgs = [Image(height=h, width=w, encoding="rgb8", step=3 * w,
                  data=rng.integers(0, 256, (h, w, 3), dtype=np.uint8).tobytes()) for _ in range(cameras)]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    def step() -> None:
        images = [conversions.rgb_from_message(m, device) for m in msgs]
        if mode == "batched":
            results = predictors[0].predict(images)
        else:
            results = [p.predict([im])[0] for p, im in zip(predictors, images)]
        for m, r in zip(msgs, results):
            conversions.frame_messages(r, m.header, None)

    runs, cpu_runs = [], []
    for i in range(args.warmup + args.iters):
        start, cpu_start = time.perf_counter(), time.process_time()
        step()
        synchronize(device)
        if i >= args.warmup:
            runs.append(1000 * (time.perf_counter() - start))
            cpu_runs.append(1000 * (time.process_time() - cpu_start))
    ms = statistics.median(runs)
    return {"cameras": cameras, "mode": mode, "step_ms": ms, "fps": 1000 * cameras / ms,
            "cpu_ms_per_frame": statistics.median(cpu_runs) / cameras,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "gpu_peak_mib": torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None}


def cameras_rows(args: argparse.Namespace, load_model: ModelLoader) -> list[dict[str, Any]]:
    """One row per camera count and mode, each measured in a fresh (spawned) process; ``load_model``
    must be a module-level function (it is sent to the child by name)."""
    rows = []
    with multiprocessing.get_context("spawn").Pool(1, maxtasksperchild=1) as pool:
        for cameras in args.cameras:
            for mode in MODES:
                row = pool.apply(_time_cameras, (args, load_model, cameras, mode))
                rows.append(row)
                print(f"{cameras} camera(s) {mode}: {row['fps']:.2f} frames/s, peak RSS {row['rss_mb']:.0f} MB",
                      flush=True)
    return rows


def cameras_table(rows: list[dict[str, Any]]) -> str:
    """Batched and separate side by side for each camera count."""
    head = (f"{'cameras':>7s}{'batched fps':>13s}{'ms/step':>9s}{'separate fps':>14s}{'ms/step':>9s}"
            f"{'speed-up':>10s}{'CPU ms/frame b.':>17s}{'sep.':>7s}{'RSS batched':>13s}{'RSS separate':>14s}"
            f"{'GPU batched':>13s}{'GPU separate':>14s}")
    lines = [head, "-" * len(head)]
    by_key = {(r["cameras"], r["mode"]): r for r in rows}
    for cameras in dict.fromkeys(r["cameras"] for r in rows):
        b, s = by_key[cameras, "batched"], by_key[cameras, "separate"]
        gpu = [f"{r['gpu_peak_mib']:10.0f} MiB" if r["gpu_peak_mib"] is not None else f"{'-':>14s}" for r in (b, s)]
        lines.append(f"{cameras:7d}{b['fps']:13.2f}{b['step_ms']:9.0f}{s['fps']:14.2f}{s['step_ms']:9.0f}"
                     f"{b['fps'] / s['fps']:9.2f}x{b['cpu_ms_per_frame']:17.0f}{s['cpu_ms_per_frame']:7.0f}"
                     f"{b['rss_mb']:10.0f} MB{s['rss_mb']:11.0f} MB{gpu[0]:>13s}{gpu[1]:>14s}")
    return "\n".join(lines)
