"""The prior seam: p_alpha(z) over the latent space of a top-down generator."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

__all__ = ["Prior"]


class Prior(nn.Module):
    """A latent prior p_alpha(z).

    Subclasses implement :meth:`log_prob` and :meth:`sample`, say whether the density is
    ``normalized``, and define their own :meth:`learning_loss` given posterior samples
    (flow: -log p(z), Eq. (6) of the latent-flow paper; Gaussian: nothing to learn).
    """

    normalized: bool = True

    def __init__(self, nz: int):
        super().__init__()
        self.nz = nz

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """Per-example log-density, shape (B,)."""
        raise NotImplementedError

    def sample(self, n: int) -> torch.Tensor:
        """``n`` samples, shape (n, nz)."""
        raise NotImplementedError

    def chain_log_prob(self) -> Callable[[torch.Tensor], torch.Tensor]:
        """:meth:`log_prob` for a Langevin chain, during which the parameters stay fixed: a prior
        may precompute what depends on its parameters alone (call it after freezing them)."""
        return self.log_prob

    def grad_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """grad_z log p(z) by autograd (z is not modified)."""
        with torch.enable_grad():
            z = z.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(self.log_prob(z).sum(), z)
        return g

    def learning_loss(self, z: torch.Tensor) -> torch.Tensor | None:
        """Loss whose gradient is the prior's learning gradient given posterior samples ``z``
        (None when the prior has no parameters to learn)."""
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        for t in list(self.parameters()) + list(self.buffers()):
            return t.device
        return torch.device("cpu")
