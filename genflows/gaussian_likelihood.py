"""The Gaussian observation model of every top-down generator, x = g(z) + eps, eps ~ N(0, sigma^2 I):
its log-likelihood over the visible pixels and the residual its gradient needs."""

from __future__ import annotations

import math

import torch

__all__ = ["gaussian_terms"]


def gaussian_terms(x: torch.Tensor, mean: torch.Tensor, sigma: float, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(log N(x; mean, sigma^2 I) over visible pixels per example, m (x - mean)): the residual is
    what the likelihood's gradient in ``mean`` needs, m^2 (x - mean) / sigma^2."""
    diff = x - mean
    if mask is not None:
        diff = diff * mask
        n_vis = mask.expand_as(x).flatten(1).sum(1)
    else:
        n_vis = x[0].numel()
    sq = diff.flatten(1).pow(2).sum(1)
    return -sq / (2 * sigma**2) - n_vis * math.log(sigma * math.sqrt(2 * math.pi)), diff
