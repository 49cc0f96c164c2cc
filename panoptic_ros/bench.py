"""``panoptic-bench``: time the network per stage, and torchvision's Mask R-CNN as the reference.

    panoptic-bench --model-config config/model_r50.yaml --size 1024 2048 --precision fp32 fp16 \
                   --mask-cues on off --head affinity upsnet heuristic --out bench.json

Stages: backbone (normalise + ResNet-FPN), semantic head, instance head (RPN + boxes, + masks with
mask cues), panoptic head, post-processing (ids, per-segment statistics). Each configuration gets
``--warmup`` untimed runs, then ``--iters`` timed ones (CUDA events on a GPU, wall clock on the CPU);
the table shows medians in milliseconds. Weights are random and the score threshold is 0, so every
image carries ``detections_per_image`` instances, the worst case for the instance and panoptic stages.
The reference, ``maskrcnn_resnet50_fpn`` (its own resizing disabled), runs on the same input.
"""
from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch

from panoptic_ros.config import ModelConfig, load_config
from panoptic_ros.data.cityscapes import CITYSCAPES_CATEGORIES
from panoptic_ros.device import PRECISIONS, autocast, check_precision, resolve_device, synchronize
from panoptic_ros.model.checkpoint import load_checkpoint
from panoptic_ros.model.network import PanopticNet
from panoptic_ros.model.result import build_results

STAGES = ("backbone", "semantic", "instance", "panoptic_head", "postprocess")


class StageTimer:
    """Per-stage elapsed times: CUDA events on a GPU (no sync inside the frame), else wall clock."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.cuda = device.type == "cuda"
        self.marks: list[tuple[str, Any, Any]] = []

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            yield
            end.record()
        else:
            start = time.perf_counter()
            yield
            end = time.perf_counter()
        self.marks.append((name, start, end))

    def elapsed_ms(self) -> dict[str, float]:
        if self.cuda:
            synchronize(self.device)
            return {n: s.elapsed_time(e) for n, s, e in self.marks}
        return {n: (e - s) * 1000 for n, s, e in self.marks}


@torch.inference_mode()
def time_panoptic(model: PanopticNet, images: torch.Tensor, precision: str, mask_cues: bool, head: str,
                  warmup: int, iters: int) -> dict[str, float]:
    device = images.device
    runs: list[dict[str, float]] = []
    for i in range(warmup + iters):
        t = StageTimer(device)
        with autocast(device, precision):
            with t("backbone"):
                image_list = model.prepare(images)
                feats = model.extract(image_list)
            with t("semantic"):
                sem, fused = model.semantic(feats)
            with t("instance"):
                dets = model.detect(image_list, feats)
                masks = model.masks(image_list, feats, dets) if mask_cues else None
            with t("panoptic_head"):
                channels, confidence = model.panoptic(sem, fused, dets, masks, head)  # type: ignore[arg-type]
            with t("postprocess"):
                h, w = images.shape[-2:]
                build_results(channels[:, :h, :w], confidence[:, :h, :w], dets, model.categories, (h, w), mask_cues)
        if i >= warmup:
            runs.append(t.elapsed_ms())
    out = {s: statistics.median(r[s] for r in runs) for s in STAGES}
    out["total"] = statistics.median(sum(r.values()) for r in runs)
    out["detections"] = float(dets.valid.sum()) / images.shape[0]
    return out


@torch.inference_mode()
def time_reference(images: torch.Tensor, precision: str, warmup: int, iters: int) -> dict[str, float]:
    import torchvision
    h, w = images.shape[-2:]
    ref = torchvision.models.detection.maskrcnn_resnet50_fpn(
        weights=None, weights_backbone=None, min_size=min(h, w), max_size=max(h, w),
        box_score_thresh=0.0, box_detections_per_img=50).to(images.device).eval()
    batch = [im.float() / 255 for im in images]
    runs = []
    for i in range(warmup + iters):
        t = StageTimer(images.device)
        with autocast(images.device, precision), t("total"):
            ref(batch)
        if i >= warmup:
            runs.append(t.elapsed_ms()["total"])
    return {"total": statistics.median(runs)}


def _table(rows: list[dict[str, Any]]) -> str:
    head = f"{'configuration':42s}" + "".join(f"{s:>14s}" for s in (*STAGES, "total")) + f"{'fps':>9s}"
    lines = [head, "-" * len(head)]
    for r in rows:
        cells = "".join(f"{r['ms'].get(s, float('nan')):14.1f}" for s in (*STAGES, "total"))
        lines.append(f"{r['name']:42s}{cells}{1000 * r['batch'] / r['ms']['total']:9.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-config", type=Path, default=Path("config/model_r50.yaml"))
    p.add_argument("--checkpoint", type=Path, help="time a trained checkpoint instead of --model-config")
    p.add_argument("--size", type=int, nargs=2, action="append", metavar=("H", "W"),
                   help="input size; repeat for several (default 512 1024)")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--precision", nargs="+", default=["fp32"], choices=list(PRECISIONS))
    p.add_argument("--mask-cues", nargs="+", default=["on", "off"], choices=["on", "off"])
    p.add_argument("--head", nargs="+", default=["affinity", "upsnet", "heuristic"],
                   choices=["affinity", "upsnet", "heuristic"])
    p.add_argument("--device", default="auto")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--no-reference", action="store_true", help="skip torchvision's maskrcnn_resnet50_fpn")
    p.add_argument("--out", type=Path, help="write the results as JSON")
    args = p.parse_args(argv)
    device = resolve_device(args.device)
    for precision in args.precision:
        check_precision(precision, device)
    if args.checkpoint:
        model, _ = load_checkpoint(args.checkpoint, device)
    else:
        cfg = load_config(ModelConfig, args.model_config)
        model = PanopticNet(cfg, CITYSCAPES_CATEGORIES).to(device).eval()
    model.instance.set_score_threshold(0.0)
    model = model.to(memory_format=torch.channels_last)
    rows: list[dict[str, Any]] = []
    gen = torch.Generator().manual_seed(0)
    for (h, w), precision in itertools.product(args.size or [[512, 1024]], args.precision):
        images = torch.randint(0, 256, (args.batch, 3, h, w), dtype=torch.uint8, generator=gen).to(device)
        for cues, head in itertools.product(args.mask_cues, args.head):
            ms = time_panoptic(model, images, precision, cues == "on", head, args.warmup, args.iters)
            name = f"{h}x{w} {precision} {head} {'masks' if cues == 'on' else 'boxes'}"
            rows.append({"name": name, "size": [h, w], "precision": precision, "head": head, "mask_cues": cues == "on",
                         "batch": args.batch, "ms": ms})
            print(f"{name}: {ms['total']:.1f} ms", flush=True)
        if not args.no_reference:
            ms = time_reference(images, precision, args.warmup, args.iters)
            rows.append({"name": f"{h}x{w} {precision} torchvision maskrcnn_r50", "size": [h, w],
                         "precision": precision, "head": "reference", "mask_cues": True, "batch": args.batch, "ms": ms})
    result = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
              "torch": torch.__version__, "threads": torch.get_num_threads(), "rows": rows}
    print(f"\ndevice: {result['device']}, torch {result['torch']}, batch {args.batch}, medians of {args.iters} runs (ms)")
    print(_table(rows))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
