"""Interpolation: infer latent codes for two test images and decode the straight line between
them; one row per pair, ends included.

Latent models (latent-flow paper Figure 5): z* by Langevin, frames g_beta(z). Data-space models
(CoopFlow Section 5.4, Figure 6): x_hat* by reconstruction, z* = g_alpha^{-1}(x_hat*), frames
through the whole two-flow generator F_theta(g_alpha(z))."""

from __future__ import annotations

import torch

from .._runtime.output import RunDir
from ._evaluate import machine
from ._fit import fit, run_data
from ..metrics import pixel_mse

__all__ = ["run", "HEADLINE", "interpolate"]

HEADLINE = ("end_mse", "train_seconds")
# What the model must implement (genflows.interface.OPTIONAL, or masked_training).
NEEDS = ("encode_batched", "decode_batched")
VALIDATION_FID = True  # eval.val_fid_every applies (it trains through tasks._fit.fit on images)


def interpolate(z_a: torch.Tensor, z_b: torch.Tensor, n_points: int) -> torch.Tensor:
    """(pairs, n_points, nz): z_a + t (z_b - z_a) for t evenly spaced in [0, 1]."""
    t = torch.linspace(0, 1, n_points).view(1, -1, 1)
    return z_a.unsqueeze(1) + t * (z_b - z_a).unsqueeze(1)


def run(cfg, out: RunDir, progress: bool = False, device: torch.device | str = "cpu", log=None) -> dict:
    train_x, test_x = run_data(cfg)
    model, trainer, history, train_seconds = fit(cfg, out, train_x, progress=progress, device=device, log=log)
    e, seed = cfg.eval, cfg.train.seed
    n = min(2 * e.interp_pairs, test_x.shape[0] - test_x.shape[0] % 2)
    x = test_x[:n]
    points = e.interp_points or model.interp_points
    z, how = model.encode_batched(x, e, seed, progress=progress)
    line = interpolate(z[0::2], z[1::2], points)
    frames = model.decode_batched(line.flatten(0, 1), e)
    ends = frames.view(n // 2, points, *frames.shape[1:])[:, [0, -1]].flatten(0, 1)
    order = torch.stack([x[0::2], x[1::2]], 1).flatten(0, 1)
    metrics = {
        "model": cfg.model,
        "task": "interpolation",
        "data": cfg.data.name,
        "seed": seed,
        "pairs": n // 2,
        "points": points,
        "end_mse": float(pixel_mse(order, ends).mean()),  # how well the ends reconstruct their images
        "inference": how,
        "epochs": len(history),
        "iterations": trainer.iteration,
        "selected_epoch": trainer.best_epoch if cfg.eval.val_fid_every else None,  # model selection by validation FID
        "train_seconds": train_seconds,
        **machine(model, device),
        "history": history,
    }
    out.json("metrics.json", metrics)
    out.image_grid("interpolation.png", frames, nrow=points)
    return metrics
