"""One anomaly table for every family: latent models, data-space flows and energy-based models
score a held-out digit on one protocol (the latent-flow paper's Table 4, extended).

    python experiments/anomaly_every_family.py --budget quick   # digits, every model, 3 seeds
    python experiments/anomaly_every_family.py --budget full --data-root DATA \
        --models coopflow,coopflow-pre,flow,ebm-sr              # MNIST digit 4, data-space models

Runs (or reads back) ``genflows table anomaly`` for held-out digit 4 with 3 seeds, then writes
``experiments/results/anomaly-every-family-<data>.json`` (every cell: each score's AUPRC per
seed, mean and sd, the anomaly fraction, times) and ``.md`` (the table), and a figure of the
per-image scores, normal against held-out, for the best and the worst row
(``anomaly-every-family-<data>-scores.png``, the first finished seed of each). ``--collect``
records the seeds that have finished without running anything (a budget that ran out). The record
keeps every model it already holds: ``--models vapo`` runs VAPO alone and adds or updates its rows.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np

from genflows._runtime.io import write_json, write_text
from genflows._runtime.output import pyplot
from genflows.registry import MODELS
from genflows.table import BUDGETS, anomaly_table

RESULTS = Path("experiments/results")


def rows(out: Path, models: list[str]) -> list[dict]:
    """One row per (model, score) from every finished seed (``seed*/metrics.json``): AUPRC values,
    mean and sample sd, and where the runs are; a model with no finished seed has no row."""
    found = []
    for m in models:
        seeds = [json.loads(f.read_text()) for f in sorted((out / f"{m}-h4").glob("seed*/metrics.json"))]
        if not seeds:
            print(f"{m}: no finished seed in {out / (m + '-h4')}")
            continue
        kinds = list(seeds[0]["auprc_by_score"])
        for kind in kinds:
            v = [s["auprc_by_score"][kind] for s in seeds]
            found.append({"model": m, "family": MODELS[m].family, "score": kind, "headline": kind == seeds[0]["score"],
                          "auprc": {"mean": statistics.fmean(v), "sd": statistics.stdev(v) if len(v) > 1 else 0.0, "n": len(v), "values": v,
                                    "seeds": [s["seed"] for s in seeds]},
                          "anomaly_fraction": seeds[0]["anomaly_fraction"],
                          "train_seconds": statistics.fmean(s["train_seconds"] for s in seeds), "run_dir": str(out / f"{m}-h4")})
    return found


def score_figure(best: dict, worst: dict, path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, r in zip(axes, (best, worst)):
        s = json.loads((Path(r["run_dir"]) / f"seed{r['auprc']['seeds'][0]}" / "scores.json").read_text())
        cols = s["columns"]
        data = np.array(s["rows"])
        score, anom = data[:, cols.index(r["score"])], data[:, cols.index("is_anomaly")] > 0.5
        bins = np.linspace(*np.percentile(score, [0.5, 99.5]), 60)
        ax.hist(score[~anom], bins, alpha=0.6, density=True, label="normal digits")
        ax.hist(score[anom], bins, alpha=0.6, density=True, label="held-out digit 4")
        ax.set_title(f"{r['model']}, score {r['score']}: AUPRC {r['auprc']['values'][0]:.3f} (seed {r['auprc']['seeds'][0]})", fontsize=9)
        ax.set_xlabel("anomaly score (higher = more anomalous)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", choices=list(BUDGETS), default="quick")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--collect", action="store_true", help="run nothing: record the seeds that have finished")
    ap.add_argument("--runs", default=None, help="folder of run folders (default: experiments/runs/anomaly-every-family-<data>)")
    a = ap.parse_args()
    data = BUDGETS[a.budget]["data"]
    out = Path(a.runs or f"experiments/runs/anomaly-every-family-{data}")
    models = a.models.split(",")
    overrides = [f"train.threads={a.threads}"] if a.threads else []
    md = None if a.collect else anomaly_table(out, a.budget, models=models, holdouts=[4], seeds=a.seeds, data_root=a.data_root,
                                              extra_overrides=overrides)
    stem = f"anomaly-every-family-{data}"
    old = RESULTS / f"{stem}.json"
    kept = [] if not old.is_file() else [r["model"] for r in json.loads(old.read_text())["rows"]]
    recorded = list(dict.fromkeys([*kept, *models]))  # a subset run must not drop the other models' rows
    found = rows(out, recorded)
    best = max(found, key=lambda r: r["auprc"]["mean"])
    worst = min(found, key=lambda r: r["auprc"]["mean"])
    score_figure(best, worst, RESULTS / f"{stem}-scores.png")
    command = f"python experiments/anomaly_every_family.py --budget {a.budget} --models {','.join(recorded)} --seeds {a.seeds}" + (
        f" --threads {a.threads}" if a.threads else "") + (" --data-root DATA" if a.data_root else "")
    write_json(RESULTS / f"{stem}.json", {"command": command, "budget": a.budget, "data": data, "holdout": 4,
                                          "overrides": {m: BUDGETS[a.budget]["overrides"] + BUDGETS[a.budget].get(MODELS[m].family, []) for m in recorded},
                                          "complete": all(r["auprc"]["n"] >= a.seeds for r in found) and {r["model"] for r in found} == set(recorded),
                                          "rows": found, "figure": f"{stem}-scores.png", "best": [best["model"], best["score"]],
                                          "worst": [worst["model"], worst["score"]]})
    if md is not None:
        print(md)
        if set(models) >= set(recorded):  # the table of this run is the whole record's; else docs/tables.py renders it from the JSON
            write_text(RESULTS / f"{stem}.md", md)


if __name__ == "__main__":
    main()
