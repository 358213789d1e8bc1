"""EBFlow on the paper's 2-D densities (Chao et al. 2023, Section 5.1, Table 1): every objective on
sine, swirl and checkerboard, scored by the exact KL(data || model) at a CPU budget.

    python experiments/ebflow_toy_table.py [--epochs 250] [--lr 1e-3] [--seeds 1]
    python experiments/ebflow_toy_table.py --collect

Every cell is ``genflows run ebflow-<objective> --config configs/ebflow-toy.yaml --data <density>``
(the authors' toy flow and settings: 10 coupling blocks of width 64, Adam, batch 2048, EMA 0.999,
DSM std 0.375, FDSSM step 0.1) at ``--epochs`` epochs of 4 iterations and Adam ``--lr``; the paper
trains 50 000 iterations at 1e-4. Runs live in ``experiments/runs/ebflow-toy/<density>-<objective>``;
writes ``experiments/results/ebflow-toy.json`` (KL on the grid and by Monte Carlo, MMD, seconds);
``docs/tables.py`` makes the table from it. The KL is the exact one (the data's density is known in closed form or by
quadrature); the authors' evaluation estimates it from test points with a kernel density.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from genflows import load_config
from genflows._runtime.io import write_json
from genflows.ebflow import OBJECTIVES
from genflows.table import run_cells

RESULTS = Path("experiments/results")
RUNS = Path("experiments/runs/ebflow-toy")
DENSITIES = ("sine", "swirl", "checkerboard-ebflow")


def cells(epochs: int, lr: float, seeds: int, threads: int | None) -> dict:
    common = [f"train.epochs={epochs}", f"ebflow.lr={lr}", f"seeds={seeds}"] + ([f"train.threads={threads}"] if threads else [])
    return {f"{d}-{loss}": load_config(f"ebflow-{loss}", "configs/ebflow-toy.yaml", overrides=common + [f"data.name={d}", f"out={RUNS / f'{d}-{loss}'}"])
            for d in DENSITIES for loss in OBJECTIVES}


def collect(names: list[str]) -> list[dict]:
    rows = []
    for name in names:
        seeds = [json.loads(f.read_text()) for f in sorted((RUNS / name).glob("seed*/metrics.json"))] or \
            [json.loads(f.read_text()) for f in (RUNS / name).glob("metrics.json")]
        if not seeds:
            continue
        density, loss = name.rsplit("-", 1)

        def stat(key: str) -> dict:
            v = [s[key] for s in seeds if s.get(key) is not None]
            return {"mean": statistics.fmean(v) if v else None, "sd": statistics.stdev(v) if len(v) > 1 else 0.0, "n": len(v), "values": v}

        rows.append({"cell": name, "density": density, "loss": loss, "kl": stat("kl"), "kl_mc": stat("kl_mc"), "mmd": stat("mmd"),
                     "iterations": seeds[0]["iterations"], "train_seconds": statistics.fmean(s["train_seconds"] for s in seeds),
                     "cpu": seeds[0]["cpu"], "threads": seeds[0]["torch_threads"], "run_dir": str(RUNS / name)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=250)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--collect", action="store_true", help="run nothing: record the cells that have finished")
    a = ap.parse_args()
    cfgs = cells(a.epochs, a.lr, a.seeds, a.threads)
    if not a.collect:
        run_cells(cfgs, jobs=a.jobs)
    rows = collect(list(cfgs))
    write_json(RESULTS / "ebflow-toy.json", {
        "command": f"python experiments/ebflow_toy_table.py --epochs {a.epochs} --lr {a.lr} --seeds {a.seeds}",
        "epochs": a.epochs, "iterations_per_epoch": 4, "lr": a.lr, "seeds": a.seeds,
        "paper_budget": "50 000 iterations at Adam 1e-4 (100 000 on checkerboard)",
        "complete": len(rows) == len(cfgs) and all(r["kl"]["n"] >= a.seeds for r in rows), "rows": rows})
    for r in rows:  # the table itself: docs/tables.py (ebflow-toy), from this record
        print(f"{r['cell']:<26} KL {r['kl']['mean']}  (Monte Carlo {r['kl_mc']['mean']})  MMD2 {r['mmd']['mean']:.4f}  {r['train_seconds']:.0f} s")


if __name__ == "__main__":
    main()
