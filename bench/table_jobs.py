"""Throughput of ``genflows table --jobs N``: the same cells run one at a time with every free
core, and N at a time with the free cores split between them (a fresh folder each time, so
nothing is read back).

    python bench/table_jobs.py [--jobs 1,2] [--repeats 1] [--data-root DATA]

Tables: ``digits``, the quick budget's five Table 4 models at held-out digits 4 and 7, one seed
(10 cells); ``mnist``, two MNIST cells (``lfbm-mcmc`` and ``abp``, held-out 4) at the full
budget cut to ``--mnist-train-size`` normals, one epoch and a 500-image scoring subset;
``mnist-paper``, two long cells as Table 4 runs them (``lfbm-mcmc`` at the paper's budget, held-out
5 and 7, every training normal, bf16 chains where they are fast) cut to ``--paper-iters``
iterations and a 500-image scoring subset: whether splitting the cores between long cells beats
giving one cell both. Run on an otherwise idle machine. Writes ``results/table-jobs.json`` (wall
seconds, cells per minute, and the speed-up of each N over one job); a table measured again
replaces its rows and keeps the others'.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from genflows.hardware import describe_cpu  # noqa: E402
from genflows._runtime.io import write_json  # noqa: E402

TABLES = {
    "digits": (["--budget", "quick", "--holdouts", "4,7", "--seeds", "1"], 10),
    "mnist": (["--budget", "full", "--models", "lfbm-mcmc,abp", "--holdouts", "4", "--seeds", "1", "--set", "train.epochs=1",
               "--set", "anomaly.score_subset=500", "--set", "anomaly.track_every=0"], 2),
    "mnist-paper": (["--budget", "paper", "--models", "lfbm-mcmc", "--holdouts", "5,7", "--seeds", "1", "--set", "anomaly.score_subset=500",
                     "--set", "anomaly.track_every=0", "--set", "anomaly.score_checkpoints=[]"], 2),
}


def one(table: str, jobs: int, args) -> tuple[float, dict[str, float]]:
    """(wall seconds, each phase's seconds per cell as the cells' own records give them)."""
    argv, _ = TABLES[table]
    extra = {"mnist": ["--data-root", args.data_root, "--set", f"data.train_size={args.mnist_train_size}"],
             "mnist-paper": ["--data-root", args.data_root, "--set", f"train.max_iters={args.paper_iters}"]}.get(table, [])
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "GENFLOWS_THREADS", "OMP_WAIT_POLICY")}
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "genflows", "table", "anomaly", *argv, *extra, "--jobs", str(jobs), "--out", str(Path(tmp) / "t")],
                       env=env, cwd=tmp, check=True, capture_output=True)
        wall = time.perf_counter() - t
        cells = [json.loads(f.read_text()) for f in Path(tmp).rglob("metrics.json")]
        return wall, {k: statistics.fmean(c[k] for c in cells) for k in ("train_seconds", "score_seconds")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", default="1,2")
    ap.add_argument("--tables", default="digits,mnist")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--mnist-train-size", type=int, default=3000)
    ap.add_argument("--paper-iters", type=int, default=150, help="training iterations of each mnist-paper cell (an epoch is 509)")
    ap.add_argument("--data-root", default=os.environ.get("GENFLOWS_DATA", str(HERE.parent.parent / "shared" / "data")))
    ap.add_argument("--out", default=str(HERE / "results" / "table-jobs.json"))
    args = ap.parse_args()
    jobs = [int(j) for j in args.jobs.split(",")]
    rows = []
    for table in args.tables.split(","):
        times: dict[int, list[float]] = {j: [] for j in jobs}
        phases: dict[int, list[dict]] = {j: [] for j in jobs}
        for r in range(args.repeats):
            for j in jobs if r % 2 == 0 else jobs[::-1]:
                wall, per_cell = one(table, j, args)
                times[j].append(wall)
                phases[j].append(per_cell)
                print(table, j, f"{wall:.1f}s", per_cell, flush=True)
        med = {j: statistics.median(v) for j, v in times.items()}
        # A phase's throughput with j jobs is j cells per its seconds per cell (the jobs overlap).
        per_cell = {j: {k: statistics.median(p[k] for p in v) for k in v[0]} for j, v in phases.items()}
        for j in jobs:
            rows.append({"table": table, "cells": TABLES[table][1], "jobs": j, "wall_s": med[j], "runs": times[j],
                         "seconds_per_cell": per_cell[j],
                         "phase_speedup_vs_1_job": {k: j * per_cell[jobs[0]][k] / (jobs[0] * v) for k, v in per_cell[j].items() if v},
                         "cells_per_minute": 60 * TABLES[table][1] / med[j], "speedup_vs_1_job": med[jobs[0]] / med[j],
                         "date": time.strftime("%Y-%m-%d"), "repeats": args.repeats,
                         **({"mnist_train_size": args.mnist_train_size} if table == "mnist" else {}),
                         **({"train_iters": args.paper_iters} if table == "mnist-paper" else {})})
    out = Path(args.out)
    measured = {r["table"] for r in rows}
    kept = [r for r in json.loads(out.read_text())["rows"] if r["table"] not in measured] if out.is_file() else []
    write_json(out, {"date": time.strftime("%Y-%m-%d"), **describe_cpu(), "cores": os.cpu_count(), "rows": kept + rows})
    for r in rows:
        print({k: v for k, v in r.items() if k != "runs"})


if __name__ == "__main__":
    main()
