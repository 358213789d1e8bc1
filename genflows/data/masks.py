"""Pixel masks for inpainting and learning from incomplete data (latent-flow paper Sections 4.3
and 4.6, after Han et al. 2017). Visible = 1, hidden = 0; shape (N, 1, H, W), broadcast over
channels. Every mask is a fixed function of (image index, seed), so a run and its resume, or
two models compared on the same data, see the same holes.

>>> m = make_masks(4, (1, 28, 28), "pepper", fraction=0.3, seed=0)
>>> m.shape, round(1 - m.mean().item(), 1)
(torch.Size([4, 1, 28, 28]), 0.3)
"""

from __future__ import annotations

import torch

from ..errors import GenflowsError

__all__ = ["make_masks", "default_square", "MASK_KINDS"]

MASK_KINDS = ("center", "square", "pepper")


def default_square(image_shape: tuple[int, int, int]) -> int:
    """Half the image side: 14 on 28x28 (the paper's 40 on 64x64 is close to 0.6)."""
    return min(image_shape[1:]) // 2


def make_masks(
    n: int,
    image_shape: tuple[int, int, int],
    kind: str = "center",
    size: int | None = None,
    fraction: float = 0.5,
    seed: int = 0,
    offset: int = 0,
    corner: int | None = None,
) -> torch.Tensor:
    """Masks for images ``offset .. offset + n - 1`` of a dataset.

    - ``center``: the centred ``size`` x ``size`` square is hidden (supervised inpainting), or with
      ``corner`` the one whose top-left pixel is (corner, corner) (the CoopFlow authors'
      test_impaint.py: 16 x 16 at 7 on 32 x 32).
    - ``square``: one ``size`` x ``size`` square at a uniformly random position per image.
    - ``pepper``: each pixel hidden independently with probability ``fraction`` (salt-and-pepper
      occlusion; the hidden fraction per image is ``fraction`` up to binomial noise).
    """
    _, h, w = image_shape
    size = size or default_square(image_shape)
    if kind == "center":
        m = torch.ones(1, 1, h, w)
        top, left = ((h - size) // 2, (w - size) // 2) if corner is None else (corner, corner)
        if top + size > h or left + size > w:
            raise GenflowsError(f"mask.corner {corner} + mask.size {size} does not fit a {h}x{w} image")
        m[..., top : top + size, left : left + size] = 0
        return m.expand(n, 1, h, w).clone()
    # One generator stream per call, advanced past the first `offset` images, so masks of a
    # dataset do not depend on how it is chunked.
    g = torch.Generator().manual_seed(seed)
    if kind == "pepper":
        u = torch.rand(offset + n, 1, h, w, generator=g)[offset:]
        return (u >= fraction).float()
    if kind == "square":
        top = torch.randint(0, h - size + 1, (offset + n,), generator=g)[offset:]
        left = torch.randint(0, w - size + 1, (offset + n,), generator=g)[offset:]
        rows = torch.arange(h).view(1, h, 1)
        cols = torch.arange(w).view(1, 1, w)
        inside = (rows >= top.view(-1, 1, 1)) & (rows < (top + size).view(-1, 1, 1)) & (cols >= left.view(-1, 1, 1)) & (
            cols < (left + size).view(-1, 1, 1)
        )
        return (~inside).float().unsqueeze(1)
    raise ValueError(f"unknown mask kind '{kind}'")
