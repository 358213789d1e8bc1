#!/usr/bin/env bash
# Latent-flow paper, Tables 2 (reconstruction), 3 (inpainting), 5 and 6 (recovery MSE and FID) at
# CPU scale on MNIST (budget 'full' in genflows/table.py): reconstruction and inpainting, then
# recovery (3 priors x the paper's six masks). Cells are run folders under experiments/runs/tables/;
# finished cells are read back, so re-running continues an interrupted table. The tables are
# copied to experiments/results/tables/, with the recovery FIDs' sample grids (recovery-samples.png).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="${GENFLOWS_DATA:-../shared/data}"
for task in reconstruction inpainting recovery; do
  genflows table "$task" --budget full --data-root "$ROOT" --out "experiments/runs/tables/$task"
  mkdir -p experiments/results/tables
  cp "experiments/runs/tables/$task/table.md" "experiments/results/tables/$task.md"
  cp "experiments/runs/tables/$task/table.csv" "experiments/results/tables/$task.csv"
done
# the sample grids behind the recovery FIDs, kept beside the records
python experiments/sample_grids.py table experiments/runs/tables/recovery
