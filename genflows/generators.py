"""Top-down generators g_beta(z) with a Gaussian observation model x = g(z) + eps, eps ~ N(0, sigma^2 I).

The masked log-likelihood (visible pixels only, mask = 1) is the one piece every task uses for
training on complete images, inpainting and learning from incomplete images.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["Generator", "ConvGenerator", "build_generator"]


class Generator(nn.Module):
    """Base class: subclasses define :meth:`forward` (z -> image mean in [-1, 1])."""

    def __init__(self, nz: int, image_shape: tuple[int, int, int], sigma: float):
        super().__init__()
        self.nz = nz
        self.image_shape = tuple(image_shape)
        self.sigma = float(sigma)

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """log p_beta(x | z) over visible pixels, per example (B,).

        -||m * (x - g(z))||^2 / (2 sigma^2) - n_visible * log(sigma sqrt(2 pi))
        """
        diff = x - self(z)
        if mask is not None:
            diff = diff * mask
            n_vis = mask.expand_as(x).flatten(1).sum(1)
        else:
            n_vis = x[0].numel()
        sq = diff.flatten(1).pow(2).sum(1)
        return -sq / (2 * self.sigma**2) - n_vis * math.log(self.sigma * math.sqrt(2 * math.pi))


class ConvGenerator(Generator):
    """Linear -> Linear -> two stride-2 transposed convolutions -> tanh.

    MNIST (latent-flow reference code): Linear(nz, 1024)+BN+ReLU, Linear(1024, 128*7*7)+BN+ReLU,
    ConvT(128, 64, k2, s2)+BN+ReLU, ConvT(64, C, k2, s2), tanh. Other sizes scale the start
    grid to H/4 x W/4.

    >>> g = ConvGenerator(nz=20, image_shape=(1, 28, 28))
    >>> g(torch.randn(2, 20)).shape
    torch.Size([2, 1, 28, 28])
    """

    def __init__(self, nz: int, image_shape: tuple[int, int, int], sigma: float = 0.3, hidden: int = 1024, channels: int = 128):
        super().__init__(nz, image_shape, sigma)
        c, h, w = image_shape
        if h % 4 or w % 4:
            raise ValueError(f"ConvGenerator needs H and W divisible by 4, got {h}x{w}")
        self.start = (channels, h // 4, w // 4)
        self.net = nn.Sequential(
            nn.Linear(nz, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Linear(hidden, channels * (h // 4) * (w // 4)),
            nn.BatchNorm1d(channels * (h // 4) * (w // 4)),
            nn.ReLU(),
            nn.Unflatten(1, self.start),
            nn.ConvTranspose2d(channels, channels // 2, 2, 2),
            nn.BatchNorm2d(channels // 2),
            nn.ReLU(),
            nn.ConvTranspose2d(channels // 2, c, 2, 2),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


# Per image-size architecture presets (hidden, channels).
_PRESETS = {28: (1024, 128), 8: (256, 64)}


def build_generator(cfg, image_shape: tuple[int, int, int]) -> Generator:
    """A generator from a :class:`~genflows.config.GeneratorConfig` for images of ``image_shape``."""
    hidden, channels = _PRESETS.get(image_shape[1], (1024, 128))
    return ConvGenerator(
        cfg.nz,
        image_shape,
        sigma=cfg.sigma,
        hidden=cfg.hidden or hidden,
        channels=cfg.channels or channels,
    )
