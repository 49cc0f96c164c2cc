"""``panoptic-predict``: the model on image files, folders of images and videos, without ROS or a bag.

    panoptic-predict photo.jpg frames/ drive.mp4 --out out/predict [--inference-size 360 0] [--head upsnet]

For images it writes ``OUT/overlay/<name>.png`` (the image blended with its segments, as the node's
``~/overlay``) and the predictions in COCO panoptic format: ``OUT/panoptic/<name>.png`` (segment ids
``R + 256 G + 256^2 B``, 0 void) and ``OUT/panoptic.json`` (image ids: a numeric file name as its
number, as COCO's files are named, else the name; per image its ``segments_info``: id,
category, area, box and score; the model's categories), which ``panoptic-eval --pred-json --pred-dir``
scores against ground truth in that format. For each video it writes ``OUT/video/<name>.mp4`` (or
``.webm``) of its overlays at the video's frame rate (5 where the file does not say; at most 120) and a
strip ``OUT/video/<name>.png``. A file that
cannot be read, and a frame whose inference fails, is reported once and skipped; ``OUT/summary.json``
lists them with the counts and timings. The network runs as the node runs it (same options, same
defaults).
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from panoptic_ros.arguments import (
    add_predictor_arguments, check_predictor_arguments, positive_int, predictor_from_arguments, quiet_ctrl_c,
)
from panoptic_ros.data.coco_panoptic import category_records, id_to_rgb, read_rgb, segment_record, write_rgb
from panoptic_ros.defaults import DEFAULT_OVERLAY_ALPHA, OVERLAY_ALPHA_RANGE
from panoptic_ros.device import synchronize
from panoptic_ros.inference.overlay import render_overlay
from panoptic_ros.inference.predictor import TorchPredictor, predict_each
from panoptic_ros.inference.video import DEFAULT_VIDEO_FORMAT, VIDEO_FORMATS, PreviewWriter
from panoptic_ros.memory import keep_frame_buffers
from panoptic_ros.model.checkpoint import CheckpointError
from panoptic_ros.structures import COCO_ID_OFFSET, PanopticResult

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg"})
SUMMARY = "summary.json"


def find_inputs(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """(images, videos) named by ``paths``: files by their suffix, folders by the files directly in them
    (sorted; other files there are passed over).

    Raises:
        ValueError: a path that does not exist, a file that is neither, a folder with neither in it, or
        two inputs of one name (their outputs would overwrite each other) or image id (``image_id``).
    """
    images, videos = [], []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir()
                           if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES)
            if not found:
                raise ValueError(f"{path}: no image ({', '.join(sorted(IMAGE_SUFFIXES))}) or video "
                                 f"({', '.join(sorted(VIDEO_SUFFIXES))}) in it")
        elif path.is_file():
            if path.suffix.lower() not in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
                raise ValueError(f"{path}: not an image ({', '.join(sorted(IMAGE_SUFFIXES))}) or a video "
                                 f"({', '.join(sorted(VIDEO_SUFFIXES))}) by its suffix")
            found = [path]
        else:
            raise ValueError(f"{path}: no such file or folder")
        for p in found:
            (videos if p.suffix.lower() in VIDEO_SUFFIXES else images).append(p)
    named: dict[str, list[str]] = collections.defaultdict(list)
    numbered: dict[int | str, list[str]] = collections.defaultdict(list)
    for p in images + videos:
        named[p.stem].append(str(p))
    for p in images:
        numbered[image_id(p)].append(str(p))
    for clash, groups in (("are named alike", named), ("have one COCO image id", numbered)):
        twice = [" and ".join(paths) for paths in groups.values() if len(paths) > 1]
        if twice:
            raise ValueError(f"inputs {'; '.join(twice)} {clash}: their outputs would overwrite or be taken for "
                             "each other (predict them into separate --out folders)")
    return images, videos


def result_segments_info(result: PanopticResult) -> list[dict[str, Any]]:
    """COCO ``segments_info`` of a result, each record with its score, from the result's exact
    per-segment areas and boxes: no pass over the image."""
    return [segment_record(row.id + COCO_ID_OFFSET, row.category_id, row.box, row.area) | {"score": round(row.score, 4)}
            for row in result.segment_rows()]


def image_id(path: Path) -> int | str:
    """A COCO image id for an image file: its stem as a number where it is one (COCO's own files,
    ``000000142238.jpg`` -> 142238, so that panopticapi pairs them with ground truth), else the stem."""
    return int(path.stem) if path.stem.isascii() and path.stem.isdigit() else path.stem


class Predictions:
    """What one run has done: the COCO records of its images, its failures and its timings."""

    def __init__(self, predictor: TorchPredictor, out: Path, alpha: float) -> None:
        self.predictor, self.out, self.alpha = predictor, out, alpha
        self.colors = predictor.categories.colors_by_id(predictor.device)
        self.images: list[dict[str, Any]] = []
        self.annotations: list[dict[str, Any]] = []
        self.skipped: list[str] = []
        self.frames = 0
        self.seconds = 0.0

    def skip(self, reason: str) -> None:
        """One input or frame left out, said once, here and in the summary."""
        print(f"panoptic-predict: skipped {reason}", file=sys.stderr)
        self.skipped.append(reason)

    def infer(self, named: list[tuple[Any, torch.Tensor]]) -> Iterator[tuple[Any, torch.Tensor, PanopticResult]]:
        """(name, image, result) of each named RGB [3, H, W] image whose inference works, timed (a name is
        anything that says, printed, which image failed)."""
        device = self.predictor.device
        synchronize(device)
        start = time.perf_counter()
        results = predict_each(self.predictor, [image for _, image in named])
        synchronize(device)
        self.seconds += time.perf_counter() - start
        for (name, image), result in zip(named, results):
            if isinstance(result, str):
                self.skip(f"{name}: inference failed: {result}")
                continue
            self.frames += 1
            yield name, image, result

    def overlay(self, image: torch.Tensor, result: PanopticResult) -> np.ndarray:
        """The node's overlay of ``result`` on ``image``, [H, W, 3] uint8 RGB on the host."""
        return render_overlay(image, result, self.colors, self.alpha).cpu().numpy()

    def write_image(self, path: Path, image: torch.Tensor, result: PanopticResult) -> None:
        """The image's overlay and its COCO panoptic PNG and records (named by the file's stem)."""
        name = path.stem
        write_rgb(self.out / "overlay" / f"{name}.png", self.overlay(image, result))
        ids = (result.panoptic + COCO_ID_OFFSET).cpu().numpy()
        write_rgb(self.out / "panoptic" / f"{name}.png", id_to_rgb(ids))
        h, w = ids.shape
        self.images.append({"id": image_id(path), "file_name": path.name, "height": h, "width": w})
        self.annotations.append({"image_id": image_id(path), "file_name": f"{name}.png",
                                 "segments_info": result_segments_info(result)})

    def coco_json(self) -> dict[str, Any]:
        """``panoptic.json``: the images' records and the model's categories."""
        return {"images": self.images, "annotations": self.annotations,
                "categories": category_records(self.predictor.categories)}


