"""A generator's log-likelihood inside a Langevin chain, with its gradient in z written out.

Every posterior step evaluates log p_beta(x | z) and its gradient in z with the generator's
weights fixed. Recorded by autograd, each of the generator's tensor operations adds a graph node
in the forward pass and a scheduled backward call after it; on the small networks of the
digits runs that bookkeeping, not the arithmetic, is most of a step. Here the forward pass keeps
what each layer's backward needs and the layers' backward kernels (the ones autograd itself
would call) are replayed in reverse: as one autograd node, or with no autograd at all through
``value_and_grad`` (:class:`~genflows.langevin.WithGradient`). The same numbers, a fraction of the
overhead. Gradients flow to ``z`` only, once (no double backward).

Supported: a generator whose forward is ``net(z)`` (the caller checks) and whose ``net`` is an
``nn.Sequential`` of Linear, BatchNorm1d/2d (train or
eval mode), ReLU, LeakyReLU, Tanh, Unflatten and :class:`~genflows.generators.PatchConvTranspose2d`
layers (the MNIST / digits generator), in float32 without autocast; anything else returns None
and the chain uses the module itself.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from .generators import PatchConvTranspose2d, gaussian_terms
from .langevin import WithGradient

__all__ = ["frozen_log_likelihood"]

aten = torch.ops.aten


def frozen_log_likelihood(generator) -> WithGradient | None:
    """``(x, z, mask=None) -> log p_beta(x | z)`` per example, equal to
    ``generator.log_likelihood`` (up to float rounding) with its z-gradient written out (also as
    ``.value_and_grad(x, z, mask)``), or None where the generator's layers are not all supported.
    The generator's forward must be ``net(z)``: :meth:`ConvGenerator.chain_log_likelihood` checks
    that. Build it with the weights frozen (inside :func:`~genflows.langevin.frozen`) and rebuild
    it whenever they change; under autocast it calls the generator itself.

    >>> from genflows.generators import ConvGenerator
    >>> g = ConvGenerator(4, (1, 8, 8), hidden=16, channels=8).requires_grad_(False)
    >>> ll = frozen_log_likelihood(g)
    >>> x, z = torch.rand(5, 1, 8, 8), torch.randn(5, 4)
    >>> torch.allclose(ll(x, z), g.log_likelihood(x, z), atol=1e-4)
    True
    """
    layers = [_layer(m) for m in getattr(generator, "net", ())]
    if not layers or any(layer is None for layer in layers) or any(p.requires_grad for p in generator.parameters()):
        return None
    sigma = generator.sigma

    def log_likelihood(x: torch.Tensor, z: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if torch.is_autocast_enabled(z.device.type) or z.dtype != torch.float32:
            return generator.log_likelihood(x, z, mask)
        return _FrozenGenerator.apply(z, x, mask, layers, sigma)

    def value_and_grad(x: torch.Tensor, z: torch.Tensor, mask: torch.Tensor | None = None):
        if torch.is_autocast_enabled(z.device.type) or z.dtype != torch.float32:
            with torch.enable_grad():
                z = z.detach().requires_grad_(True)
                ll = generator.log_likelihood(x, z, mask)
                return ll.detach(), torch.autograd.grad(ll.sum(), z)[0]
        ll, diff, saved = _forward(z, x, mask, layers, sigma)
        return ll, _backward(layers, saved, diff if mask is None else diff * mask, 1 / sigma**2)

    return WithGradient(log_likelihood, value_and_grad)


# Each layer: (forward(h) -> (out, saved), backward(g, saved) -> g_in), built once per chain.
def _layer(m: nn.Module):
    if type(m) is nn.Linear:
        w, b = m.weight.detach(), m.bias
        wt = w.t()
        if b is None:
            return lambda h: (h @ wt, None), lambda g, s: g @ w
        b = b.detach()
        return lambda h: (torch.addmm(b, h, wt), None), lambda g, s: g @ w
    if isinstance(m, nn.modules.batchnorm._BatchNorm) and type(m) in (nn.BatchNorm1d, nn.BatchNorm2d):
        return _batch_norm(m)
    if type(m) is nn.ReLU:
        return lambda h: ((o := torch.relu(h)), o), lambda g, o: aten.threshold_backward(g, o, 0)
    if type(m) is nn.LeakyReLU:
        slope = m.negative_slope
        return lambda h: (F.leaky_relu(h, slope), h), lambda g, h: aten.leaky_relu_backward(g, h, slope, False)
    if type(m) is nn.Tanh:
        return lambda h: ((o := torch.tanh(h)), o), lambda g, o: aten.tanh_backward(g, o)
    if type(m) is nn.Unflatten:
        dim, size = m.dim, m.unflattened_size
        return lambda h: (h.unflatten(dim, size), h.shape), lambda g, shape: g.reshape(shape)
    if type(m) is PatchConvTranspose2d:
        return _patch_conv(m)
    return None


def _batch_norm(m: nn.modules.batchnorm._BatchNorm):
    # Train mode (or no running statistics): batch statistics, as the module. The running
    # statistics move only where the chain lets them (frozen(..., bn_updates=True) keeps the
    # momentum, which is read here, at build time); a cumulative average (momentum None) is left
    # to the module.
    train = m.training or m.running_mean is None
    update = train and m.running_mean is not None and m.momentum != 0.0
    if update and m.momentum is None:
        return None
    rm, rv = (m.running_mean, m.running_var) if update or not train else (None, None)
    momentum = m.momentum if update else 0.0
    brm, brv = (None, None) if train else (rm, rv)  # train mode's backward needs the batch's only
    w = None if m.weight is None else m.weight.detach()
    b = None if m.bias is None else m.bias.detach()
    eps = m.eps

    def forward(h):
        out, mean, invstd = aten.native_batch_norm(h, w, b, rm, rv, train, momentum, eps)
        if update:
            m.num_batches_tracked.add_(1)
        return out, (h, mean, invstd)

    def backward(g, saved):
        h, mean, invstd = saved
        return aten.native_batch_norm_backward(g, h, w, brm, brv, mean, invstd, train, eps, [True, False, False])[0]

    return forward, backward


def _patch_conv(m):
    # The layer's own matrix-product form (see PatchConvTranspose2d), its weight matrix and
    # repeated bias made once per chain.
    c, o, k = m.in_channels, m.out_channels, m.stride[0]
    wmat = m.weight.detach().permute(0, 2, 3, 1).reshape(c, k * k * o)
    bias = m.bias.detach().repeat(k * k)

    def forward(x):
        n, _, h, w = x.shape
        y = torch.addmm(bias, x.permute(0, 2, 3, 1).reshape(n * h * w, c), wmat)
        y = y.view(n, h, w, k, k, o).permute(0, 1, 3, 2, 4, 5).reshape(n, h * k, w * k, o)
        return y.permute(0, 3, 1, 2), (n, h, w)

    def backward(g, shape):
        n, h, w = shape
        rows = g.permute(0, 2, 3, 1).reshape(n, h, k, w, k, o).permute(0, 1, 3, 2, 4, 5).reshape(n * h * w, k * k * o)
        return (rows @ wmat.t()).view(n, h, w, c).permute(0, 3, 1, 2)

    return forward, backward


def _forward(z, x, mask, layers, sigma):
    """(log-likelihood, m (x - g(z)), what each layer's backward needs)."""
    h, saved = z, []
    for fwd, _ in layers:
        h, s = fwd(h)
        saved.append(s)
    ll, diff = gaussian_terms(x, h, sigma, mask)
    return ll, diff, saved


def _backward(layers, saved, g_mean, scale):
    """Pull ``scale * g_mean`` (the gradient in g(z), up to its scale: a number or a (B, 1, 1, 1)
    tensor) back to z through the layers' backward kernels in reverse order."""
    g = g_mean * scale
    for (_, bwd), s in zip(reversed(layers), reversed(saved)):
        g = bwd(g, s)
    return g


class _FrozenGenerator(torch.autograd.Function):
    """log N(x; g(z), sigma^2 I) over the visible pixels; backward: d/dg = m^2 (x - g) / sigma^2
    pulled back through the layers' backward kernels in reverse order."""

    @staticmethod
    def forward(ctx, z, x, mask, layers, sigma):
        ll, ctx.diff, ctx.saved = _forward(z, x, mask, layers, sigma)
        ctx.layers, ctx.mask, ctx.sigma = layers, mask, sigma
        return ll

    @staticmethod
    @once_differentiable
    def backward(ctx, g_ll):
        diff = ctx.diff if ctx.mask is None else ctx.diff * ctx.mask  # masked once already: m^2 (x - g)
        g = _backward(ctx.layers, ctx.saved, diff, (g_ll / ctx.sigma**2).view(-1, *([1] * (diff.dim() - 1))))
        del ctx.saved, ctx.diff
        return g, None, None, None, None
