"""``panoptic-bench``: the network per stage with torchvision's Mask R-CNN as the reference, the
node's per-frame path at camera resolution, and the affinity propagation's attention kernel.

    panoptic-bench --model-config config/model_r50.yaml --size 1024 2048 --precision fp32 fp16 \
                   --mask-cues on off --head affinity upsnet heuristic --out bench.json
    panoptic-bench --checkpoint models/street_lite0.pt --tables node --input-size 1024 2048 \
                   --inference-size 360 0 --inference-size 512 0 --mask-cues on --head upsnet
    panoptic-bench --tables attention --size 512 1024 --size 1024 2048 --precision fp32 fp16
    panoptic-bench --model-config config/model_r50.yaml --tables dispatch --size 512 1024 --head upsnet
    panoptic-bench --checkpoint models/street_lite0.pt --tables cameras --cameras 1 2 4 \
                   --input-size 360 480 --inference-size 360 480 --mask-cues on --head upsnet

``network`` (default): backbone (normalise + ResNet-FPN), semantic head, instance head (RPN + boxes,
+ masks with mask cues), panoptic head, post-processing (ids, per-segment statistics) at ``--size``.
``node``: ``bench_node`` (conversion, resize, network, results, messages, overlay) for each
``--input-size`` and ``--inference-size``. ``attention``: ``bench_attention`` at each ``--size``.
``dispatch``: ``bench_dispatch``, tensor ops and host waits per stage of one frame at each ``--size`` (nearly
the same on any machine: what a GPU pays per kernel launch and per wait, counted on the CPU).
``cameras``: ``bench_cameras``, frames/s and memory of 1, 2, 4 (``--cameras``) cameras batched through one
network against one network per camera (the first ``--input-size``, ``--inference-size``, precision,
mask-cues and head value).
Each configuration gets ``--warmup`` untimed runs, then ``--iters`` timed ones (CUDA events on a GPU,
wall clock on the CPU); tables show medians in milliseconds. The score threshold is 0, so every
image carries ``detections_per_image`` instances (or ``--detections``), the worst case for the
instance, panoptic and per-segment stages. The reference, ``maskrcnn_resnet50_fpn`` (its own
resizing disabled), runs on the same input.
"""
from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import torch
import yaml

from panoptic_ros.arguments import non_negative_int, positive_int, quiet_ctrl_c
from panoptic_ros.tools.bench_attention import attention_check, attention_table
from panoptic_ros.tools.bench_cameras import cameras_rows, cameras_table
from panoptic_ros.tools.bench_dispatch import count_dispatch, dispatch_table
from panoptic_ros.tools.bench_node import (DEFAULT_ENCODING, DEFAULT_INPUT_SIZE, check_encodings, node_table,
                                           time_node_path)
from panoptic_ros.tools.bench_stages import STAGES, StageTimer, medians, run_stages
from panoptic_ros.heads import HEAD_KINDS, MASK_CUE_MODES
from panoptic_ros.image_encoding import INPUT_ENCODINGS
from panoptic_ros.image_size import DEFAULT_INFERENCE_SIZE, check_inference_size, network_size
from panoptic_ros.config import ModelConfig, load_config
from panoptic_ros.data.cityscapes import CITYSCAPES_CATEGORIES
from panoptic_ros.defaults import DEFAULT_DEVICE
from panoptic_ros.device import autocast, check_precision, resolve_device, set_cpu_threads
from panoptic_ros.precisions import DEFAULT_PRECISION, PRECISION_NAMES
from panoptic_ros.memory import keep_frame_buffers
from panoptic_ros.model.checkpoint import CheckpointError, load_checkpoint
from panoptic_ros.model.network import PanopticNet
from panoptic_ros.resources import package_file
from panoptic_ros.structures import ID_DIVISOR


