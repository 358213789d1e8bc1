"""Reconstruction: infer the latent variable of test images and report the per-pixel MSE.

Latent models (latent-flow paper Section 4.2, Table 3): z*, then g_beta(z*). Langevin models: a
longer noise-free run (``eval.steps``); VAE models: the encoder mean, then ``eval.refine_steps``
optional Langevin refinement steps. Data-space models (CoopFlow Section 5.3, A.8, Table 7):
x_hat* = argmin ||x - F_theta(x_hat)||^2 from a flow sample, then F_theta(x_hat*); the MSE after
every 10 optimisation steps is kept (Figure 13). Under ``eval.recon_protocol=paper`` (the CoopFlow
default) the MSE is in the authors' unit, the squared error summed over channels / (H W): three
times the per-value mean on RGB images, the same on greyscale."""

from __future__ import annotations

import time

import torch

from .._runtime.output import RunDir
from ..metrics import pixel_mse
from ._evaluate import machine
from ._fit import fit, run_data

__all__ = ["run", "HEADLINE", "reconstruction_mse"]

HEADLINE = ("mse", "train_seconds")
# What the model must implement (genflows.interface.OPTIONAL, or masked_training).
NEEDS = ("reconstruct_batched", "lossy_reconstruction")
VALIDATION_FID = True  # eval.val_fid_every applies (it trains through tasks._fit.fit on images)


def reconstruction_mse(x: torch.Tensor, x_hat: torch.Tensor, protocol: str | None) -> tuple[torch.Tensor, str]:
    """Per-image error in the unit of ``eval.recon_protocol``, and that unit's name."""
    mse = pixel_mse(x, x_hat)
    if protocol == "paper":  # the authors' unit (test_recons.py): squared error summed over channels / (H W)
        return mse * x.shape[1], "squared error summed over channels / (H W), pixels in [-1, 1] (the CoopFlow paper's unit)"
    return mse, "mean squared error over C H W, pixels in [-1, 1]"


def run(cfg, out: RunDir, progress: bool = False, device: torch.device | str = "cpu", log=None) -> dict:
    train_x, test_x = run_data(cfg)
    model, trainer, history, train_seconds = fit(cfg, out, train_x, progress=progress, device=device, log=log)
    e, seed = cfg.eval, cfg.train.seed
    x = test_x[: e.n_test] if e.n_test else test_x
    t0 = time.perf_counter()
    x_hat, curve, how = model.reconstruct_batched(x, None, e, seed, progress=progress)
    secs = time.perf_counter() - t0
    mse, unit = reconstruction_mse(x, x_hat, e.recon_protocol)
    metrics = {
        "model": cfg.model,
        "task": "reconstruction",
        "data": cfg.data.name,
        "seed": seed,
        "mse": float(mse.mean()),
        "mse_unit": unit,
        "mse_01": float(mse.mean()) / 4,  # the same error on the [0, 1] pixel scale
        "n_test": int(x.shape[0]),
        "inference": how,
        **({"mse_curve": curve} if curve else {}),  # (optimisation step, mean per-pixel MSE)
        "epochs": len(history),
        "iterations": trainer.iteration,
        "selected_epoch": trainer.best_epoch if cfg.eval.val_fid_every else None,  # model selection by validation FID
        "n_train": int(train_x.shape[0]),
        "train_seconds": train_seconds,
        "eval_seconds": secs,
        **machine(model, device),
        "history": history,
    }
    out.json("metrics.json", metrics)
    k = min(32, x.shape[0])
    out.image_grid("reconstructions.png", torch.stack([x[:k], x_hat[:k]], 1).flatten(0, 1), nrow=16)  # pairs: original, reconstruction
    if log:
        log(f"reconstruction MSE {metrics['mse']:.5f}, {unit} ({metrics['inference']})")
    return metrics
