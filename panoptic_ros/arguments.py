"""Arguments shared by the command-line tools: types that refuse a bad value before any work starts
(``--batch 0`` would otherwise run the whole data set as one batch, ``--rate 0`` divide by zero), the
network's options of the tools that run the model outside the node, and how a tool ends on Ctrl-C."""
from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from panoptic_ros.defaults import DEFAULT_DEVICE, DEVICE_CHOICES, SCORE_THRESHOLD_RANGE
from panoptic_ros.heads import HEAD_KINDS
from panoptic_ros.image_size import DEFAULT_INFERENCE_SIZE, check_inference_size
from panoptic_ros.precisions import DEFAULT_PRECISION, PRECISION_NAMES

if TYPE_CHECKING:
    from panoptic_ros.inference.predictor import TorchPredictor


CTRL_C_STATUS = 130  # what a shell reports for a process that Ctrl-C (SIGINT) ended: 128 + 2


def quiet_ctrl_c(tool: str) -> Callable[[Callable[..., int]], Callable[..., int]]:
    """A tool's ``main`` that a Ctrl-C ends with one line (``<tool>: interrupted``) and exit status
    ``CTRL_C_STATUS`` instead of a traceback; the ``with`` blocks it leaves still close what they opened."""
    def decorate(main: Callable[..., int]) -> Callable[..., int]:
        @functools.wraps(main)
        def run(*args: object, **kwargs: object) -> int:
            try:
                return main(*args, **kwargs)
            except KeyboardInterrupt:
                print(f"{tool}: interrupted", file=sys.stderr)
                return CTRL_C_STATUS
        return run
    return decorate


def _integer_at_least(minimum: int, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    return _integer_at_least(1, text)


def non_negative_int(text: str) -> int:
    """An argparse type: an integer of at least 0."""
    return _integer_at_least(0, text)


def positive_float(text: str) -> float:
    """An argparse type: a finite number above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be above 0, got {text}")
    return value


def given_options(parser: argparse.ArgumentParser, args: argparse.Namespace, names: Sequence[str]) -> str:
    """The flags, comma-separated, of the options among ``names`` (``args`` names) set to other than their
    defaults: for refusing, with their names, options that the run asked for would ignore."""
    flags = {action.dest: action.option_strings[0] for action in parser._actions if action.option_strings}
    return ", ".join(flags[n] for n in names if getattr(args, n) != parser.get_default(n))


# what ``add_predictor_arguments`` adds, by their ``args`` names: the checkpoint, then ``PredictorOptions``
PREDICTOR_ARGUMENTS = ("model", "device", "precision", "mask_cues", "head", "score_threshold", "inference_size")


def add_predictor_arguments(parser: argparse.ArgumentParser) -> None:
    """``--model``, ``--device``, ``--precision``, ``--no-mask-cues``, ``--head``, ``--score-threshold``
    and ``--inference-size``: a ``TorchPredictor``'s options, with the node's defaults, so a tool runs
    the network as the node does unless told otherwise."""
    parser.add_argument("--model", type=Path, help="checkpoint (default: the shipped model)")
    parser.add_argument("--device", default=DEFAULT_DEVICE, help=f"{DEVICE_CHOICES} (default: %(default)s)")
    parser.add_argument("--precision", default=DEFAULT_PRECISION, choices=PRECISION_NAMES)
    parser.add_argument("--no-mask-cues", dest="mask_cues", action="store_false", help="boxes-only lightweight mode")
    parser.add_argument("--head", choices=HEAD_KINDS)
    parser.add_argument("--score-threshold", type=float, help="minimum detection score of an instance (default: "
                        "the checkpoint's own, its config's, at which panoptic-eval scores it)")
    parser.add_argument("--inference-size", type=int, nargs=2, default=list(DEFAULT_INFERENCE_SIZE),
                        metavar=("H", "W"), help="the size the network runs at (default: the node's, %(default)s); "
                        "a 0 follows each frame's aspect ratio; 0 0 = each frame's own size")


def check_predictor_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse, as a usage error, predictor options that ``add_predictor_arguments`` parsed but no network
    could run with."""
    try:
        check_inference_size(args.inference_size, "--inference-size")
    except ValueError as exc:
        parser.error(str(exc))
    low, high = SCORE_THRESHOLD_RANGE
    if args.score_threshold is not None and not low <= args.score_threshold <= high:
        parser.error(f"--score-threshold must be in [{low}, {high}], got {args.score_threshold}")


def predictor_from_arguments(args: argparse.Namespace) -> "TorchPredictor":
    """The predictor ``add_predictor_arguments``'s options ask for (the shipped model without ``--model``)."""
    from panoptic_ros.inference.predictor import PredictorOptions, TorchPredictor
    return TorchPredictor.from_checkpoint(args.model, PredictorOptions(
        args.device, args.precision, args.mask_cues, args.head, args.score_threshold, tuple(args.inference_size)))
