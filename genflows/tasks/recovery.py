"""Unsupervised recovery (latent-flow paper Section 4.6, Tables 5-6; Han et al. 2017): the
training images themselves are incomplete, each with a fixed mask (salt-and-pepper at a given
fraction, or one square at a random place). Training maximises the likelihood of the visible
pixels only. Every ``eval.track_every`` epochs and after the last, the hidden pixels of (a fixed
subset of) the training images are recovered from g_beta(z*), z* inferred from the visible
pixels, and scored by MSE against the true pixels; at the end, FID of samples from the model learned on incomplete data."""

from __future__ import annotations

import time

import torch

from ..data.masks import make_masks
from .._runtime.output import RunDir
from ._evaluate import check_fid, machine, model_fid, sample_batched
from ._fit import n_epochs, prepare, run_data, train
from ..metrics import pixel_mse

__all__ = ["run", "HEADLINE", "mask_label"]

HEADLINE = ("mse", "fid", "train_seconds")
# What the model must implement (genflows.interface.OPTIONAL, or masked_training).
NEEDS = ("reconstruct_batched", "masked_training")
VALIDATION_FID = False

check = check_fid  # runner hook: fail before training when FID weights are missing


def mask_label(m, image_shape) -> str:
    from ..data.masks import default_square

    return f"pepper {m.fraction:.0%}" if m.kind == "pepper" else f"{m.kind} {m.size or default_square(image_shape)}"


def run(cfg, out: RunDir, progress: bool = False, device: torch.device | str = "cpu", log=None) -> dict:
    train_x, test_x = run_data(cfg)
    e, m, seed = cfg.eval, cfg.mask, cfg.train.seed
    shape = tuple(train_x.shape[1:])
    masks = make_masks(train_x.shape[0], shape, m.kind, m.size, m.fraction, m.seed, corner=m.corner).bool()
    # The model never sees hidden pixels: zero them in the data it trains on, too.
    seen = train_x * masks
    n_eval = min(e.n_test or train_x.shape[0], train_x.shape[0])
    ex, em = train_x[:n_eval], masks[:n_eval].float()

    model, trainer = prepare(cfg, out, progress, device, log)

    def recover() -> tuple[torch.Tensor, str]:
        x_hat, _, how = model.reconstruct_batched(seen[:n_eval], em, e, seed)
        return em * ex + (1 - em) * x_hat, how

    last = n_epochs(cfg)

    def on_epoch_end(epoch: int, record: dict) -> dict | None:
        # Every eval.track_every epochs; the last epoch's value is the final evaluation below.
        if not e.track_every or epoch % e.track_every or epoch >= last:
            return None
        t0 = time.perf_counter()
        mse = float(pixel_mse(ex, recover()[0], 1 - em).mean())
        return {"recovery_mse": mse, "eval_seconds": time.perf_counter() - t0}

    history, train_seconds = train(cfg, trainer, out, seen, masks, on_epoch_end, log)
    t0 = time.perf_counter()
    recovered, how = recover()
    mse = float(pixel_mse(ex, recovered, 1 - em).mean())
    if history:
        history[-1].update({"recovery_mse": mse, "eval_seconds": time.perf_counter() - t0})
    metrics = {
        "model": cfg.model,
        "task": "recovery",
        "data": cfg.data.name,
        "seed": seed,
        "mse": mse,  # hidden pixels of the training images, [-1, 1] scale
        "mse_01": mse / 4,
        "mask": {"kind": m.kind, "size": m.size, "fraction": m.fraction, "label": mask_label(m, shape),
                 "hidden_fraction": float(1 - masks.float().mean())},
        "n_eval": n_eval,
        "fid": None,
        "fid_n": 0,
        "inference": how,
        "epochs": len(history),
        "iterations": trainer.iteration,
        "n_train": int(train_x.shape[0]),
        "train_seconds": train_seconds,
        **machine(model, device),
        "history": history,
    }
    if e.fid_n:
        metrics.update(model_fid(model, train_x if e.fid_ref == "train" else test_x, e.fid_n, seed=seed, batch_size=e.batch_size, log=log, ref=e.fid_ref))
    out.json("metrics.json", metrics)
    k = min(16, n_eval)
    out.image_grid("recovery.png", torch.stack([ex[:k], (em * ex)[:k], recovered[:k]], 1).flatten(0, 1), nrow=12)
    out.image_grid("samples.png", sample_batched(model, 64, seed=seed))
    if log:
        log(f"recovery MSE {mse:.5f} per hidden pixel on [-1, 1] ({metrics['mask']['label']})")
    return metrics
