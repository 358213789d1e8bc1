"""Samples of every model family side by side, from recorded runs: the sample grids
(``samples.png``, seed 1) that the every-family anomaly runs wrote after training.

    python experiments/family_samples.py [--data digits|mnist] [--models lfbm-mcmc,vae,...]

Reads ``experiments/runs/anomaly-every-family-<data>/<model>-h4/seed1/samples.png`` (made by
``python experiments/anomaly_every_family.py``) and writes
``experiments/results/family-samples-<data>.png``, one panel per model with its family; models
whose run is missing are named on stdout and left out.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from genflows._runtime.output import pyplot
from genflows.registry import MODELS

RUNS, RESULTS = Path("experiments/runs"), Path("experiments/results")
FAMILY = {"latent": "latent prior", "coopflow": "data space (CoopFlow)", "ebflow": "EBFlow", "vapo": "VAPO"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="digits")
    ap.add_argument("--models", default="lfbm-mcmc,lebm,vae,coopflow,flow,ebm-sr,ebflow-ml,ebflow-ssm")
    a = ap.parse_args()
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
