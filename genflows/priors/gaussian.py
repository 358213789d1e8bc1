"""Fixed Gaussian prior N(0, I): the ABP model of Han et al. (2017)."""

from __future__ import annotations

import math

import torch

from ..langevin import WithGradient
from .base import Prior

__all__ = ["GaussianPrior"]


class GaussianPrior(Prior):
    """p(z) = N(0, I_nz); nothing to learn.

    >>> GaussianPrior(2).log_prob(torch.zeros(1, 2))
    tensor([-1.8379])
    """

    normalized = True

    def __init__(self, nz: int):
        super().__init__(nz)
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)  # carries the device

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        return -0.5 * (z * z).sum(1) - 0.5 * self.nz * math.log(2 * math.pi)

    def grad_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        return -z

    def written_out_log_prob(self):
        # Its gradient is -z (not for a subclass with another log_prob, whose gradient autograd
        # must take); -z is a new tensor, never z itself.
        if type(self).log_prob is not GaussianPrior.log_prob:
            return None
        return WithGradient(self.log_prob, lambda z: (self.log_prob(z), -z))

    def sample(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.nz, device=self._anchor.device, dtype=self._anchor.dtype)

    def learning_loss(self, z: torch.Tensor) -> None:
        return None