@torch.inference_mode()
def time_panoptic(model: PanopticNet, images: torch.Tensor, precision: str, mask_cues: bool, head: str,
                  warmup: int, iters: int) -> dict[str, float]:
    """Median ms of each of ``STAGES`` over ``iters`` runs after ``warmup`` (the network's stages timed by
    its own stage hooks, so the figures are those of the code the node runs, then the results built),
    and ``detections``: the valid detections per image of the last run."""
    device = images.device
    runs: list[dict[str, float]] = []
    for i in range(warmup + iters):
        t = StageTimer(device)
        dets = run_stages(model, images, precision, mask_cues, head, t)
        if i >= warmup:
            runs.append(t.elapsed_ms())
    out = medians(runs, STAGES)
    out["detections"] = float(dets.valid.sum()) / images.shape[0]
    return out


@torch.inference_mode()
def time_reference(images: torch.Tensor, precision: str, warmup: int, iters: int) -> dict[str, float]:
    """Median ms of torchvision's ``maskrcnn_resnet50_fpn`` (random weights: only its time counts) on
    the same input and precision: the well-known reference the issue's speed-up is measured against."""
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


def _cues_name(mask_cues: bool) -> str:
    """A row's mask-cue mode as the tables name it."""
    return "masks" if mask_cues else "boxes"


def _table(rows: list[dict[str, Any]]) -> str:
    head = f"{'configuration':42s}" + "".join(f"{s:>14s}" for s in (*STAGES, "total")) + f"{'fps':>9s}"
    lines = [head, "-" * len(head)]
    for r in rows:
        cells = "".join(f"{r['ms'].get(s, float('nan')):14.1f}" for s in (*STAGES, "total"))
        lines.append(f"{r['name']:42s}{cells}{1000 * r['batch'] / r['ms']['total']:9.1f}")
    return "\n".join(lines)


def _network_rows(model: PanopticNet, args: argparse.Namespace, device: torch.device) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    gen = torch.Generator().manual_seed(0)
    for (h, w), precision in itertools.product(args.size or [[512, 1024]], args.precision):
        images = torch.randint(0, 256, (args.batch, 3, h, w), dtype=torch.uint8, generator=gen).to(device)
        for cues, head in itertools.product(args.mask_cues, args.head):
            ms = time_panoptic(model, images, precision, cues, head, args.warmup, args.iters)
            name = f"{h}x{w} {precision} {head} {_cues_name(cues)}"
            rows.append({"name": name, "size": [h, w], "precision": precision, "head": head, "mask_cues": cues,
                         "batch": args.batch, "ms": ms})
            print(f"{name}: {ms['total']:.1f} ms", flush=True)
        if not args.no_reference:
            ms = time_reference(images, precision, args.warmup, args.iters)
            rows.append({"name": f"{h}x{w} {precision} torchvision maskrcnn_r50", "size": [h, w],
                         "precision": precision, "head": "reference", "mask_cues": True, "batch": args.batch, "ms": ms})
    return rows


