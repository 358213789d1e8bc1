"""Latent-flow paper, Table 4 (digit 4): AUPRC of the fast MNIST schedule
(configs/lfbm-mcmc-mnist.yaml) over seeds 1-3, per scoring-step count, from the per-seed result
files; writes experiments/results/anomaly-lfbm-mcmc-mnist-h4-fast400-summary.json.

    python experiments/lfbm_table4.py fast_schedule_seeds

Seed 1 and seed 2 were trained with this schedule before its scoring length became 400 steps;
their saved checkpoints were re-scored on the full test split with 400 steps (genflows score RUN
--set anomaly.score_steps=400; results/score-...-seed{1,2}-400.json). Seed 3 ran the whole protocol with 400 steps
(results/anomaly-...-fast400-seed3.json; its run folder is read from experiments/runs/fast-seed3/).
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

R = Path(__file__).resolve().parents[1] / "results"


def main() -> None:
    per_seed = {}
    for seed in (1, 2):
        d = json.loads((R / f"score-lfbm-mcmc-mnist-h4-fast-seed{seed}-400.json").read_text())
        per_seed[seed] = {int(k): v for k, v in d["auprc_at_steps"].items()}
    m = json.loads((Path(__file__).resolve().parents[1] / "runs" / "fast-seed3" / "metrics.json").read_text())
    per_seed[3] = {int(k): v for k, v in m["auprc_at_steps"].items()}
    steps = sorted(set.intersection(*(set(v) for v in per_seed.values())))
    table = {s: [per_seed[k][s] for k in sorted(per_seed)] for s in steps}
    out = {
        "date": time.strftime("%Y-%m-%d"),
        "what": "MNIST holdout 4, LFBM-MCMC, configs/lfbm-mcmc-mnist.yaml (lr 1e-3, 4 epochs, bf16 chains), full test split",
        "seeds": sorted(per_seed),
        "auprc_at_steps": {str(s): {"values": v, "mean": statistics.fmean(v), "sd": statistics.stdev(v)} for s, v in table.items()},
        "seed3_train_seconds": m["train_seconds"],
        "seed3_score_seconds_400": m["score_seconds"],
    }
    (R / "anomaly-lfbm-mcmc-mnist-h4-fast400-summary.json").write_text(json.dumps(out, indent=2))
    print("| scoring steps | " + " | ".join(f"seed {k}" for k in sorted(per_seed)) + " | mean ± sd |")
    print("|---|" + "---|" * len(per_seed) + "---|")
    for s, v in table.items():
        print(f"| {s} | " + " | ".join(f"{x:.3f}" for x in v) + f" | {statistics.fmean(v):.3f} ± {statistics.stdev(v):.3f} |")


if __name__ == "__main__":
    main()
