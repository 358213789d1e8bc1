"""Generation (latent-flow paper Section 4.2, Table 2): ancestral samples z ~ p_alpha, x = g_beta(z)
as a grid, and FID between N samples and N test images (N is stated in the metrics; the paper
uses 50 000, CPU runs fewer)."""

from __future__ import annotations

import torch

from ..output import RunDir
from .common import check_fid, fit, model_fid, run_data, sample_batched, machine

__all__ = ["run", "HEADLINE"]

HEADLINE = ("fid", "train_seconds")

check = check_fid  # runner hook: fail before training when FID weights are missing


def run(cfg, out: RunDir, progress: bool = False, device: torch.device | str = "cpu", log=None) -> dict:
    train_x, test_x = run_data(cfg)
    model, trainer, history, train_seconds = fit(cfg, out, train_x, progress=progress, device=device, log=log)
    seed = cfg.train.seed
    out.image_grid("samples.png", sample_batched(model, 64, seed=seed))
    two_flows = getattr(model, "flow", None) is not None and getattr(model, "mode", "flow") != "flow"
    if two_flows:  # CoopFlow: q_alpha alone too (Fig. 10 vs 8)
        out.image_grid("samples_flow.png", sample_batched(model, 64, seed=seed, method="sample_flow"))
    metrics = {
        "model": cfg.model,
        "task": "generation",
        "data": cfg.data.name,
        "seed": seed,
        "fid": None,
        "fid_n": 0,
        "fid_flow": None,  # CoopFlow: FID of its flow q_alpha's samples alone
        "epochs": len(history),
        "iterations": trainer.iteration,
        "selected_epoch": trainer.best_epoch if cfg.eval.val_fid_every else None,  # model selection by validation FID
        "n_train": int(train_x.shape[0]),
        "train_seconds": train_seconds,
        **machine(model, device),
        "history": history,
    }
    if cfg.eval.fid_n:
        metrics.update(model_fid(model, test_x, cfg.eval.fid_n, seed=seed, batch_size=cfg.eval.batch_size, log=log))
        if two_flows:  # the same flow before and after its Langevin flow: what cooperation adds
            flow_fid = model_fid(model, test_x, cfg.eval.fid_n, seed=seed, batch_size=cfg.eval.batch_size, log=log, method="sample_flow")
            metrics.update(fid_flow=flow_fid["fid"], fid_flow_seconds=flow_fid["fid_seconds"])
    out.json("metrics.json", metrics)
    return metrics
