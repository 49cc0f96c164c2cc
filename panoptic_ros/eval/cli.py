"""``panoptic-eval``: PQ / SQ / RQ of COCO-panoptic prediction files, or of a checkpoint on a dataset.

    panoptic-eval --gt-json gt.json --gt-dir gt/ --pred-json pred.json --pred-dir pred/ [--out report.json]
    panoptic-eval --checkpoint models/street_r18.pt --data synthetic --images 500 [--head all --mask-cues both]

Files follow panopticapi's convention (PNG ids ``R + 256 G + 256^2 B``, JSON ``segments_info``);
annotations are paired by ``image_id``. The report is JSON with ``All``/``Things``/``Stuff``
(fractions, not percent), ``per_class``, and for checkpoints latency per image and frames per second.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from panoptic_ros.data.coco_panoptic import CocoPanopticDataset
from panoptic_ros.data.dataset import HELD_OUT_SEED
from panoptic_ros.eval.pq import PQAccumulator, format_table


def evaluate_files(gt_json: Path, gt_dir: Path, pred_json: Path, pred_dir: Path) -> dict[str, Any]:
    gt = CocoPanopticDataset(gt_json, gt_dir)
    pred = CocoPanopticDataset(pred_json, pred_dir)
    pred_index = {a["image_id"]: i for i, a in enumerate(pred.annotations)}
    acc = PQAccumulator(gt.categories)
    for i, ann in enumerate(gt.annotations):
        if ann["image_id"] not in pred_index:
            raise ValueError(f"no prediction for image {ann['image_id']!r}")
        g, g_cats, g_crowd = gt.load_segments(i)
        p, p_cats, _ = pred.load_segments(pred_index[ann["image_id"]])
        acc.add(g, g_cats, g_crowd, p, p_cats)
    return acc.summary()


def evaluate_checkpoint(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from panoptic_ros.config import DataConfig
    from panoptic_ros.data.dataset import build_source
    from panoptic_ros.eval.model_eval import evaluate_model
    from panoptic_ros.inference.predictor import resolve_device
    from panoptic_ros.model.checkpoint import load_checkpoint

    torch.set_grad_enabled(False)
    device = resolve_device(args.device)
    model, meta = load_checkpoint(args.checkpoint, device)
    data = DataConfig(kind=args.data, root=args.root or "", split=args.split, synthetic_images=args.images,
                      synthetic_seed=args.seed, height=args.height, width=args.width)
    source = build_source(data)
    heads = ["heuristic", "upsnet", "affinity"] if args.head == "all" else [args.head]
    modes = {"on": [True], "off": [False], "both": [True, False]}[args.mask_cues]
    runs = {}
    for head in heads:
        for cues in modes:
            summary = evaluate_model(model, source, head, cues, limit=args.images, batch_size=args.batch)
            name = f"{head}/{'mask' if cues else 'boxes'}"
            print(f"\n== {name}: {summary['images']} images, {summary['latency_ms']:.1f} ms/image, "
                  f"{summary['fps']:.2f} fps on {device}\n{format_table(summary)}")
            runs[name] = summary
    return {"checkpoint": str(args.checkpoint), "model": meta["name"], "device": str(device), "runs": runs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    files = parser.add_argument_group("prediction files")
    files.add_argument("--gt-json", type=Path)
    files.add_argument("--gt-dir", type=Path)
    files.add_argument("--pred-json", type=Path)
    files.add_argument("--pred-dir", type=Path)
    model = parser.add_argument_group("checkpoint on a dataset")
    model.add_argument("--checkpoint", type=Path)
    model.add_argument("--data", default="synthetic", choices=["synthetic", "coco_panoptic", "cityscapes"])
    model.add_argument("--root", help="dataset root (coco_panoptic: panoptic.json, panoptic/, images/)")
    model.add_argument("--split", default="val")
    model.add_argument("--images", type=int, default=500, help="number of images (synthetic: generated)")
    model.add_argument("--seed", type=int, default=HELD_OUT_SEED, help="synthetic seed (default: the held-out split)")
    model.add_argument("--height", type=int, default=128)
    model.add_argument("--width", type=int, default=256)
    model.add_argument("--head", default="affinity", choices=["affinity", "upsnet", "heuristic", "all"])
    model.add_argument("--mask-cues", default="on", choices=["on", "off", "both"])
    model.add_argument("--device", default="auto")
    model.add_argument("--batch", type=int, default=1)
    parser.add_argument("--out", type=Path, help="write the report as JSON")
    args = parser.parse_args(argv)
    try:
        if args.checkpoint is not None:
            report = evaluate_checkpoint(args)
        elif None not in (args.gt_json, args.gt_dir, args.pred_json, args.pred_dir):
            report = evaluate_files(args.gt_json, args.gt_dir, args.pred_json, args.pred_dir)
            print(format_table(report))
        else:
            parser.error("give --gt-json/--gt-dir/--pred-json/--pred-dir, or --checkpoint")
    except (OSError, ValueError, KeyError) as exc:
        print(f"panoptic-eval: {exc}", file=sys.stderr)
        return 2
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
        print(f"report written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
