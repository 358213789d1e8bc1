"""Train an existing anomaly run folder for more epochs, keeping one checkpoint per epoch
(for the epochs study; score an epoch with genflows score RUN --checkpoint epoch E).

    python bench/extend_training.py bench/runs/explore-h4-s1 --epochs 12

Continues from the folder's checkpoint.pt with its model, optimiser, scheduler and data order;
the learning-rate decay is per epoch, so epoch E here is the epoch-E model of a run that was
asked for E epochs from the start. (Checkpoints written before the RNG state was stored resume
with a fresh Langevin-noise stream: statistically the same run, not bitwise.)
"""

from __future__ import annotations

import argparse
import dataclasses

import torch

from genflows.data import anomaly_split, load_dataset
from genflows.errors import guarded
from genflows.io import load_checkpoint
from genflows.output import RunDir
from genflows.runner import load_model
from genflows.trainer import Trainer


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir")
    ap.add_argument("--epochs", type=int, required=True)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg, model = load_model(args.run_dir)
    train_cfg = dataclasses.replace(cfg.train, keep_checkpoints=True)
    x, y = load_dataset(cfg.data.name, cfg.data.root)
    split = anomaly_split(x, y, cfg.data.holdout)
    trainer = Trainer(model, train_cfg, prior_lr=cfg.prior.lr, progress=False)
    trainer.load_state_dict(load_checkpoint(f"{args.run_dir}/checkpoint.pt"))
    print(f"continuing {args.run_dir} from epoch {trainer.epoch} to {args.epochs}", flush=True)
    trainer.fit(split.train, args.epochs, checkpoint=RunDir(args.run_dir).file("checkpoint.pt"), log=lambda m: print(m, flush=True))


if __name__ == "__main__":
    guarded(main, "extend_training")
