"""Latent normalizing-flow prior (LFBM), latent-flow paper Section 3.1.

p_alpha(z) = q0(f_alpha^{-1}(z)) |det d f_alpha^{-1}(z) / dz|, q0 = N(0, I)   (Eq. 2, 5)
"""

from __future__ import annotations

import math

import torch

from ..flows import build_transform, quiet_nflows
from ..langevin import WithGradient
from ..written_out.flow import written_out_flow
from .base import Prior

__all__ = ["FlowPrior"]


class FlowPrior(Prior):
    """Flow prior built from nflows transforms; exact log-density, sampling and gradients.

    ``transform`` maps z to base noise u (nflows' direction); sampling runs its inverse.

    >>> prior = FlowPrior(nz=4, depth=2, hidden=16)
    >>> z = prior.sample(5)
    >>> prior.log_prob(z).shape
    torch.Size([5])
    """

    normalized = True

    def __init__(self, nz: int, transform: str | torch.nn.Module = "coupling", depth: int = 5, hidden: int = 64):
        super().__init__(nz)
        # A user may pass their own nflows Transform instead of a registered name.
        self.transform = build_transform(transform, nz, depth, hidden) if isinstance(transform, str) else transform
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        # Eq. (5): log q0(z0) + sum_l log|det dz_{l-1}/dz_l|, one pass of f^{-1}. Always float32:
        # under autocast nflows' ActNorm would initialise its parameters as bf16 copies of a batch.
        with torch.autocast(z.device.type, enabled=False):
            return self._eq5(*self.transform(z))

    def _eq5(self, u: torch.Tensor, logabsdet: torch.Tensor) -> torch.Tensor:
        return -0.5 * (u * u).sum(1) - 0.5 * self.nz * math.log(2 * math.pi) + logabsdet

    def written_out_log_prob(self):
        # The flow's weights are fixed for a whole chain: its LU weights built once per chain and
        # Eq. (5)'s gradient (d/du = -u, d/dlogdet = 1) pulled back through the flow by hand.
        # Not for a subclass with another log_prob, nor while the weights still learn.
        fast = written_out_flow(self.transform) if type(self).log_prob is FlowPrior.log_prob else None
        if fast is None:
            return None

        def value_and_grad(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            (u, logdet), pullback = fast(z)
            return self._eq5(u, logdet), pullback(-u, torch.ones_like(logdet))

        return WithGradient(self.log_prob, value_and_grad)

    def sample(self, n: int) -> torch.Tensor:
        # Eq. (1): ancestral sampling z = f_alpha(z0), z0 ~ q0.
        u = torch.randn(n, self.nz, device=self._anchor.device, dtype=self._anchor.dtype)
        with quiet_nflows():
            z, _ = self.transform.inverse(u)
        return z

    def learning_loss(self, z: torch.Tensor) -> torch.Tensor:
        # Eq. (6): maximise the log-likelihood of the inferred latent vectors; in float32 even
        # under --amp (log_prob turns autocast off), whose bfloat16 would round the log-determinants.
        return -self.log_prob(z.detach().float()).mean()
