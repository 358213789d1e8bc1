"""Unsupervised anomaly detection on MNIST-type data (latent-flow paper Section 4.4, Table 4).

Train on normal digits only, then score each test image by the model's own anomaly scores
(:meth:`~genflows.interface.GenerativeModel.anomaly_scores`): a latent model's -log p(x, z*)
(:meth:`genflows.model.LatentModel.anomaly_scores`), a data-space model's energy -f_theta(x)
and its flow's -log q_alpha(x) (:meth:`genflows.coopflow.CoopFlow.anomaly_scores`). Higher = more
anomalous; AUPRC with the held-out digit as the positive class, for every score the model has;
``anomaly.score`` names the headline one (default: the model's first).
"""

from __future__ import annotations

import csv
import inspect
import io
import time
from pathlib import Path

import numpy as np
import torch

from ..data import load_anomaly_split
from ..errors import GenflowsError
from ..metrics import auprc
from .._runtime import distributed as dist
from .._runtime.batch_store import SUFFIX, BatchStore, add_seconds
from .._runtime.output import RunDir, pyplot
from ._evaluate import machine, sample_batched
from ._fit import prepare, train

__all__ = ["anomaly_scores", "run", "HEADLINE"]

# The anomaly fraction is AUPRC's chance level: it differs between protocols (MNIST digit 4: 0.35
# under meg, 0.098 under mnist-test), so it is printed beside every AUPRC.
HEADLINE = ("auprc", "anomaly_fraction", "average_precision", "train_seconds", "score_seconds")
# Summarised over seeds per key: the AUPRC of each of the model's scores.
GROUPS = ("auprc_by_score",)
# What the model must implement (genflows.interface.OPTIONAL, or masked_training).
NEEDS = ("anomaly_scores",)
VALIDATION_FID = False


def anomaly_scores(
    model,
    x: torch.Tensor,
    n_steps: int,
    step_size: float,
    batch_size: int = 500,
    seed: int = 0,
    record: tuple[int, ...] = (),
    progress: bool = False,
    kind: str | None = None,
    store: str | Path | None = None,
) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
    """The model's own anomaly score ``kind`` of every image
    (:meth:`~genflows.interface.GenerativeModel.anomaly_scores`), plus the same score after each
    step count in ``record``; ``store``: where finished batches are kept for a resumed call."""
    # models written before ``store`` still score, only without resuming
    extra = {"store": store} if store is not None and "store" in inspect.signature(model.anomaly_scores).parameters else {}
    return model.anomaly_scores(x, n_steps, step_size, batch_size=batch_size, seed=seed, record=record, progress=progress, kind=kind,
                                **extra)


def score_table(names: list[str], is_anomaly: np.ndarray, scores: dict[str, torch.Tensor], main: str) -> str:
    """CSV of every test image (its file, or its index in the dataset), most anomalous first by
    the headline score ``main``, with every score the model has."""
    order = np.argsort(-scores[main].numpy(), kind="stable")
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["rank", "file" if not names or not names[0].isdigit() else "index", "is_anomaly", *scores])
    for rank, i in enumerate(order, 1):
        w.writerow([rank, names[i], int(is_anomaly[i]), *(f"{float(v[i]):.6g}" for v in scores.values())])
    return buf.getvalue()


