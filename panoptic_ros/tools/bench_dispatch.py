"""How many tensor ops each stage of one frame dispatches, and how many of them make the host wait.

On a GPU every op is at least one kernel launch, a few microseconds of Python, dispatcher and driver
work whatever its size, and an op whose output size depends on the data (``nonzero``, ``unique``,
``.item()``, torchvision's NMS) makes the host wait until the device has caught up. The H100 table in
the README shows stage times that do not grow with the pixels: launch- and wait-bound. Unlike times,
these counts barely depend on the machine, so they can be measured, and improved, on the CPU. Where the
CPU differs: the proposal filter, detection post-processing and RoI pooling run torchvision's way on
the CPU and a wait-free way on a GPU (``AvoidsHostWaits``); they are counted as a GPU runs them. A
tensor built from host data (``aten.lift_fresh``) counts as a wait wherever it is built: on a GPU it is
a copy from pageable memory. Not seen on the CPU at all: copies to the host (``.cpu()``, ``.tolist()``
dispatch nothing there), which wait on a GPU; the results stage makes one (``build_results``).

Counts are of the second of two identical frames (caches filled, as in a running node).
"""
from __future__ import annotations

from collections import Counter
from contextlib import contextmanager, nullcontext
from typing import Any, Iterator

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from panoptic_ros.tools.bench_stages import STAGES, run_stages
from panoptic_ros.model.wait_free import wait_free_ways
from panoptic_ros.model.network import PanopticNet

# ops whose output size, or value on the host, depends on the data: on CUDA each waits for the device
HOST_WAITS = frozenset({
    "aten._local_scalar_dense.default", "aten.nonzero.default", "aten.where.default",  # one-argument where
    "aten.masked_select.default",
    "aten._unique2.default", "aten.unique_dim.default", "aten.unique_consecutive.default",
    "aten.is_nonzero.default", "aten.equal.default", "aten.repeat_interleave.Tensor", "torchvision.nms.default",
    "aten.lift_fresh.default",  # ``torch.tensor(data)``: on a GPU a copy from pageable host memory, which waits
})
# indexing ops that wait too when an index is a boolean mask (``x[mask]``: its kernel counts the mask's
# true elements first); with integer indices they do not
MASK_INDEXING = frozenset({"aten.index.Tensor", "aten.index_put.default", "aten.index_put_.default",
                           "aten._index_put_impl_.default"})


def makes_host_wait(func: Any, args: tuple) -> bool:
    """Whether ``func(*args)`` has an output size or host value that depends on the data."""
    name = str(func)
    if name in HOST_WAITS:
        return True
    return name in MASK_INDEXING and any(
        isinstance(i, torch.Tensor) and i.dtype in (torch.bool, torch.uint8) for i in args[1] or ())


class DispatchCounter(TorchDispatchMode):
    """Counts every dispatched op, and those in ``HOST_WAITS``, under the stage named by ``counter(name)``."""

    def __init__(self) -> None:
        super().__init__()
        self.stage = "other"
        self.ops: Counter[str] = Counter()
        self.waits: Counter[str] = Counter()

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        previous, self.stage = self.stage, name
        try:
            yield
        finally:
            self.stage = previous

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        self.ops[self.stage] += 1
        if makes_host_wait(func, args):
            self.waits[self.stage] += 1
        return func(*args, **(kwargs or {}))


@torch.inference_mode()
def count_dispatch(model: PanopticNet, images: torch.Tensor, precision: str, mask_cues: bool,
                   head: str) -> dict[str, dict[str, int]]:
    """``{"ops": {stage: n, "total": n}, "waits": {...}}`` for one frame of ``images`` through ``model``."""
    counter = DispatchCounter()
    with wait_free_ways(model):  # proposals, detections and RoI pooling as they run on a GPU
        run_stages(model, images, precision, mask_cues, head, lambda name: nullcontext())  # fills the caches,
        with counter:                                                                     # as in a running node
            run_stages(model, images, precision, mask_cues, head, counter)
    return {kind: {**{s: tally[s] for s in STAGES}, "total": sum(tally[s] for s in STAGES)}
            for kind, tally in (("ops", counter.ops), ("waits", counter.waits))}


def dispatch_table(rows: list[dict[str, Any]]) -> str:
    """Ops / host waits per stage, one line per configuration."""
    head = f"{'configuration':42s}" + "".join(f"{s:>16s}" for s in (*STAGES, "total"))
    lines = [head + "   (ops / host waits)", "-" * len(head)]
    for r in rows:
        cells = "".join(f"{r['ops'][s]:>10d} / {r['waits'][s]:<3d}" for s in (*STAGES, "total"))
        lines.append(f"{r['name']:42s}{cells}")
    return "\n".join(lines)
