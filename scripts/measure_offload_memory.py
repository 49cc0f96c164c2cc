"""GPU memory across the node's lifecycle transitions, with the predictor calls the node makes.

    python scripts/measure_offload_memory.py --checkpoint models/street_lite0.pt --input-size 1024 2048

configure builds the ``TorchPredictor`` (weights onto the device), activate warms it up and runs frames,
deactivate calls ``Predictor.offload`` (what ``panoptic_node`` does after unsubscribing), activate again
calls ``restore``. Prints, after each step, the memory PyTorch holds for tensors (allocated), what its
caching allocator keeps (reserved) and what the whole device has in use (``cudaMemGetInfo``: every
process, the CUDA context included). Needs a CUDA device; ROS is not needed.
"""
from __future__ import annotations

import argparse
import json

import torch

from panoptic_ros.inference.predictor import PredictorOptions, TorchPredictor, shipped_model_path
from panoptic_ros.precisions import DEFAULT_PRECISION, PRECISION_NAMES

MIB = 2 ** 20


def snapshot(step: str, device: torch.device) -> dict[str, float | str]:
    torch.cuda.synchronize(device)
    free, total = torch.cuda.mem_get_info(device)
    return {"step": step, "allocated_mib": torch.cuda.memory_allocated(device) / MIB,
            "reserved_mib": torch.cuda.memory_reserved(device) / MIB, "device_used_mib": (total - free) / MIB}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=str(shipped_model_path()))
    p.add_argument("--input-size", type=int, nargs=2, default=(1024, 2048), metavar=("H", "W"))
    p.add_argument("--inference-size", type=int, nargs=2, default=(360, 480), metavar=("H", "W"))
    p.add_argument("--precision", default=DEFAULT_PRECISION, choices=PRECISION_NAMES)
    p.add_argument("--frames", type=int, default=5)
    p.add_argument("--out", help="write the rows as JSON")
    args = p.parse_args()
    device = torch.device("cuda")
    torch.zeros(1, device=device)  # the CUDA context, present before the node loads anything
    rows = [snapshot("process with CUDA context", device)]
    options = PredictorOptions("cuda", args.precision, True, None, None, tuple(args.inference_size))
    predictor = TorchPredictor.from_checkpoint(args.checkpoint, options)
    rows.append(snapshot("configured (weights on the device)", device))
    frame = torch.randint(0, 256, (3, *args.input_size), dtype=torch.uint8, device=device)
    for _ in range(args.frames):
        predictor.predict([frame])
    rows.append(snapshot(f"active, after {args.frames} frames of {args.input_size[1]}x{args.input_size[0]}", device))
    predictor.offload()
    rows.append(snapshot("deactivated (Predictor.offload)", device))
    predictor.restore()
    predictor.predict([frame])
    rows.append(snapshot("activated again, one frame", device))
    print(f"{'step':55s}{'allocated MiB':>15s}{'reserved MiB':>15s}{'device used MiB':>17s}")
    for r in rows:
        print(f"{r['step']:55s}{r['allocated_mib']:15.1f}{r['reserved_mib']:15.1f}{r['device_used_mib']:17.1f}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"args": vars(args), "device": torch.cuda.get_device_name(device), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