def _hold_out(train_x: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(training images, validation images): ``n`` normals drawn by a fixed permutation, the
    rest kept in their order (``n = 0``: no validation split)."""
    if not n:
        return train_x, None
    if n >= train_x.shape[0]:
        raise GenflowsError(f"anomaly.val_size={n} leaves no training images (the split has {train_x.shape[0]})")
    keep = np.random.RandomState(1).permutation(train_x.shape[0])
    val = torch.from_numpy(np.sort(keep[:n]))
    rest = torch.from_numpy(np.sort(keep[n:]))
    return train_x[rest], train_x[val]


def _pr_figure(precision, recall, title: str):
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot(recall, precision)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    return fig


def run(cfg, out: RunDir, progress: bool = False, device: torch.device | str = "cpu", log=None) -> dict:
    """Train ``cfg.model`` on the normal split and score the test split; returns metrics."""
    split = load_anomaly_split(cfg.data.name, cfg.data.holdout, cfg.data.protocol, cfg.data.root, cfg.data.download,
                               cfg.data.image_size, cfg.data.test_folder)
    acfg = cfg.anomaly
    seed = cfg.train.seed

    model, trainer = prepare(cfg, out, progress, device, log)
    kinds = model.anomaly_kinds(model.mode)
    main = acfg.score or kinds[0]
    train_x = split.train[: cfg.data.train_size] if cfg.data.train_size else split.train  # CPU budgets: the first N
    train_x, val_x = _hold_out(train_x, acfg.val_size)
    if val_x is not None:  # the tracked AUPRC is on test images, so it only ever records, never selects
        trainer.select = ("val_score", "min")

    # Fixed test subset for AUPRC-per-epoch tracking (same images every epoch).
    sub = np.random.RandomState(0).permutation(len(split.test))[: acfg.track_subset]
    track_x, track_y = split.test[sub], split.test_is_anomaly[sub].numpy()

    def timed_scores(x: torch.Tensor) -> tuple[torch.Tensor, float]:
        t0 = time.perf_counter()
        s, _ = anomaly_scores(model, x, acfg.track_steps, acfg.score_step_size, acfg.score_batch_size, seed=seed, kind=main)
        return s, time.perf_counter() - t0

    def on_epoch_end(epoch: int, record: dict) -> dict | None:
        extra = {}
        if val_x is not None:
            s, sec = timed_scores(val_x)
            extra.update(val_score=float(s.mean()), val_seconds=sec)
        if acfg.track_every and epoch % acfg.track_every == 0:
            s, sec = timed_scores(track_x)
            extra.update(track_auprc=auprc(track_y, s.numpy())["auprc"], track_seconds=sec)
        return extra or None

    history, train_seconds = train(cfg, trainer, out, train_x, on_epoch_end=on_epoch_end, log=log)

    # anomaly.score_subset: a fixed random subset of the test split (the tracking subset's order).
    test_x, test_y, test_index = split.test, split.test_is_anomaly.numpy(), split.test_index
    if acfg.score_subset:
        keep = np.random.RandomState(0).permutation(len(split.test))[: acfg.score_subset]
        test_x, test_y, test_index = test_x[keep], test_y[keep], test_index[keep]

    score_seed = seed if acfg.score_seed is None else acfg.score_seed
    all_scores, partial, score_seconds, stores, score_machines = {}, {}, 0.0, [], {}
    for kind in [main, *(k for k in kinds if k != main)]:
        # An interrupted scoring resumes from its finished batches (rank 0's share under torchrun);
        # the store's own batch times count the batches an earlier process scored.
        store = out.file(f"scoring-{kind}{SUFFIX}") if dist.is_main() and model.anomaly_chain else None
        t1 = time.perf_counter()
        all_scores[kind], recorded = anomaly_scores(
            model, test_x, acfg.score_steps, acfg.score_step_size, acfg.score_batch_size, seed=score_seed,
            record=tuple(acfg.score_checkpoints), progress=progress, kind=kind, store=store,
        )
        stored = BatchStore.machines(store) if store is not None else None
        score_seconds += sum(stored.values()) if stored is not None else time.perf_counter() - t1
        add_seconds(score_machines, stored)
        stores += [store] if store is not None else []
        partial = partial or recorded
    scores = all_scores[main]

    y = test_y
    res = auprc(y, scores.numpy())
    metrics = {
        "model": cfg.model,
        "task": "anomaly",
        "data": cfg.data.name,
        "holdout": cfg.data.holdout,
        "protocol": cfg.data.protocol,
        "seed": seed,
        "score_seed": score_seed,
        "score": main,
        "auprc": res["auprc"],
        "average_precision": res["average_precision"],
        "anomaly_fraction": res["anomaly_fraction"],
        "auprc_by_score": {k: auprc(y, v.numpy())["auprc"] for k, v in all_scores.items()},
        # Chain scores only: the headline score after fewer steps of the same chains.
        "auprc_at_steps": {**{str(k): auprc(y, v.numpy())["auprc"] for k, v in partial.items()}, str(acfg.score_steps): res["auprc"]} if model.anomaly_chain else {},
        "epochs": len(history),
        "collapsed_epochs": [h["epoch"] for h in history if h.get("collapsed")],  # generator loss near the mean image's
        "iterations": trainer.iteration,
        "train_seconds": train_seconds,
        "score_seconds": score_seconds,
        "score_machines": score_machines,  # those seconds per machine, where a resumed pass finished on another
        "n_train": int(train_x.shape[0]),
        "n_val": 0 if val_x is None else int(val_x.shape[0]),
        "val_best_epoch": trainer.best_epoch if val_x is not None else None,  # the AUPRC above is the last epoch's; score this one with --checkpoint best
        "n_test": int(test_x.shape[0]),
        **machine(model, device),
        "train_machines": trainer.machines,  # one entry per stretch of epochs trained on one machine
        "history": history,
    }
    buf = np.stack([scores.numpy(), y.astype(np.float32), *(v.numpy() for v in all_scores.values())], 1)
    out.json("scores.json", {"columns": ["score", "is_anomaly", *all_scores], "test_index": test_index.tolist(), "rows": buf.tolist()})
    names = [split.test_files[i] for i in test_index] if split.test_files else [str(i) for i in test_index]
    out.text("scores.csv", score_table(names, y, all_scores, main))
    out.figure("pr_curve.png", _pr_figure(res["precision"], res["recall"], f"{cfg.model} holdout {cfg.data.holdout}: AUPRC {res['auprc']:.3f}"))
    out.image_grid("samples.png", sample_batched(model, 64, seed=seed))
    out.json("metrics.json", metrics)  # last: it marks the seed finished, so a kill before it redoes only these files
    for store in stores:  # the scores are saved: the finished batches are no longer needed
        store.unlink(missing_ok=True)
    if trainer.watcher is not None:
        trainer.watcher.anomaly(scores.numpy(), y, trainer.iteration)
    return metrics
