"""Generation (latent-flow paper Section 4.2, Table 2): ancestral samples z ~ p_alpha, x = g_beta(z)
as a grid, and FID between N samples and N test images (N is stated in the metrics; the paper
uses 50 000, CPU runs fewer)."""

from __future__ import annotations

import torch

from ..output import RunDir
from .common import check_fid, fit, model_fid, run_data, sample_batched

__all__ = ["run", "HEADLINE"]

HEADLINE = ("fid", "train_seconds")

check = check_fid  # runner hook: fail before training when FID weights are missing


def run(cfg, out: RunDir, progress: bool = False, device: torch.device | str = "cpu", log=None) -> dict:
    train_x, test_x = run_data(cfg)
    model, trainer, history, train_seconds = fit(cfg, out, train_x, progress=progress, device=device, log=log)
    seed = cfg.train.seed
    out.image_grid("samples.png", sample_batched(model, 64, seed=seed))
    if getattr(model, "flow", None) is not None and getattr(model, "mode", "flow") != "flow":  # CoopFlow: q_alpha alone too (Fig. 10 vs 8)
        torch.manual_seed(seed)
        out.image_grid("samples_flow.png", model.sample_flow(64))
    metrics = {
        "model": cfg.model,
        "task": "generation",
        "data": cfg.data.name,
        "seed": seed,
        "fid": None,
        "fid_n": 0,
        "epochs": len(history),
        "iterations": trainer.iteration,
        "n_train": int(train_x.shape[0]),
        "train_seconds": train_seconds,
        "torch_threads": torch.get_num_threads(),
        "history": history,
    }
    if cfg.eval.fid_n:
        metrics.update(model_fid(model, test_x, cfg.eval.fid_n, seed=seed, batch_size=cfg.eval.batch_size, log=log))
    out.json("metrics.json", metrics)
    return metrics
