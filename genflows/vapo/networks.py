"""The networks U(x, t) behind VAPO's potential (Loo et al. 2024; the authors' code builds on the
PFGM / score-SDE code base): an MLP for 2-D data, and a time-conditioned U-Net for images
(residual blocks with SiLU, GroupNorm and dropout, a sinusoidal embedding of t, self-attention at
the middle level). Sizes are arguments; the released CIFAR-10 sizes live in configs.

>>> net = UNet(channels=1, base=8, mults=(1, 2), blocks=1, groups=4)
>>> net(torch.zeros(2, 1, 8, 8), torch.rand(2)).shape
torch.Size([2, 1, 8, 8])
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["time_embedding", "MLPNet", "UNet"]


def time_embedding(t: torch.Tensor, dim: int, scale: float = 1000.0) -> torch.Tensor:
    """Sinusoidal features of t (Vaswani et al. 2017, as DDPM), t scaled by ``scale`` first."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=t.dtype) / max(half - 1, 1))
    a = scale * t[:, None] * freqs[None]
    return torch.cat([a.sin(), a.cos()], 1)


class MLPNet(nn.Module):
    """U(x, t) for vectors: [x, embedding(t)] -> hidden -> ... -> D, SiLU between."""

    def __init__(self, dim: int, hidden: int = 128, layers: int = 3, temb: int = 32):
        super().__init__()
        self.temb = temb
        sizes = [dim + temb] + [hidden] * layers
        mods: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            mods += [nn.Linear(a, b), nn.SiLU()]
        self.net = nn.Sequential(*mods, nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, time_embedding(t, self.temb)], 1))


class _ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, temb: int, dropout: float, groups: int):
        super().__init__()
        self.n1, self.c1 = nn.GroupNorm(min(groups, cin), cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.t = nn.Linear(temb, cout)
        self.n2, self.c2 = nn.GroupNorm(min(groups, cout), cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.drop = nn.Dropout(dropout)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.c1(F.silu(self.n1(x))) + self.t(F.silu(temb))[:, :, None, None]
        h = self.c2(self.drop(F.silu(self.n2(h))))
        return self.skip(x) + h


class _Attention(nn.Module):
    def __init__(self, ch: int, groups: int):
        super().__init__()
        self.norm, self.qkv, self.out = nn.GroupNorm(min(groups, ch), ch), nn.Conv2d(ch, 3 * ch, 1), nn.Conv2d(ch, ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).flatten(2).transpose(1, 2).chunk(3, dim=2)
        a = F.scaled_dot_product_attention(q, k, v)
        return x + self.out(a.transpose(1, 2).reshape(b, c, h, w))


class UNet(nn.Module):
    """U(x, t) for images (C, H, W): ``base`` channels times ``mults`` per level, ``blocks``
    residual blocks per level, attention at the middle, ``dropout``; H and W divisible by
    2^(levels - 1). The released CIFAR-10 network: base 128, mults (2, 2, 2), blocks 4, dropout 0.3."""

    def __init__(self, channels: int = 3, base: int = 128, mults: tuple[int, ...] = (2, 2, 2), blocks: int = 4,
                 dropout: float = 0.3, groups: int = 32):
        super().__init__()
        temb = 4 * base
        self.base = base
        self.temb = nn.Sequential(nn.Linear(base, temb), nn.SiLU(), nn.Linear(temb, temb))
        self.inp = nn.Conv2d(channels, base, 3, padding=1)
        self.down, chans, ch = nn.ModuleList(), [base], base
        for i, m in enumerate(mults):
            for _ in range(blocks):
                self.down.append(_ResBlock(ch, base * m, temb, dropout, groups))
                ch = base * m
                chans.append(ch)
            if i < len(mults) - 1:
                self.down.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                chans.append(ch)
        self.mid = nn.ModuleList([_ResBlock(ch, ch, temb, dropout, groups), _Attention(ch, groups), _ResBlock(ch, ch, temb, dropout, groups)])
        self.up = nn.ModuleList()
        for i, m in reversed(list(enumerate(mults))):
            for _ in range(blocks + 1):
                self.up.append(_ResBlock(ch + chans.pop(), base * m, temb, dropout, groups))
                ch = base * m
            if i > 0:
                self.up.append(nn.Upsample(scale_factor=2, mode="nearest"))
        self.out = nn.Sequential(nn.GroupNorm(min(groups, ch), ch), nn.SiLU(), nn.Conv2d(ch, channels, 3, padding=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        temb = self.temb(time_embedding(t, self.base))
        h = self.inp(x)
        skips = [h]
        for m in self.down:
            h = m(h, temb) if isinstance(m, _ResBlock) else m(h)
            skips.append(h)
        for m in self.mid:
            h = m(h, temb) if isinstance(m, _ResBlock) else m(h)
        for m in self.up:
            h = m(torch.cat([h, skips.pop()], 1), temb) if isinstance(m, _ResBlock) else m(h)
        return self.out(h)
