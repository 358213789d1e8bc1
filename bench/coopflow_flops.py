"""FLOPs of one CoopFlow training iteration at a config's sizes (32x32 RGB), counted with
torch.utils.flop_counter.FlopCounterMode, and the GPU-hours a Table 1 config should take at an
assumed sustained rate: the source of the "Expected cost" line in configs/coopflow-*-{cifar10,svhn,celeba32}.yaml.
The EBM is counted on the meta device (no compute); the flow on the CPU at batch 4, scaled.

    python bench/coopflow_flops.py configs/coopflow-cifar10.yaml [...] [--tflops 40]
"""

from __future__ import annotations

import argparse

import torch
from torch.utils.flop_counter import FlopCounterMode

from genflows import load_config
from genflows.coopflow import build_data_flow, build_energy
from genflows.errors import guarded

TRAIN_IMAGES = {"cifar10": 50000, "svhn": 73257, "celeba32": 162770}


def _flops(fn) -> float:
    with FlopCounterMode(display=False) as fc:
        fn()
    return fc.get_total_flops()


def count(path: str, tflops: float) -> str:
    cfg = load_config(config_file=path)
    c, bs, shape = cfg.coop, cfg.train.batch_size, (3, 32, 32)
    with torch.device("meta"):
        ebm = build_energy(shape, c.size("energy_width", shape), c.energy_arch)
    x = torch.empty(bs, *shape, device="meta")
    ebm.requires_grad_(False)  # a Langevin step: forward and the gradient in x only
    step = _flops(lambda: ebm(x.clone().requires_grad_(True)).sum().backward())
    ebm.requires_grad_(True)
    update = _flops(lambda: (ebm(x.clone().requires_grad_(True)).mean() - ebm(x).mean()).backward())
    torch.manual_seed(0)
    flow = build_data_flow(shape, c.flow_transform, c.size("flow_depth", shape), c.size("flow_hidden", shape), c.size("flow_levels", shape))
    xc = torch.rand(4, *shape) * 2 - 1
    flow.log_prob(xc, dequantize=True)  # data-dependent initialisation outside the count
    sample = _flops(lambda: flow.sample(4)) / 4 * bs
    nll = _flops(lambda: (-flow.log_prob(xc, dequantize=True).mean()).backward()) / 4 * bs
    langevin = c.n_steps * step + sample
    iters = TRAIN_IMAGES[cfg.data.name] // bs
    coop = cfg.train.epochs - c.pretrain_epochs - c.warmup_epochs
    total = iters * (c.pretrain_epochs * nll + c.warmup_epochs * (langevin + update) + coop * (langevin + update + nll))
    total += cfg.eval.fid_n / bs * langevin  # FID's samples
    hours = total / (tflops * 1e12) / 3600
    return (f"{path}: batch {bs}, T {c.n_steps}; per iteration {(langevin + update + nll) / 1e12:.2f} TFLOP (Langevin step {step / 1e9:.0f} GFLOP, "
            f"EBM update {update / 1e9:.0f}, flow sample {sample / 1e9:.0f}, flow NLL and gradient {nll / 1e9:.0f}); "
            f"{total / 1e18:.2f} EFLOP in all: {hours:.1f} GPU-hours at {tflops:g} TFLOP/s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("configs", nargs="+")
    ap.add_argument("--tflops", type=float, default=40.0, help="assumed sustained TFLOP/s")
    args = ap.parse_args()
    torch.set_num_threads(1)
    for path in args.configs:
        print(count(path, args.tflops))


if __name__ == "__main__":
    guarded(main, "coopflow_flops")
