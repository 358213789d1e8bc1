"""Score a saved checkpoint of an anomaly run on (a fixed subset of) its test split.

    python bench/score_checkpoint.py RUN_DIR --checkpoint checkpoint-epoch3.pt --subset 2000 --steps 50,100,200,400

Used for the epochs x scoring-steps study in bench/README.md: a run trained for E epochs and
the same run's epoch-E checkpoint are the same model (the learning-rate decay is per epoch and
does not depend on the total), so one long run with per-epoch checkpoints answers "how many
epochs" without retraining.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from genflows.data import anomaly_split, load_dataset
from genflows.errors import guarded
from genflows.metrics import auprc
from genflows.runner import load_model
from genflows.tasks.anomaly import anomaly_scores


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir")
    ap.add_argument("--checkpoint", default="checkpoint.pt")
    ap.add_argument("--subset", type=int, default=0, help="0: the whole test split")
    ap.add_argument("--steps", default="50,100,200,400")
    ap.add_argument("--step-size", type=float, default=None)
    ap.add_argument("--autocast", choices=["config", "on", "off"], default="config")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg, model = load_model(args.run_dir, args.checkpoint)
    if args.autocast != "config":
        model.inference.autocast = args.autocast == "on"
    x, y = load_dataset(cfg.data.name, cfg.data.root)
    split = anomaly_split(x, y, cfg.data.holdout)
    test, lab = split.test, split.test_is_anomaly.numpy()
    if args.subset:
        sub = np.random.RandomState(0).permutation(len(test))[: args.subset]
        test, lab = test[sub], lab[sub]
    steps = sorted(int(s) for s in args.steps.split(","))
    t0 = time.perf_counter()
    final, partial = anomaly_scores(model, test, steps[-1], args.step_size or cfg.anomaly.score_step_size,
                                    cfg.anomaly.score_batch_size, seed=cfg.train.seed, record=tuple(steps[:-1]))
    secs = time.perf_counter() - t0
    res = {str(k): auprc(lab, v.numpy())["auprc"] for k, v in partial.items()}
    res[str(steps[-1])] = auprc(lab, final.numpy())["auprc"]
    print(json.dumps({"run_dir": args.run_dir, "checkpoint": args.checkpoint, "n": len(test), "autocast": model.inference.autocast,
                      "auprc_at_steps": res, "seconds": secs}))


if __name__ == "__main__":
    guarded(main, "score_checkpoint")
