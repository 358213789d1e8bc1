"""Latent-flow paper, Table 4, one held-out digit: all five models over training seeds, same
initialisation and schedule, at the first-epoch CPU budget of the collapse study.

    python experiments/lfbm_table4_digit_seeds.py --data-root DATA [--holdout 4] [--seeds 3] [--runs experiments/runs/digitH-epoch1]

Runs (or reads back) ``genflows table anomaly --budget full`` with one epoch on all training
normals and 2000 test images of the MEG split scored with 30 steps, then records per model and
seed the AUPRC, whether the first epoch collapsed (the generator loss's share of the way to the
mean image's) and the times, and the mean ± sd per model, in
``experiments/results/digitH-five-models-epoch1.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from genflows._runtime.io import write_json, write_text
from genflows.errors import GenflowsError, guarded
from genflows.table import paper_table4_rows

HERE = Path(__file__).resolve().parent
MODELS = ["vae", "lfbm-vae", "abp", "lfbm-mcmc", "lebm"]
OVERRIDES = ["train.epochs=1", "anomaly.score_subset=2000"]


def command(data_root: str | None, holdout: int, seeds: int, runs: Path) -> list[str]:
    return ([sys.executable, "-m", "genflows", "table", "anomaly", "--budget", "full", "--seeds", str(seeds), "--holdouts", str(holdout),
             "--models", ",".join(MODELS), "--out", str(runs)] + [a for kv in OVERRIDES for a in ("--set", kv)]
            + (["--data-root", data_root] if data_root else []))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--holdout", type=int, default=4)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--runs", default=None)
    args = ap.parse_args()
    h = args.holdout
    if not 0 <= h <= 9 or args.seeds < 1:
        raise GenflowsError(f"--holdout must be a digit 0-9 and --seeds at least 1, got {h} and {args.seeds}")
    runs = Path(args.runs or HERE / "runs" / f"digit{h}-epoch1")
    cmd = command(args.data_root, h, args.seeds, runs)
    subprocess.run(cmd, check=True)  # finished cells are read back, not rerun
    rows, per_model = [], {}
    for m in MODELS:
        for seed in range(1, args.seeds + 1):
            r = json.loads((runs / f"{m}-h{h}" / f"seed{seed}" / "metrics.json").read_text())
            first = r["history"][0]
            rows.append({"model": m, "seed": seed, "auprc": r["auprc"], "anomaly_fraction": r["anomaly_fraction"],
                         "gen_loss_vs_mean_image": first.get("gen_loss_vs_mean_image"), "collapsed": bool(first.get("collapsed")),
                         "train_seconds": r["train_seconds"], "score_seconds": r["score_seconds"], "chain_dtype": r.get("chain_dtype"),
                         "threads": r["torch_threads"], "cpu": r["cpu"], "capability": r.get("capability")})
        mine = [x for x in rows if x["model"] == m]
        per_model[m] = {"mean": statistics.fmean(x["auprc"] for x in mine), "sd": statistics.stdev(x["auprc"] for x in mine) if len(mine) > 1 else 0.0,
                        "collapsed": sum(x["collapsed"] for x in mine), "n": len(mine)}
    lines = ["| model | " + " | ".join(f"seed {s}" for s in range(1, args.seeds + 1)) + " | mean ± sd | collapsed | train s | score s |",
             "|---" * (args.seeds + 5) + "|"]
    for m in MODELS:
        mine = [x for x in rows if x["model"] == m]
        share = lambda x: "" if x["gen_loss_vs_mean_image"] is None else f" ({x['gen_loss_vs_mean_image']:.2f})"  # noqa: E731
        lines.append(f"| {m} | " + " | ".join(f"{x['auprc']:.3f}{share(x)}" for x in mine)
                     + f" | {per_model[m]['mean']:.3f} ± {per_model[m]['sd']:.3f} | {per_model[m]['collapsed']} of {per_model[m]['n']} | "
                     + f"{min(x['train_seconds'] for x in mine):.0f}-{max(x['train_seconds'] for x in mine):.0f} | "
                     + f"{min(x['score_seconds'] for x in mine):.0f}-{max(x['score_seconds'] for x in mine):.0f} |")
    lines.append(f"| chance (anomaly fraction) | {rows[0]['anomaly_fraction']:.3f} |" + " |" * (args.seeds + 3))
    md = ("\n".join(lines) + f"\n\nPaper (10 runs, full training):\n\n| model | digit {h} |\n|---|---|\n"
          + "\n".join(paper_table4_rows([h])) + "\n")
    out = {"date": time.strftime("%Y-%m-%d"), "command": " ".join(["python", *cmd[1:]]),
           "what": f"MNIST holdout {h}, MEG protocol, first epoch on all training normals, 2000 test images, 30 scoring steps; "
                   "AUPRC (in brackets: the generator loss's share of the way to the mean image's after the epoch)",
           "per_model": per_model, "rows": rows}
    write_json(HERE / "results" / f"digit{h}-five-models-epoch1.json", out)  # atomic
    write_text(HERE / "results" / f"digit{h}-five-models-epoch1.md", md)
    print(md)


if __name__ == "__main__":
    guarded(main, "lfbm_table4_digit_seeds")
