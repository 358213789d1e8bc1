"""Latent-flow paper, Table 4 (digit 4): does LFBM-MCMC's first MNIST epoch collapse? One epoch of
the default MNIST schedule (configs/lfbm-mcmc-mnist.yaml: reference initialisation, Adam lr 1e-3,
betas (0.5, 0.999)) per training seed, then the generator loss's share of the way from a perfect
fit to the mean image's loss (1: z unused), the mean posterior displacement ||z_K - z_0|| and,
as a first look, the AUPRC on 2000 test images with 30 scoring steps. Finished seeds are read
back; writes experiments/results/collapse-lfbm-mcmc-mnist-h4.json and prints a table.

    python experiments/lfbm_table4.py collapse_study --data-root DATA --seeds 1-5 [--threads 1]
    python experiments/lfbm_table4.py collapse_study ... --tag refflow --set prior.transform=reference
      (one change against the default: its own run folders and collapse-lfbm-mcmc-mnist-h4-TAG.json)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from genflows._runtime.io import write_json
from genflows.errors import GenflowsError, guarded

EXPERIMENTS = Path(__file__).resolve().parents[1]
ROOT = EXPERIMENTS.parent


def _seeds(text: str) -> list[int]:
    try:
        if "-" in text:
            a, b = text.split("-")
            return list(range(int(a), int(b) + 1))
        return [int(t) for t in text.split(",")]
    except ValueError:
        raise GenflowsError(f"--seeds expects A-B or a comma-separated list, got '{text}'") from None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--seeds", default="1-5")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", default=None, help="run folders (default: experiments/runs/collapse[-TAG])")
    ap.add_argument("--tag", default=None, help="names the change made with --set")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a config change (repeatable)")
    args = ap.parse_args()
    if bool(args.tag) != bool(args.set):
        raise GenflowsError("--tag and --set go together: name the change you make")
    suffix = f"-{args.tag}" if args.tag else ""
    runs = Path(args.runs or EXPERIMENTS / "runs" / f"collapse{suffix}")
    rows = []
    for seed in _seeds(args.seeds):
        run = runs / f"seed{seed}"
        if not (run / "metrics.json").is_file():
            cmd = [sys.executable, "-m", "genflows", "run", "lfbm-mcmc", "--config", str(ROOT / "configs" / "lfbm-mcmc-mnist.yaml"),
                   "--epochs", "1", "--seed", str(seed), "--threads", str(args.threads), "--no-tensorboard", "--no-progress",
                   "--set", "anomaly.score_subset=2000", "--set", "anomaly.score_steps=30", "--set", "anomaly.score_checkpoints=[]",
                   "--out", str(run)] + [a for kv in args.set for a in ("--set", kv)] + (["--data-root", args.data_root] if args.data_root else [])
            subprocess.run(cmd, check=True)
        m = json.loads((run / "metrics.json").read_text())
        h = m["history"][0]
        rows.append({"seed": seed, "gen_loss": h["gen_loss"], "gen_loss_vs_mean_image": h["gen_loss_vs_mean_image"],
                     "posterior_displacement": h["posterior_displacement"], "collapsed": bool(h.get("collapsed")),
                     "auprc_2000_30steps": m["auprc"], "epoch_seconds": h["seconds"], "threads": m["torch_threads"], "cpu": m["cpu"],
                     "capability": m.get("capability"), "chain_dtype": m.get("chain_dtype")})
    out = {"date": time.strftime("%Y-%m-%d"), "what": "MNIST holdout 4 (MEG protocol), LFBM-MCMC, configs/lfbm-mcmc-mnist.yaml, first epoch",
           "changes": args.set,
           "collapsed": sum(r["collapsed"] for r in rows), "seeds": len(rows), "rows": rows}
    write_json(EXPERIMENTS / "results" / f"collapse-lfbm-mcmc-mnist-h4{suffix}.json", out)  # atomic
    print("| seed | gen loss | share of the way to the mean image | displacement | collapsed | AUPRC (2000 images, 30 steps) | epoch s |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['seed']} | {r['gen_loss']:.1f} | {r['gen_loss_vs_mean_image']:.3f} | {r['posterior_displacement']:.2f} | "
              f"{'yes' if r['collapsed'] else 'no'} | {r['auprc_2000_30steps']:.3f} | {r['epoch_seconds']:.0f} |")
    if len(rows) > 1:
        print(f"AUPRC {statistics.fmean(r['auprc_2000_30steps'] for r in rows):.3f} ± {statistics.stdev(r['auprc_2000_30steps'] for r in rows):.3f}; "
              f"collapsed {out['collapsed']} of {len(rows)}")


if __name__ == "__main__":
    guarded(main, "lfbm_table4.py collapse_study")
