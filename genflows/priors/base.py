"""The prior seam: p_alpha(z) over the latent space of a top-down generator."""

from __future__ import annotations

import torch
from torch import nn

from ..langevin import WithGradient, autograd_term

__all__ = ["Prior"]


class Prior(nn.Module):
    """A latent prior p_alpha(z).

    Subclasses implement :meth:`log_prob` and :meth:`sample`, say whether the density is
    ``normalized``, and define their own :meth:`learning_loss` given posterior samples
    (flow: -log p(z), Eq. (6) of the latent-flow paper; Gaussian: nothing to learn). A prior
    whose gradient can be written out offers it through :meth:`written_out_log_prob`; every
    other prior's chains take autograd on its term alone (:meth:`chain_log_prob`).
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

    def chain_log_prob(self, written_out: bool = True) -> WithGradient:
        """:meth:`log_prob` for a Langevin chain, during which the parameters stay fixed (call it
        after freezing them), with ``value_and_grad(z)``: the prior's own written-out gradient
        (:meth:`written_out_log_prob`) where it has one and ``written_out`` is on
        (``inference.written_out``), else autograd through this term alone. Called, it is
        :meth:`log_prob` itself, so autograd sees every input and parameter."""
        fast = self.written_out_log_prob() if written_out else None
        return fast or autograd_term(self.log_prob)

    def written_out_log_prob(self) -> WithGradient | None:
        """``WithGradient(self.log_prob, value_and_grad)`` with the z-gradient written out (it
        may precompute what depends on the frozen parameters alone), or None: the default, and
        the answer wherever the written-out form would not be this class's :meth:`log_prob`
        (a subclass that changes it) or its parameters still require grad."""
        return None

    def grad_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """grad_z log p(z) by autograd (z is not modified)."""
        return autograd_term(self.log_prob).value_and_grad(z)[1]

    def learning_loss(self, z: torch.Tensor) -> torch.Tensor | None:
        """Loss whose gradient is the prior's learning gradient given posterior samples ``z``
        (None when the prior has no parameters to learn)."""
        raise NotImplementedError

    @property
    def device(self) -> torch.device:
        for t in list(self.parameters()) + list(self.buffers()):
            return t.device
        return torch.device("cpu")
