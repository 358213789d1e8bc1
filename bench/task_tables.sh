#!/usr/bin/env bash
# Issue-4 tables at CPU scale (budget 'full' in genflows/table.py): reconstruction and inpainting,
# then recovery (3 priors x the paper's six masks). Cells are run folders under bench/runs/tables/;
# finished cells are read back, so re-running continues an interrupted table.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="${GENFLOWS_DATA:-../shared/data}"
for task in reconstruction inpainting recovery; do
  genflows table "$task" --budget full --data-root "$ROOT" --out "bench/runs/tables/$task"
  mkdir -p bench/results/tables
  cp "bench/runs/tables/$task/table.md" "bench/results/tables/$task.md"
  cp "bench/runs/tables/$task/table.csv" "bench/results/tables/$task.csv"
done
