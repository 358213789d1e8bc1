"""VAPO's training objective as the released code computes it (ljun0004/VAPO ``losses.py``; Loo et
al. 2024). Pairs come from a homotopy between noise and data,

    x_t = t x + (1 - t) eps,  eps ~ N(0, I),  t ~ U[t_min, 1]   (t = 0: noise, t = 1: data),

and the potential psi(x, t) is trained so that its gradient, the velocity of the flow, carries the
noise to the data. Per batch of B examples of D dimensions, with u = x - eps and the centred
"innovation" G_i = (1 - t_i) mean_d(eps^2 - x eps) (no gradient):

    L =  sum_i G_i psi_i / (B (std G  sg[std psi] + 1e-8))              correlation with G
       - w_align  sum_i <grad psi_i, u_i> / (|grad psi_i| |u_i| + 1e-8)^t_i / (B D)
       + w_grad   sum_i |grad psi_i|^2 / (2 B D)
       + w_dt     sum_i (d psi_i / dt)^2 / B

The exponent t makes the alignment a dot product at the noise end and a cosine at the data end.
The abstract describes a KL-derived energy loss; this is the code's version, named as such.

>>> x = torch.randn(8, 2)
>>> xt, t, u, eps = homotopy(x, 1e-5, torch.Generator().manual_seed(0))
>>> torch.allclose(xt, t[:, None] * x + (1 - t[:, None]) * eps) and torch.allclose(u, x - eps)
True
"""

from __future__ import annotations

from typing import Callable

import torch

__all__ = ["homotopy", "innovation", "vapo_loss"]

Potential = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def homotopy(x: torch.Tensor, t_min: float, generator: torch.Generator | None = None,
             t: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x_t, t, u = x - eps, eps) for a batch of data ``x`` (flat or images); t ~ U[t_min, 1]
    clipped to 1 - t_min (or the given ``t``)."""
    b = x.shape[0]
    if t is None:
        t = t_min + (1 - t_min) * torch.rand(b, device=x.device, dtype=x.dtype, generator=generator)
    t = t.clamp(max=1 - t_min)
    eps = torch.randn(x.shape, device=x.device, dtype=x.dtype, generator=generator)
    tb = t.view(b, *([1] * (x.dim() - 1)))
    return tb * x + (1 - tb) * eps, t, x - eps, eps


def innovation(x: torch.Tensor, eps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """G_i = (1 - t_i) mean_d(eps^2 - x eps), centred over the batch."""
    g = (1 - t) * (eps * eps - x * eps).flatten(1).mean(1)
    return g - g.mean()


def vapo_loss(psi: Potential, x: torch.Tensor, t_min: float = 1e-5, w_align: float = 1.0, w_grad: float = 0.5,
              w_dt: float = 0.1, generator: torch.Generator | None = None, t: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
    """The released loss (module docstring) on data ``x``; ``psi(x_t, t)`` gives one value per
    example. Returns (loss, its weighted terms, detached: they sum to the loss)."""
    xt, t, u, eps = homotopy(x, t_min, generator, t)
    xt = xt.detach().requires_grad_(True)
    t_in = t.detach().requires_grad_(True)
    p = psi(xt, t_in)
    gx, gt = torch.autograd.grad(p.sum(), (xt, t_in), create_graph=True)
    b, d = x.shape[0], x[0].numel()
    with torch.no_grad():
        g = innovation(x, eps, t)
        scale = g.std() * p.std() + 1e-8
    corr = (g * p).sum() / (b * scale)
    gx, u = gx.flatten(1), u.flatten(1)
    cos = (gx * u).sum(1) / (gx.norm(dim=1) * u.norm(dim=1) + 1e-8) ** t
    align = -cos.sum() / (b * d)
    grad = 0.5 * (gx * gx).sum() / (b * d)
    dt = (gt * gt).sum() / b
    terms = {"corr": corr, "align": w_align * align, "grad_penalty": w_grad * grad, "dt_penalty": w_dt * dt}
    return sum(terms.values()), {k: v.detach() for k, v in terms.items()}
