"""Supervised inpainting (latent-flow paper Section 4.3, Figure 2): a model trained on complete
images completes test images whose masked region (default: the centre square, half the side)
is hidden. z* comes from Langevin on the masked posterior p(z | visible pixels), from
``eval.completions`` different starts, giving as many completions; MSE is over the hidden
pixels. VAE models infer by Langevin here too (an encoder cannot read a partial image).
Data-space models (CoopFlow Figure 5) optimise x_hat so that F_theta(x_hat) matches the visible
pixels, each completion from its own flow sample."""

from __future__ import annotations

import time

import torch

from ..data.masks import make_masks
from .._runtime.output import RunDir
from ._evaluate import machine
from ._fit import fit, run_data
from ..metrics import pixel_mse

__all__ = ["run", "HEADLINE", "complete"]

HEADLINE = ("mse", "train_seconds")
# What the model must implement (genflows.interface.OPTIONAL, or masked_training).
NEEDS = ("reconstruct_batched",)
VALIDATION_FID = True  # eval.val_fid_every applies (it trains through tasks._fit.fit on images)


def complete(model, x: torch.Tensor, mask: torch.Tensor, cfg_eval, seed: int, progress: bool = False) -> tuple[torch.Tensor, str]:
    """(completions, N, C, H, W): visible pixels kept, hidden ones from the model's reconstruction
    from each start; and how they were inferred."""
    outs = []
    for k in range(cfg_eval.completions):
        x_hat, _, how = model.reconstruct_batched(x, mask, cfg_eval, seed + k, progress=progress)
        outs.append(mask * x + (1 - mask) * x_hat)
    return torch.stack(outs), how


def run(cfg, out: RunDir, progress: bool = False, device: torch.device | str = "cpu", log=None) -> dict:
    train_x, test_x = run_data(cfg)
    model, trainer, history, train_seconds = fit(cfg, out, train_x, progress=progress, device=device, log=log)
    e, m, seed = cfg.eval, cfg.mask, cfg.train.seed
    x = test_x[: e.n_test] if e.n_test else test_x
    mask = make_masks(x.shape[0], tuple(x.shape[1:]), m.kind, m.size, m.fraction, m.seed, corner=m.corner)
    t0 = time.perf_counter()
    filled, how = complete(model, x, mask, e, seed, progress=progress)
    secs = time.perf_counter() - t0
    per = torch.stack([pixel_mse(x, f, 1 - mask) for f in filled])  # (completions, N)
    metrics = {
        "model": cfg.model,
        "task": "inpainting",
        "data": cfg.data.name,
        "seed": seed,
        "mse": float(per.mean()),  # over hidden pixels, images and completions, [-1, 1] scale
        "mse_01": float(per.mean()) / 4,
        "mse_best_completion": float(per.min(0).values.mean()),
        "mask": {"kind": m.kind, "size": m.size, "fraction": m.fraction, "corner": m.corner, "hidden_fraction": float(1 - mask.mean())},
        "completions": e.completions,
        "n_test": int(x.shape[0]),
        "inference": how,
        "epochs": len(history),
        "iterations": trainer.iteration,
        "selected_epoch": trainer.best_epoch if cfg.eval.val_fid_every else None,  # model selection by validation FID
        "train_seconds": train_seconds,
        "eval_seconds": secs,
        **machine(model, device),
        "history": history,
    }
    out.json("metrics.json", metrics)
    k = min(8, x.shape[0])
    rows = [x[:k], (mask * x)[:k], *filled[:, :k]]  # original, masked input (hole grey), completions
    out.image_grid("inpainting.png", torch.stack(rows, 1).flatten(0, 1), nrow=len(rows))
    if log:
        log(f"inpainting MSE {metrics['mse']:.5f} per hidden pixel on [-1, 1] ({metrics['inference']})")
    return metrics
