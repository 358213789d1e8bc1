"""Two-dimensional toy distributions, sampled exactly, each with its exact log-density
(:func:`toy_log_density`, by quadrature over the curve where it has no closed form) so that a
model with a density can be scored by KL(data || model) on a grid as well as by MMD.

- CoopFlow paper Section 5.1, Figure 2: ``spiral``, ``moons``, ``8gaussians``, ``checkerboard``.
- EBFlow paper Section 5.1 (the authors' ``toy_examples/ebflow/datasets``): ``sine``, ``swirl``,
  ``checkerboard-ebflow`` at the authors' scale, with their Gaussian smoothing (std 0.375, which
  their code adds to every training batch; here drawn once per point).

>>> x = sample_toy("spiral", 1000, seed=0)
>>> x.shape
torch.Size([1000, 2])
>>> t = torch.linspace(-8, 8, 321)
>>> g = torch.stack(torch.meshgrid(t, t, indexing="xy"), -1).view(-1, 2)
>>> round(float(toy_log_density("checkerboard-ebflow", g).exp().sum() * 0.05 ** 2), 2)  # the mass on [-8, 8]^2
1.0
"""

from __future__ import annotations

import math

import torch

__all__ = ["TOYS", "EXTENT", "sample_toy", "toy_log_density"]


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


EBFLOW_SMOOTHING = 0.375


def _sine(n: int, g: torch.Generator) -> torch.Tensor:
    u = torch.rand(n, generator=g) * 4 - 2
    x = 4 * torch.stack([u, torch.sin(3 * u) + 0.25 * torch.randn(n, generator=g)], 1)
    return x + EBFLOW_SMOOTHING * torch.randn(n, 2, generator=g)


def _swirl_arm(u: torch.Tensor) -> torch.Tensor:
    """The swirl's curve before its uniform jitter: theta = 3 pi sqrt(u), u in [0, 1]."""
    t = torch.sqrt(u) * 3 * math.pi
    return torch.stack([-t * torch.cos(t) - 1, t * torch.sin(t) - 2], 1)


SWIRL_SCALE, SWIRL_JITTER = -2.5 / 3, 0.5


def _swirl(n: int, g: torch.Generator) -> torch.Tensor:
    a = _swirl_arm(torch.rand(n, generator=g)) + SWIRL_JITTER * torch.rand(n, 2, generator=g)
    return SWIRL_SCALE * a + EBFLOW_SMOOTHING * torch.randn(n, 2, generator=g)


def _checkerboard_ebflow(n: int, g: torch.Generator) -> torch.Tensor:
    return 2 * _checkerboard(n, g) + EBFLOW_SMOOTHING * torch.randn(n, 2, generator=g)


TOYS = {"spiral": _spiral, "moons": _moons, "8gaussians": _gaussians8, "checkerboard": _checkerboard,
        "sine": _sine, "swirl": _swirl, "checkerboard-ebflow": _checkerboard_ebflow}
# Half-width of a square that holds the distribution (for grids and pictures).
EXTENT = {"spiral": 4.0, "moons": 4.0, "8gaussians": 4.0, "checkerboard": 4.0, "sine": 10.0, "swirl": 10.0, "checkerboard-ebflow": 8.0}


def sample_toy(name: str, n: int, seed: int = 0) -> torch.Tensor:
    """n exact samples of a toy distribution (float32, within ``[-EXTENT, EXTENT]^2`` up to the tails)."""
    return TOYS[name](n, torch.Generator().manual_seed(seed)).float()


# ---------------------------------------------------------------------- exact densities
_Q = 1000  # quadrature nodes along a curve (midpoints of [0, 1]): spacing under a tenth of each toy's noise scale


