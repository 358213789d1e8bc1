"""FLOPs of one EBFlow training iteration at a config's sizes, and the GPU-hours its run should
take at an assumed sustained rate: the source of the "Expected cost" lines in
configs/ebflow-*-cifar10.yaml. Matrix products and convolutions are counted by
torch.utils.flop_counter's formulas on one real iteration (CPU, float32); the dense
factorisations it does not count are added analytically: per D x D matrix, an LU for the
log-determinant (2/3 D^3) and an inverse for its gradient (2 D^3) under ``ml``, an LU per solve
when sampling (``sml``).

    python bench/ebflow_flops.py configs/ebflow-fc-cifar10.yaml [...] [--tflops 40] [--epochs N]
"""

from __future__ import annotations

import argparse
import math

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

from genflows import build_model, load_config
from genflows.data import dataset_info
from genflows.ebflow import OBJECTIVES
from genflows.errors import guarded

TRAIN_IMAGES = {"cifar10": 50000, "mnist": 60000}


class CountFlops(TorchDispatchMode):
    """FlopCounterMode's per-op formulas without its module hooks, which refuse the double
    backward of score matching (autograd.grad inside autograd.grad)."""

    def __init__(self):
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        f = flop_registry.get(func._overloadpacket)
        if f is not None:
            self.total += f(*args, **kwargs, out_val=out)
        return out


def per_iteration(cfg, loss: str) -> tuple[float, float]:
    """(FLOPs counted, FLOPs added analytically) of one iteration of objective ``loss``."""
    shape = dataset_info(cfg.data.name).shape
    torch.manual_seed(0)
    cfg.ebflow.loss = loss
    model = build_model(cfg, shape)
    x = torch.randint(0, 256, (cfg.train.batch_size, *shape)).float() / 127.5 - 1
    with CountFlops() as fc:
        value, _ = model.training_loss(x)
        value.backward()
    d, n_linear = math.prod(shape), len(model.net.linears)
    extra = n_linear * (2 / 3 + 2) * d**3 if loss == "ml" else n_linear * (2 / 3) * d**3 if loss == "sml" else 0.0
    return float(fc.total), extra


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("configs", nargs="+")
    ap.add_argument("--tflops", type=float, default=40.0, help="assumed sustained TFLOP/s")
    ap.add_argument("--epochs", type=int, default=None, help="epochs to cost (default: the config's train.epochs)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    for path in a.configs:
        cfg = load_config(config_file=path)
        epochs = a.epochs or cfg.train.epochs
        iters = TRAIN_IMAGES[cfg.data.name] // cfg.train.batch_size * epochs
        for loss in OBJECTIVES:
            counted, extra = per_iteration(cfg, loss)
            total = (counted + extra) * iters
            print(f"{path} {loss}: {(counted + extra) / 1e9:.1f} GFLOP per iteration ({extra / 1e9:.1f} of it dense factorisations), "
                  f"{iters} iterations ({epochs} epochs): {total / 1e15:.1f} PFLOP, {total / (a.tflops * 1e12) / 3600:.2f} GPU-hours at {a.tflops:g} TFLOP/s")


if __name__ == "__main__":
    guarded(main, "ebflow_flops")
