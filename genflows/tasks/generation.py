"""Generation (latent-flow paper Section 4.2, Table 2): ancestral samples z ~ p_alpha, x = g_beta(z)
as a grid, and FID between N samples and N test images (N is stated in the metrics; the paper
uses 50 000, CPU runs fewer)."""

from __future__ import annotations

import torch

from .._runtime.output import RunDir
from ._evaluate import check_fid, machine, model_fid, sample_batched
from ._fit import fit, run_data

__all__ = ["run", "HEADLINE"]

HEADLINE = ("fid", "train_seconds")
# What the model must implement (genflows.interface.OPTIONAL, or masked_training).
NEEDS = ("sample",)
VALIDATION_FID = True  # eval.val_fid_every applies (it trains through tasks._fit.fit on images)

check = check_fid  # runner hook: fail before training when FID weights are missing


def run(cfg, out: RunDir, progress: bool = False, device: torch.device | str = "cpu", log=None) -> dict:
    train_x, test_x = run_data(cfg)
    model, trainer, history, train_seconds = fit(cfg, out, train_x, progress=progress, device=device, log=log)
    seed = cfg.train.seed
    out.image_grid("samples.png", sample_batched(model, 64, seed=seed))
    sampled_by = model.sample_stats()  # an ODE sampler's solver and function evaluations for these samples
    parts = model.component_samplers()  # CoopFlow: q_alpha alone too (Fig. 10 vs 8)
    for name, sampler in parts.items():
        out.image_grid(f"samples_{name}.png", sample_batched(model, 64, seed=seed, sampler=sampler))
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
        "sampler": sampled_by,
        "n_train": int(train_x.shape[0]),
        "train_seconds": train_seconds,
        **machine(model, device),
        "history": history,
    }
    if cfg.eval.fid_n:
        ref_x = train_x if cfg.eval.fid_ref == "train" else test_x
        metrics.update(model_fid(model, ref_x, cfg.eval.fid_n, seed=seed, batch_size=cfg.eval.batch_size, log=log, ref=cfg.eval.fid_ref))
        metrics["fid_sampler"] = model.sample_stats()  # the last batch of the FID's samples
        for name, sampler in parts.items():  # the same flow before and after its Langevin flow: what cooperation adds
            r = model_fid(model, ref_x, cfg.eval.fid_n, seed=seed, batch_size=cfg.eval.batch_size, log=log, sampler=sampler, what=f" of {name}",
                          ref=cfg.eval.fid_ref)
            metrics.update({f"fid_{name}": r["fid"], f"fid_{name}_seconds": r["fid_seconds"],
                            f"sample_{name}_seconds_per_1000": r["sample_seconds_per_1000"]})
    out.json("metrics.json", metrics)
    return metrics
