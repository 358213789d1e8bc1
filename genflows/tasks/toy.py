"""2-D toy study (CoopFlow paper Section 5.1, Figure 2): learn a toy density with a data-space
model, then draw the learned densities of q_alpha and p_theta and samples of q_alpha and of
the two-flow generator, and score samples against the true distribution by MMD
(:func:`genflows.metrics.mmd`: the mean of Gaussian kernels at bandwidths 0.1 to 2) on 2000
fresh true points. Whether the EBM itself learned the density is measured apart from the samples,
which the flow and the clamps can make good on their own: the correlation of exp f_theta with the
true density on the figure's grid, and the MMD of long-run Langevin samples of p_theta from noise.
Every normalised density the model has (CoopFlow's q_alpha, EBFlow's p) is also scored by the
exact KL(data || model) on the grid (:func:`grid_kl`, the EBFlow paper's Table 1 metric): the data's
exact density (:func:`~genflows.data.toy.toy_log_density`) against the model's own log-density."""

from __future__ import annotations

import contextlib
import copy
import math
import time

import torch

from .._runtime.output import RunDir, pyplot
from .._runtime.rng import seeded
from ..metrics import mmd as toy_mmd
from ..data.toy import EXTENT, sample_toy, toy_log_density
from ..langevin import frozen, langevin
from ._evaluate import machine
from ._fit import fit, run_data

__all__ = ["run", "HEADLINE", "density_figure", "density_corr", "longrun_samples"]

HEADLINE = ("mmd", "mmd_flow", "kl", "kl_mc", "ebm_density_corr", "mmd_ebm_longrun", "train_seconds")
# What the model must implement (genflows.interface.OPTIONAL, or masked_training).
NEEDS = ("sample", "vector_data")  # log_densities, where a model has them, adds the density panels, correlations and KL
VALIDATION_FID = False
# Merged after the registry's defaults and before the user's (genflows.config.load_config).
DEFAULTS = {"data": {"name": "spiral"}}

N_EVAL = 2000
LIM, GRID = 4.0, 120  # the density grid: [-LIM, LIM]^2 in GRID x GRID cells (LIM: the toy's EXTENT)
KL_GRID = 400  # KL(data || model): midpoints of KL_GRID x KL_GRID cells on [-EXTENT, EXTENT]^2
# Long-run chains of p_theta alone: from N(0, I), with noise, no clamps, a small step so that the
# chain samples exp f_theta rather than its short-run flow's basins (diffusion ~ sqrt(K) s = 3.6).
LONGRUN_N, LONGRUN_STEPS, LONGRUN_STEP = 1000, 2000, 0.08


@torch.no_grad()
def _grid_density(fn, lim: float, device: torch.device, n: int = GRID) -> torch.Tensor:
    t = torch.linspace(-lim, lim, n, device=device)
    xx, yy = torch.meshgrid(t, t, indexing="xy")
    pts = torch.stack([xx.flatten(), yy.flatten()], 1)
    logp = fn(pts)
    return torch.softmax(logp, 0).view(n, n).cpu()  # normalised on the grid


def true_grid_density(name: str, lim: float = LIM, n: int = GRID, n_points: int = 400_000) -> torch.Tensor:
    """The true density on the grid (cells as in :func:`_grid_density`), by a histogram of exact samples."""
    x = sample_toy(name, n_points, seed=3)
    idx = ((x + lim) / (2 * lim) * n).floor().long()
    inside = ((idx >= 0) & (idx < n)).all(1)
    flat = idx[inside, 1] * n + idx[inside, 0]  # row = y, column = x, as meshgrid "xy"
    return torch.bincount(flat, minlength=n * n).float().div(n_points).view(n, n)


@torch.no_grad()
def grid_kl(name: str, log_density, n: int = KL_GRID, rel: float = 1e-6) -> dict:
    """KL(data || model) = sum over cells of p(x) (log p(x) - log q(x)) dA at the midpoints of an
    n x n grid on [-EXTENT, EXTENT]^2, over the cells where the data's exact density p is at least
    ``rel`` times its peak (``data_mass`` says how much of p that keeps; far out, where p is
    negligible, a flow's log q can fall below what float64 holds, and one such cell would decide
    the sum); q the model's normalised density (``log_density``, float64 points in, no
    renormalisation on the grid). ``nonfinite``: kept cells where log q is not finite (then no KL)."""
    lim = EXTENT[name]
    t = (torch.arange(n, dtype=torch.float64) + 0.5) / n * 2 * lim - lim
    pts = torch.stack(torch.meshgrid(t, t, indexing="xy"), -1).view(-1, 2)
    area = (2 * lim / n) ** 2
    logp = toy_log_density(name, pts)
    keep = logp >= logp.max() + math.log(rel)
    logq = torch.cat([log_density(c).double().cpu() for c in pts[keep].split(20000)])
    p, bad = logp[keep].exp(), int((~torch.isfinite(logq)).sum())
    kl = None if bad else float((p * (logp[keep] - logq)).sum() * area)
    return {"kl": kl, "data_mass": float(p.sum() * area), "model_mass": float(logq[torch.isfinite(logq)].exp().sum() * area),
            "nonfinite": bad, "grid": n, "extent": lim, "rel": rel}


@torch.no_grad()
def sample_kl(name: str, log_density, x: torch.Tensor) -> dict:
    """KL(data || model) by Monte Carlo over exact data samples ``x``: mean of log p(x) - log q(x)
    (p exact), with its standard error; the estimate the EBFlow authors' evaluation makes from
    test points, here with the exact data density in place of their kernel estimate."""
    d = toy_log_density(name, x.double()) - log_density(x.double()).double().cpu()
    return {"kl": float(d.mean()), "se": float(d.std() / math.sqrt(len(d))), "n": len(d)}


