"""Per-image squared error in pixel space (reconstruction, inpainting, recovery, interpolation).

    >>> import torch
    >>> x = torch.zeros(2, 1, 2, 2)
    >>> pixel_mse(x, x + 0.5).tolist()
    [0.25, 0.25]
"""

from __future__ import annotations

import torch

__all__ = ["pixel_mse"]


def pixel_mse(x: torch.Tensor, x_hat: torch.Tensor, hidden: torch.Tensor | None = None) -> torch.Tensor:
    """Per-image mean squared error over all pixels, or over the ``hidden`` ones (mask 0) only;
    images in [-1, 1] (divide by 4 for the [0, 1] scale)."""
    sq = (x - x_hat).pow(2)
    if hidden is None:
        return sq.flatten(1).mean(1)
    w = hidden.expand_as(x)
    return (sq * w).flatten(1).sum(1) / w.flatten(1).sum(1).clamp_min(1)
