#!/usr/bin/env bash
# Issue 9's ablation of the training recipe (models/README.md, "Which training change moved what").
# Each arm fine-tunes the stage-1 model (INIT) with config/ablation_recipe.yaml, the same seed and data
# order, one recipe change switched off; then evaluates every head in both mask-cue modes on held-out
# synthetic scenes. A second seed of the full recipe measures the run-to-run noise.
# Usage: scripts/ablate_recipe.sh INIT [ARM ...]   (default: every arm; finished arms are skipped)
set -euo pipefail
init=$1; shift
declare -A arms=(
  [full]=""
  [full_seed1]="seed=1"
  [gt_boxes_only]="own_detections=0"
  [hide_10pct]="gt_box_keep=0.9"
  [mask_gt_only]="model.instance.mask_positive_per_image=0"
  [panoptic_weight_1]="losses.panoptic=1.0"
  [stage1_recipe]="own_detections=0 gt_box_keep=0.9 model.instance.mask_positive_per_image=0 losses.panoptic=1.0"
)
order=(full gt_boxes_only hide_10pct mask_gt_only panoptic_weight_1 stage1_recipe full_seed1)
[ $# -gt 0 ] && order=("$@")
mkdir -p out/ablation
for arm in "${order[@]}"; do
  run=runs/ablation/$arm
  [ -f "out/ablation/$arm.json" ] && continue
  # shellcheck disable=SC2086  # the overrides are separate words
  python -m panoptic_ros.train --config config/ablation_recipe.yaml --device cpu --quiet --resume \
    init_from="$init" output_dir="$run" ${arms[$arm]}
  python -m panoptic_ros.eval.cli --checkpoint "$run/last.pt" --images 200 --head all --mask-cues both \
    --device cpu --out "out/ablation/$arm.json"
done
