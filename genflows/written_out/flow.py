"""A flow prior's transform evaluated many times with the same weights (inside a Langevin chain),
with the work that does not change done once and its gradient in z written out."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from nflows import transforms as T
from torch import nn

from ..flows.transforms import CouplingMLP, build_transform

__all__ = ["written_out_flow"]


def written_out_flow(transform: nn.Module) -> Callable[[torch.Tensor], tuple[tuple[torch.Tensor, torch.Tensor], Callable]] | None:
    """``z -> ((u', logabsdet), pullback)`` for a transform whose parameters are frozen (inside a
    Langevin chain), computed without autograd: ``pullback(g_u, g_logabsdet)`` is the gradient in
    z of ``sum(g_u * u') + sum(g_logabsdet * logabsdet)``. None where no such shortcut applies,
    or where a parameter still requires grad (a learning step must see the weights through
    autograd; then call the transform itself).

    A chain evaluates the same flow K times with the same weights; nflows rebuilds each LU weight
    from its entries (index writes, softplus, two matmuls) and re-gathers each coupling's halves
    on every call, which made up most of a small model's chain step. Here every
    actnorm -> LU step becomes one cached affine map ``W diag(s)`` with a constant
    log-determinant, and the coupling's feature order is folded into the rows and columns of
    those matrices, so each half is a contiguous slice. ``u'`` is u with its features permuted:
    what a log-density needs (``|u|^2`` and the log-determinant) is unchanged, and equal to
    nflows' result up to float rounding.

    Supported: the ``coupling`` transform built here (actnorm, LU linear, affine coupling with a
    :class:`~genflows.flows.CouplingMLP`), its actnorm initialised. Build it after freezing the
    parameters and rebuild it whenever they change.

    >>> t = build_transform("coupling", features=4, depth=2, hidden=16)
    >>> _ = t(torch.randn(8, 4))  # initialises actnorm from a batch
    >>> written_out_flow(t) is None  # still learning
    True
    >>> f = written_out_flow(t.requires_grad_(False))
    >>> z = torch.randn(3, 4)
    >>> (u, ld), ((u2, ld2), _) = t(z), f(z)
    >>> torch.allclose((u * u).sum(1) - 2 * ld, (u2 * u2).sum(1) - 2 * ld2, atol=1e-5)
    True
    """
    if any(p.requires_grad for p in transform.parameters()):
        return None
    plan = _plan(transform)
    if plan is None:
        return None
    const, steps = plan

    def with_pullback(z: torch.Tensor):
        with torch.no_grad():
            u, logdet, saved = _forward(z, const, steps)
        return (u, logdet), lambda g, g_ld: _backward(steps, saved, g, g_ld)

    return with_pullback


# One step of the plan: (W, W^T, b, k, hidden layers [(A, A^T, a, negative slope)], (A_out, A_out^T, a_out + [0, 2])).
_Step = tuple


def _plan(transform: nn.Module) -> tuple[torch.Tensor, list[_Step]] | None:
    """The flow as affine maps and coupling conditioners with its feature orders folded in, or
    None where the shortcut does not apply (see :func:`written_out_flow`)."""
    steps = list(getattr(transform, "_transforms", ()))
    if len(steps) % 3 or not steps:
        return None
    triples = [steps[i : i + 3] for i in range(0, len(steps), 3)]
    nets = []
    for a, lu, c in triples:
        if not (type(a) is T.ActNorm and type(lu) is T.LULinear and type(c) is T.AffineCouplingTransform):
            return None
        if not bool(a.initialized) or c.unconditional_transform is not None or not isinstance(c.transform_net, CouplingMLP):
            return None
        net = _conditioner(c.transform_net.net)
        if net is None:
            return None
        nets.append(net)
    with torch.no_grad():
        perm = torch.arange(triples[0][1].features, device=triples[0][1].bias.device)
        const = torch.zeros((), dtype=triples[0][1].bias.dtype, device=perm.device)
        plan = []
        for (a, lu, c), (hidden, last) in zip(triples, nets):
            lower, upper = lu._create_lower_upper()
            w = lower @ upper
            s = torch.exp(a.log_scale)
            weight, bias = w * s, w @ a.shift + lu.bias  # W (s * x + t) + b
            const = const + a.log_scale.sum() + lu.logabsdet()
            out = torch.cat([c.identity_features, c.transform_features])
            # Rows: the coupling's [identity | transform] order; columns: the order the previous
            # step left its features in.
            weight = weight[out][:, perm].contiguous()
            w_out, b_out = last
            nt = c.num_transform_features
            b_out = torch.cat([b_out[:nt], b_out[nt:] + 2])  # nflows' scale is sigmoid(r + 2): the 2 folded in
            plan.append((weight, weight.t(), bias[out].contiguous(), c.num_identity_features, hidden, (w_out, w_out.t(), b_out)))
            perm = out
    return const, plan


def _conditioner(net: nn.Sequential):
    """A coupling MLP as ([(A, a, slope)] hidden layers, (A, a) output), or None if it is not
    Linear -> (Leaky)ReLU -> ... -> Linear."""
    mods = list(net)
    if not mods or not isinstance(mods[-1], nn.Linear) or len(mods) % 2 != 1:
        return None
    hidden = []
    for lin, act in zip(mods[:-1:2], mods[1:-1:2]):
        if not isinstance(lin, nn.Linear) or type(act) not in (nn.LeakyReLU, nn.ReLU):
            return None
        w = lin.weight.detach()
        hidden.append((w, w.t(), lin.bias.detach(), float(getattr(act, "negative_slope", 0.0))))
    return hidden, (mods[-1].weight.detach(), mods[-1].bias.detach())


def _forward(z: torch.Tensor, const: torch.Tensor, plan: list[_Step]):
    logdet = const.expand(z.shape[0])
    saved = []
    for _, wt, bias, k, hidden, (_, w_out_t, b_out) in plan:
        y = torch.addmm(bias, z, wt)
        ident, rest = y[:, :k], y[:, k:]
        h, pres = ident, []
        for _, w_t, b, slope in hidden:
            pre = torch.addmm(b, h, w_t)
            pres.append(pre)
            h = F.leaky_relu(pre, slope)
        params = torch.addmm(b_out, h, w_out_t)
        nt = rest.shape[1]
        sig = torch.sigmoid(params[:, nt:])
        scale = sig + 1e-3
        logdet = logdet + torch.log(scale).sum(1)
        z = torch.cat([ident, torch.addcmul(params[:, :nt], rest, scale)], 1)
        saved.append((rest, sig, scale, pres))
    return z, logdet, saved


def _backward(plan: list[_Step], saved: list, g: torch.Tensor, g_ld: torch.Tensor) -> torch.Tensor:
    g_ld = g_ld[:, None]
    for (weight, _, _, k, hidden, (w_out, _, _)), (rest, sig, scale, pres) in zip(reversed(plan), reversed(saved)):
        g_ident, g_rest = g[:, :k], g[:, k:]
        g_scale = torch.addcmul(g_ld / scale, g_rest, rest)
        g_params = torch.cat([g_rest, torch.ops.aten.sigmoid_backward(g_scale, sig)], 1)
        gh = g_params @ w_out
        for (w, _, _, slope), pre in zip(reversed(hidden), reversed(pres)):
            gh = torch.ops.aten.leaky_relu_backward(gh, pre, slope, False) @ w
        g = torch.cat([g_ident + gh, g_rest * scale], 1) @ weight
    return g
