"""Which attention kernel the affinity propagation runs, and its peak memory, per input size.

The propagation is one ``scaled_dot_product_attention`` over every position of the affinity grid
(1/``affinity_stride`` of the input). Only the fused kernels keep memory linear in pixels; the math
fallback materialises the L x L matrix. This table names the kernel PyTorch picked (from the
profiler's op names) and, on a GPU, the peak memory of the call and its MiB per megapixel, which
stays flat when memory is linear.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

from panoptic_ros.device import autocast, synchronize
from panoptic_ros.model.network import PanopticNet

_GENERIC = "aten::scaled_dot_product_attention"


@torch.inference_mode()
def attention_check(model: PanopticNet, input_size: tuple[int, int], precision: str) -> dict[str, Any]:
    """Kernel name and (CUDA only) peak MiB of one propagation for an input of ``input_size``."""
    device = model.device
    head = model.affinity
    h, w = input_size
    stride = model.cfg.panoptic.affinity_stride
    grid = (-(-h // stride), -(-w // stride))
    channels = model.num_stuff + 1 + model.cfg.instance.detections_per_image
    emb = F.normalize(torch.randn(1, model.cfg.panoptic.embed_dim, *grid, device=device), dim=1)
    logits = torch.randn(1, channels, h, w, device=device)  # the panoptic head runs at the input's size
    with autocast(device, precision):
        head.propagate(logits, emb)  # warm-up
        synchronize(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device) if device.type == "cuda" else 0
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            head.propagate(logits, emb)
            synchronize(device)
    kernels = sorted({e.key for e in prof.key_averages() if "scaled_dot_product" in e.key and e.key != _GENERIC})
    peak = (torch.cuda.max_memory_allocated(device) - base) / 2**20 if device.type == "cuda" else None
    return {"positions": grid[0] * grid[1], "channels": channels, "kernel": ", ".join(kernels) or "none",
            "peak_mib": peak, "mib_per_mp": None if peak is None else peak / (h * w / 1e6)}


def attention_table(rows: list[dict[str, Any]]) -> str:
    """The affinity-propagation rows as a fixed-width table: size, peak memory and the kernel used."""
    lines = [f"{'affinity propagation':28s}{'positions':>11s}{'channels':>10s}{'peak MiB':>11s}{'MiB/MP':>9s}  kernel"]
    lines.append("-" * len(lines[0]) + "-" * 40)
    for r in rows:
        a = r["attention"]
        peak = "n/a" if a["peak_mib"] is None else f"{a['peak_mib']:.0f}"
        per_mp = "n/a" if a["mib_per_mp"] is None else f"{a['mib_per_mp']:.0f}"
        lines.append(f"{r['name']:28s}{a['positions']:11d}{a['channels']:10d}{peak:>11s}{per_mp:>9s}  {a['kernel']}")
    return "\n".join(lines)
