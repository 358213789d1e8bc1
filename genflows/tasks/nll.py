"""Likelihood (EBFlow paper Section 5.2, Table 2; the flow papers' bits/dim): train, then the exact
negative log-likelihood of the test set in nats per example and in bits per dimension, for every
model with a normalised density (:meth:`~genflows.interface.GenerativeModel.log_likelihood`).

Images count the way the papers do: the 8-bit pixels u8 are dequantised by one uniform draw,
u8 + U[0, 1), and the density is that of the pixel values on [0, 256)^D, every preprocessing
log-determinant (scaling, logit) included, so bits/dim = NLL / (D ln 2). The NLL is also measured
every ``eval.nll_every`` epochs, the same dequantisation draws each time, and drawn against epochs
and against training seconds (``nll.png``): the curve that compares objectives at equal wall time.
"""

from __future__ import annotations

import math
import time

import torch

from .._runtime.output import RunDir, pyplot
from .._runtime.rng import seeded
from ._evaluate import machine
from ._fit import n_epochs, prepare, run_data, train

__all__ = ["run", "test_nll", "HEADLINE"]

HEADLINE = ("nll", "bits_per_dim", "train_seconds")
# What the model must implement (genflows.interface.OPTIONAL, or masked_training).
NEEDS = ("log_likelihood",)
VALIDATION_FID = False


def test_nll(model, x: torch.Tensor, batch_size: int = 500, seed: int = 0) -> dict:
    """Mean NLL of ``x`` in nats per example and in bits/dim (eval mode, the dequantisation drawn
    under ``seed``, so two calls on one model agree)."""
    device = next(model.parameters()).device
    dim = math.prod(x.shape[1:])
    with seeded(seed, device):
        ll = model.score_rows(x, model.log_likelihood, batch_size)
    nll = -float(ll.double().mean())
    return {"nll": nll, "bits_per_dim": nll / (dim * math.log(2))}


def nll_figure(history: list[dict], title: str):
    plt = pyplot()
    rows = [h for h in history if "test_nll" in h]
    seconds, total = [], 0.0
    for h in history:
        total += h["seconds"]
        if "test_nll" in h:
            seconds.append(total)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, xs, label in ((axes[0], [h["epoch"] for h in rows], "epoch"), (axes[1], seconds, "training seconds")):
        ax.plot(xs, [h["test_nll"] for h in rows], marker="o", ms=3)
        ax.set_xlabel(label)
        ax.set_ylabel("test NLL (nats)")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def run(cfg, out: RunDir, progress: bool = False, device: torch.device | str = "cpu", log=None) -> dict:
    train_x, test_x = run_data(cfg)
    e = cfg.eval
    x = test_x[: e.nll_n] if e.nll_n else test_x
    seed = cfg.train.seed
    model, trainer = prepare(cfg, out, progress, device, log)
    last = n_epochs(cfg)

    def hook(epoch: int, record: dict) -> dict | None:
        if epoch != last and (not e.nll_every or epoch % e.nll_every):
            return None
        r = test_nll(trainer.model, x, e.batch_size, seed)
        return {"test_nll": r["nll"], "test_bits_per_dim": r["bits_per_dim"]}

    history, train_seconds = train(cfg, trainer, out, train_x, on_epoch_end=hook, log=log)
    t0 = time.perf_counter()
    result = test_nll(model, x, e.batch_size, seed)
    metrics = {
        "model": cfg.model,
        "task": "nll",
        "data": cfg.data.name,
        "seed": seed,
        **result,
        "density": model.likelihood_of,
        "dequantization": "one uniform draw per pixel, density on [0, 256)^D" if x.dim() == 4 else "none (continuous data)",
        "n_test": int(x.shape[0]),
        "dim": math.prod(x.shape[1:]),
        "nll_seconds": time.perf_counter() - t0,
        "epochs": len(history),
        "iterations": trainer.iteration,
        "n_train": int(train_x.shape[0]),
        "train_seconds": train_seconds,
        **machine(model, device),
        "history": history,
    }
    title = f"{cfg.model} on {cfg.data.name}: test NLL {result['nll']:.1f} nats ({result['bits_per_dim']:.3f} bits/dim)"
    out.figure("nll.png", nll_figure(history, title))
    out.json("metrics.json", metrics)  # last: a rerun skips a seed whose metrics.json exists
    if log:
        log(title)
    return metrics
