"""Markdown table of ``scripts/ablate_recipe.sh``'s reports: PQ (things) per head and mask-cue mode, one
row per arm. Usage: python scripts/ablation_table.py out/ablation/*.json"""
import json
import sys
from pathlib import Path

from panoptic_ros.heads import HEAD_KINDS, run_name

RUNS = [run_name(head, cues) for cues in (True, False) for head in HEAD_KINDS]

print("| arm | " + " | ".join(RUNS) + " | mIoU (UPSNet, masks) |")
print("|---|" + "---:|" * (len(RUNS) + 1))
for path in sys.argv[1:]:
    runs = json.loads(Path(path).read_text())["runs"]
    cells = [f"{100 * runs[r]['All']['pq']:.1f} ({100 * runs[r]['Things']['pq']:.1f})" for r in RUNS]
    print(f"| {Path(path).stem} | " + " | ".join(cells) + f" | {100 * runs[run_name('upsnet', True)]['miou']:.1f} |")
