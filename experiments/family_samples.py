"""Samples of every model family side by side, from recorded runs: the sample grids
(``samples.png``, seed 1) that the every-family anomaly runs wrote after training.

    python experiments/family_samples.py [--data digits|mnist] [--models lfbm-mcmc,vae,...]
    python experiments/family_samples.py --equal-time   # the spiral and MNIST at an equal training budget

Reads ``experiments/runs/anomaly-every-family-<data>/<model>-h4/seed1/samples.png`` (made by
``python experiments/anomaly_every_family.py``) and writes
``experiments/results/family-samples-<data>.png``, one panel per model with its family; models
whose run is missing are named on stdout and left out.

``--equal-time`` draws instead the runs of ``experiments/equal_time_side_by_side.py`` (seed 1): a
row of spiral samples and a row of MNIST sample grids, one column per model, each with its
MMD² or FID, into ``experiments/results/family-samples-equal-time.png``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from genflows._runtime.output import pyplot
from genflows.registry import MODELS

RUNS, RESULTS = Path("experiments/runs"), Path("experiments/results")
FAMILY = {"latent": "latent prior", "coopflow": "data space (CoopFlow)", "ebflow": "EBFlow", "vapo": "VAPO"}


def equal_time(models: list[str]) -> None:
    """Spiral (top) and MNIST (bottom) samples of every model at one training budget, seed 1."""
    import json

    from equal_time_side_by_side import draw_samples  # experiments/, this script's folder

    plt = pyplot()
    recs = {t: json.loads((RESULTS / f"equal-time-{t}.json").read_text()) for t in ("toy", "generation")}
    cells = {(t, c["data"], c["model"]): c for t, r in recs.items() for c in r["cells"]}
    rows = [("toy", "spiral"), ("generation", "mnist")]
    fig, axes = plt.subplots(2, len(models), figsize=(2.0 * len(models), 4.6), squeeze=False)
    for i, (task, data) in enumerate(rows):
        for j, m in enumerate(models):
            ax = axes[i, j]
            ax.set_xticks([]), ax.set_yticks([])
            c = cells.get((task, data, m))
            if c is None:
                why = "images only" if task == "toy" and MODELS[m].family == "latent" else f"no {data} run"
                ax.set_title(f"{m}\n{FAMILY[MODELS[m].family]}\n({why})" if i == 0 else f"({why})", fontsize=7)
                ax.axis("off")
                continue
            seed1 = Path(c["run_dir"]) / "seed1"
            key, val = ("MMD²", c["mmd"]["mean"]) if task == "toy" else ("FID", c["fid"]["mean"])
            ax.set_title((f"{m}\n{FAMILY[MODELS[m].family]}\n" if i == 0 else "") + f"{key} {val:.3g}", fontsize=7)
            draw_samples(ax, seed1, task, data)
    fig.suptitle(f"Every family after {recs['toy']['budget_seconds']:g} s (spiral) / {recs['generation']['budget_seconds']:g} s (MNIST) of training, "
                 f"1 thread, seed 1 (mean over 3 seeds in the titles): python experiments/equal_time_side_by_side.py, then "
                 f"python experiments/family_samples.py --equal-time", fontsize=6)
    fig.tight_layout()
    out = RESULTS / "family-samples-equal-time.png"
    fig.savefig(out, dpi=110)
    print(f"written: {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="digits")
    ap.add_argument("--models", default="lfbm-mcmc,lebm,vae,coopflow,flow,ebm-sr,ebflow-ml,ebflow-ssm")
    ap.add_argument("--equal-time", action="store_true", help="the equal-budget runs: spiral and MNIST rows")
    a = ap.parse_args()
    if a.equal_time:
        models = a.models.split(",") if "--models" in sys.argv else ["lfbm-mcmc", "vapo", "coopflow", "flow", "ebm-sr", "ebflow-ssm"]
        equal_time(models)
        return
    plt = pyplot()
    found = []
    for m in a.models.split(","):
        f = RUNS / f"anomaly-every-family-{a.data}" / f"{m}-h4" / "seed1" / "samples.png"
        if f.is_file():
            found.append((m, f))
        else:
            print(f"no samples for {m}: {f} is missing")
    fig, axes = plt.subplots(1, len(found), figsize=(2.4 * len(found), 2.9))
    for ax, (m, f) in zip(axes if len(found) > 1 else [axes], found):
        ax.imshow(plt.imread(f), cmap="gray")
        ax.set_title(f"{m}\n{FAMILY[MODELS[m].family]}", fontsize=8)
        ax.axis("off")
    fig.suptitle(f"Samples after the every-family anomaly runs on {a.data} (held-out 4 never seen; seed 1): "
                 f"python experiments/anomaly_every_family.py, then python experiments/family_samples.py --data {a.data}", fontsize=7)
    fig.tight_layout()
    out = RESULTS / f"family-samples-{a.data}.png"
    fig.savefig(out, dpi=110)
    print(f"written: {out}")


if __name__ == "__main__":
    main()
