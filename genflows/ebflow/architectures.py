"""EBFlow's flows (Chao et al., NeurIPS 2023, Section 5; the authors' ``models/mnist/fc.py`` and
``models/mnist/cnn.py``): linear layers (dense, or same-size convolutions) between elementwise
smooth leaky ReLUs, with squeezes between the CNN's blocks.

:class:`LinearLayerFlow` maps v to u = g(v) and returns the non-linear layers' log|det J| per
example; the linear layers' log-determinants, which do not depend on v, come apart in
:meth:`LinearLayerFlow.log_det_linear` (Eq. 10: the normaliser of the energy). A convolution's
determinant is that of its D x D matrix, built by convolving the identity basis.

>>> net = cnn((1, 4, 4), num_layers=2, num_blocks=2)
>>> v = torch.randn(3, 16)
>>> torch.allclose(net.inverse(net(v)[0]), v, atol=1e-4)
True
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import GenflowsError
from .layers import smooth_leaky_relu, smooth_leaky_relu_inverse, smooth_leaky_relu_log_slope

__all__ = ["Dense", "Conv", "ActNorm", "Coupling", "LinearLayerFlow", "fc", "cnn", "coupling"]


class Dense(nn.Module):
    """h -> W h + b on flat vectors; W starts at +-I and b at 1 (the authors' FC initialisation)."""

    def __init__(self, dim: int, neg_init: bool = True, orthogonal: bool = False):
        super().__init__()
        w = nn.init.orthogonal_(torch.empty(dim, dim)) if orthogonal else (-1.0 if neg_init else 1.0) * torch.eye(dim)
        self.weight = nn.Parameter(w)
        self.bias = nn.Parameter(torch.zeros(dim) if orthogonal else torch.ones(dim))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return F.linear(h, self.weight, self.bias)

    def matrix(self, shape: tuple[int, ...]) -> torch.Tensor:
        return self.weight

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return torch.linalg.solve(self.weight, (y - self.bias).T).T


class Conv(nn.Module):
    """A C -> C convolution with 'same' padding; the kernel starts at +-identity (a Dirac) and the
    bias at N(0, s^2), s the std of a Xavier-normal kernel at gain 0.01 (the authors' init)."""

    def __init__(self, channels: int, kernel_size: int = 7, neg_init: bool = True):
        super().__init__()
        w = nn.init.dirac_(torch.empty(channels, channels, kernel_size, kernel_size))
        self.weight = nn.Parameter((-1.0 if neg_init else 1.0) * w)
        std = 0.01 * math.sqrt(2.0 / (2 * channels * kernel_size**2))
        self.bias = nn.Parameter(torch.randn(channels) * std)
        self.padding = kernel_size // 2

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return F.conv2d(h, self.weight, self.bias, padding=self.padding)

    def matrix(self, shape: tuple[int, ...]) -> torch.Tensor:
        """The D x D matrix M of the convolution (no bias) on images of ``shape``: M e_i is the
        convolution of the i-th basis image, so convolving the identity gives M's columns."""
        d = math.prod(shape)
        basis = torch.eye(d, dtype=self.weight.dtype, device=self.weight.device).view(d, *shape)
        return F.conv2d(basis, self.weight, padding=self.padding).view(d, d).T

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        z = (y - self.bias.view(1, -1, 1, 1)).flatten(1)
        return torch.linalg.solve(self.matrix(tuple(y.shape[1:])), z.T).T.view(y.shape)


class ActNorm(nn.Module):
    """h -> (h - loc) e^{-log_scale} per coordinate, loc and log_scale set from the first training
    batch to standardise it (Glow's ActNorm; the authors' toy flows): a linear layer whose
    log-determinant does not depend on h."""

    def __init__(self, dim: int):
        super().__init__()
        self.loc, self.log_scale = nn.Parameter(torch.zeros(dim)), nn.Parameter(torch.zeros(dim))
        self.register_buffer("initialized", torch.tensor(0, dtype=torch.uint8))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if self.training and not bool(self.initialized):
            with torch.no_grad():
                self.loc.copy_(h.mean(0))
                self.log_scale.copy_(torch.log(h.std(0) + 1e-6))
                self.initialized.fill_(1)
        return (h - self.loc) * torch.exp(-self.log_scale)

    def matrix(self, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.diag(torch.exp(-self.log_scale))

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y * torch.exp(self.log_scale) + self.loc


class Coupling(nn.Module):
    """An affine coupling (RealNVP): the coordinates in ``mask`` pass, the others become
    h e^{s} + t with s, t MLPs of the passed ones; log|det J| = sum s depends on h, so it is part
    of the energy (the authors' toy flows put these between their linear layers)."""

    def __init__(self, dim: int, hidden: int, mask: torch.Tensor):
        super().__init__()
        self.register_buffer("mask", mask.float())

        def mlp() -> nn.Sequential:
            last = nn.Linear(hidden, dim)
            nn.init.zeros_(last.weight), nn.init.zeros_(last.bias)  # starts as the identity
            return nn.Sequential(nn.Linear(dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), last)

        self.s, self.t = mlp(), mlp()

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        keep = h * self.mask
        s, t = self.s(keep) * (1 - self.mask), self.t(keep) * (1 - self.mask)
        return keep + (1 - self.mask) * (h * s.exp() + t), s.sum(1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        keep = y * self.mask
        s, t = self.s(keep) * (1 - self.mask), self.t(keep) * (1 - self.mask)
        return keep + (1 - self.mask) * ((y - t) * (-s).exp())


def _squeeze(h: torch.Tensor) -> torch.Tensor:
    """(C, H, W) -> (4C, H/2, W/2): each 2 x 2 patch into channels (a permutation, log-det 0)."""
    b, c, hh, ww = h.shape
    return h.view(b, c, hh // 2, 2, ww // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(b, 4 * c, hh // 2, ww // 2)


def _unsqueeze(h: torch.Tensor) -> torch.Tensor:
    b, c, hh, ww = h.shape
    return h.view(b, c // 4, 2, 2, hh, ww).permute(0, 1, 4, 2, 5, 3).reshape(b, c // 4, 2 * hh, 2 * ww)


class LinearLayerFlow(nn.Module):
    """A plan of steps on examples of ``shape``: a linear layer (:class:`Dense`, :class:`Conv`:
    ``linears``), a coupling (``couplings``), ``act`` (the smooth leaky ReLU; ``residual``: plus
    the identity, as in the authors' CNN) or ``squeeze``."""

    def __init__(self, shape: tuple[int, ...], plan: list, alpha: float = 0.3, residual: bool = False):
        super().__init__()
        self.shape, self.alpha, self.residual = tuple(shape), alpha, residual
        self.linears = nn.ModuleList([s for s in plan if isinstance(s, (Dense, Conv, ActNorm))])
        self.couplings = nn.ModuleList([s for s in plan if isinstance(s, Coupling)])
        self.plan = ["linear" if isinstance(s, (Dense, Conv, ActNorm)) else "coupling" if isinstance(s, Coupling) else s for s in plan]

    def _shapes(self) -> list[tuple[int, ...]]:
        """The example shape each linear layer sees."""
        shape, out = self.shape, []
        for step in self.plan:
            if step == "linear":
                out.append(shape)
            elif step == "squeeze":
                shape = (4 * shape[0], shape[1] // 2, shape[2] // 2)
        return out

    def forward(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(u = g(v) flattened, sum of the non-linear layers' log|det J|) per example; v flat."""
        h, logdet, layers, couplings = v.view(v.shape[0], *self.shape), v.new_zeros(v.shape[0]), iter(self.linears), iter(self.couplings)
        for step in self.plan:
            if step == "linear":
                h = next(layers)(h)
            elif step == "coupling":
                h, ld = next(couplings)(h)
                logdet = logdet + ld
            elif step == "act":
                logdet = logdet + smooth_leaky_relu_log_slope(h, self.alpha, self.residual).flatten(1).sum(1)
                h = smooth_leaky_relu(h, self.alpha, self.residual)
            else:
                h = _squeeze(h)
        return h.flatten(1), logdet

    def log_det_linear(self) -> torch.Tensor:
        """sum over linear layers of log|det M| = -log Z: the only O(D^3) term."""
        return sum(torch.linalg.slogdet(m.matrix(s))[1] for m, s in zip(self.linears, self._shapes()))

    def inverse(self, u: torch.Tensor, newton_iters: int = 100) -> torch.Tensor:
        """v = g^{-1}(u), exact up to Newton's tolerance for the activations; u and v flat."""
        layers, couplings = list(self.linears), list(self.couplings)
        h = u.view(u.shape[0], *self._out_shape())
        for step in reversed(self.plan):
            if step == "linear":
                h = layers.pop().inverse(h)
            elif step == "coupling":
                h = couplings.pop().inverse(h)
            elif step == "act":
                h = smooth_leaky_relu_inverse(h, self.alpha, newton_iters, self.residual)
            else:
                h = _unsqueeze(h)
        return h.flatten(1)

    def _out_shape(self) -> tuple[int, ...]:
        shape = self.shape
        for step in self.plan:
            if step == "squeeze":
                shape = (4 * shape[0], shape[1] // 2, shape[2] // 2)
        return shape


def fc(dim: int, num_layers: int = 2, alpha: float = 0.3, neg_init: bool = True) -> LinearLayerFlow:
    """The paper's FC flow: ``num_layers`` dense D x D layers with a smooth leaky ReLU between each
    two (MNIST: 2 layers, 1.23 M parameters)."""
    plan: list = []
    for i in range(num_layers):
        plan += [Dense(dim, neg_init)] + (["act"] if i < num_layers - 1 else [])
    return LinearLayerFlow((dim,), plan, alpha, residual=False)


def cnn(shape: tuple[int, int, int], num_layers: int = 6, num_blocks: int = 3, kernel_size: int = 7, alpha: float = 0.3,
        neg_init: bool = True) -> LinearLayerFlow:
    """The paper's CNN flow: ``num_blocks`` blocks of ``num_layers / num_blocks`` C -> C
    convolutions, a residual smooth leaky ReLU after every convolution but the last, a squeeze
    between blocks (MNIST: 6 layers in 3 blocks of 7 x 7 kernels, 0.027 M parameters)."""
    if len(shape) != 3:
        raise GenflowsError(f"ebflow.arch 'cnn' needs images (C, H, W), got data of shape {tuple(shape)}")
    if num_layers % num_blocks:
        raise GenflowsError(f"ebflow.num_layers ({num_layers}) must be a multiple of ebflow.num_blocks ({num_blocks})")
    c, h, w = shape
    if h % 2 ** (num_blocks - 1) or w % 2 ** (num_blocks - 1):
        raise GenflowsError(f"ebflow.num_blocks {num_blocks} squeezes {num_blocks - 1} times: image size {h}x{w} must divide by {2 ** (num_blocks - 1)}")
    plan: list = []
    per = num_layers // num_blocks
    for b in range(num_blocks):
        for i in range(per):
            plan.append(Conv(c, kernel_size, neg_init))
            if not (b == num_blocks - 1 and i == per - 1):
                plan.append("act")
        if b < num_blocks - 1:
            plan.append("squeeze")
            c *= 4
    return LinearLayerFlow(shape, plan, alpha, residual=True)


def coupling(dim: int, num_blocks: int = 10, hidden: int = 64) -> LinearLayerFlow:
    """The authors' toy flow, in outline: ``num_blocks`` x [dense D x D layer (orthogonal init) ->
    affine coupling (alternating halves) -> ActNorm], then a last dense layer. The dense layers'
    and ActNorms' log-determinants are constants: EBFlow's normaliser."""
    plan: list = []
    for b in range(num_blocks):
        mask = torch.zeros(dim)
        mask[(b % 2)::2] = 1
        plan += [Dense(dim, orthogonal=True), Coupling(dim, hidden, mask), ActNorm(dim)]
    return LinearLayerFlow((dim,), plan + [Dense(dim, orthogonal=True)])
