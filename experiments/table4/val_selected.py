"""Latent-flow paper, Table 4 (digit 4): does choosing the epoch on a validation split help?

    python experiments/lfbm_table4.py val_selected --data-root DATA --seeds 1-3 --epochs 8 --val-size 2000

The default MNIST config (``configs/lfbm-mcmc-mnist.yaml``) trained for ``--epochs`` epochs with
``anomaly.val_size`` training normals held out (never trained on). After every epoch the run
records the held-out normals' mean score (``val_score``, lower is a better fit) and, for reading
only, the AUPRC on the fixed 2000-image test subset; ``checkpoint-best.pt`` is the epoch with the
lowest ``val_score``. The last and the validation-chosen checkpoints are then scored on the whole
test split. Every chain here is the noise-free 30-step chain (tracking, validation and test
scoring alike), the cheapest length the default config records; the config's 400-step figure is
in ``default-lfbm-mcmc-mnist-h4-summary.json``.

Run folders ``experiments/runs/valsel-h4-seedS`` (per-epoch checkpoints kept); results
``experiments/results/metrics-valsel-h4-seedS.json``, ``score-valsel-h4-seedS-best.json`` and
the summary ``valsel-lfbm-mcmc-mnist-h4-summary.json``. Finished pieces are read back.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from genflows._runtime.io import write_json
from genflows.errors import GenflowsError, guarded

EXPERIMENTS = Path(__file__).resolve().parents[1]
RESULTS = EXPERIMENTS / "results"
sys.path.insert(0, str(EXPERIMENTS))
from table4.collapse_study import _seeds  # noqa: E402
from table4.default_seeds import _stats  # noqa: E402

STEPS = 30


def _train(seed: int, epochs: int, val_size: int, data_root: str | None, threads: int, extra: list[str]) -> tuple[Path, dict]:
    run, f = EXPERIMENTS / "runs" / f"valsel-h4-seed{seed}", RESULTS / f"metrics-valsel-h4-seed{seed}.json"
    if not f.is_file():
        sets = [f"train.epochs={epochs}", f"anomaly.val_size={val_size}", "anomaly.track_every=1", f"anomaly.track_steps={STEPS}",
                f"anomaly.score_steps={STEPS}", "anomaly.score_checkpoints=[]", "train.keep_checkpoints=true", *extra]
        cmd = [sys.executable, "-m", "genflows", "run", "lfbm-mcmc", "--config", str(EXPERIMENTS.parent / "configs" / "lfbm-mcmc-mnist.yaml"),
               "--seed", str(seed), "--threads", str(threads), "--out", str(run), "--no-tensorboard"]
        cmd += [a for kv in sets for a in ("--set", kv)] + (["--data-root", data_root] if data_root else [])
        subprocess.run(cmd, check=True)
        shutil.copyfile(run / "metrics.json", f)
    return run, json.loads(f.read_text())


def _best(run: Path, seed: int, metrics: dict, threads: int) -> dict:
    """The validation-chosen checkpoint scored on the whole test split (the last epoch's own
    metrics when it is the chosen one: the scoring chain is noise-free and seeded, so it would
    reproduce them)."""
    if metrics["val_best_epoch"] == metrics["epochs"]:
        return metrics
    f = RESULTS / f"score-valsel-h4-seed{seed}-best.json"
    if not f.is_file():
        if not (run / "checkpoint-best.pt").is_file():
            raise GenflowsError(f"{run} has no checkpoint-best.pt: train seed {seed} first")
        subprocess.run([sys.executable, "-m", "genflows", "score", str(run), "--checkpoint", "best", "--name", "best",
                        "--threads", str(threads)], check=True)  # progress bars when run in a terminal
        shutil.copyfile(run / "score-best.json", f)
    return json.loads(f.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--seeds", default="1-3")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--val-size", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], dest="overrides", help="a further config override (a smoke test's budget)")
    args = ap.parse_args()
    if args.epochs < 1 or args.val_size < 1:
        raise GenflowsError(f"--epochs and --val-size must be at least 1, got {args.epochs} and {args.val_size}")
    seeds = _seeds(args.seeds)
    per_seed = {}
    for s in seeds:
        run, m = _train(s, args.epochs, args.val_size, args.data_root, args.threads, args.overrides)
        best = _best(run, s, m, args.threads)
        h = m["history"]
        per_seed[s] = {
            "val_score": [e["val_score"] for e in h],
            "track_auprc_test_subset": [e.get("track_auprc") for e in h],
            "gen_loss_vs_mean_image": [e["gen_loss_vs_mean_image"] for e in h],
            "val_best_epoch": m["val_best_epoch"],
            "auprc_last": m["auprc"],
            "auprc_val_selected": best["auprc"],
            "collapsed_epochs": m["collapsed_epochs"],
            "epoch_seconds": [e["seconds"] for e in h],
            "train_seconds": m["train_seconds"],
            "score_seconds": m["score_seconds"] + (best["score_seconds"] if best is not m else 0.0),
        }
    last, chosen = _stats([p["auprc_last"] for p in per_seed.values()]), _stats([p["auprc_val_selected"] for p in per_seed.values()])
    out = {
        "date": time.strftime("%Y-%m-%d"),
        "what": f"MNIST digit 4, MEG protocol, LFBM-MCMC, configs/lfbm-mcmc-mnist.yaml with {args.epochs} epochs and "
        f"{args.val_size} training normals held out for validation; {STEPS}-step noise-free chains everywhere; "
        "AUPRC on all test images of the last and of the validation-chosen epoch",
        "machine": {k: m.get(k) for k in ("cpu", "capability", "torch_threads", "chain_dtype")},
        "n_train": m["n_train"], "n_val": m["n_val"], "n_test": m["n_test"], "anomaly_fraction": m["anomaly_fraction"],
        "auprc_last_epoch": last, "auprc_val_selected": chosen,
        "per_seed": {str(k): v for k, v in per_seed.items()},
    }
    write_json(RESULTS / "valsel-lfbm-mcmc-mnist-h4-summary.json", out)
    print(f"anomaly fraction (chance) {out['anomaly_fraction']:.3f}; {out['n_train']} training, {out['n_val']} validation, {out['n_test']} test images")
    print("| seed | val_score per epoch | test-subset AUPRC per epoch (read only) | chosen epoch | AUPRC last | AUPRC chosen |")
    print("|---|---|---|---|---|---|")
    for k, p in per_seed.items():
        print(f"| {k} | {' / '.join(f'{v:.1f}' for v in p['val_score'])} | "
              f"{' / '.join('-' if v is None else f'{v:.3f}' for v in p['track_auprc_test_subset'])} | {p['val_best_epoch']} | "
              f"{p['auprc_last']:.3f} | {p['auprc_val_selected']:.3f} |")
    print(f"| mean ± sd | | | | {last['mean']:.3f} ± {last['sd']:.3f} | {chosen['mean']:.3f} ± {chosen['sd']:.3f} |")
    for k, p in per_seed.items():
        print(f"seed {k}: epochs {', '.join(f'{v:.0f}' for v in p['epoch_seconds'])} s (with validation and tracking), "
              f"scoring {p['score_seconds']:.0f} s, collapsed {p['collapsed_epochs'] or 'none'}")


if __name__ == "__main__":
    guarded(main, "lfbm_table4.py val_selected")
