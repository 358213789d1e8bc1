"""Two-dimensional toy distributions (CoopFlow paper Section 5.1, Figure 2), sampled exactly
(their sample-quality number is :func:`genflows.metrics.mmd`).

>>> x = sample_toy("spiral", 1000, seed=0)
>>> x.shape
torch.Size([1000, 2])
"""

from __future__ import annotations

import math

import torch

__all__ = ["TOYS", "sample_toy"]


def _spiral(n: int, g: torch.Generator) -> torch.Tensor:
    t = torch.sqrt(torch.rand(n, generator=g)) * 3 * math.pi  # uniform along the arm's area
    x = torch.stack([t * torch.cos(t), t * torch.sin(t)], 1) / (3 * math.pi) * 3.5
    return x + 0.08 * torch.randn(n, 2, generator=g)


def _moons(n: int, g: torch.Generator) -> torch.Tensor:
    a = torch.rand(n, generator=g) * math.pi
    upper = torch.rand(n, generator=g) < 0.5
    x = torch.where(upper[:, None], torch.stack([torch.cos(a), torch.sin(a)], 1), torch.stack([1 - torch.cos(a), 0.5 - torch.sin(a)], 1))
    return (x - torch.tensor([0.5, 0.25])) * 1.6 + 0.08 * torch.randn(n, 2, generator=g)


def _gaussians8(n: int, g: torch.Generator) -> torch.Tensor:
    k = torch.randint(0, 8, (n,), generator=g).float() * (2 * math.pi / 8)
    return 2.5 * torch.stack([torch.cos(k), torch.sin(k)], 1) + 0.2 * torch.randn(n, 2, generator=g)


def _checkerboard(n: int, g: torch.Generator) -> torch.Tensor:
    x1 = torch.rand(n, generator=g) * 4 - 2
    x2 = torch.rand(n, generator=g) - torch.randint(0, 2, (n,), generator=g).float() * 2
    x2 = x2 + (torch.floor(x1) % 2)
    return torch.stack([x1, x2], 1) * 1.5


TOYS = {"spiral": _spiral, "moons": _moons, "8gaussians": _gaussians8, "checkerboard": _checkerboard}


def sample_toy(name: str, n: int, seed: int = 0) -> torch.Tensor:
    """n exact samples of a toy distribution (float32, roughly within [-4, 4]^2)."""
    return TOYS[name](n, torch.Generator().manual_seed(seed)).float()
