"""Devices and precisions: the one table that the predictor, evaluation, replay, benchmark and
training derive their choices from, so a precision means the same dtype and autocast everywhere.
"""
from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
import torch

from panoptic_ros.defaults import DEFAULT_DEVICE, DEVICE_CHOICES
from panoptic_ros.precisions import PRECISION_NAMES

# precision -> the dtype autocast runs in (None: no autocast, plain fp32); dtypes in PRECISION_NAMES' order
PRECISIONS: dict[str, torch.dtype | None] = dict(zip(PRECISION_NAMES, (None, torch.float16, torch.bfloat16), strict=True))
DEFAULT_CPU_THREADS = torch.get_num_threads()  # PyTorch's own choice: one per core, or OMP_NUM_THREADS


def resolve_device(name: str) -> torch.device:
    """``auto`` picks the first GPU when there is one; asking for a GPU that is absent is an error.

    A CUDA device is also made the current one: CUDA events, streams and capability queries without a
    device argument refer to the current device, so ``cuda:1`` would otherwise be timed on GPU 0's stream.
    """
    if name == DEFAULT_DEVICE:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"device must be {DEVICE_CHOICES}, got {name!r}") from exc
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be {DEVICE_CHOICES}, got {name!r}")
    if device.type == "cuda" and (not torch.cuda.is_available() or (device.index or 0) >= torch.cuda.device_count()):
        raise ValueError(f"device {name!r} requested but no such CUDA device is available")
    if device.type == "cuda" and device.index is not None:  # plain "cuda" is the current device already
        torch.cuda.set_device(device.index)
    return device


def set_cpu_threads(count: int) -> None:
    """Let PyTorch's CPU work use ``count`` threads (0: its own default), for the whole process: fewer
    leave cores to a robot's other processes (camera drivers, planners) when the network runs on the CPU."""
    torch.set_num_threads(count or DEFAULT_CPU_THREADS)


def check_precision(precision: str, device: torch.device) -> None:
    """Refuse an unknown precision, fp16 on the CPU (its deformable and attention kernels lack it), and
    bf16 on GPUs before Ampere (torch reports it supported there, but emulated: no fused attention)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "fp16" and device.type == "cpu":
        raise ValueError("fp16 needs a CUDA device; use fp32 or bf16 on the CPU")
    if precision == "bf16" and device.type == "cuda" and torch.cuda.get_device_capability(device) < (8, 0):
        raise ValueError(f"bf16 needs a GPU of compute capability 8.0 or newer (Ampere, Orin); "
                         f"{torch.cuda.get_device_name(device)} emulates it slowly: use fp16")


def autocast(device: torch.device, precision: str) -> AbstractContextManager[object]:
    """The autocast context of ``precision`` on ``device`` (fp32: none)."""
    dtype = PRECISIONS[precision]
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so wall-clock timings cover it (no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def release_cached_memory(device: torch.device) -> None:
    """Hand the memory that no tensor uses back to the driver: the caching allocator's free blocks and
    cuBLAS's workspaces (about 32 MiB per handle on Hopper, allocated through the same allocator and
    kept after the network has moved to the host: measured on an H100). No-op on the CPU."""
    if device.type == "cuda":
        synchronize(device)
        torch._C._cuda_clearCublasWorkspaces()  # private, but the only way; torch's own tests use it
        torch.cuda.empty_cache()
