"""Speed of the Langevin hot path against the bare cost of the networks it differentiates.

    python bench/speed.py --threads 2 --repeats 15 [--models lfbm-mcmc,abp] [--autocast]

For each registered model at its MNIST size and batch 100 it measures, in one process and
interleaved (median of repeats):
  (a) one posterior Langevin step inside genflows (``model.infer``, train-mode BatchNorm as in training),
  (b) the same step written directly in torch: generator forward, prior log-density, autograd.grad
      with respect to z and the update,
  ratio (a)/(b); (c) one training iteration and the implied epoch of the MNIST anomaly protocol
  (505 iterations); (d) test-time scoring throughput (eval mode, batch 500, 100 steps).
Writes bench/results/speed.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from genflows import MODELS, Trainer, build_model, load_config
from genflows.io import write_json

HERE = Path(__file__).resolve().parent


def _time(fn, n: int = 1) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--steps", type=int, default=10, help="Langevin steps per timed call")
    ap.add_argument("--autocast", action="store_true", help="bf16 generator inside the chains")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for name in args.models.split(","):
        cfg = load_config(name, overrides=[f"inference.autocast={args.autocast}"])
        torch.manual_seed(0)
        model = build_model(cfg, (1, 28, 28))
        x = torch.rand(100, 1, 28, 28) * 2 - 1
        trainer = Trainer(model, cfg.train, progress=False)
        prior, gen = model.prior, model.generator
        s, half = cfg.inference.step_size, 0.5 * cfg.inference.step_size**2
        langevin = getattr(model.inference, "amortized", False) is False
        inv2s2 = 1.0 / (2 * gen.sigma**2)

        def toolkit():
            model.infer(x, n_steps=args.steps)

        def bare():
            # The floor: the networks' forward and input-gradient, plus the update arithmetic.
            for p in model.parameters():
                p.requires_grad_(False)
            z = torch.randn(100, gen.nz)
            for _ in range(args.steps):
                z.requires_grad_(True)
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.autocast):
                    out = gen(z)
                e = ((x - out.float()) ** 2).sum() * inv2s2 - prior.log_prob(z).sum()
                (g,) = torch.autograd.grad(e, z)
                z = (z.detach() - half * g + s * torch.randn_like(z))
            for p in model.parameters():
                p.requires_grad_(True)

        def iteration():
            trainer.train_step(x)

        model.train()
        for f in (toolkit, bare, iteration):
            f()  # warm-up
        a, b, it = [], [], []
        for _ in range(args.repeats):
            if langevin:
                a.append(_time(toolkit, args.steps))
                b.append(_time(bare, args.steps))
            it.append(_time(iteration))
        model.eval()
        xs = torch.rand(500, 1, 28, 28) * 2 - 1
        score = [_time(lambda: model.infer(xs, n_steps=100, noise=False)) for _ in range(3)]
        row = {
            "model": name,
            "langevin_step_ms": statistics.median(a) * 1e3 if a else None,
            "bare_step_ms": statistics.median(b) * 1e3 if b else None,
            "ratio": statistics.median(a) / statistics.median(b) if a else None,
            "train_iter_s": statistics.median(it),
            "epoch_min": statistics.median(it) * 505 / 60,
            "score_images_per_s_100_steps": 500 / statistics.median(score),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    out = {"date": time.strftime("%Y-%m-%d"), "threads": args.threads, "autocast": args.autocast, "rows": rows}
    write_json(HERE / "results" / f"speed{'-bf16' if args.autocast else ''}.json", out)
    print(f"\nthreads={args.threads} autocast={args.autocast} batch=100 (scoring: batch 500, 100 steps)\n")
    print("| model | (a) Langevin step ms | (b) bare fwd+bwd ms | (a)/(b) | train iter s | epoch min | scoring img/s |")
    print("|---|---|---|---|---|---|---|")
    fmt = lambda v, f: "n/a" if v is None else format(v, f)  # noqa: E731
    for r in rows:
        print(f"| {r['model']} | {fmt(r['langevin_step_ms'], '.1f')} | {fmt(r['bare_step_ms'], '.1f')} | {fmt(r['ratio'], '.2f')} | "
              f"{r['train_iter_s']:.3f} | {r['epoch_min']:.1f} | {r['score_images_per_s_100_steps']:.0f} |")


if __name__ == "__main__":
    main()
