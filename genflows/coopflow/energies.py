"""Negative energies f_theta(x) of data-space EBMs, p_theta(x) ∝ exp f_theta(x) (CoopFlow paper
Eq. 1): the ConvNet of its Table 2 with a width multiplier (so it fits a CPU), and an MLP for
2-D data.

Two versions of the ConvNet's residual block (``coop.energy_arch``): ``official``, as in the
authors' code (conv1 keeps the width, conv2 widens, a 3x3 conv + Swish shortcut; the head a
plain conv), and ``compact``, the block genflows used first (conv1 widens, a linear 1x1
shortcut, Swish after the head), with which the MNIST results recorded before were measured.

>>> ConvEnergy((1, 28, 28), width=8)(torch.zeros(2, 1, 28, 28)).shape
torch.Size([2])
>>> MLPEnergy(2)(torch.zeros(5, 2)).shape
torch.Size([5])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MLPEnergy", "ConvEnergy", "ResidualDown", "OfficialDown", "ENERGY_ARCHS", "build_energy"]


class MLPEnergy(nn.Module):
    """x (B, D) -> Linear -> Swish -> Linear -> Swish -> Linear(1)."""

    def __init__(self, dim: int, hidden: int = 128):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)


class ResidualDown(nn.Module):
    """Table 2(b): conv3x3 + Swish, conv3x3 + Swish, plus the input (1x1-projected when the
    width changes), then 2x2 average pooling."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.c1 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.c2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.silu(self.c2(F.silu(self.c1(x))))
        return F.avg_pool2d(h + self.skip(x), 2)


class OfficialDown(nn.Module):
    """Table 2(b) as the authors' code builds it: Swish(conv3x3 c_in -> c_in), Swish(conv3x3 ->
    c_out), plus Swish(conv3x3 c_in -> c_out) of the input, then 2x2 average pooling."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.c1 = nn.Conv2d(c_in, c_in, 3, 1, 1)
        self.c2 = nn.Conv2d(c_in, c_out, 3, 1, 1)
        self.skip = nn.Conv2d(c_in, c_out, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(F.silu(self.c2(F.silu(self.c1(x)))) + F.silu(self.skip(x)), 2)


ENERGY_ARCHS = {"official": OfficialDown, "compact": ResidualDown}


class ConvEnergy(nn.Module):
    """Table 2(a) of the CoopFlow paper at ``width`` / 128 of its channels:
    conv3x3(ch) + Swish -> residual down-blocks (2 ch, 4 ch, 8 ch) -> conv(str 4 on 32x32 inputs;
    here: whatever is left of the grid) to 100 channels + Swish -> sum over channels and space.
    """

    def __init__(self, image_shape: tuple[int, int, int], width: int = 32, out_channels: int = 100, arch: str = "official"):
        super().__init__()
        block = ENERGY_ARCHS[arch]
        self.head_swish = arch == "compact"
        c, h, w = image_shape
        self.stem = nn.Conv2d(c, width, 3, 1, 1)
        blocks, ch = [], width
        n_down = 3 if min(h, w) >= 16 else 1  # 8x8 digits: one down-block
        for _ in range(n_down):
            blocks.append(block(ch, 2 * ch))
            ch *= 2
        self.blocks = nn.Sequential(*blocks)
        side = min(h, w) // 2**n_down  # 32 -> 4 (the paper's stride-4 conv), 28 -> 3, 8 -> 4
        self.head = nn.Conv2d(ch, out_channels, side, side, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(F.silu(self.stem(x)))
        out = self.head(h)
        return (F.silu(out) if self.head_swish else out).flatten(1).sum(1)


def build_energy(shape: tuple[int, ...], width: int, arch: str = "official") -> nn.Module:
    """An MLP energy for vectors, the ConvNet energy for images."""
    return MLPEnergy(shape[0], width) if len(shape) == 1 else ConvEnergy(shape, width, arch=arch)
