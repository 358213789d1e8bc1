"""Training-time data augmentation.

    >>> x = torch.arange(8.0).view(2, 1, 1, 4)
    >>> y, _ = random_hflip(x, None, torch.Generator().manual_seed(0))
    >>> all(torch.equal(a, b) or torch.equal(a, b.flip(-1)) for a, b in zip(y, x))
    True
"""

from __future__ import annotations

import torch

__all__ = ["random_hflip"]


def random_hflip(x: torch.Tensor, mask: torch.Tensor | None, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Each image (and its mask) mirrored left-right with probability 1/2, drawn from ``generator``."""
    flip = (torch.rand(x.shape[0], generator=generator) < 0.5).view(-1, *[1] * (x.dim() - 1)).to(x.device)
    x = torch.where(flip, x.flip(-1), x)
    return x, None if mask is None else torch.where(flip, mask.flip(-1), mask)
