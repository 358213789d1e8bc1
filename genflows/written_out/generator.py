"""A generator's log-likelihood inside a Langevin chain, with its gradient in z written out.

Every posterior step evaluates log p_beta(x | z) and its gradient in z with the generator's
weights fixed. Recorded by autograd, each of the generator's tensor operations adds a graph node
in the forward pass and a scheduled backward call after it; on the small networks of the
digits runs that bookkeeping, not the arithmetic, is most of a step. Here the forward pass keeps
what each layer's backward needs and the layers' backward kernels (the ones autograd itself
would call) are replayed in reverse, with no autograd at all: the same numbers, a fraction of
the overhead.

The result is a :class:`~genflows.langevin.WithGradient`: called, it is the generator's own
``log_likelihood`` (autograd, gradients in x, z and the weights); its ``value_and_grad`` is the
written-out path, which gives the gradient in z alone and refuses inputs it cannot serve.

Supported: a generator whose forward is ``net(z)`` (:class:`~genflows.generators.Generator`'s
own forward; the caller checks) and whose ``net`` is an ``nn.Sequential`` of Linear,
BatchNorm1d/2d (train or eval mode), ReLU, LeakyReLU, Tanh, Unflatten and
:class:`~genflows.patch_conv.PatchConvTranspose2d` layers (the MNIST / digits generator), its
weights frozen; anything else returns None and the chain takes autograd on this term alone.
Under autocast or in another dtype ``value_and_grad`` runs autograd through the module.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..gaussian_likelihood import gaussian_terms
from ..langevin import WithGradient, autograd_term
from ..patch_conv import PatchConvTranspose2d

__all__ = ["written_out_log_likelihood"]

aten = torch.ops.aten


def written_out_log_likelihood(generator) -> WithGradient | None:
    """``generator.log_likelihood`` as a :class:`~genflows.langevin.WithGradient` whose
    ``value_and_grad(x, z, mask=None)`` is written out (up to float rounding the same value and
    z-gradient), or None where a layer is not supported or a weight still requires grad (a
    learning step must see them through autograd). The generator's forward must be ``net(z)``:
    :meth:`~genflows.generators.Generator.chain_log_likelihood` checks that. Build it with the
    weights frozen (inside :func:`~genflows.langevin.frozen`) and rebuild it whenever they change.

    >>> from genflows.generators import ConvGenerator
    >>> g = ConvGenerator(4, (1, 8, 8), hidden=16, channels=8).requires_grad_(False)
    >>> ll = written_out_log_likelihood(g)
    >>> x, z = torch.rand(5, 1, 8, 8), torch.randn(5, 4, requires_grad=True)
    >>> value, grad = ll.value_and_grad(x, z)
    >>> torch.allclose(value, g.log_likelihood(x, z), atol=1e-4)
    True
    >>> torch.allclose(grad, torch.autograd.grad(g.log_likelihood(x, z).sum(), z)[0], atol=1e-4)
    True
    """
    layers = [_layer(m) for m in getattr(generator, "net", ())]
    if not layers or any(layer is None for layer in layers) or any(p.requires_grad for p in generator.parameters()):
        return None
    sigma = generator.sigma
    through_module = autograd_term(generator.log_likelihood, wrt=1)

    def value_and_grad(x: torch.Tensor, z: torch.Tensor, mask: torch.Tensor | None = None):
        if torch.is_autocast_enabled(z.device.type) or z.dtype != torch.float32:
            return through_module.value_and_grad(x, z, mask)
        with torch.no_grad():  # the gradient is written out: nothing here is for autograd
            ll, diff, saved = _forward(z, x, mask, layers, sigma)
            return ll, _backward(layers, saved, diff if mask is None else diff * mask, 1 / sigma**2)

    return WithGradient(generator.log_likelihood, value_and_grad)


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
    """Pull ``scale * g_mean`` (the gradient in g(z), up to its number ``scale``) back to z through the layers' backward kernels in reverse order."""
    g = g_mean * scale
    for (_, bwd), s in zip(reversed(layers), reversed(saved)):
        g = bwd(g, s)
    return g
