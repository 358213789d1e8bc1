"""Latent-flow paper, Table 4: what the reference code's leaky split and train-mode BatchNorm add to AUPRC.

    python experiments/lfbm_table4.py reference_protocol RUN_DIR [--leak 0.37] [--steps 20,25,30]
    python experiments/lfbm_table4.py reference_protocol RUN_DIR --bn-train [--shuffle] [--batch 100] [--leak 0.37]
    ... [--subset 2000]   # only the anomaly task's fixed subset (anomaly.score_subset) of the test split
    ... [--scoring-seed 101]  # another draw of the leaked images, the shuffled order and the chain starts

The latent-flow paper's reference code rebuilt its anomaly split after other code had used the
global numpy RNG, so 37 % of its "test" normals were training images. A model scores
images it was trained on as more normal, which raises AUPRC. This script scores one trained run
both ways with the same model, chains and step counts:

  clean  the MEG split of ``genflows.data.anomaly_split`` (what every genflows number uses);
  leaky  the same test set with a random ``--leak`` fraction of its normals replaced by
         training images (the anomalies are unchanged, so the anomaly fraction is too).

Every image is scored once (eval mode: an image's score does not depend on the others), and the
two AUPRCs are computed from the same scores, so their difference is the leak alone.

``--bn-train`` measures the reference code's other scoring difference instead: BatchNorm in
training mode (batch statistics; running statistics left untouched), so an image's score depends
on the rest of its scoring batch. It scores the clean test split in its stored order (normals,
then every anomaly: most batches are all-normal or all-anomalous) or, with ``--shuffle``, in a
random order. ``--bn-train --shuffle --batch 100 --leak 0.37`` is the reference code's scoring
whole: the leaky test set, shuffled, in train-mode batches of 100 (only that set is scored, so
the result has no clean AUPRC).

``--scoring-seed S`` re-scores the same checkpoint with another draw of everything the scoring
itself draws: which normals are swapped for which training images, the shuffled order, and the
chains' starting noise. Without it the draws are the fixed ones every recorded result used (leak
from seed 0, order from seed 1, chains from the run's training seed), so those stay reproducible;
the spread over scoring seeds is what re-scoring one model can move the AUPRC by.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from genflows._runtime.batch_store import BatchStore
from genflows.data import load_anomaly_split
from genflows.errors import GenflowsError, guarded
from genflows.langevin import frozen
from genflows.metrics import auprc
from genflows.runner import load_model
from genflows.tasks.anomaly import anomaly_scores


def _batchnorm_in_train_mode(model) -> None:
    """Make ``model.eval()`` leave BatchNorm layers normalising with batch statistics (run the
    scoring under :func:`genflows.langevin.frozen` so their running statistics stay unchanged)."""
    plain_eval = model.eval

    def eval_keeping_batch_stats():
        plain_eval()
        for m in model.modules():
            if isinstance(m, _BatchNorm):
                m.train()
        return model

    model.eval = eval_keeping_batch_stats


def rescore(run_dir: str, checkpoint: str = "checkpoint.pt", *, leak: float = 0.37, steps=(20, 25, 30),
            bn_train: bool = False, shuffle: bool = False, batch: int | None = None, subset: int = 0,
            threads: int = 2, scoring_seed: int | None = None, store: str | Path | None = None,
            data_root: str | None = None) -> dict:
    """Score one checkpoint of a run under the reference code's conditions; the result's ``clean``
    and ``leaky`` hold AUPRC per scoring step. In eval mode every test image and every leaked
    training image is scored once, so both labellings come from the same scores. With
    ``bn_train`` an image's score depends on its batch, so only the set the reference code scored
    (the leaky one when ``leak`` > 0, else the clean one) is scored and labelled. ``store``: a
    file that keeps the finished batches, so an interrupted call resumes (the caller removes it);
    ``data_root``: where the data is on this machine (default: where the run was trained)."""
    torch.set_num_threads(threads)
    cfg, model = load_model(run_dir, checkpoint)
    batch = batch or cfg.anomaly.score_batch_size
    if bn_train:
        _batchnorm_in_train_mode(model)
    split = load_anomaly_split(cfg.data.name, cfg.data.holdout, cfg.data.protocol, data_root or cfg.data.root)
    if subset:  # the same images, in the same order, as the anomaly task's score_subset
        keep = torch.from_numpy(np.random.RandomState(0).permutation(len(split.test))[:subset])
        split = dataclasses.replace(split, test=split.test[keep], test_is_anomaly=split.test_is_anomaly[keep])
    is_anom = split.test_is_anomaly.numpy()
    normal_pos = np.flatnonzero(~is_anom)
    # the recorded results' fixed draws, or all three from the scoring seed
    leak_seed, order_seed, chain_seed = ((0, 1, cfg.train.seed) if scoring_seed is None
                                         else (scoring_seed, scoring_seed + 1, scoring_seed))
    rng = np.random.RandomState(leak_seed)
    n_leak = int(round(leak * len(normal_pos)))
    replaced = rng.choice(normal_pos, n_leak, replace=False)  # test normals swapped out
    from_train = rng.choice(len(split.train), n_leak, replace=False)  # training images swapped in
    n_test = len(split.test)
    kept = np.ones(n_test, bool)
    kept[replaced] = False
    labels_leaky = np.concatenate([is_anom[kept], np.zeros(n_leak, bool)])
    # batch-dependent scores: the replaced normals must not share batches with the leaked images
    scored_test = np.flatnonzero(kept) if bn_train and n_leak else np.arange(n_test)
    images = torch.cat([split.test[torch.from_numpy(scored_test)], split.train[from_train]])
    if bn_train and len(images) % batch == 1:
        raise GenflowsError(f"{len(images)} images in batches of {batch} leave a last batch of one, which "
                            "train-mode BatchNorm cannot normalise; choose another --batch")
    order = np.random.RandomState(order_seed).permutation(len(images)) if shuffle else np.arange(len(images))
    images = images[torch.from_numpy(order)]

    steps = sorted(int(s) for s in steps)
    t0 = time.perf_counter()
    with frozen(model) if bn_train else contextlib.nullcontext():
        final, partial = anomaly_scores(model, images, steps[-1], cfg.anomaly.score_step_size, batch,
                                        seed=chain_seed, record=tuple(steps[:-1]), store=store)
    # with a store, the batches' own times: those an interrupted earlier process scored count too
    by_machine = BatchStore.machines(store) if store is not None else None
    secs = sum(by_machine.values()) if by_machine is not None else time.perf_counter() - t0
    back = np.argsort(order)  # scores back in the order they were stacked
    scores = {**{k: v.numpy()[back] for k, v in partial.items()}, steps[-1]: final.numpy()[back]}

    n_from_test = len(scored_test)
    res = {"run_dir": str(run_dir), "checkpoint": checkpoint, "bn_train": bn_train, "shuffle": shuffle,
           "batch": batch, "subset": subset, "leak": leak, "scoring_seed": scoring_seed, "n_test": n_test, "n_leaked": n_leak,
           "n_scored": len(images), "seconds": secs, "machines": by_machine,
           "chain_dtype": model.chain_dtype(next(model.parameters()).device), "clean": {}, "leaky": {},
           "mean_score": {"test_normals": float(scores[steps[-1]][:n_from_test][~is_anom[scored_test]].mean()),
                          "train_images": float(scores[steps[-1]][n_from_test:].mean()) if n_leak else None,
                          "anomalies": float(scores[steps[-1]][:n_from_test][is_anom[scored_test]].mean())}}
    for k, s in scores.items():
        if n_from_test == n_test:
            res["clean"][str(k)] = auprc(is_anom, s[:n_test])["auprc"]
            res["leaky"][str(k)] = auprc(labels_leaky, np.concatenate([s[:n_test][kept], s[n_test:]]))["auprc"]
        else:  # only the leaky set was scored
            res["leaky"][str(k)] = auprc(labels_leaky, s)["auprc"]
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("--checkpoint", default="checkpoint.pt")
    ap.add_argument("--leak", type=float, default=None,
                    help="fraction of test normals replaced by training images (default 0.37; 0 with --bn-train)")
    ap.add_argument("--steps", default="20,25,30")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bn-train", action="store_true", help="score with BatchNorm in training mode (the reference code's way)")
    ap.add_argument("--shuffle", action="store_true", help="with --bn-train: score the test images in a random order")
    ap.add_argument("--batch", type=int, default=None, help="scoring batch size (the reference code: 100; default: the run's anomaly.score_batch_size)")
    ap.add_argument("--subset", type=int, default=0, help="score the anomaly task's fixed N-image subset of the test split (anomaly.score_subset); 0: all")
    ap.add_argument("--scoring-seed", type=int, default=None,
                    help="draw the leaked images, the order and the chain starts from this seed (default: the recorded fixed draws)")
    ap.add_argument("--out", default=None, help="also write the JSON result here")
    args = ap.parse_args()
    leak = args.leak if args.leak is not None else (0.0 if args.bn_train else 0.37)
    if not 0 <= leak <= 1:
        raise GenflowsError(f"--leak must be in [0, 1], got {leak}")
    if args.subset < 0:
        raise GenflowsError(f"--subset must be >= 0, got {args.subset}")
    if args.scoring_seed is not None and not 0 <= args.scoring_seed < 2**32 - 1:
        raise GenflowsError(f"--scoring-seed must be in [0, 2**32 - 2], got {args.scoring_seed}")
    if args.batch is not None and args.batch < 1:
        raise GenflowsError(f"--batch must be >= 1, got {args.batch}")
    res = rescore(args.run_dir, args.checkpoint, leak=leak, steps=args.steps.split(","), bn_train=args.bn_train,
                  shuffle=args.shuffle, batch=args.batch, subset=args.subset, threads=args.threads,
                  scoring_seed=args.scoring_seed)
    print(json.dumps(res))
    if args.out:
        from genflows._runtime.io import write_json

        write_json(args.out, res)


if __name__ == "__main__":
    guarded(main, "lfbm_table4.py reference_protocol")
