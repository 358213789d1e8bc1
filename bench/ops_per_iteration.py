"""Where a small model's training time goes when it is not arithmetic: tensor operations per
training iteration against the iteration's time.

    python bench/ops_per_iteration.py [--model lfbm-mcmc] [--side 8] [--threads 2] [--repeats 30] [--profile TAG]

Builds the model as the digits main job does (``--side 8``; 28 for MNIST), counts the aten
operations one training iteration dispatches (forward, Langevin chains, backward, optimiser), times
the iteration (median of ``--repeats``) and a bare small addition (the floor of one operation), and
writes ``results/ops-per-iteration.json``; ``--profile TAG`` also writes the top operations of 10
iterations by self CPU time (torch.profiler) to ``results/profile-iteration-TAG.txt``. Time per operation far above the floor, with little
arithmetic per operation, means the iteration is bound by per-operation cost (Python, dispatch,
autograd), which only fewer operations can lower.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from genflows import Trainer, build_model, load_config
from genflows.errors import guarded
from genflows.hardware import describe_cpu
from genflows._runtime.io import write_json, write_text
from speed import _time  # this folder is on sys.path when a script here runs

HERE = Path(__file__).resolve().parent


class _Count(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.n = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.n += 1
        return func(*args, **(kwargs or {}))


def _median_s(fn, repeats: int) -> float:
    return statistics.median(_time(fn) for _ in range(repeats))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="lfbm-mcmc")
    ap.add_argument("--side", type=int, default=8, help="image side: 8 (digits, the main job) or 28 (MNIST)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--profile", default="", help="tag of a profile of 10 iterations to write")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_config(args.model, extra={"task": "anomaly"})
    torch.manual_seed(0)
    model = build_model(cfg, (1, args.side, args.side))
    trainer = Trainer(model, cfg.train, progress=False)
    x = torch.rand(cfg.train.batch_size, 1, args.side, args.side) * 2 - 1
    for _ in range(5):
        trainer.train_step(x)
    with _Count() as count:
        trainer.train_step(x)
    iteration = _median_s(lambda: trainer.train_step(x), args.repeats)
    a = torch.randn(cfg.train.batch_size, 20)

    def adds():
        for _ in range(1000):
            torch.add(a, a)

    floor = _median_s(adds, 7) / 1000
    out = {"date": time.strftime("%Y-%m-%d %H:%M"), **describe_cpu(), "threads": args.threads, "torch": torch.__version__,
           "model": args.model, "image_side": args.side, "batch": cfg.train.batch_size, "chain_steps": cfg.inference.n_steps,
           "ops_per_iteration": count.n, "iteration_ms": iteration * 1e3, "us_per_op": iteration / count.n * 1e6,
           "bare_add_us": floor * 1e6}
    write_json(HERE / "results" / "ops-per-iteration.json", out)
    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(10):
                trainer.train_step(x)
        head = (f"# 10 training iterations of {args.model} at {args.side}x{args.side}, batch {out['batch']}, "
                f"{out['cpu']} ({out['capability']}), {args.threads} threads, {out['date']}\n")
        write_text(HERE / "results" / f"profile-iteration-{args.profile}.txt",
                   head + prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))
    print(f"{out['cpu']} ({out['capability']}), {args.threads} threads: {args.model} at {args.side}x{args.side}, batch {out['batch']}, "
          f"{out['chain_steps']} chain steps: {count.n} operations per iteration in {out['iteration_ms']:.1f} ms, "
          f"{out['us_per_op']:.1f} us each; a bare small add {out['bare_add_us']:.2f} us")


if __name__ == "__main__":
    guarded(main, "ops_per_iteration")