def _tensor(rgb: np.ndarray, device: torch.device) -> torch.Tensor:
    """An [H, W, 3] uint8 RGB array as the predictor's [3, H, W] on ``device``."""
    return torch.from_numpy(rgb).permute(2, 0, 1).to(device)


def predict_images(paths: list[Path], run: Predictions, batch: int) -> None:
    """Every image through the network in batches of ``batch``; its outputs written."""
    (run.out / "overlay").mkdir(parents=True, exist_ok=True)
    (run.out / "panoptic").mkdir(exist_ok=True)
    for start in range(0, len(paths), batch):
        named = []
        for path in paths[start:start + batch]:
            try:
                named.append((path, _tensor(read_rgb(path), run.predictor.device)))
            except FileNotFoundError:
                run.skip(f"{path}: cannot be read as an image")
        if named:
            for path, image, result in run.infer(named):
                run.write_image(path, image, result)


def predict_video(path: Path, run: Predictions, batch: int, video_format: str) -> None:
    """Every frame of a video through the network in batches of ``batch``, its overlays into a video at
    the source's frame rate and a strip."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        run.skip(f"{path}: cannot be read as a video")
        return
    (run.out / "video").mkdir(parents=True, exist_ok=True)
    preview = PreviewWriter(run.out / "video", (f"{path.stem}.{video_format}", f"{path.stem}.png"),
                            capture.get(cv2.CAP_PROP_FPS))
    index = 0
    try:
        while True:
            named = []
            while len(named) < batch:
                ok, bgr = capture.read()
                if not ok:
                    break
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                named.append((f"{path.name} frame {index}", _tensor(rgb, run.predictor.device)))
                index += 1
            if not named:
                break
            for _, image, result in run.infer(named):
                preview.add(run.overlay(image, result))
    finally:
        capture.release()
        written = preview.close()
    if index == 0:
        run.skip(f"{path}: no frame could be read")
    elif preview.count and preview.video_path not in written:
        run.skip(f"{path}: its overlay video could not be written ({preview.video_path})")


@quiet_ctrl_c("panoptic-predict")
def main(argv: list[str] | None = None) -> int:
    """``panoptic-predict``'s entry: 0 when anything was predicted, 1 when nothing could be, 2 for bad arguments."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", type=Path, help="image files, folders of images, video files")
    parser.add_argument("--out", type=Path, default=Path("out/predict"),
                        help="folder for the outputs, new or empty (default: %(default)s)")
    add_predictor_arguments(parser)
    parser.add_argument("--batch", type=positive_int, default=4, help="images or frames per network call")
    parser.add_argument("--overlay-alpha", type=float, default=DEFAULT_OVERLAY_ALPHA, help="segment colours' opacity")
    parser.add_argument("--video-format", default=DEFAULT_VIDEO_FORMAT, choices=list(VIDEO_FORMATS),
                        help="the overlay videos': mp4 (VLC, mpv, QuickTime) or webm (web browsers too)")
    args = parser.parse_args(argv)
    check_predictor_arguments(parser, args)
    low, high = OVERLAY_ALPHA_RANGE
    if not low <= args.overlay_alpha <= high:
        parser.error(f"--overlay-alpha must be in [{low}, {high}], got {args.overlay_alpha}")
    if args.out.exists() and (not args.out.is_dir() or any(args.out.iterdir())):
        parser.error(f"--out {args.out} exists and is not an empty folder: name a new one (nothing is overwritten)")
    try:
        images, videos = find_inputs(args.inputs)
        keep_frame_buffers()
        run = Predictions(predictor_from_arguments(args), args.out, args.overlay_alpha)
    except (OSError, ValueError, CheckpointError) as exc:
        print(f"panoptic-predict: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    if images:
        predict_images(images, run, args.batch)
        (args.out / "panoptic.json").write_text(json.dumps(run.coco_json()))
    for video in videos:
        predict_video(video, run, args.batch, args.video_format)
    summary = {"images": len(images), "videos": len(videos), "frames_predicted": run.frames,
               "skipped": run.skipped, **run.predictor.settings(), "batch": args.batch,
               "inference_ms_per_frame": 1000 * run.seconds / max(run.frames, 1)}
    (args.out / SUMMARY).write_text(json.dumps(summary, indent=2))
    print(f"{run.frames} frames predicted (from {len(images)} images and {len(videos)} videos) on {summary['device']}, "
          f"{summary['inference_ms_per_frame']:.1f} ms each; {len(run.skipped)} skipped; outputs in {args.out}")
    return 0 if run.frames else 1


if __name__ == "__main__":
    sys.exit(main())
