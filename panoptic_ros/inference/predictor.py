"""The ``Predictor``: RGB uint8 frames on the device in, ``PanopticResult``s out.

The node and the replay tool only talk to this interface, so any model can stand behind it. The
network runs at ``inference_size`` (resized on the device) and the results come back at each
input's own resolution.
"""
from __future__ import annotations

import dataclasses
from contextlib import nullcontext
from pathlib import Path
from typing import Literal, Protocol

import torch
import torch.nn.functional as F

from panoptic_ros.categories import CategoryTable
from panoptic_ros.model.checkpoint import load_checkpoint
from panoptic_ros.model.network import HeadKind, PanopticNet
from panoptic_ros.model.result import PanopticResult
from panoptic_ros.resources import package_file

Precision = Literal["fp32", "fp16", "bf16"]
_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


class Predictor(Protocol):
    categories: CategoryTable
    model_name: str
    device: torch.device
    mask_cues: bool

    def predict(self, images: list[torch.Tensor]) -> list[PanopticResult]:
        """``images``: RGB uint8 [3, H, W] tensors on ``device`` (sizes may differ)."""
        ...


@dataclasses.dataclass
class PredictorOptions:
    device: str = "auto"                 # auto, cpu, cuda, cuda:N
    precision: Precision = "fp32"
    mask_cues: bool = True
    head: HeadKind | None = None         # None: the checkpoint's own choice
    score_threshold: float | None = None  # None: the checkpoint's own threshold
    inference_size: tuple[int, int] | None = None  # (height, width); None: each input's size


SHIPPED_MODEL = "street_r18.pt"


def shipped_model_path() -> Path:
    """The model in ``models/`` (installed share directory, else the source tree)."""
    return package_file("panoptic_ros", "models", SHIPPED_MODEL)


def resolve_device(name: str) -> torch.device:
    """``auto`` picks the first GPU when there is one; asking for a GPU that is absent is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {name!r}") from exc
    if device.type == "cuda" and (not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()):
        raise ValueError(f"device {name!r} requested but no such CUDA device is available")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {name!r}")
    return device


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so wall-clock timings cover it (no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class TorchPredictor:
    """``PanopticNet`` behind the ``Predictor`` interface."""

    def __init__(self, model: PanopticNet, model_name: str, options: PredictorOptions) -> None:
        self.device = resolve_device(options.device)
        if options.precision not in ("fp32", "fp16", "bf16"):
            raise ValueError(f"precision must be fp32, fp16 or bf16, got {options.precision!r}")
        if options.precision == "fp16" and self.device.type == "cpu":
            raise ValueError("fp16 needs a CUDA device; use fp32 or bf16 on the CPU")
        self.model = model.to(self.device).eval().to(memory_format=torch.channels_last)
        if options.score_threshold is not None:
            self.model.instance.set_score_threshold(options.score_threshold)
        self.options = options
        self.categories = model.categories
        self.model_name = model_name
        self.mask_cues = options.mask_cues

    @classmethod
    def from_checkpoint(cls, path: str | Path, options: PredictorOptions) -> "TorchPredictor":
        model, meta = load_checkpoint(path)
        return cls(model, meta["name"] or Path(path).stem, options)

    def _autocast(self) -> torch.autocast | nullcontext:
        dtype = _DTYPES.get(self.options.precision)
        return torch.autocast(self.device.type, dtype=dtype) if dtype else nullcontext()

    @torch.inference_mode()
    def predict(self, images: list[torch.Tensor]) -> list[PanopticResult]:
        """Batch same-sized inputs together; each result has its input's size."""
        out: list[PanopticResult | None] = [None] * len(images)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, im in enumerate(images):
            groups.setdefault(tuple(im.shape[-2:]), []).append(i)
        for size, idx in groups.items():
            batch = torch.stack([images[i] for i in idx]).to(self.device, non_blocking=True)
            if self.options.inference_size and tuple(self.options.inference_size) != size:
                batch = F.interpolate(batch.float(), size=self.options.inference_size, mode="bilinear",
                                      align_corners=False, antialias=True).round_().clamp_(0, 255).to(torch.uint8)
            with self._autocast():
                results = self.model.predict(batch, self.options.mask_cues, self.options.head, out_size=size)
            for i, r in zip(idx, results):
                out[i] = r
        return out  # type: ignore[return-value]
