"""Wall time of DDP training on this machine: 1 process (1 and 2 threads) against torchrun with
2 processes x 1 thread (gloo), same model, data and number of examples.

    python bench/ddp_scaling.py --data-root ROOT [--train-size 3000] [--repeats 3]

Runs `genflows run lfbm-mcmc --task reconstruction` on the first N MNIST training images for one
epoch (global batch 100, bf16 chains as in configs/lfbm-mcmc-mnist.yaml) and reads the training
seconds from metrics.json; writes results/ddp-scaling.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one(procs: int, threads: int, args, out: Path) -> float:
    run = ["-m", "genflows", "run", "lfbm-mcmc", "--task", "reconstruction", "--data", "mnist", "--data-root", args.data_root,
           "--epochs", "1", "--threads", str(threads), "--device", "cpu", "--out", str(out), "--no-progress",
           "--set", f"data.train_size={args.train_size}", "--set", "inference.autocast=auto", "--set", "train.lr=1e-3",
           "--set", "eval.n_test=100", "--set", "eval.steps=10", "--set", "eval.fid_n=0"]
    if procs > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(procs), "--master_port", str(_port())] + run
    else:
        cmd = [sys.executable] + run
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode:
        raise SystemExit(res.stderr[-2000:])
    return json.loads((out / "metrics.json").read_text())["train_seconds"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-root", required=True)
    ap.add_argument("--train-size", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    settings = [(1, 1), (1, 2), (2, 1)]
    times = {s: [] for s in settings}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):  # interleaved
            for p, t in settings:
                times[(p, t)].append(one(p, t, args, Path(tmp) / f"p{p}t{t}r{r}"))
                print(f"{p} process(es) x {t} thread(s): {times[(p, t)][-1]:.1f} s", flush=True)
    rows = [{"processes": p, "threads_per_process": t, "train_seconds_median": statistics.median(v), "train_seconds": v}
            for (p, t), v in times.items()]
    base = statistics.median(times[(1, 2)])
    out = {"date": time.strftime("%Y-%m-%d"), "examples": args.train_size, "global_batch": 100, "iterations": args.train_size // 100,
           "model": "lfbm-mcmc (K = 20, bf16 chains)", "rows": rows}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "ddp-scaling.json").write_text(json.dumps(out, indent=2))
    print("| processes x threads | training s (median of %d) | speed-up vs 1 x 2 |" % args.repeats)
    print("|---|---|---|")
    for r in rows:
        print(f"| {r['processes']} x {r['threads_per_process']} | {r['train_seconds_median']:.1f} | {base / r['train_seconds_median']:.2f} |")


if __name__ == "__main__":
    main()
