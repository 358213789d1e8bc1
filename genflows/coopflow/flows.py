"""Data-space normalizing flows q_alpha(x) (CoopFlow paper Section 3.2, Eq. 5-6), built from
nflows through :mod:`genflows.flows`.

- vectors (2-D toy data): the same Glow-style coupling / MAF / spline flows as the latent prior;
- images: a multi-scale RealNVP/Glow flow (squeeze -> [actnorm -> invertible 1x1 conv ->
  affine coupling with a conv net] x depth -> factor out half -> ...) on logit-transformed
  pixels.

Images live in [-1, 1] on a grid of 256 levels. The density of *data* uses uniform
dequantisation: y = (u8 + U[0, 1)) / 256, so log P(x) >= E_u log q(y) + D log(1/256) in nats and
bits/dim = -log P / (D ln 2). In the joint phase the flow learns from Langevin-revised images
x_tilde dequantised in the same way: the data clamp puts their pixels exactly on -1 and 1, point
masses on which a continuous density grows without bound. 2-D flows ignore ``dequantize``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..flows import image_transform, quiet_nflows
from ..priors.flow import FlowPrior

__all__ = ["VectorFlow", "ImageFlow", "build_data_flow"]


class VectorFlow(FlowPrior):
    """q_alpha(x) for x in R^D: a flow prior used in data space.

    >>> q = VectorFlow(2, depth=2, hidden=16)
    >>> q.log_prob(q.sample(3)).shape
    torch.Size([3])
    """

    def log_prob(self, x: torch.Tensor, dequantize: bool = False) -> torch.Tensor:
        return super().log_prob(x)

    def log_mass(self, x: torch.Tensor) -> torch.Tensor:
        """Continuous data: the density itself (nothing to dequantise)."""
        return super().log_prob(x)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.transform(x)[0]

    def decode(self, u: torch.Tensor) -> torch.Tensor:
        with quiet_nflows():
            return self.transform.inverse(u)[0]


class ImageFlow(nn.Module):
    """Multi-scale flow on images in [-1, 1] with a logit pre-transform.

    >>> q = ImageFlow((1, 8, 8), levels=1, depth=2, hidden=8)
    >>> x = q.sample(2)
    >>> x.shape, q.log_prob(x).shape
    (torch.Size([2, 1, 8, 8]), torch.Size([2]))
    """

    ALPHA = 0.05  # logit squashing (RealNVP): s = alpha + (1 - 2 alpha) y keeps logit finite at 0 and 1

    def __init__(self, image_shape: tuple[int, int, int], levels: int = 2, depth: int = 4, hidden: int = 64):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.dim = int(math.prod(image_shape))
        self.transform = image_transform(self.image_shape, levels, depth, hidden)
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)

    def _to_logit(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """y in [0, 1] -> w = logit(alpha + (1 - 2 alpha) y) and log|dw/dy| per image."""
        a = self.ALPHA
        s = a + (1 - 2 * a) * y
        w = torch.log(s) - torch.log1p(-s)
        logdet = (math.log(1 - 2 * a) - torch.log(s) - torch.log1p(-s)).flatten(1).sum(1)
        return w, logdet

    def log_prob(self, x: torch.Tensor, dequantize: bool = False) -> torch.Tensor:
        """log q_alpha(x) in nats per image. ``dequantize``: x are 8-bit data; returns the
        dequantised lower bound on log P(x) (one uniform draw), discrete bins of width 2/256."""
        if dequantize:
            u8 = ((x + 1) * 127.5).round()
            y = (u8 + torch.rand_like(u8)) / 256
            bin_term = self.dim * math.log(1 / 256)
        else:
            y = ((x + 1) / 2).clamp(0, 1)
            bin_term = self.dim * math.log(0.5)  # density on [-1, 1] from density on [0, 1]
        return self._log_density01(y) + bin_term

    def _log_density01(self, y: torch.Tensor) -> torch.Tensor:
        """log density of y in [0, 1]^D per image: base term + flow and logit log-determinants."""
        w, logdet_pre = self._to_logit(y)
        u, logdet = self.transform(w)
        log_base = -0.5 * (u * u).sum(1) - 0.5 * self.dim * math.log(2 * math.pi)
        return log_base + logdet + logdet_pre

    def log_mass(self, x: torch.Tensor) -> torch.Tensor:
        """log P(x) of 8-bit images x, deterministically: the density at each pixel's bin centre
        times the bin volume (2/256 per pixel), so the dequantisation is counted once, alike for
        every image."""
        u8 = ((x + 1) * 127.5).round()
        return self._log_density01((u8 + 0.5) / 256) + self.dim * math.log(1 / 256)

    def bits_per_dim(self, x: torch.Tensor) -> torch.Tensor:
        return -self.log_prob(x, dequantize=True) / (self.dim * math.log(2))

    def sample(self, n: int) -> torch.Tensor:
        return self.decode(torch.randn(n, self.dim, device=self._anchor.device, dtype=self._anchor.dtype))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """u = g_alpha^{-1}(x): the flow's base-space code of images in [-1, 1], (N, D)."""
        w, _ = self._to_logit(((x + 1) / 2).clamp(0, 1))
        u, _ = self.transform(w)
        return u

    def decode(self, u: torch.Tensor) -> torch.Tensor:
        """x = g_alpha(u) in [-1, 1]."""
        with quiet_nflows():
            w, _ = self.transform.inverse(u)
        y = (torch.sigmoid(w) - self.ALPHA) / (1 - 2 * self.ALPHA)
        return (y * 2 - 1).clamp(-1, 1).view(u.shape[0], *self.image_shape)


def build_data_flow(shape: tuple[int, ...], transform: str = "coupling", depth: int = 4, hidden: int = 64, levels: int = 2) -> nn.Module:
    """A vector flow for (D,) data, a multi-scale image flow for (C, H, W) data."""
    if len(shape) == 1:
        return VectorFlow(shape[0], transform=transform, depth=depth, hidden=hidden)
    return ImageFlow(tuple(shape), levels=levels, depth=depth, hidden=hidden)
