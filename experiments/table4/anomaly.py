"""Latent-flow paper, Table 4: the full MNIST anomaly protocol for one held-out digit, N seeds.

    python experiments/lfbm_table4.py anomaly --data-root ../shared/data --holdout 4 --seeds 2 \
        --config configs/lfbm-mcmc-mnist.yaml

Runs ``genflows run`` in-process (same code path as the CLI), then writes
``experiments/results/anomaly-<model>-<data>-h<holdout>[-<tag>].json`` and a Markdown row with
AUPRC mean ± sd and the training and scoring wall times, with the machine it ran on. Run folders
go to ``experiments/runs/`` (ignored by git).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import time
from pathlib import Path

import torch

from genflows.config import load_config
from genflows.errors import guarded
from genflows._runtime.io import write_json
from genflows.runner import run

EXPERIMENTS = Path(__file__).resolve().parents[1]


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Model name"))
    except Exception:
        return platform.processor() or "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="lfbm-mcmc")
    ap.add_argument("--data", default="mnist")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--holdout", type=int, default=4)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--config", default=str(EXPERIMENTS.parent / "configs" / "lfbm-mcmc-mnist.yaml"))
    ap.add_argument("--set", action="append", default=[], dest="overrides")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None)
    ap.add_argument("--tag", default="")
    args = ap.parse_args()

    out = args.out or str(EXPERIMENTS / "runs" / f"protocol-{args.model}-{args.data}-h{args.holdout}-{time.strftime('%Y%m%d-%H%M%S')}")
    extra = {
        "model": args.model,
        "out": out,
        "seeds": args.seeds,
        "data": {"name": args.data, "holdout": args.holdout, **({"root": args.data_root} if args.data_root else {})},
        "train": {"seed": args.seed, "threads": args.threads},
    }
    cfg = load_config(None, args.config, args.overrides, extra)
    t0 = time.perf_counter()
    summary = run(cfg, progress=False, log=lambda m: print(m, flush=True))
    wall = time.perf_counter() - t0
    a, tr, sc = summary["auprc"], summary["train_seconds"], summary["score_seconds"]
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"cpu": cpu_name(), "threads": torch.get_num_threads(), "torch": torch.__version__, "python": platform.python_version()},
        "command": f"python experiments/lfbm_table4.py anomaly --data {args.data} --holdout {args.holdout} --seeds {args.seeds} --config {args.config} "
        + " ".join(f"--set {o}" for o in args.overrides),
        "config": json.loads(json.dumps(cfg, default=lambda o: o.__dict__)),
        "summary": summary,
        "wall_seconds": wall,
        "markdown": f"| {args.model} | {args.data} | {args.holdout} | {a['mean']:.3f} ± {a['sd']:.3f} (n={a['n']}) | "
        f"{tr['mean'] / 60:.1f} | {sc['mean'] / 60:.1f} | {(tr['mean'] + sc['mean']) / 60:.1f} |",
    }
    name = f"anomaly-{args.model}-{args.data}-h{args.holdout}{('-' + args.tag) if args.tag else ''}.json"
    write_json(EXPERIMENTS / "results" / name, result)
    print("| model | data | holdout | AUPRC | train min | score min | total min/seed |")
    print("|---|---|---|---|---|---|---|")
    print(result["markdown"])


if __name__ == "__main__":
    guarded(main, "lfbm_table4.py anomaly")
