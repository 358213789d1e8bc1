"""The pieces of EBFlow's fully connected flow (Chao et al., NeurIPS 2023, Section 3; the authors'
``models/mnist/fc.py``): the smooth leaky ReLU and its inverse, and the MaP preprocessing of 8-bit
images (dequantise, scale, logit) with its log-determinant split into the part that depends on x
and the part that does not.

>>> x = torch.linspace(-4, 4, 9)
>>> torch.allclose(smooth_leaky_relu_inverse(smooth_leaky_relu(x, 0.3), 0.3), x, atol=1e-5)
True
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["smooth_leaky_relu", "smooth_leaky_relu_log_slope", "smooth_leaky_relu_inverse", "Preprocess"]


def smooth_leaky_relu(h: torch.Tensor, alpha: float, residual: bool = False) -> torch.Tensor:
    """s(h) = alpha h + (1 - alpha) log(1 + e^h) (+ h with ``residual``, the authors' CNN): slope
    alpha far left, 1 far right, smooth between (one more with ``residual``)."""
    return alpha * h + (1 - alpha) * F.softplus(h) + (h if residual else 0.0)


def _slope(h: torch.Tensor, alpha: float, residual: bool) -> torch.Tensor:
    return alpha + (1 - alpha) * torch.sigmoid(h) + (1.0 if residual else 0.0)


def smooth_leaky_relu_log_slope(h: torch.Tensor, alpha: float, residual: bool = False) -> torch.Tensor:
    """log s'(h) = log(alpha + (1 - alpha) sigmoid(h) (+ 1)), elementwise."""
    return torch.log(_slope(h, alpha, residual))


def smooth_leaky_relu_inverse(y: torch.Tensor, alpha: float, n_iter: int = 100, residual: bool = False) -> torch.Tensor:
    """h with s(h) = y by Newton's method from h = y (the authors' solver: slope floored at 1e-2)."""
    h = y.clone()
    for _ in range(n_iter):
        h = h - (smooth_leaky_relu(h, alpha, residual) - y) / _slope(h, alpha, residual).clamp_min(1e-2)
    return h


class Preprocess:
    """8-bit pixels p in {0..255} -> w = logit_lambda(shift + (1 - 2 shift) (p + u) / 256), u ~ U[0, 1)
    (the authors' ``Dequantization``, ``Normalization`` x 2, ``LogitTransform(lambda)``).

    The scalings' log-determinant is a constant (``linear_logdet``); the logit's depends on the
    pixel (``logit_logdet``): with MaP it is left out of the energy and score matching runs on w;
    without MaP it belongs to the energy of the pixels."""

    def __init__(self, dim: int, smoothness: float = 0.5, shift: float = 1e-6):
        self.dim, self.smoothness, self.shift = dim, smoothness, shift
        self.linear_logdet = dim * (-math.log(256.0) + math.log(1 - 2 * shift))

    def unit(self, pixels: torch.Tensor) -> torch.Tensor:
        """Dequantised pixels (in [0, 256)) -> y' in (shift, 1 - shift)."""
        return (pixels / 256.0 + self.shift) * (1 - 2 * self.shift)

    def logit(self, y: torch.Tensor) -> torch.Tensor:
        return (torch.log(y) - torch.log1p(-y)) / self.smoothness

    def logit_logdet(self, y: torch.Tensor) -> torch.Tensor:
        return (-math.log(self.smoothness) - torch.log(y) - torch.log1p(-y)).sum(1)

    def inverse(self, w: torch.Tensor) -> torch.Tensor:
        """w -> pixels in [0, 256) (continuous; floor them for 8-bit values)."""
        y = torch.sigmoid(w * self.smoothness)
        return (y / (1 - 2 * self.shift) - self.shift) * 256.0
