"""Normalizing-flow transforms built from nflows (the latent prior's, the data-space flows', the
VAE's IAF).

Everything else sees a ``Transform`` with nflows' contract ``forward(z) -> (u, logabsdet)``
mapping data to base noise and ``inverse(u) -> (z, logabsdet)``. Replacing nflows means
replacing this package.

nflows 0.14 quirks handled here: its ``nets.MLP`` cannot be a coupling net (no ``context``
argument), so :class:`CouplingMLP` is used; ``LULinear.inverse`` calls the deprecated
``triangular_solve`` and warns on every call, which is silenced where sampling happens.

Example::

    >>> t = build_transform("coupling", features=4, depth=2, hidden=16)
    >>> u, logdet = t(torch.randn(3, 4))
    >>> u.shape, logdet.shape
    (torch.Size([3, 4]), torch.Size([3]))
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Callable

import torch
from nflows import transforms as T
from torch import nn

from .reference import reference_transform

__all__ = ["TRANSFORMS", "CouplingMLP", "build_transform", "image_transform", "iaf_steps", "quiet_nflows"]


class CouplingMLP(nn.Module):
    """Coupling conditioner ``(inputs, context) -> params``; last layer zero-initialised so that
    each coupling starts as a fixed affine map (Glow's initialisation)."""

    def __init__(self, in_features: int, out_features: int, hidden: int, layers: int = 2):
        super().__init__()
        self.hidden_features = hidden  # nflows' spline couplings scale their logits by sqrt(this)
        mods: list[nn.Module] = []
        d = in_features
        for _ in range(layers):
            mods += [nn.Linear(d, hidden), nn.LeakyReLU(0.2)]
            d = hidden
        last = nn.Linear(d, out_features)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(*mods, last)

    def forward(self, inputs: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(inputs)


def _alternating_mask(features: int, parity: int) -> torch.Tensor:
    mask = torch.arange(features) % 2 == parity
    if features == 1:  # nflows needs at least one transformed feature
        mask = torch.ones(1, dtype=torch.bool)
    return mask.to(torch.int)


def _glow_steps(features: int, depth: int, hidden: int, coupling: Callable[..., T.Transform]) -> T.Transform:
    """``depth`` x (actnorm -> invertible LU linear -> coupling), masks alternating per step."""
    steps: list[T.Transform] = []
    for i in range(depth):
        net = lambda i_, o_: CouplingMLP(i_, o_, hidden)  # noqa: E731
        steps += [T.ActNorm(features), T.LULinear(features, identity_init=True), coupling(_alternating_mask(features, i % 2), net)]
    return T.CompositeTransform(steps)


def _coupling(features: int, depth: int, hidden: int) -> T.Transform:
    """RealNVP/Glow: affine couplings."""
    return _glow_steps(features, depth, hidden, T.AffineCouplingTransform)


def _spline(features: int, depth: int, hidden: int) -> T.Transform:
    """Neural spline flow (Durkan et al. 2019): rational-quadratic couplings on [-5, 5], linear tails."""

    def coupling(mask, net):
        return T.PiecewiseRationalQuadraticCouplingTransform(mask, net, num_bins=8, tails="linear", tail_bound=5.0)

    return _glow_steps(features, depth, hidden, coupling)


def _maf(features: int, depth: int, hidden: int) -> T.Transform:
    """Masked autoregressive flow (Papamakarios et al. 2017): exact density in one pass,
    sampling needs ``features`` passes."""
    steps: list[T.Transform] = []
    for _ in range(depth):
        steps += [T.ActNorm(features), T.MaskedAffineAutoregressiveTransform(features, hidden), T.ReversePermutation(features)]
    return T.CompositeTransform(steps)


TRANSFORMS: dict[str, Callable[[int, int, int], T.Transform]] = {
    "coupling": _coupling,
    "maf": _maf,
    "spline": _spline,
    "reference": reference_transform,  # the latent-flow reference code's flow (see .reference)
}


def iaf_steps(features: int, depth: int, hidden: int, context: int) -> T.Transform:
    """Inverse autoregressive flow steps (Kingma et al. 2016) for amortised posteriors.

    nflows' masked autoregressive *forward* pass maps eps -> z in one pass and returns
    log|det dz/deps|; used in that direction it is an IAF, with the encoder's hidden state as
    context."""
    steps: list[T.Transform] = []
    for _ in range(depth):
        steps += [
            T.MaskedAffineAutoregressiveTransform(features, hidden, context_features=context),
            T.ReversePermutation(features),
        ]
    return T.CompositeTransform(steps)


def build_transform(kind: str, features: int, depth: int, hidden: int) -> T.Transform:
    """A flow transform from data (z) to noise (u): ``forward(z) -> (u, logabsdet)``."""
    try:
        factory = TRANSFORMS[kind]
    except KeyError:
        raise ValueError(f"unknown flow transform '{kind}' (choose from: {', '.join(TRANSFORMS)})") from None
    with quiet_nflows():
        return factory(features, depth, hidden)


class CouplingConvNet(nn.Module):
    """Conv conditioner for image couplings: conv3x3 -> ReLU -> conv1x1 -> ReLU -> conv3x3,
    last layer zero-initialised (each coupling starts as the identity up to its fixed shift)."""

    def __init__(self, in_channels: int, out_channels: int, hidden: int):
        super().__init__()
        last = nn.Conv2d(hidden, out_channels, 3, padding=1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(nn.Conv2d(in_channels, hidden, 3, padding=1), nn.ReLU(), nn.Conv2d(hidden, hidden, 1), nn.ReLU(), last)

    def forward(self, inputs: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(inputs)


def image_transform(shape: tuple[int, int, int], levels: int, depth: int, hidden: int) -> T.Transform:
    """Multi-scale RealNVP/Glow flow (Dinh et al. 2017; Kingma & Dhariwal 2018) on (C, H, W):
    per level, squeeze 2x2 -> ``depth`` x (actnorm -> invertible 1x1 conv -> affine coupling over
    channels) -> factor out half the channels (not after the last level). Outputs are flat."""
    c, h, w = shape
    if h % 2**levels or w % 2**levels:
        raise ValueError(f"image flow with {levels} levels needs H and W divisible by {2 ** levels}, got {h}x{w}")
    ms = T.MultiscaleCompositeTransform(levels)
    for level in range(levels):
        c, h, w = c * 4, h // 2, w // 2
        steps: list[T.Transform] = [T.SqueezeTransform()]
        for i in range(depth):
            mask = (torch.arange(c) % 2 == i % 2).to(torch.int)
            steps += [T.ActNorm(c), T.OneByOneConvolution(c), T.AffineCouplingTransform(mask, lambda i_, o_: CouplingConvNet(i_, o_, hidden))]
        nxt = ms.add_transform(T.CompositeTransform(steps), (c, h, w))
        if nxt is not None:
            c, h, w = nxt
    return ms


@contextlib.contextmanager
def quiet_nflows():
    """Silence nflows' deprecation warnings (``triangular_solve`` in LU inverses)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*triangular_solve.*")
        warnings.filterwarnings("ignore", category=UserWarning, module="nflows")
        yield
