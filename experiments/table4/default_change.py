"""Latent-flow paper, Table 4 (digit 4): one change to the default MNIST config, paired with the
default config's own training seeds, at its whole schedule and protocol (4 epochs, all 19 460
test images of the MEG split, eval-mode scoring).

    python experiments/lfbm_table4.py default_change --data-root DATA --tag bnchain \
        --set inference.bn_stats_from_chain=true [--seeds 1-3]

Each missing seed runs ``experiments/lfbm_table4.py anomaly --tag TAG-seedS --set ...`` with
30-step scoring (run folder ``experiments/runs/TAG-h4-seedS``; its metrics kept as
``experiments/results/metrics-TAG-h4-seedS.json``). The default's numbers are the 30-step scores
of its 400-step noise-free chains (``experiments/lfbm_table4.py default_seeds``): the same starts,
so the same 30-step scores a 30-step chain gives. Finished seeds are read back. Writes
``experiments/results/change-TAG-lfbm-mcmc-mnist-h4.json`` and prints the paired table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from genflows._runtime.io import write_json
from genflows.errors import GenflowsError, guarded

EXPERIMENTS = Path(__file__).resolve().parents[1]
RESULTS = EXPERIMENTS / "results"
sys.path.insert(0, str(EXPERIMENTS))
from table4.collapse_study import _seeds  # noqa: E402  (one parser for "1-3" / "1,2,3")
from table4.default_seeds import metrics_file, train_seed  # noqa: E402  (the default's seed runs, and how they ran)


def _mean_sd(values: list[float]) -> str:
    return f"{statistics.fmean(values):.3f} ± {statistics.stdev(values):.3f}" if len(values) > 1 else f"{values[0]:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--tag", required=True, help="names the change's run folders and result files")
    ap.add_argument("--set", action="append", default=[], dest="overrides", help="the change, as config overrides")
    ap.add_argument("--seeds", default="1-3")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if not args.overrides:
        raise GenflowsError("give the change as at least one --set KEY=VALUE")
    if not args.tag.replace("-", "").isalnum():
        raise GenflowsError(f"--tag may hold letters, digits and '-' only, got '{args.tag}'")
    seeds = _seeds(args.seeds)
    missing = [s for s in seeds if not metrics_file(s).is_file()]
    if missing:
        raise GenflowsError(f"no default run for seed(s) {missing}: run experiments/lfbm_table4.py default_seeds --seeds {args.seeds} first")
    base = {s: json.loads(metrics_file(s).read_text()) for s in seeds}
    sets = ("anomaly.score_steps=30", "anomaly.score_checkpoints=[]", *args.overrides)
    runs = {s: train_seed(s, args.data_root, args.threads, args.tag, sets) for s in seeds}
    rows = []
    for s in seeds:
        b, c = base[s], runs[s]
        rows.append({"seed": s, "default": b["auprc_at_steps"]["30"], "changed": c["auprc_at_steps"]["30"],
                     "default_share_of_mean_image": [h["gen_loss_vs_mean_image"] for h in b["history"]],
                     "changed_share_of_mean_image": [h["gen_loss_vs_mean_image"] for h in c["history"]],
                     "changed_collapsed_epochs": c["collapsed_epochs"], "changed_train_seconds": c["train_seconds"],
                     "changed_score_seconds": c["score_seconds"], "cpu": c["cpu"], "capability": c.get("capability"),
                     "threads": c["torch_threads"], "chain_dtype": c.get("chain_dtype")})
    d = [r["changed"] - r["default"] for r in rows]
    out = {"date": time.strftime("%Y-%m-%d"), "change": args.overrides, "tag": args.tag,
           "what": "MNIST digit 4, MEG protocol, configs/lfbm-mcmc-mnist.yaml with and without the change, same training seeds; "
                   "AUPRC with 30 scoring steps on all test images, eval-mode scoring",
           "anomaly_fraction": runs[seeds[0]]["anomaly_fraction"], "rows": rows,
           "default": _mean_sd([r["default"] for r in rows]), "changed": _mean_sd([r["changed"] for r in rows]),
           "paired_difference": _mean_sd(d)}
    write_json(RESULTS / f"change-{args.tag}-lfbm-mcmc-mnist-h4.json", out)
    print(f"change: {' '.join(args.overrides)}; chance (anomaly fraction) {out['anomaly_fraction']:.3f}")
    print("| seed | default | changed | difference | collapsed | train s + score s |\n|---|---|---|---|---|---|")
    for r, x in zip(rows, d):
        print(f"| {r['seed']} | {r['default']:.3f} | {r['changed']:.3f} | {x:+.3f} | {len(r['changed_collapsed_epochs'])} | "
              f"{r['changed_train_seconds']:.0f} + {r['changed_score_seconds']:.0f} |")
    print(f"| mean ± sd | {out['default']} | {out['changed']} | {out['paired_difference']} | | |")


if __name__ == "__main__":
    guarded(main, "lfbm_table4.py default_change")