def _curve_mixture(x: torch.Tensor, centres: torch.Tensor, var: float | torch.Tensor) -> torch.Tensor:
    """log of the mean over ``centres`` (Q, 2) of N(x; centre, var I) (var scalar, or (Q, 2) per axis)."""
    out = []
    for part in x.split(2048):
        d = part[:, None, :] - centres[None]
        v = torch.as_tensor(var, dtype=x.dtype)
        lp = (-0.5 * d * d / v - 0.5 * torch.log(2 * math.pi * v)).sum(-1)
        out.append(torch.logsumexp(lp, 1) - math.log(centres.shape[0]))
    return torch.cat(out)


def _box_gauss_1d(x: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, sd: float) -> torch.Tensor:
    """Density at x of U[lo, hi] + N(0, sd^2) (broadcast), by the normal CDF."""
    return (torch.special.ndtr((x - lo) / sd) - torch.special.ndtr((x - hi) / sd)) / (hi - lo)


def _mid(n: int = _Q) -> torch.Tensor:
    return (torch.arange(n, dtype=torch.float64) + 0.5) / n


def toy_log_density(name: str, x: torch.Tensor) -> torch.Tensor:
    """The exact log-density of toy ``name`` at the rows of ``x`` (N, 2), float64: closed forms for
    the mixtures and the checkerboards, midpoint quadrature over the curve (1000 nodes) for the
    curves blurred by noise."""
    x = x.double()
    u = _mid()
    if name == "8gaussians":
        k = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
        return _curve_mixture(x, 2.5 * torch.stack([torch.cos(k), torch.sin(k)], 1), 0.2**2)
    if name == "spiral":
        t = torch.sqrt(u) * 3 * math.pi
        return _curve_mixture(x, torch.stack([t * torch.cos(t), t * torch.sin(t)], 1) / (3 * math.pi) * 3.5, 0.08**2)
    if name == "moons":
        a = u * math.pi
        arcs = torch.cat([torch.stack([torch.cos(a), torch.sin(a)], 1), torch.stack([1 - torch.cos(a), 0.5 - torch.sin(a)], 1)])
        return _curve_mixture(x, (arcs - torch.tensor([0.5, 0.25], dtype=torch.float64)) * 1.6, 0.08**2)
    if name == "sine":  # x1 ~ U[-8, 8) + N(0, s^2); x2 = 4 sin(3 x1' / 4) + N(0, 1 + s^2)
        t = (u * 4 - 2) * 4
        s2 = EBFLOW_SMOOTHING**2
        var = torch.tensor([s2, 1.0 + s2], dtype=torch.float64).expand(_Q, 2)
        return _curve_mixture(x, torch.stack([t, 4 * torch.sin(0.75 * t)], 1), var)
    if name == "swirl":  # each point of the arm: a uniform square of side 0.5 |scale|, blurred
        lo = SWIRL_SCALE * (_swirl_arm(u) + SWIRL_JITTER)  # the scale is negative: hi and lo swap
        hi = SWIRL_SCALE * _swirl_arm(u)
        out = []
        for part in x.split(1024):
            dens = _box_gauss_1d(part[:, None, :], lo[None], hi[None], EBFLOW_SMOOTHING).prod(-1)
            out.append(torch.log(dens.mean(1)))
        return torch.cat(out)
    if name in ("checkerboard", "checkerboard-ebflow"):
        scale, sd = (1.5, 0.0) if name == "checkerboard" else (3.0, EBFLOW_SMOOTHING)
        # 8 cells of side `scale`: x1 in [i, i + 1) (i = -2..1), x2 in [j, j + 1) with (i + j) even.
        dens = torch.zeros(x.shape[0], dtype=torch.float64)
        for i in range(-2, 2):
            for j in range(-2, 2):
                if (i + j) % 2:
                    continue
                lo, hi = torch.tensor([i, j], dtype=torch.float64) * scale, torch.tensor([i + 1, j + 1], dtype=torch.float64) * scale
                if sd == 0:
                    dens += ((x >= lo) & (x < hi)).all(1).double() / scale**2
                else:
                    dens += _box_gauss_1d(x, lo, hi, sd).prod(1)
        return torch.log(dens / 8)
    raise KeyError(name)
