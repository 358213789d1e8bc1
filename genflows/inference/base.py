"""The inference seam: (x, optional pixel mask) -> posterior samples z."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Inference"]


class Inference(nn.Module):
    """Turns observations into latent samples using only the prior's and generator's public
    methods (``log_prob`` and ``log_likelihood``)."""

    amortized = False  # an encoder gives z (trained by the ELBO); else z comes from a chain

    def forward(self, prior, generator, x: torch.Tensor, mask: torch.Tensor | None = None, **kwargs) -> torch.Tensor:
        raise NotImplementedError
