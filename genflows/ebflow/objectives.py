"""EBFlow's training objectives as functions of an energy E(v) per example (the paper's Section 4;
the authors' ``train/experiment.py``). Each returns the loss to minimise (a scalar).

- ``ml``: the negative log-likelihood E(v) - sum_i log|det W_i| (needs every log-determinant).
- ``sml``: E(data) - E(exact flow samples), the gradient of the NLL in the parameters without
  the linear layers' determinants (Eq. 11).
- ``ssm``: sliced score matching with Rademacher slices (Song et al. 2019), per dimension.
- ``dsm``: denoising score matching at noise std sigma (Vincent 2011), per dimension.
- ``fdssm``: finite-difference sliced score matching with step eps (Pang et al. 2020).

Like the authors' code, an example whose loss is NaN counts as 0 (still in the batch size): without
MaP a DSM noise draw or an FDSSM step can leave the pixels' (0, 256) domain, where the logit is NaN.
Such examples are left out of the forward pass (``valid``), so no NaN reaches a gradient (the
authors zero the loss after the fact, which leaves 0 x NaN in the backward pass).

>>> energy = lambda v: 0.5 * (v ** 2).sum(1)          # N(0, I): its score is -v
>>> v = torch.randn(4000, 3)
>>> abs(float(ssm(energy, v).detach()) + 0.5) < 0.1   # E[1/2 |v|^2 - tr I] / D = (3/2 - 3) / 3
True
"""

from __future__ import annotations

from typing import Callable

import torch

__all__ = ["ml", "sml", "ssm", "dsm", "fdssm", "OBJECTIVES"]

Energy = Callable[[torch.Tensor], torch.Tensor]


def _mean(per: torch.Tensor, batch: int | None = None) -> torch.Tensor:
    """Sum over the examples kept, NaN ones counted as 0 (the authors' ``lossval[lossval != lossval] = 0``),
    over the whole ``batch`` (default: the examples given); 0, with its graph, when none is kept."""
    return torch.where(per.isnan(), torch.zeros_like(per), per).sum() / (batch or max(len(per), 1))


def ml(energy: Energy, v: torch.Tensor, log_det_linear: torch.Tensor) -> torch.Tensor:
    return _mean(energy(v) - log_det_linear)


def sml(energy: Energy, v: torch.Tensor, samples: torch.Tensor) -> torch.Tensor:
    e = energy(torch.cat([v, samples.detach()]))
    return _mean(e[: len(v)] - e[len(v):])


def _score(energy: Energy, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    v = v.detach().requires_grad_(True)
    e = energy(v)
    (grad,) = torch.autograd.grad(e.sum(), v, create_graph=True)
    return v, -grad


def ssm(energy: Energy, v: torch.Tensor, slices: int = 1) -> torch.Tensor:
    v = v.repeat(slices, 1)
    r = torch.randint(0, 2, v.shape, device=v.device, dtype=v.dtype) * 2 - 1
    v, score = _score(energy, v)
    (hvp,) = torch.autograd.grad((score * r).sum(), v, create_graph=True)
    per = 0.5 * (score ** 2).sum(1) + (r * hvp).sum(1)
    return _mean(per) / v.shape[1]


Valid = Callable[[torch.Tensor], torch.Tensor]


def dsm(energy: Energy, v: torch.Tensor, sigma: float = 1.0, valid: Valid | None = None) -> torch.Tensor:
    """``valid``: which noisy examples lie in the energy's domain (None: all); the others count 0."""
    noise = torch.randn_like(v)
    noisy = v + sigma * noise
    keep = valid(noisy) if valid is not None else torch.ones(len(v), dtype=torch.bool, device=v.device)
    _, score = _score(energy, noisy[keep])
    return _mean(0.5 * ((score + noise[keep] / sigma) ** 2).sum(1), len(v)) / v.shape[1]


def fdssm(energy: Energy, v: torch.Tensor, eps: float = 1.0, valid: Valid | None = None) -> torch.Tensor:
    """``valid``: as for :func:`dsm`, of both perturbed points."""
    d = torch.randn_like(v)
    d = d / d.norm(dim=1, keepdim=True) * eps
    keep = (valid(v + d) & valid(v - d)) if valid is not None else torch.ones(len(v), dtype=torch.bool, device=v.device)
    v, d = v[keep], d[keep]
    e = energy(torch.cat([v, v + d, v - d]))
    e0, ep, em = e.split(len(v))
    return _mean((ep - em) ** 2 / 8 - ep - em + 2 * e0, len(keep)) / eps ** 2


OBJECTIVES = ("ml", "sml", "ssm", "dsm", "fdssm")
