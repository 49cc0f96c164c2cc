"""The ``Predictor``: RGB uint8 frames on the device in, ``PanopticResult``s out.

The node and the replay tool only talk to this interface, so any model can stand behind it. The
network runs at ``inference_size`` (resized on the device) and the results come back at each
input's own resolution.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from collections.abc import Sequence
from typing import Any, Protocol

import torch

from panoptic_ros.categories import CategoryTable
from panoptic_ros.defaults import DEFAULT_DEVICE
from panoptic_ros.device import autocast, check_precision, release_cached_memory, resolve_device
from panoptic_ros.image_size import inference_size_or_none, network_size
from panoptic_ros.inference.resize import resize_batch
from panoptic_ros.model.checkpoint import load_checkpoint
from panoptic_ros.heads import HeadKind
from panoptic_ros.precisions import DEFAULT_PRECISION, Precision
from panoptic_ros.model.network import PanopticNet
from panoptic_ros.structures import PanopticResult
from panoptic_ros.resources import package_file


class Predictor(Protocol):
    """What the node and the replay tool need from a model: frames in, results out, and its device
    memory handed back while idle. Any model can stand behind it."""

    categories: CategoryTable
    model_name: str
    device: torch.device
    mask_cues: bool
    head: str  # the panoptic head it runs (reports and diagnostics name it)

    def predict(self, images: list[torch.Tensor]) -> list[PanopticResult]:
        """``images``: RGB uint8 [3, H, W] tensors on ``device`` (sizes may differ)."""
        ...

    def set_score_threshold(self, threshold: float | None) -> None:
        """Minimum detection score of an instance, from the next ``predict`` on (settable at run time);
        None: the checkpoint's own."""
        ...

    @property
    def score_threshold(self) -> float:
        """The minimum detection score in use now (reports and diagnostics name it)."""
        ...

    def offload(self) -> None:
        """Give the device's memory back while the predictor is idle (a deactivated node): the weights
        go to host memory; ``predict`` needs ``restore`` first."""
        ...

    def restore(self) -> None:
        """Bring the weights back onto ``device`` after ``offload`` (a no-op otherwise)."""
        ...


@dataclasses.dataclass
class PredictorOptions:
    """How a ``TorchPredictor`` runs its network: the node's parameters of the same names."""

    device: str = DEFAULT_DEVICE         # auto, cpu, cuda, cuda:N
    precision: Precision = DEFAULT_PRECISION
    mask_cues: bool = True
    head: HeadKind | None = None         # None: the checkpoint's own choice
    score_threshold: float | None = None  # None: the checkpoint's own threshold
    inference_size: tuple[int, int] | None = None  # (height, width), one 0: aspect kept; None or (0, 0): input's size

    def __post_init__(self) -> None:
        """``(0, 0)`` (the parameter's way of saying "each input's own size") becomes ``None``, here once,
        so no caller asks again (a fixed size also means cuDNN may pick kernels once per size)."""
        self.inference_size = inference_size_or_none(self.inference_size)


def predict_at(model: PanopticNet, images: Sequence[torch.Tensor], mask_cues: bool, head: HeadKind | None,
               inference_size: tuple[int, int] | None, precision: Precision = DEFAULT_PRECISION
               ) -> list[PanopticResult]:
    """``model.predict`` on RGB uint8 [3, H, W] images (sizes may differ, all on the model's device) with
    the network at ``network_size`` of ``inference_size``, as the node runs it, each result at its
    input's own size: one network pass per network-input size (with a fixed ``inference_size`` one for
    the whole batch, whatever the inputs' resolutions; with one side 0, one per aspect ratio).

    Args:
        model: the network (the node's is prepared ``for_inference``; a training's evaluation is not).
        images: the frames; a [B, 3, H, W] batch works too.
        mask_cues, head: as ``PanopticNet.predict`` (``head`` None: the model's own).
        inference_size: the node's parameter of that name (None: each input's own size).
        precision: the network's autocast precision (the resize stays outside it).
    Returns:
        One result per image, in order.
    """
    device = model.device
    out: list[PanopticResult | None] = [None] * len(images)
    groups: dict[tuple[int, int], list[int]] = {}
    for i, im in enumerate(images):
        groups.setdefault(network_size(tuple(im.shape[-2:]), inference_size), []).append(i)
    for target, idx in groups.items():
        sizes = [tuple(images[i].shape[-2:]) for i in idx]
        batch = resize_batch([images[i] for i in idx], target)
        with autocast(device, precision):
            results = model.predict(batch, mask_cues, head, out_size=sizes)  # type: ignore[arg-type]
        for i, r in zip(idx, results):
            out[i] = r
    return out  # type: ignore[return-value]


