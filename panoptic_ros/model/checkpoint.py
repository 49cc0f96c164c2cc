"""Checkpoints: our own format (config + weights + category table), loaded safely.

A checkpoint is one ``torch.save``d dictionary of plain types and tensors, read back with
``torch.load(weights_only=True)`` so a file can never run code. ImageNet weights of a torchvision
ResNet initialise a training instead (``backbone.pretrained``, ``model.backbone.load_pretrained``).
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from panoptic_ros.categories import CategoryTable
from panoptic_ros.config import ModelConfig, from_dict, to_dict
from panoptic_ros.model.network import PanopticNet

FORMAT = "panoptic_ros/checkpoint-v1"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used, with the reason."""


def save_checkpoint(path: str | Path, model: PanopticNet, name: str, half: bool = False,
                    extra: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (fp16 weights when ``half``: half the size, same inference quality)."""
    if model.inference_only:
        raise ValueError("a network prepared for inference (batch norms folded) cannot be saved: save the original")
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().contiguous()
             for k, v in model.state_dict().items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save({"format": FORMAT, "name": name, "config": to_dict(model.cfg),
                "categories": model.categories.to_list(), "state_dict": state, "extra": extra or {}}, tmp)
    tmp.replace(path)  # never leave a half-written checkpoint under the real name
    return path


# how torch.save's files begin: a zip archive (the format since PyTorch 1.6), or the legacy pickle
TORCH_FILE_STARTS = (b"PK\x03\x04", b"\x80")


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint's dictionary, its fields type-checked. Errors are one line, fit for a log."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a directory, not a checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    with open(path, "rb") as f:
        head = f.read(len(TORCH_FILE_STARTS[0]))
    if not any(head.startswith(start) for start in TORCH_FILE_STARTS):
        raise CheckpointError(f"checkpoint {path} is not a PyTorch file (torch.save's .pt / .pth); give a "
                              "panoptic_ros checkpoint, such as models/street_lite0.pt")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # torch's own message goes on to suggest switching the safety off
        raise CheckpointError(f"checkpoint {path} cannot be read: it holds objects other than tensors and plain "
                              "data, which could run code when loaded, so it is refused") from None
    except Exception as exc:  # corrupt, truncated, or not a torch file at all
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(exc).__name__}: {first_line})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a panoptic_ros checkpoint (expected format {FORMAT!r}); "
                              "a torchvision ResNet's ImageNet weights start a training: "
                              "model.backbone.pretrained=FILE in its config")
    state = data.get("state_dict")
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: state_dict must be a dictionary of tensors, got {type(state).__name__}")
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{path}: state_dict entry {str(key)[:80]!r} is {type(value).__name__}, "
                                  "not a tensor")
    if not isinstance(data.setdefault("name", ""), str):
        raise CheckpointError(f"{path}: 'name' must be a string, got {type(data['name']).__name__}")
    if not isinstance(data.setdefault("extra", {}), dict):
        raise CheckpointError(f"{path}: 'extra' must be a dictionary, got {type(data['extra']).__name__}")
    return data


def check_finite(path: str | Path, state: dict[str, torch.Tensor]) -> None:
    """NaN or infinite weights crash deformable convolutions (a segfault, no log line), and a training
    resumed from them learns nothing: refuse them, naming the tensors."""
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        more = f" (+{len(bad) - 3} more)" if len(bad) > 3 else ""
        raise CheckpointError(f"{path}: non-finite values (NaN or infinity) in {len(bad)} weight tensor(s): "
                              f"{', '.join(bad[:3])}{more}")


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> tuple[PanopticNet, dict[str, Any]]:
    """(model in eval mode on ``device``, checkpoint metadata). Every mismatch is a ``CheckpointError``."""
    data = read_checkpoint(path)
    try:
        cfg = from_dict(ModelConfig, data["config"])
        categories = CategoryTable.from_list(data["categories"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: invalid config or category table: {exc}") from exc
    model = PanopticNet(cfg, categories)
    own = model.state_dict()
    state = data["state_dict"]
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        def few(keys: list[str]) -> str:
            return ", ".join(keys[:5]) + (f" (+{len(keys) - 5} more)" if len(keys) > 5 else "")
        problems = [f"missing keys: {few(missing)}" if missing else "",
                    f"unexpected keys: {few(unexpected)}" if unexpected else "",
                    "wrong shapes: " + few([f"{k} {tuple(state[k].shape)} != {tuple(own[k].shape)}" for k in wrong])
                    if wrong else ""]
        raise CheckpointError(f"{path} does not match its config: " + "; ".join(p for p in problems if p))
    check_finite(path, state)
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})
    meta = {k: data[k] for k in ("name", "extra")}
    return model.to(device).eval(), meta
