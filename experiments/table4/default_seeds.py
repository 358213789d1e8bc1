"""Latent-flow paper, Table 4 (digit 4): the default MNIST config (configs/lfbm-mcmc-mnist.yaml)
over training seeds, on the whole protocol (MEG split, all 19 460 test images, eval-mode scoring,
400 noise-free scoring steps recording 30 / 50 / 100 / 200), and the scoring-seed spread of one
of its checkpoints, so the two kinds of variance can be read side by side.

    python experiments/lfbm_table4.py default_seeds --data-root DATA --seeds 1-3 --score-seeds 101,102

Each missing training seed runs ``experiments/lfbm_table4.py anomaly`` (run folder
``experiments/runs/default-h4-seedS``, per-epoch checkpoints kept; result files
``experiments/results/anomaly-lfbm-mcmc-mnist-h4-default-seedS.json`` and the run's metrics as
``metrics-default-h4-seedS.json``); each missing scoring seed K
re-scores the first training seed's final checkpoint with ``genflows score RUN --set
anomaly.score_seed=K`` (copied to ``experiments/results/score-default-h4-seedS-scoreseedK.json``).
Finished pieces are read back. Writes ``experiments/results/default-lfbm-mcmc-mnist-h4-summary.json``
and prints both tables.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from genflows._runtime.io import write_json
from genflows.errors import GenflowsError, guarded

EXPERIMENTS = Path(__file__).resolve().parents[1]
RESULTS = EXPERIMENTS / "results"
sys.path.insert(0, str(EXPERIMENTS))
from table4.collapse_study import _seeds  # noqa: E402  (one parser for "1-3" / "1,2,3")


def _stats(values: list[float]) -> dict:
    return {"values": values, "mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0}


def _run_dir(seed: int, tag: str = "default") -> Path:
    return EXPERIMENTS / "runs" / f"{tag}-h4-seed{seed}"


def metrics_file(seed: int, tag: str = "default") -> Path:
    """Where a training seed's run metrics are kept (also read by the digit-column and the
    one-change scripts; ``tag`` names a changed config's runs)."""
    return RESULTS / f"metrics-{tag}-h4-seed{seed}.json"


def train_seed(seed: int, data_root: str | None, threads: int, tag: str = "default",
               sets: tuple[str, ...] = ("train.keep_checkpoints=true",)) -> dict:
    """The run's metrics.json (history, AUPRC at every step count, times), kept in results/;
    trained by ``lfbm_table4.py anomaly`` with the config overrides ``sets`` unless finished."""
    f = metrics_file(seed, tag)
    if not f.is_file():
        run = _run_dir(seed, tag)
        if not (RESULTS / f"anomaly-lfbm-mcmc-mnist-h4-{tag}-seed{seed}.json").is_file():
            cmd = [sys.executable, str(EXPERIMENTS / "lfbm_table4.py"), "anomaly", "--holdout", "4", "--seed", str(seed), "--seeds", "1",
                   "--threads", str(threads), "--tag", f"{tag}-seed{seed}", "--out", str(run)]
            cmd += [a for kv in sets for a in ("--set", kv)] + (["--data-root", data_root] if data_root else [])
            subprocess.run(cmd, check=True)
        shutil.copyfile(run / "metrics.json", f)
    return json.loads(f.read_text())


def _rescore(seed: int, score_seed: int, threads: int) -> dict:
    f = RESULTS / f"score-default-h4-seed{seed}-scoreseed{score_seed}.json"
    if not f.is_file():
        run = _run_dir(seed)
        if not (run / "checkpoint.pt").is_file():
            raise GenflowsError(f"{run} has no checkpoint.pt: train seed {seed} first (its result file alone cannot be re-scored)")
        name = f"scoreseed{score_seed}"
        subprocess.run([sys.executable, "-m", "genflows", "score", str(run), "--name", name, "--threads", str(threads),
                        "--set", f"anomaly.score_seed={score_seed}"], check=True)
        shutil.copyfile(run / f"score-{name}.json", f)
    return json.loads(f.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--seeds", default="1-3")
    ap.add_argument("--score-seeds", default="101,102", help="extra scoring seeds for the first training seed ('' for none)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    seeds = _seeds(args.seeds)
    runs = {s: train_seed(s, args.data_root, args.threads) for s in seeds}
    first = seeds[0]
    scorings = {"own": runs[first]} | {k: _rescore(first, k, args.threads) for k in (_seeds(args.score_seeds) if args.score_seeds else [])}

    steps = sorted(set.intersection(*(set(map(int, m["auprc_at_steps"])) for m in [*runs.values(), *scorings.values()])))
    by_train = {s: _stats([runs[k]["auprc_at_steps"][str(s)] for k in seeds]) for s in steps}
    by_score = {s: _stats([m["auprc_at_steps"][str(s)] for m in scorings.values()]) for s in steps}
    per_seed = {
        k: {
            "auprc_at_steps": m["auprc_at_steps"],
            "collapsed_epochs": m["collapsed_epochs"],
            "gen_loss_vs_mean_image": [h["gen_loss_vs_mean_image"] for h in m["history"]],
            "posterior_displacement": [h["posterior_displacement"] for h in m["history"]],
            "epoch_seconds": [h["seconds"] for h in m["history"]],
            "train_seconds": m["train_seconds"],
            "score_seconds": m["score_seconds"],
            "total_minutes": (m["train_seconds"] + m["score_seconds"]) / 60,
        }
        for k, m in runs.items()
    }
    out = {
        "date": time.strftime("%Y-%m-%d"),
        "what": "MNIST digit 4, MEG protocol, LFBM-MCMC, configs/lfbm-mcmc-mnist.yaml (reference initialisation), "
        "all 19 460 test images, eval-mode scoring",
        "machine": {k: runs[first].get(k) for k in ("cpu", "threads", "chain_dtype")},
        "training_seeds": seeds,
        "scoring_seeds_of_training_seed": {str(first): list(scorings)},
        "auprc_over_training_seeds": {str(s): v for s, v in by_train.items()},
        "auprc_over_scoring_seeds": {str(s): v for s, v in by_score.items()},
        "anomaly_fraction": runs[first]["anomaly_fraction"],
        "per_seed": {str(k): v for k, v in per_seed.items()},
        "rescoring_seconds": {str(k): m["score_seconds"] for k, m in scorings.items() if k != "own"},
    }
    write_json(RESULTS / "default-lfbm-mcmc-mnist-h4-summary.json", out)
    print(f"anomaly fraction (chance) {out['anomaly_fraction']:.3f}")
    print("| scoring steps | " + " | ".join(f"seed {k}" for k in seeds) + " | over training seeds | "
          + f"over scoring seeds of seed {first} ({', '.join(map(str, scorings))}) |")
    print("|---|" + "---|" * len(seeds) + "---|---|")
    for s in steps:
        t, c = by_train[s], by_score[s]
        print(f"| {s} | " + " | ".join(f"{v:.3f}" for v in t["values"]) + f" | {t['mean']:.3f} ± {t['sd']:.3f} | {c['mean']:.3f} ± {c['sd']:.3f} |")
    for k, p in per_seed.items():
        print(f"seed {k}: collapsed {p['collapsed_epochs'] or 'none'}, share {', '.join(f'{v:.3f}' for v in p['gen_loss_vs_mean_image'])}, "
              f"train {p['train_seconds']:.0f} s + score {p['score_seconds']:.0f} s = {p['total_minutes']:.1f} min")


if __name__ == "__main__":
    guarded(main, "lfbm_table4.py default_seeds")
