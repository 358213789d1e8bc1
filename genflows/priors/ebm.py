"""Latent energy-based prior (LEBM, Pang et al. 2020), the latent-flow paper's Eq. (11)-(12) baseline.

p_alpha(z) = exp(f_alpha(z)) N(z; 0, sigma_p^2 I) / Z(alpha)

Z(alpha) is intractable: :meth:`log_prob` is *unnormalised* (``normalized = False``). Sampling is
a short-run Langevin chain from N(0, I) (reference: 60 steps, s = 0.4), so the learning step
(Eq. 12's contrastive gradient) uses biased prior samples, which is the paper's point.
"""

from __future__ import annotations

import torch
from torch import nn

from ..langevin import frozen, langevin
from .base import Prior

__all__ = ["EBMPrior"]


class EBMPrior(Prior):
    """>>> prior = EBMPrior(nz=4, hidden=16, sample_steps=5)
    >>> prior.sample(3).shape
    torch.Size([3, 4])
    """

    normalized = False

    def __init__(self, nz: int, hidden: int = 200, sigma_p: float = 1.0, sample_steps: int = 60, sample_step_size: float = 0.4):
        super().__init__(nz)
        self.f = nn.Sequential(
            nn.Linear(nz, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, 1)
        )
        self.sigma_p = sigma_p
        self.sample_steps = sample_steps
        self.sample_step_size = sample_step_size

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """Unnormalised: f_alpha(z) - ||z||^2 / (2 sigma_p^2)."""
        return self.f(z).squeeze(1) - (z * z).sum(1) / (2 * self.sigma_p**2)

    def sample(self, n: int) -> torch.Tensor:
        z0 = torch.randn(n, self.nz, device=self.f[0].weight.device, dtype=self.f[0].weight.dtype)
        with frozen(self):
            return langevin(lambda z: -self.log_prob(z), z0, self.sample_steps, self.sample_step_size, noise=True, what="EBM prior z")

    def learning_loss(self, z: torch.Tensor) -> torch.Tensor:
        # Eq. (12): ascend E_posterior[f(z)] - E_prior[f(z)]; the N(0, sigma_p^2) part has no parameters.
        z_neg = self.sample(z.shape[0])
        return self.f(z_neg.detach()).mean() - self.f(z.detach()).mean()
