"""Latent-flow paper, Table 4 (all models, digits 1, 4, 5, 7, 9): record a table run's finished cells.

    python experiments/lfbm_table4.py model_comparison [--runs experiments/runs/table-anomaly] \
        [--out experiments/results/anomaly-table-full.json]

The missing cells are not run. `genflows table anomaly` runs every missing (model, holdout) cell
before it writes its table, so while a long table is still going (about an hour per held-out
digit on 2 cores) this script is how its finished cells reach ``experiments/results/``: it reads
each ``<model>-h<digit>/metrics.json`` (per-epoch history dropped), and writes and prints the
Markdown grid of what is there, with the training and scoring time per cell.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from genflows._runtime.io import write_text
from genflows.table import paper_table4_rows

COMMAND = ("genflows table anomaly --budget full --seeds 1 --holdouts H --models vae,lfbm-vae,lfbm-mcmc,lebm,abp "
           "--data-root ../shared/data --out experiments/runs/table-anomaly (one call per held-out digit H in 4, 1, 5, 7, 9)")
MODELS = ["abp", "lebm", "vae", "lfbm-vae", "lfbm-mcmc"]


def collect(runs: Path) -> dict[str, dict]:
    cells = {}
    for f in sorted(runs.glob("*-h[0-9]/metrics.json")):
        m = json.loads(f.read_text())
        m.pop("history", None)
        cells[f.parent.name] = m
    return cells


def grid(cells: dict[str, dict]) -> str:
    holdouts = sorted({c["holdout"] for c in cells.values()})
    lines = ["| model | " + " | ".join(f"digit {h}" for h in holdouts) + " |", "|---" * (len(holdouts) + 1) + "|"]
    for m in MODELS:
        vals = [f"{cells[f'{m}-h{h}']['auprc']:.3f}" if f"{m}-h{h}" in cells else "…" for h in holdouts]
        lines.append(f"| {m} (ours, 1 seed) | " + " | ".join(vals) + " |")
    # AUPRC of a random score equals the anomaly fraction: below it, the score ranks the held-out
    # digit as *more* normal than the normal digits (digit 1: simple images, high likelihood).
    chance = {c["holdout"]: c["anomaly_fraction"] for c in cells.values()}
    lines.append("| chance (anomaly fraction) | " + " | ".join(f"{chance[h]:.3f}" for h in holdouts) + " |")
    return "\n".join(lines + paper_table4_rows(holdouts))


def timing(cells: dict[str, dict]) -> str:
    def span(v: list[float]) -> str:
        return f"{min(v):.0f}" if round(min(v)) == round(max(v)) else f"{min(v):.0f}-{max(v):.0f}"

    parts = []
    for m in MODELS:
        mine = [c for c in cells.values() if c["model"] == m]
        if mine:
            parts.append(f"{m} {span([c['train_seconds'] for c in mine])} s / {span([c['score_seconds'] for c in mine])} s")
    return "Training / scoring time per cell: " + " · ".join(parts) + "."


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", default="experiments/runs/table-anomaly")
    ap.add_argument("--out", default="experiments/results/anomaly-table-full.json")
    a = ap.parse_args()
    cells = collect(Path(a.runs))
    if not cells:
        raise SystemExit(f"no finished cells under {a.runs} (expected <model>-h<digit>/metrics.json)")
    write_text(Path(a.out), json.dumps({"what": COMMAND, "date": time.strftime("%Y-%m-%d"), "cells": cells}, indent=2) + "\n")
    md = grid(cells)
    write_text(Path(a.out).with_suffix(".md"), md + "\n")
    print(md)
    print()
    print(timing(cells))
    print(f"{len(cells)} cells -> {a.out} and {Path(a.out).with_suffix('.md')}")


if __name__ == "__main__":
    main()
