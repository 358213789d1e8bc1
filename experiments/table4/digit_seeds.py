"""Latent-flow paper, Table 4, one held-out digit: all five models over training seeds, same
initialisation and schedule.

    python experiments/lfbm_table4.py digit_seeds --data-root DATA [--holdout 4] [--seeds 3] [--schedule epoch1|default] [--models vae,abp]

Runs (or reads back) ``genflows table anomaly --budget full``, then records per model and seed the
AUPRC, the generator loss's share of the way to the mean image's after the first and the last
epoch (a first-epoch share near 1 is a collapse), and the times, and the mean ± sd per model, in
``experiments/results/digitH-five-models-SCHEDULE.{json,md}`` (``--models`` records the finished
models of a column still being trained, and says so in the file). Schedules:

- ``epoch1``: the collapse study's budget, one epoch on all training normals and 2000 test images
  of the MEG split scored with 30 steps (run folder ``experiments/runs/digitH-epoch1``).
- ``default``: the budget's own 4-epoch schedule of ``configs/lfbm-mcmc-mnist.yaml`` on the whole
  protocol, scored with 30 steps (``experiments/runs/digitH-4epochs``). At digit 4 the LFBM-MCMC
  cells are read from the default config's seed runs (``experiments/lfbm_table4.py default_seeds``,
  ``experiments/results/metrics-default-h4-seedS.json``) where they exist: the same training, and
  their 400-step noise-free scoring chains pass through the 30-step scores the table would compute.
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

EXPERIMENTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(EXPERIMENTS))
from table4.default_seeds import metrics_file  # noqa: E402  (the default config's seed runs)

MODELS = ["vae", "lfbm-vae", "abp", "lfbm-mcmc", "lebm"]
SCHEDULES = {  # name: (overrides on the 'full' budget, run folder suffix, what)
    "epoch1": (["train.epochs=1", "anomaly.score_subset=2000"], "epoch1",
               "first epoch on all training normals, 2000 test images, 30 scoring steps"),
    "default": ([], "4epochs", "the default 4-epoch schedule, all test images, 30 scoring steps"),
}


def command(data_root: str | None, holdout: int, seeds: int, runs: Path, models: list[str], overrides: list[str]) -> list[str]:
    return ([sys.executable, "-m", "genflows", "table", "anomaly", "--budget", "full", "--seeds", str(seeds), "--holdouts", str(holdout),
             "--models", ",".join(models), "--out", str(runs)] + [a for kv in overrides for a in ("--set", kv)]
            + (["--data-root", data_root] if data_root else []))


def _metrics(runs: Path, model: str, holdout: int, seed: int, borrowed: bool) -> dict:
    if borrowed and model == "lfbm-mcmc":
        r = json.loads(metrics_file(seed).read_text())
        return {**r, "auprc": r["auprc_at_steps"]["30"], "score_seconds": None}  # its seconds are a 400-step chain's
    return json.loads((runs / f"{model}-h{holdout}" / f"seed{seed}" / "metrics.json").read_text())


def _span(seconds: list[float | None]) -> str:
    known = [x for x in seconds if x is not None]
    return f"{min(known):.0f}-{max(known):.0f}" if known else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--holdout", type=int, default=4)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--schedule", default="epoch1", help="epoch1 | default")
    ap.add_argument("--runs", default=None)
    ap.add_argument("--models", default=",".join(MODELS), help="a subset of the five, comma-separated")
    args = ap.parse_args()
    asked = args.models.split(",")
    models = [m for m in MODELS if m in asked]
    unknown = sorted(set(asked) - set(MODELS))
    if unknown or not models:
        raise GenflowsError(f"--models takes names from {', '.join(MODELS)}, got '{args.models}'")
    h = args.holdout
    if not 0 <= h <= 9 or args.seeds < 1:
        raise GenflowsError(f"--holdout must be a digit 0-9 and --seeds at least 1, got {h} and {args.seeds}")
    if args.schedule not in SCHEDULES:
        raise GenflowsError(f"unknown --schedule '{args.schedule}' (choose from: {', '.join(SCHEDULES)})")
    overrides, suffix, what = SCHEDULES[args.schedule]
    runs = Path(args.runs or EXPERIMENTS / "runs" / f"digit{h}-{suffix}")
    seeds = range(1, args.seeds + 1)
    borrowed = args.schedule == "default" and h == 4 and all(metrics_file(s).is_file() for s in seeds)
    trained = [m for m in models if not (borrowed and m == "lfbm-mcmc")]
    cmd = command(args.data_root, h, args.seeds, runs, trained, overrides)
    if trained:
        subprocess.run(cmd, check=True)  # finished cells are read back, not rerun
    rows, per_model = [], {}
    for m in models:
        for seed in seeds:
            r = _metrics(runs, m, h, seed, borrowed)
            first, last = r["history"][0], r["history"][-1]
            rows.append({"model": m, "seed": seed, "auprc": r["auprc"], "auprc_at_steps": r.get("auprc_at_steps"), "anomaly_fraction": r["anomaly_fraction"],
                         "gen_loss_vs_mean_image": first.get("gen_loss_vs_mean_image"), "collapsed": bool(first.get("collapsed")),
                         "gen_loss_vs_mean_image_last": last.get("gen_loss_vs_mean_image"),
                         "train_seconds": r["train_seconds"], "score_seconds": r["score_seconds"], "chain_dtype": r.get("chain_dtype"),
                         "threads": r["torch_threads"], "cpu": r["cpu"], "capability": r.get("capability")})
        mine = [x for x in rows if x["model"] == m]
        per_model[m] = {"mean": statistics.fmean(x["auprc"] for x in mine), "sd": statistics.stdev(x["auprc"] for x in mine) if len(mine) > 1 else 0.0,
                        "collapsed": sum(x["collapsed"] for x in mine), "n": len(mine)}
    lines = ["| model | " + " | ".join(f"seed {s}" for s in range(1, args.seeds + 1)) + " | mean ± sd | collapsed | train s | score s |",
             "|---" * (args.seeds + 5) + "|"]
    for m in models:
        mine = [x for x in rows if x["model"] == m]
        share = lambda x: "" if x["gen_loss_vs_mean_image"] is None else f" ({x['gen_loss_vs_mean_image']:.2f})"  # noqa: E731
        lines.append(f"| {m} | " + " | ".join(f"{x['auprc']:.3f}{share(x)}" for x in mine)
                     + f" | {per_model[m]['mean']:.3f} ± {per_model[m]['sd']:.3f} | {per_model[m]['collapsed']} of {per_model[m]['n']} | "
                     + _span([x["train_seconds"] for x in mine]) + " | "
                     + _span([x["score_seconds"] for x in mine]) + " |")
    lines.append(f"| chance (anomaly fraction) | {rows[0]['anomaly_fraction']:.3f} |" + " |" * (args.seeds + 3))
    md = ("\n".join(lines) + f"\n\nPaper (10 runs, full training):\n\n| model | digit {h} |\n|---|---|\n"
          + "\n".join(paper_table4_rows([h])) + "\n")
    out = {"date": time.strftime("%Y-%m-%d"), "command": " ".join(["python", *cmd[1:]]),
           "what": f"MNIST holdout {h}, MEG protocol, {what}; "
                   "AUPRC (in brackets: the generator loss's share of the way to the mean image's after the first epoch)",
           **({"models_not_yet_run": [m for m in MODELS if m not in models]} if models != MODELS else {}),
           **({"lfbm_mcmc_from": "experiments/results/metrics-default-h4-seedS.json (30-step AUPRC of the 400-step chain)"} if borrowed else {}),
           "per_model": per_model, "rows": rows}
    write_json(EXPERIMENTS / "results" / f"digit{h}-five-models-{suffix}.json", out)  # atomic
    write_text(EXPERIMENTS / "results" / f"digit{h}-five-models-{suffix}.md", md)
    print(md)


if __name__ == "__main__":
    guarded(main, "lfbm_table4.py digit_seeds")
