"""Offline replay: every frame of a bag's cameras straight through the ``Predictor``, batched, as fast
as the device allows; outputs are written to a new bag exactly as the node would publish them.

Every frame is accounted for: a message that cannot be read or decoded is a bad frame, and a batch
whose inference raises (a frame too large for the GPU's memory, say) is run again frame by frame, so
only the frames that fail alone are lost, each counted with its reason."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterable

import torch
from tqdm import tqdm

from panoptic_ros.image_encoding import ImageEncodingError
from panoptic_ros.inference.overlay import render_overlay
from panoptic_ros.defaults import DEFAULT_OVERLAY_ALPHA, FULL_BITS
from panoptic_ros.device import synchronize
from panoptic_ros.inference.predictor import Predictor, predict_each
from panoptic_ros.replay.bag_io import DEFAULT_STORAGE, BagWriter, Frame, label_image, recorded_qos, rgb_image
from panoptic_ros.replay.cameras import CameraRun, ReplayCamera, camera_runs
from panoptic_ros.replay.output import OUTPUT_BAG
from panoptic_ros.ros import conversions
from panoptic_ros.ros.qos import latched_qos
from panoptic_ros.ros.topics import CATEGORIES, OVERLAY, PANOPTIC, SEGMENTS, camera_output_topic, node_topic


def _batches(frames: Iterable[Frame], size: int, predictor: Predictor, runs: dict[str, CameraRun], bits: int
             ) -> Iterable[list[tuple[Frame, torch.Tensor]]]:
    """The usable frames of every camera, in the bag's order, in batches of ``size`` (one batch may
    hold several frames of a camera, where the node's holds each camera's newest: offline, no frame
    is dropped); unusable ones are counted for their camera. ``bits``: the node's ``input_bits``."""
    batch: list[tuple[Frame, torch.Tensor]] = []
    for frame in frames:
        recorder = runs[frame.topic].recorder
        recorder.frames_in += 1
        if frame.msg is None:
            recorder.bad(frame.error, frame.timestamp)
            continue
        try:
            batch.append((frame, conversions.rgb_from_message(frame.msg, predictor.device, bits)))
        except ImageEncodingError as exc:
            recorder.bad(str(exc), frame.timestamp)
            continue
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _predict(predictor: Predictor, batch: list[tuple[Frame, torch.Tensor]], runs: dict[str, CameraRun]
             ) -> list[tuple[Frame, torch.Tensor, Any]]:
    """(frame, image, result) of the frames whose inference works (``predict_each``); each other frame's
    failure is counted for its camera."""
    done = []
    for (frame, rgb), result in zip(batch, predict_each(predictor, [rgb for _, rgb in batch])):
        if isinstance(result, str):
            runs[frame.topic].recorder.failed(result)
        else:
            done.append((frame, rgb, result))
    return done


def replay_offline(frames: Iterable[Frame], total: int | None, predictor: Predictor, out_dir: Path,
                   batch_size: int, cameras: list[ReplayCamera], storage: str = DEFAULT_STORAGE,
                   progress: bool = True, bits: int = FULL_BITS) -> tuple[list[CameraRun], float, float]:
    """Every frame of ``cameras`` through ``predictor`` in batches of ``batch_size`` (a frame that
    fails its batch is retried alone), the node's messages written to ``out_dir``'s output bag, a
    preview per camera, and each camera's figures scored against its ground truth (by stamp).
    Outputs are named as the node names each camera's; the bag's ``~/categories`` (latched) comes
    first, at the first frame's time, as the node publishes it before its first result. ``bits``: the
    significant bits of 16-bit frames (the node's ``input_bits``).

    Returns:
        The cameras' runs (their previews still open), the replay's wall-clock time, and the
        predictor's time over all batches (seconds).
    """
    colors = predictor.categories.colors_by_id(predictor.device)
    bar = tqdm(total=total, unit="frame", disable=not progress, desc="replay")
    start = time.perf_counter()
    inference_seconds = 0.0
    categories_written = False
    with camera_runs(cameras, predictor.categories, out_dir) as run_list, BagWriter(out_dir / OUTPUT_BAG,
                                                                                     storage) as bag:
        runs = {run.camera.topic: run for run in run_list}
        for batch in _batches(frames, batch_size, predictor, runs, bits):
            synchronize(predictor.device)
            t0 = time.perf_counter()
            done = _predict(predictor, batch, runs)
            synchronize(predictor.device)
            latency = time.perf_counter() - t0  # every frame of a batch waits for the whole batch
            inference_seconds += latency
            for frame, rgb, result in done:
                run = runs[frame.topic]
                header = frame.msg.header
                if not categories_written:
                    bag.write(node_topic(CATEGORIES), conversions.categories_message(
                        predictor.categories, predictor.model_name, header), frame.timestamp,
                        qos=recorded_qos(latched_qos()))
                    categories_written = True
                messages = conversions.frame_messages(
                    result, header, render_overlay(rgb, result, colors, DEFAULT_OVERLAY_ALPHA))
                for name, msg in messages.items():
                    bag.write(camera_output_topic(name, run.camera.name), msg, frame.timestamp)
                run.preview.add(rgb_image(messages[OVERLAY]), frame.timestamp)
                segments = messages[SEGMENTS].segments
                run.recorder.add_result([s.category_id for s in segments], [s.area for s in segments], latency)
                gt = run.camera.ground_truth.get(frame.stamp_ns)
                if gt is not None:  # the panoptic map as published, already on the host
                    run.recorder.add_ground_truth(frame.stamp_ns, gt, label_image(messages[PANOPTIC]))
            bar.update(sum(run.recorder.frames_in for run in run_list) - bar.n)  # bad frames too
    seconds = time.perf_counter() - start
    for run in run_list:
        run.recorder.seconds = seconds
    bar.update(sum(run.recorder.frames_in for run in run_list) - bar.n)
    bar.close()
    return run_list, seconds, inference_seconds
