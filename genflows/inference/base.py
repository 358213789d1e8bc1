"""The inference seam: (x, optional pixel mask) -> posterior samples z."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Inference"]


class Inference(nn.Module):
    """Turns observations into latent samples using only the prior's and generator's public
    methods: ``log_prob``, ``log_likelihood`` and, inside chains, their chain terms
    (:meth:`~genflows.priors.Prior.chain_log_prob`,
    :meth:`~genflows.generators.Generator.chain_log_likelihood`), which carry the gradient in z."""

    amortized = False  # an encoder gives z (trained by the ELBO); else z comes from a chain

    def forward(self, prior, generator, x: torch.Tensor, mask: torch.Tensor | None = None, **kwargs) -> torch.Tensor:
        raise NotImplementedError