def _node_rows(model: PanopticNet, args: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for size, inference, precision, cues, head, dets, encoding in itertools.product(
            args.input_size or [DEFAULT_INPUT_SIZE], args.inference_size or [list(DEFAULT_INFERENCE_SIZE)],
            args.precision, args.mask_cues, args.head, args.detections or [model.cfg.instance.detections_per_image],
            args.encoding):
        model.instance.roi_heads.detections_per_img = dets
        ms = time_node_path(model, tuple(size), tuple(inference), precision, cues, head, args.warmup,
                            args.iters, overlay_max_size=args.overlay_max_size, label_images=args.label_images,
                            encoding=encoding)
        net_h, net_w = network_size(tuple(size), tuple(inference))
        name = (f"{size[0]}x{size[1]} <- {net_h}x{net_w} {precision} {head} "  # rows x columns, as the flags
                f"{_cues_name(cues)} n={dets}")
        if args.label_images is not None:
            name += f" labels={','.join(args.label_images) or 'none'}"
        if encoding != DEFAULT_ENCODING:
            name += f" {encoding}"
        rows.append({"name": name, "input_size": size, "inference_size": inference, "precision": precision,
                     "head": head, "mask_cues": cues, "max_detections": dets, "encoding": encoding,
                     "label_images": args.label_images, "ms": ms})
        print(f"{name}: own work {ms['own']:.1f} ms = {100 * ms['own_share']:.0f}% of the network's "
              f"{ms['network']:.1f} ms", flush=True)
    model.instance.roi_heads.detections_per_img = model.cfg.instance.detections_per_image
    return rows


def _attention_rows(model: PanopticNet, args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for (h, w), precision in itertools.product(args.size or [[512, 1024]], args.precision):
        rows.append({"name": f"{h}x{w} {precision}", "size": [h, w], "precision": precision,
                     "attention": attention_check(model, (h, w), precision)})
    return rows


def _dispatch_rows(model: PanopticNet, args: argparse.Namespace, device: torch.device) -> list[dict[str, Any]]:
    rows = []
    for (h, w), precision in itertools.product(args.size or [[512, 1024]], args.precision):
        images = torch.randint(0, 256, (args.batch, 3, h, w), dtype=torch.uint8).to(device)
        for cues, head in itertools.product(args.mask_cues, args.head):
            counts = count_dispatch(model, images, precision, cues, head)
            rows.append({"name": f"{h}x{w} {precision} {head} {_cues_name(cues)}",
                         "size": [h, w], "precision": precision, "head": head, "mask_cues": cues, **counts})
    return rows


def load_model(args: argparse.Namespace, device: torch.device) -> PanopticNet:
    """``--checkpoint``, else a random network of ``--model-config``; score threshold 0 (the worst case)."""
    if args.checkpoint:
        model, _ = load_checkpoint(args.checkpoint, device)
    else:
        cfg = load_config(ModelConfig, args.model_config)
        model = PanopticNet(cfg, CITYSCAPES_CATEGORIES).to(device)
    model.instance.set_score_threshold(0.0)
    return model.for_inference()


@quiet_ctrl_c("panoptic-bench")
def main(argv: list[str] | None = None) -> int:
    """``panoptic-bench``'s entry: prints the tables asked for (and writes them as JSON with ``--out``)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tables", nargs="+", default=["network"],
                   choices=["network", "node", "attention", "cameras", "dispatch"])
    p.add_argument("--model-config", type=Path, default=package_file("panoptic_ros", "config", "model_r50.yaml"))
    p.add_argument("--checkpoint", type=Path, help="time a trained checkpoint instead of --model-config")
    p.add_argument("--size", type=positive_int, nargs=2, action="append", metavar=("H", "W"),
                   help="network / attention input size; repeat for several (default 512 1024)")
    p.add_argument("--input-size", type=positive_int, nargs=2, action="append", metavar=("H", "W"),
                   help="node table: camera image size; repeat for several (default 1024 2048); cameras "
                   "table: the first (default 360 480)")
    p.add_argument("--inference-size", type=int, nargs=2, action="append", metavar=("H", "W"),
                   help="node and cameras tables: the node's inference_size, a 0 following the input's aspect "
                   "ratio; repeat for several (the cameras table takes the first) (default: the node's, "
                   f"{' '.join(map(str, DEFAULT_INFERENCE_SIZE))})")
    p.add_argument("--detections", type=positive_int, nargs="+",
                   help="node table: detections per image (default: the model's detections_per_image)")
    p.add_argument("--encoding", nargs="+", default=[DEFAULT_ENCODING], choices=INPUT_ENCODINGS, metavar="ENCODING",
                   help=f"node table: the camera frames' encodings (default {DEFAULT_ENCODING}; any of "
                        f"{', '.join(INPUT_ENCODINGS)})")
    p.add_argument("--overlay-max-size", type=positive_int, help="node table: cap on the overlay's longer side")
    p.add_argument("--label-images", nargs="*", metavar="NAME",
                   help="node table: the label images made each frame, as the node makes those that have "
                   "subscribers (default: all, the worst case; the flag alone: none)")
    p.add_argument("--cameras", type=positive_int, nargs="+", default=[1, 2, 4],
                   help="cameras table: camera counts (default 1 2 4)")
    p.add_argument("--batch", type=positive_int, default=1)
    p.add_argument("--precision", nargs="+", default=[DEFAULT_PRECISION], choices=PRECISION_NAMES)
    p.add_argument("--mask-cues", nargs="+", default=["both"], choices=list(MASK_CUE_MODES),
                   help="with mask cues (on), boxes only (off), or both (default)")
    p.add_argument("--head", nargs="+", default=list(HEAD_KINDS), choices=HEAD_KINDS)
    p.add_argument("--device", default=DEFAULT_DEVICE)
    p.add_argument("--threads", type=positive_int, help="torch CPU threads (default: torch's own choice)")
    p.add_argument("--warmup", type=non_negative_int, default=5, help="untimed runs first (0: none)")
    p.add_argument("--iters", type=positive_int, default=20)
    p.add_argument("--no-reference", action="store_true", help="skip torchvision's maskrcnn_resnet50_fpn")
    p.add_argument("--out", type=Path, help="write the results as JSON")
    args = p.parse_args(argv)
    args.mask_cues = list(dict.fromkeys(cues for mode in args.mask_cues for cues in MASK_CUE_MODES[mode]))
    try:
        for size in args.inference_size or []:
            check_inference_size(size, "--inference-size")
    except ValueError as exc:
        p.error(str(exc))
    if "node" in args.tables and args.label_images is not None:
        from panoptic_ros.ros.topics import LABEL_IMAGES  # the node table needs the ROS messages anyway

        if unknown := sorted(set(args.label_images) - set(LABEL_IMAGES)):
            p.error(f"--label-images: unknown {', '.join(unknown)} (choose from {', '.join(LABEL_IMAGES)})")
    if "node" in args.tables:
        try:
            check_encodings(args.encoding, args.input_size or [DEFAULT_INPUT_SIZE])
        except ValueError as exc:
            p.error(str(exc))
    if any(n >= ID_DIVISOR for n in args.detections or []):
        p.error(f"--detections must be below {ID_DIVISOR} (panoptic ids are category * {ID_DIVISOR} + instance)")
    keep_frame_buffers()  # as the node does
    set_cpu_threads(args.threads or 0)
    try:  # what the user named: a clear line, not a traceback
        device = resolve_device(args.device)
        for precision in args.precision:
            check_precision(precision, device)
        model = load_model(args, device)
    except (ValueError, OSError, CheckpointError, yaml.YAMLError) as exc:
        print(f"panoptic-bench: {exc}", file=sys.stderr)
        return 2
    result: dict[str, Any] = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                              "torch": torch.__version__, "threads": torch.get_num_threads()}
    print(f"device: {result['device']}, torch {result['torch']}, {result['threads']} CPU threads, "
          f"batch {args.batch}, medians of {args.iters} runs (ms)", flush=True)
    if "network" in args.tables:
        result["rows"] = _network_rows(model, args, device)
        print(_table(result["rows"]))
    if "node" in args.tables:
        result["node"] = _node_rows(model, args)
        print(node_table(result["node"]))
    if "attention" in args.tables:
        result["attention"] = _attention_rows(model, args)
        print(attention_table(result["attention"]))
    if "cameras" in args.tables:
        result["cameras"] = cameras_rows(args, load_model)
        print(cameras_table(result["cameras"]))
    if "dispatch" in args.tables:
        result["dispatch"] = _dispatch_rows(model, args, device)
        print(dispatch_table(result["dispatch"]))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