def density_corr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation of two grid densities (1: the same shape up to scale).

    >>> g = torch.rand(5, 5)
    >>> round(density_corr(g, 3 * g), 6)
    1.0
    """
    a, b = a.flatten().double(), b.flatten().double()
    a, b = a - a.mean(), b - b.mean()
    return float((a @ b) / (a.norm() * b.norm()).clamp_min(1e-300))


def longrun_samples(energy, n: int, device: torch.device, steps: int | None = None, step_size: float | None = None) -> torch.Tensor:
    """n samples of p_theta ~ exp f_theta alone: ``steps`` noisy Langevin steps from N(0, I);
    ``energy``: f_theta (a module, frozen meanwhile, or any function of x)."""
    # Read the module constants at call time, so the chain run is the one the metrics record.
    steps = LONGRUN_STEPS if steps is None else steps
    step_size = LONGRUN_STEP if step_size is None else step_size
    with frozen(energy) if isinstance(energy, torch.nn.Module) else contextlib.nullcontext():
        x0 = torch.randn(n, 2, device=device)
        return langevin(lambda x: -energy(x), x0, steps, step_size, noise=True, what="long-run p_theta x").detach()


def _densities(model) -> dict:
    """The model's log-densities where it has any (:meth:`~genflows.interface.GenerativeModel.log_densities`)."""
    return model.log_densities() if "log_densities" in type(model).capabilities(model.mode) else {}


def density_figure(model, true: torch.Tensor, flow_samples, samples: torch.Tensor, title: str, lim: float = LIM, longrun=None):
    plt = pyplot()
    device = next(model.parameters()).device
    panels = [("data", true, None)]
    for name, (fn, normalised) in _densities(model).items():
        what = f"{name} density" if normalised else f"{name} density (exp of its log, on the grid)"
        panels.append((what, None, _grid_density(fn, lim, device)))
        if normalised and flow_samples is not None:
            panels.append((f"{name} samples", flow_samples, None))
    if longrun is not None:
        panels.append((f"unnormalised density alone: {LONGRUN_STEPS} Langevin steps from noise", longrun, None))
    panels.append((f"{type(model).__name__} samples", samples, None))
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
    device = next(model.parameters()).device
    components = model.component_samplers()
    with seeded(seed, device):
        samples = model.sample(N_EVAL).cpu()
        flow_samples = components["flow"](N_EVAL).cpu() if "flow" in components else None
    densities = _densities(model)
    exact = _densities(copy.deepcopy(model).double().cpu()) if densities else {}  # KL in float64: tails need the range
    lim = EXTENT[cfg.data.name]
    truth = true_grid_density(cfg.data.name, lim)
    ebm, longrun, kls = {}, None, {}
    for name, (fn, normalised) in densities.items():
        corr = density_corr(_grid_density(fn, lim, device), truth)
        if normalised:
            ebm["flow_density_corr"] = corr
            kls[name] = {**grid_kl(cfg.data.name, exact[name][0]), "sample_kl": sample_kl(cfg.data.name, exact[name][0], true)}
            continue
        with seeded(seed + 1, device):
            longrun = longrun_samples(fn, LONGRUN_N, device).cpu()
        ebm.update(ebm_density_corr=corr, mmd_ebm_longrun=toy_mmd(longrun, true),
                   ebm_longrun={"n": LONGRUN_N, "steps": LONGRUN_STEPS, "step_size": LONGRUN_STEP, "start": "N(0, I)", "noise": True})
    metrics = {
        "model": cfg.model,
        "task": "toy",
        "data": cfg.data.name,
        "seed": seed,
        "mmd": toy_mmd(samples, true),
        "mmd_flow": toy_mmd(flow_samples, true) if flow_samples is not None else None,
        # KL(data || model) of the first normalised density (the model's own, or CoopFlow's flow):
        # on the grid, and by Monte Carlo over the N_EVAL fresh data points.
        "kl": next(iter(kls.values()))["kl"] if kls else None,
        "kl_mc": next(iter(kls.values()))["sample_kl"]["kl"] if kls else None,
        "kl_by_density": kls,
        **ebm,
        "n_eval": N_EVAL,
        "langevin_steps": model.sampling_steps(),
        "sampler": model.sample_stats(),
        "epochs": len(history),
        "iterations": trainer.iteration,
        "train_seconds": train_seconds,
        "sample_seconds": time.perf_counter() - t0,
        **machine(model, device),
        "history": history,
    }
    title = f"{cfg.model} on {cfg.data.name}, T = {metrics['langevin_steps']}: MMD {metrics['mmd']:.4f}"
    out.figure("toy.png", density_figure(model, true, flow_samples, samples, title, lim=lim, longrun=longrun))
    out.json("metrics.json", metrics)  # last: a rerun skips a seed whose metrics.json exists
    if log:
        log(title + (f" (flow alone {metrics['mmd_flow']:.4f})" if flow_samples is not None else "")
            + (f"; KL(data || {next(iter(kls))}) {metrics['kl']} on the grid, {metrics['kl_mc']:.4f} by Monte Carlo" if kls else "")
            + (f"; EBM alone: density correlation {ebm['ebm_density_corr']:.3f}, long-run MMD {ebm['mmd_ebm_longrun']:.4f}" if "ebm_density_corr" in ebm else ""))
    return metrics
