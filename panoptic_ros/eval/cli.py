"""``panoptic-eval``: PQ / SQ / RQ of COCO-panoptic prediction files, or of a checkpoint on a dataset.

    panoptic-eval --gt-json gt.json --gt-dir gt/ --pred-json pred.json --pred-dir pred/ [--out report.json]
    panoptic-eval --checkpoint models/street_lite0.pt --data camvid --root ../shared/data/camvid \
        --head all --mask-cues both --preview out/eval_camvid/preview.png --out out/eval_camvid/report.json
    panoptic-eval --checkpoint models/street_lite0.pt --data synthetic --images 500
    panoptic-eval --checkpoint models/street_lite0.pt --data camvid --root ../shared/data/camvid \
        --head all --set panoptic.min_visible=0 panoptic.overlap_nms=1 panoptic.min_stuff_area=0 \
            panoptic.mask_removal=1

Files follow panopticapi's convention (PNG ids ``R + 256 G + 256^2 B``, JSON ``segments_info``);
annotations are paired by their PNG's file name without suffix, else by ``image_id``. The report is
JSON with ``All``/``Things``/``Stuff`` (fractions, not percent), ``per_class``, and for checkpoints the
semantic mIoU of the published semantic map (``miou``, ``miou_per_class``, and where each class's
pixels went: ``confusion``), latency per image and frames per second. Checkpoints are evaluated on a
held-out split by default (``data.dataset.HELD_OUT_SPLITS``).
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path
from typing import Any, Sequence

import cv2

from panoptic_ros.arguments import given_options, positive_int, quiet_ctrl_c
from panoptic_ros.categories import Category, check_same_classes
from panoptic_ros.config import INFERENCE_TIME_SETTINGS, SOURCE_KINDS, ModelConfig, SourceConfig, config_from, to_dict
from panoptic_ros.defaults import DEFAULT_DEVICE
from panoptic_ros.data.coco_panoptic import CocoPanopticDataset
from panoptic_ros.data.dataset import COCO_PANOPTIC_LAYOUT, HELD_OUT_SPLITS, build_source
from panoptic_ros.eval.miou import format_iou_table
from panoptic_ros.eval.pq import PQAccumulator, format_table
from panoptic_ros.image_size import check_inference_size, inference_size_or_none
from panoptic_ros.model.checkpoint import CheckpointError
from panoptic_ros.heads import HEAD_KINDS, MASK_CUE_MODES, run_name

SYNTHETIC_IMAGES = 500  # scenes generated when --images is not given (real data sets: every image)


def evaluate_files(gt_json: Path, gt_dir: Path, pred_json: Path, pred_dir: Path) -> dict[str, Any]:
    """PQ of predictions against ground truth, both in COCO panoptic format (any model's output), paired by
    the annotation PNG's file name without suffix, else by ``image_id``: a file's name says which image
    it is whoever wrote it, while one tool's numeric ids (``panoptic-predict`` numbers ``000001.png`` 1)
    need not be another's (ids counted from 0, or over every tenth frame)."""
    gt = CocoPanopticDataset(gt_json, gt_dir)
    pred = CocoPanopticDataset(pred_json, pred_dir)
    if pred.category_records:  # a prediction file may list none, and then means the ground truth's
        check_categories_within(pred.category_records, gt.category_records)
    by_id = {a["image_id"]: i for i, a in enumerate(pred.annotations)}
    by_name = {Path(a["file_name"]).stem: i for i, a in enumerate(pred.annotations)}
    acc = PQAccumulator(gt.category_records)
    for i, ann in enumerate(gt.annotations):
        k = by_name.get(Path(ann["file_name"]).stem, by_id.get(ann["image_id"]))
        if k is None:
            raise ValueError(f"no prediction for image {ann['image_id']!r} ({ann['file_name']}): none has a "
                             "file_name of the same stem, nor its image_id")
        g, g_cats, g_crowd = gt.load_segments(i)
        p, p_cats, _ = pred.load_segments(k)
        try:
            acc.add(g, g_cats, g_crowd, p, p_cats)
        except ValueError as exc:
            raise ValueError(f"{pred.annotations[k]['file_name']} against {ann['file_name']}: {exc}") from None
    return acc.summary()


def check_categories_within(pred: Sequence[Category], gt: Sequence[Category]) -> None:
    """Raise ``ValueError`` unless every category a prediction file declares is one of the ground truth's,
    with the same name and kind: otherwise a shared id meaning another class is scored as that class."""
    known = {c.id: (c.name, c.is_thing) for c in gt}
    wrong = [c for c in pred if known.get(c.id) != (c.name, c.is_thing)]
    if wrong:
        described = ", ".join(f"{c.id} {c.name!r} ({'thing' if c.is_thing else 'stuff'})" for c in wrong[:4])
        raise ValueError(f"the predictions' categories are not the ground truth's: {described}"
                         f"{' and more' if len(wrong) > 4 else ''} (the ground truth has "
                         f"{', '.join(f'{i} {n!r}' for i, (n, _) in list(known.items())[:6])}"
                         f"{', ...' if len(known) > 6 else ''}); predict with a model of the data's categories")


def with_inference_overrides(cfg: ModelConfig, overrides: list[str]) -> ModelConfig:
    """The checkpoint's model config with ``panoptic.KEY=VALUE`` overrides: inference-time choices only
    (``config.INFERENCE_TIME_SETTINGS``: post-processing steps, the default head, the affinity's grid);
    the weights fix everything else."""
    allowed = [f"panoptic.{key}" for key in INFERENCE_TIME_SETTINGS]
    for item in overrides:
        if item.partition("=")[0] not in allowed or "=" not in item:
            raise ValueError(f"--set {item!r}: only {', '.join(allowed)} can be changed (KEY=VALUE; the "
                             "checkpoint's weights fix the rest)")
    try:
        return config_from(ModelConfig, to_dict(cfg), overrides)
    except ValueError as exc:
        raise ValueError(f"--set: {exc}") from None


def evaluate_checkpoint(args: argparse.Namespace) -> dict[str, Any]:
    """PQ and mIoU of a checkpoint on a data set, for each head and mask-cue mode asked for."""
    from panoptic_ros.device import resolve_device
    from panoptic_ros.eval.model_eval import evaluate_model
    from panoptic_ros.eval.preview import write_preview
    from panoptic_ros.model.checkpoint import load_checkpoint

    if args.inference_size:
        check_inference_size(args.inference_size, "--inference-size")
    size = inference_size_or_none(args.inference_size)
    if args.data != "synthetic" and not args.root:
        raise ValueError(f"--data {args.data} reads a dataset folder: name it with --root")
    if args.data == "coco_panoptic" and args.split:
        raise ValueError(f"--split does not apply to coco_panoptic: --root names the split's folder "
                         f"({COCO_PANOPTIC_LAYOUT})")
    with_inference_overrides(ModelConfig(), args.set)  # a bad --set refused before the checkpoint loads
    device = resolve_device(args.device)
    model, meta = load_checkpoint(args.checkpoint, device)
    model.for_inference()  # as the node runs it
    model.cfg = with_inference_overrides(model.cfg, args.set)
    data = SourceConfig(kind=args.data, root=args.root or "",  # images: what synthetic generates
                        split=args.split or HELD_OUT_SPLITS.get(args.data, SourceConfig.split),
                        images=args.images or SYNTHETIC_IMAGES,
                        seed=args.seed, height=args.height, width=args.width)
    source = build_source(data)
    check_same_classes(model.categories, source.categories, "the model", "the data")  # a shared id of another class
    if args.preview:
        written = write_preview(args.preview, model, source, model.cfg.panoptic.kind, True, inference_size=size)
        print(f"preview (input | {model.cfg.panoptic.kind} with mask cues | ground truth) written to {written}")
    heads = list(HEAD_KINDS) if args.head == "all" else [args.head or model.cfg.panoptic.kind]
    modes = MASK_CUE_MODES[args.mask_cues]
    at = ("each image's own size" if not size else f"{size[0]}x{size[1]}" if all(size) else
          f"{max(size)} {'rows' if size[0] else 'columns'}, the other side by each image's aspect ratio")
    runs = {}
    for head in heads:
        for cues in modes:
            summary = evaluate_model(model, source, head, cues, limit=args.images, batch_size=args.batch,
                                     inference_size=size)
            name = run_name(head, cues)
            print(f"\n== {name}: {summary['images']} images, network at {at}, {summary['latency_ms']:.1f} ms/image, "
                  f"{summary['fps']:.2f} fps on {device}; mIoU {100 * summary['miou']:.2f}\n{format_table(summary)}\n\n"
                  f"{format_iou_table(summary['miou_per_class'], summary['confusion'])}")
            runs[name] = summary
    return {"checkpoint": str(args.checkpoint), "model": meta["name"], "device": str(device),
            "inference_size": size, "batch": args.batch, "set": args.set, "images_limit": args.images,
            "data": to_dict(data), "runs": runs}


FILE_OPTIONS = ("gt_json", "gt_dir", "pred_json", "pred_dir")  # the prediction files' mode
SYNTHETIC_ONLY = ("seed", "height", "width")  # what only generated scenes have


def check_mode(parser: argparse.ArgumentParser, args: argparse.Namespace, model_options: Sequence[str]) -> None:
    """Refuse options the mode asked for would ignore: files with a checkpoint (it would be scored on
    ``--data`` instead), a checkpoint's options without one, synthetic options on a real data set and
    ``--root`` on synthetic scenes."""
    given = functools.partial(given_options, parser, args)
    if args.checkpoint is None:
        if given(model_options):
            parser.error(f"{given(model_options)}: for a checkpoint (--checkpoint) only")
        if None in (args.gt_json, args.gt_dir, args.pred_json, args.pred_dir):
            parser.error("give --gt-json/--gt-dir/--pred-json/--pred-dir, or --checkpoint")
    elif given(FILE_OPTIONS):
        parser.error(f"--checkpoint evaluates a model on --data; {given(FILE_OPTIONS)} score prediction files: "
                     "give one or the other")
    elif args.data != "synthetic" and given(SYNTHETIC_ONLY):
        parser.error(f"{given(SYNTHETIC_ONLY)}: for --data synthetic only ({args.data} is read from --root)")
    elif args.data == "synthetic" and args.root:
        parser.error("--root does not apply to --data synthetic (the scenes are generated)")


def check_output_paths(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse, before a long evaluation, output paths it could not write at its end."""
    if args.out is not None and args.out.is_dir():
        parser.error(f"--out names the report's JSON file, and {args.out} is a folder "
                     f"(e.g. {args.out / 'report.json'})")
    if args.preview is not None and (args.preview.is_dir() or not cv2.haveImageWriter(str(args.preview))):
        parser.error(f"--preview names an image file (.png, .jpg), got {str(args.preview)!r}")


@quiet_ctrl_c("panoptic-eval")
def main(argv: list[str] | None = None) -> int:
    """``panoptic-eval``'s entry: 0 on success, 2 for bad arguments or inputs (one line, no traceback)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    files = parser.add_argument_group("prediction files")
    files.add_argument("--gt-json", type=Path)
    files.add_argument("--gt-dir", type=Path)
    files.add_argument("--pred-json", type=Path)
    files.add_argument("--pred-dir", type=Path)
    model = parser.add_argument_group("checkpoint on a dataset")
    model.add_argument("--checkpoint", type=Path)
    model.add_argument("--data", default="synthetic", choices=SOURCE_KINDS)
    model.add_argument("--root", help="dataset root (camvid: the folder with train.txt; "
                       f"coco_panoptic: {COCO_PANOPTIC_LAYOUT})")
    model.add_argument("--split", help=f"default: the held-out split of each kind {HELD_OUT_SPLITS}")
    model.add_argument("--images", type=positive_int, help=f"at most this many images (default: all; synthetic: "
                       f"{SYNTHETIC_IMAGES} generated)")
    model.add_argument("--seed", type=int, default=0, help="synthetic seed")
    model.add_argument("--height", type=positive_int, default=128)
    model.add_argument("--width", type=positive_int, default=256)
    model.add_argument("--head", choices=[*HEAD_KINDS, "all"], help="default: the checkpoint's own head, as the node runs it")
    model.add_argument("--mask-cues", default="on", choices=list(MASK_CUE_MODES))
    model.add_argument("--inference-size", type=int, nargs=2, metavar=("HEIGHT", "WIDTH"),
                       help="run the network at this size, as the node's inference_size does (outputs "
                       "and scores at each image's own size); a 0 follows each image's aspect ratio; "
                       "default or 0 0: each image's size")
    model.add_argument("--device", default=DEFAULT_DEVICE)
    model.add_argument("--batch", type=positive_int, default=1)
    model.add_argument("--set", nargs="+", default=[], metavar="panoptic.KEY=VALUE",
                       help="override inference-time settings of the checkpoint's config: "
                       f"{', '.join(f'panoptic.{key}' for key in INFERENCE_TIME_SETTINGS)} (the "
                       "post-processing steps are fractions in [0, 1])")
    model.add_argument("--preview", type=Path, help="also write a PNG strip: input | prediction | ground truth "
                       "(never commit one made from CamVid: its terms forbid it)")
    parser.add_argument("--out", type=Path, help="write the report as JSON")
    args = parser.parse_args(argv)
    check_mode(parser, args, [action.dest for action in model._group_actions if action.dest != "checkpoint"])
    check_output_paths(parser, args)
    try:
        if args.checkpoint is not None:
            report = evaluate_checkpoint(args)
        else:
            report = evaluate_files(args.gt_json, args.gt_dir, args.pred_json, args.pred_dir)
            print(format_table(report))
    except (OSError, ValueError, KeyError, CheckpointError) as exc:
        print(f"panoptic-eval: {exc}", file=sys.stderr)
        return 2
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
        print(f"report written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
