#!/usr/bin/env bash
# The GPU path in one script (about 6 minutes on one GPU): the CUDA test file (every model through
# every task on cuda, with and without --amp, FID on the device, NCCL DDP where two GPUs exist),
# then CoopFlow training at the CIFAR-10 Table 1 config's sizes on the 20 real CIFAR-10 images
# for 60 s per precision, printing iterations/s. Run from the repository root:
#   bash bench/gpu_check.sh [DATA_ROOT]        # DATA_ROOT: default ../shared/data
# Writes bench/results/gpu-check.txt and bench/results/gpu-speed.json (or under $OUT if set).
set -uo pipefail
DATA_ROOT="${1:-../shared/data}"
DEST="${OUT:-bench/results}"
mkdir -p "$DEST"
{
  date -u +%Y-%m-%dT%H:%MZ
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 || echo "nvidia-smi: not available"
  python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'devices', torch.cuda.device_count())"
  timeout 330 python -m pytest -q -p no:cacheprovider tests/test_cuda.py 2>&1 | tail -25
  echo "test_cuda exit: ${PIPESTATUS[0]}"
  timeout 200 python bench/gpu_speed.py --data-root "$DATA_ROOT" --seconds 60 --out "$DEST/gpu-speed.json" 2>&1 | tail -40
  echo "gpu_speed exit: ${PIPESTATUS[0]}"
} 2>&1 | tee "$DEST/gpu-check.txt"
