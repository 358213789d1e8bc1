"""EBFlow's training objectives as functions of an energy E(v) per example (the paper's Section 4;
the authors' ``train/experiment.py``). Each returns the loss to minimise (a scalar).

- ``ml``: the negative log-likelihood E(v) - sum_i log|det W_i| (needs every log-determinant).
- ``sml``: E(data) - E(exact flow samples), the gradient of the NLL in the parameters without
  the linear layers' determinants (Eq. 11).
- ``ssm``: sliced score matching with Rademacher slices (Song et al. 2019), per dimension.
- ``dsm``: denoising score matching at noise std sigma (Vincent 2011), per dimension.
- ``fdssm``: finite-difference sliced score matching with step eps (Pang et al. 2020).

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


def ml(energy: Energy, v: torch.Tensor, log_det_linear: torch.Tensor) -> torch.Tensor:
    return (energy(v) - log_det_linear).mean()


def sml(energy: Energy, v: torch.Tensor, samples: torch.Tensor) -> torch.Tensor:
    e = energy(torch.cat([v, samples.detach()]))
    return (e[: len(v)] - e[len(v):]).mean()


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
    return per.mean() / v.shape[1]


def dsm(energy: Energy, v: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    noise = torch.randn_like(v)
    _, score = _score(energy, v + sigma * noise)
    return (0.5 * ((score + noise / sigma) ** 2).sum(1)).mean() / v.shape[1]


def fdssm(energy: Energy, v: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    d = torch.randn_like(v)
    d = d / d.norm(dim=1, keepdim=True) * eps
    e = energy(torch.cat([v, v + d, v - d]))
    e0, ep, em = e.chunk(3)
    return ((ep - em) ** 2 / 8 - ep - em + 2 * e0).mean() / eps ** 2


OBJECTIVES = ("ml", "sml", "ssm", "dsm", "fdssm")
