"""2-D toy study (CoopFlow paper Section 5.1, Figure 2): learn a toy density with a data-space
model, then draw the learned densities of q_alpha and p_theta and samples of q_alpha and of
the two-flow generator, and score samples against the true distribution by MMD
(:func:`genflows.metrics.mmd`: the mean of Gaussian kernels at bandwidths 0.1 to 2) on 2000
fresh true points."""

from __future__ import annotations

import time

import torch

from .._runtime.output import RunDir, pyplot
from .._runtime.rng import seeded
from ..metrics import mmd as toy_mmd
from ..data.toy import sample_toy
from ._evaluate import machine
from ._fit import fit, run_data

__all__ = ["run", "HEADLINE", "density_figure"]

HEADLINE = ("mmd", "mmd_flow", "train_seconds")
VALIDATION_FID = False

N_EVAL = 2000


@torch.no_grad()
def _grid_density(fn, lim: float, device: torch.device, n: int = 120) -> torch.Tensor:
    t = torch.linspace(-lim, lim, n, device=device)
    xx, yy = torch.meshgrid(t, t, indexing="xy")
    pts = torch.stack([xx.flatten(), yy.flatten()], 1)
    logp = fn(pts)
    return torch.softmax(logp, 0).view(n, n).cpu()  # normalised on the grid


def density_figure(model, true: torch.Tensor, flow_samples, samples: torch.Tensor, title: str, lim: float = 4.0):
    plt = pyplot()
    device = next(model.parameters()).device
    panels = [("data", true, None)]
    if model.flow is not None:
        panels += [("q_alpha density", None, _grid_density(model.flow.log_prob, lim, device)), ("q_alpha samples", flow_samples, None)]
    if model.energy is not None:
        panels.append(("p_theta density (exp f, on the grid)", None, _grid_density(model.energy, lim, device)))
    panels.append(("model samples" if model.mode != "coopflow" else "CoopFlow samples", samples, None))
    fig, axes = plt.subplots(1, len(panels), figsize=(3 * len(panels), 3.2))
    for ax, (name, pts, dens) in zip(axes, panels):
        if dens is not None:
            ax.imshow(dens.numpy(), origin="lower", extent=(-lim, lim, -lim, lim), cmap="viridis")
        else:
            ax.scatter(pts[:, 0].numpy(), pts[:, 1].numpy(), s=1, alpha=0.4)
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
        ax.set_title(name, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=9)
    return fig


def run(cfg, out: RunDir, progress: bool = False, device: torch.device | str = "cpu", log=None) -> dict:
    train_x, _ = run_data(cfg)
    model, trainer, history, train_seconds = fit(cfg, out, train_x, progress=progress, device=device, log=log)
    seed = cfg.train.seed
    model.eval()
    true = sample_toy(cfg.data.name, N_EVAL, seed=2)  # fresh points, not the training set
    t0 = time.perf_counter()
    with seeded(seed, next(model.parameters()).device):
        samples = model.sample(N_EVAL).cpu()
        flow_samples = model.sample_flow(N_EVAL).cpu() if model.flow is not None else None
    metrics = {
        "model": cfg.model,
        "task": "toy",
        "data": cfg.data.name,
        "seed": seed,
        "mmd": toy_mmd(samples, true),
        "mmd_flow": toy_mmd(flow_samples, true) if flow_samples is not None else None,
        "n_eval": N_EVAL,
        "langevin_steps": model.n_steps if model.mode != "flow" else 0,
        "epochs": len(history),
        "iterations": trainer.iteration,
        "train_seconds": train_seconds,
        "sample_seconds": time.perf_counter() - t0,
        **machine(model, device),
        "history": history,
    }
    title = f"{cfg.model} on {cfg.data.name}, T = {metrics['langevin_steps']}: MMD {metrics['mmd']:.4f}"
    out.figure("toy.png", density_figure(model, true, flow_samples, samples, title))
    out.json("metrics.json", metrics)  # last: a rerun skips a seed whose metrics.json exists
    if log:
        log(title + (f" (flow alone {metrics['mmd_flow']:.4f})" if flow_samples is not None else ""))
    return metrics
