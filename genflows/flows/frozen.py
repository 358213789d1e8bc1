"""A flow prior's transform evaluated many times with the same weights (inside a Langevin chain),
with the work that does not change done once."""

from __future__ import annotations

from typing import Callable

import torch
from nflows import transforms as T
from torch import nn

from .transforms import CouplingMLP, build_transform

__all__ = ["frozen_evaluator"]


def frozen_evaluator(transform: nn.Module) -> Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None:
    """``z -> (u', logabsdet)`` for a transform whose parameters stay fixed, e.g. a prior inside a
    Langevin chain, or None where no such shortcut applies (then call the transform itself).

    A chain evaluates the same flow K times with the same weights; nflows rebuilds each LU weight
    from its entries (index writes, softplus, two matmuls) and re-gathers each coupling's halves
    on every call, which made up most of a small model's chain step. Here every
    actnorm -> LU step becomes one cached affine map ``W diag(s)`` with a constant
    log-determinant, and the coupling's feature order is folded into the rows and columns of
    those matrices, so each half is a contiguous slice. ``u'`` is u with its features permuted:
    what a log-density needs (``|u|^2`` and the log-determinant) is unchanged, and equal to
    nflows' result up to float rounding.

    Supported: the ``coupling`` transform built here (actnorm, LU linear, affine coupling with a
    :class:`CouplingMLP`), its actnorm initialised. Build it after freezing the parameters and
    rebuild it whenever they change.

    >>> t = build_transform("coupling", features=4, depth=2, hidden=16)
    >>> _ = t(torch.randn(8, 4))  # initialises actnorm from a batch
    >>> f = frozen_evaluator(t)
    >>> z = torch.randn(3, 4)
    >>> (u, ld), (u2, ld2) = t(z), f(z)
    >>> torch.allclose((u * u).sum(1) - 2 * ld, (u2 * u2).sum(1) - 2 * ld2, atol=1e-5)
    True
    """
    steps = list(getattr(transform, "_transforms", ()))
    if len(steps) % 3 or not steps:
        return None
    triples = [steps[i : i + 3] for i in range(0, len(steps), 3)]
    for a, lu, c in triples:
        if not (type(a) is T.ActNorm and type(lu) is T.LULinear and type(c) is T.AffineCouplingTransform):
            return None
        if not bool(a.initialized) or c.unconditional_transform is not None or not isinstance(c.transform_net, CouplingMLP):
            return None
    with torch.no_grad():
        perm = torch.arange(triples[0][1].features, device=triples[0][1].bias.device)
        const = torch.zeros((), dtype=triples[0][1].bias.dtype, device=perm.device)
        plan = []
        for a, lu, c in triples:
            lower, upper = lu._create_lower_upper()
            w = lower @ upper
            s = torch.exp(a.log_scale)
            weight, bias = w * s, w @ a.shift + lu.bias  # W (s * x + t) + b
            const = const + a.log_scale.sum() + lu.logabsdet()
            out = torch.cat([c.identity_features, c.transform_features])
            # Rows: the coupling's [identity | transform] order; columns: the order the previous
            # step left its features in.
            plan.append((weight[out][:, perm].contiguous(), bias[out].contiguous(), c.num_identity_features, c.transform_net.net))
            perm = out

    def evaluate(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logdet = const.expand(z.shape[0])
        for weight, bias, k, net in plan:
            y = torch.addmm(bias, z, weight.t())
            ident, rest = y[:, :k], y[:, k:]
            params = net(ident)
            nt = rest.shape[1]
            scale = torch.sigmoid(params[:, nt:] + 2) + 1e-3  # nflows' AffineCouplingTransform
            logdet = logdet + torch.log(scale).sum(1)
            z = torch.cat([ident, rest * scale + params[:, :nt]], 1)
        return z, logdet

    return evaluate
