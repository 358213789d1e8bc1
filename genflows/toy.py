"""Two-dimensional toy distributions (CoopFlow paper Section 5.1, Figure 2), sampled exactly, and
a sample-quality number against them (MMD with a Gaussian kernel).

>>> x = sample_toy("spiral", 1000, seed=0)
>>> x.shape
torch.Size([1000, 2])
"""

from __future__ import annotations

import math

import torch

__all__ = ["TOYS", "sample_toy", "mmd"]


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


BANDWIDTHS = (0.1, 0.2, 0.5, 1.0, 2.0)


def mmd(x: torch.Tensor, y: torch.Tensor, bandwidths: tuple[float, ...] = BANDWIDTHS) -> float:
    """Unbiased squared MMD with a sum of Gaussian kernels at several bandwidths (the toy
    densities have structure from 0.1 to 3 units; one median-heuristic kernel misses the small scale)."""
    xy = torch.cat([x, y]).double()
    d = torch.cdist(xy, xy).pow(2)
    k = sum(torch.exp(-d / (2 * b * b)) for b in bandwidths) / len(bandwidths)
    n, m = len(x), len(y)
    kxx = (k[:n, :n].sum() - n) / (n * (n - 1))
    kyy = (k[n:, n:].sum() - m) / (m * (m - 1))
    return float(kxx + kyy - 2 * k[:n, n:].mean())