def predict_each(predictor: Predictor, images: list[torch.Tensor]) -> list[PanopticResult | str]:
    """Each image's result with its full-size maps written (for the tools that keep them), or why its
    inference failed: the batch at once, and where that raises (a batch too large for the GPU's memory,
    say) each image alone, so only the images that fail alone are lost.

    Returns:
        Per image, in order, its result or ``"<error type>: <first line of the error>"``.
    """
    try:
        return [result.write_maps() for result in predictor.predict(images)]
    except (RuntimeError, ValueError) as exc:  # torch's errors, CUDA's out of memory among them
        if len(images) == 1:
            return [f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"]
    return [out for image in images for out in predict_each(predictor, [image])]


SHIPPED_MODEL = "street_lite0.pt"


def shipped_model_path() -> Path:
    """The model in ``models/`` (installed share directory, else the source tree)."""
    return package_file("panoptic_ros", "models", SHIPPED_MODEL)


class TorchPredictor:
    """``PanopticNet`` behind the ``Predictor`` interface."""

    def __init__(self, model: PanopticNet, model_name: str, options: PredictorOptions) -> None:
        self.device = resolve_device(options.device)
        check_precision(options.precision, self.device)
        if self.device.type == "cuda" and options.inference_size is not None:
            torch.backends.cudnn.benchmark = True  # a fixed size per camera: pick each convolution's fastest kernel once
        self.model = model.to(self.device).for_inference()
        self.checkpoint_score_threshold = model.instance.score_threshold  # its config's, that evaluations use
        self.set_score_threshold(options.score_threshold)
        self.options = options
        self.categories = model.categories
        self.model_name = model_name
        self.mask_cues = options.mask_cues
        self.head = options.head or model.cfg.panoptic.kind

    def set_score_threshold(self, threshold: float | None) -> None:
        self.model.instance.set_score_threshold(self.checkpoint_score_threshold if threshold is None else threshold)

    @property
    def score_threshold(self) -> float:
        return self.model.instance.score_threshold

    def settings(self) -> dict[str, Any]:
        """What the network runs with, as a report records it (reports of different settings must be
        told apart): model, device, precision, head, mask cues, score threshold, inference size
        (``[0, 0]``: each input's own)."""
        size = self.options.inference_size
        return {"model": self.model_name, "device": str(self.device), "precision": self.options.precision,
                "head": self.head, "mask_cues": self.mask_cues, "score_threshold": self.score_threshold,
                "inference_size": list(size) if size else [0, 0]}

    def offload(self) -> None:
        self.model.to("cpu")
        release_cached_memory(self.device)

    def restore(self) -> None:
        self.model.to(self.device)

    @classmethod
    def from_checkpoint(cls, path: str | Path | None, options: PredictorOptions) -> "TorchPredictor":
        """The checkpoint's network (every mismatch a ``CheckpointError``), named as saved or by its file;
        ``path`` None or empty: the shipped model, which every tool and the node use by default. A
        leading ``~`` is the home folder: no shell expands it in ``model:=~/x.pt`` or a params file."""
        path = Path(path).expanduser() if path else shipped_model_path()
        model, meta = load_checkpoint(path)
        return cls(model, meta["name"] or Path(path).stem, options)

    @torch.inference_mode()
    def predict(self, images: list[torch.Tensor]) -> list[PanopticResult]:
        """``predict_at`` with this predictor's options; each result has its input's size."""
        o = self.options
        return predict_at(self.model, [im.to(self.device, non_blocking=True) for im in images], o.mask_cues,
                          o.head, o.inference_size, o.precision)
