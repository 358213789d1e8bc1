"""FLOPs of one VAPO training iteration (the loss's double backward included) and of one ODE
velocity evaluation at a config's sizes, counted with torch.utils.flop_counter's formulas on a
small batch and scaled to the config's: the source of the "Expected cost" line in
configs/vapo-cifar10.yaml.

    python bench/vapo_flops.py configs/vapo-cifar10.yaml [--tflops 40] [--iters 80000] [--nfe 74]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ebflow_flops import CountFlops  # noqa: E402

from genflows import build_model, load_config  # noqa: E402
from genflows.data import dataset_info  # noqa: E402
from genflows.errors import guarded  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config")
    ap.add_argument("--tflops", type=float, default=40.0)
    ap.add_argument("--iters", type=int, default=80000, help="training iterations to cost (released evaluation: up to 80 000)")
    ap.add_argument("--nfe", type=int, default=74, help="velocity evaluations per sample batch (released README: 74)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    cfg = load_config(config_file=a.config)
    shape = dataset_info(cfg.data.name).shape
    model = build_model(cfg, shape)
    small = 2
    x = torch.rand(small, *shape) * 2 - 1
    with CountFlops() as fc:
        model.training_loss(x)[0].backward()
    per_iter = fc.total / small * cfg.train.batch_size
    model.eval()
    with CountFlops() as fc:
        model.velocity(x, 0.5)
    per_eval = fc.total / small
    train = per_iter * a.iters
    sample = per_eval * a.nfe * cfg.eval.fid_n
    params = sum(p.numel() for p in model.net.parameters())
    print(f"{a.config}: {params / 1e6:.1f} M parameters; {per_iter / 1e12:.2f} TFLOP per training iteration (batch {cfg.train.batch_size}), "
          f"{a.iters} iterations {train / 1e15:.0f} PFLOP; sampling {cfg.eval.fid_n} images at {a.nfe} evaluations {sample / 1e15:.0f} PFLOP; "
          f"{(train + sample) / (a.tflops * 1e12) / 3600:.1f} GPU-hours at {a.tflops:g} TFLOP/s")


if __name__ == "__main__":
    guarded(main, "vapo_flops")
