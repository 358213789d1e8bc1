"""The one short-run Langevin sampler of genflows.

It descends any per-example energy U(x) (B,):

    x_{k+1} = x_k - (s^2 / 2) grad U(x_k) + s * eps_k,   eps_k ~ N(0, I)

which is Eq. (8) of the latent-flow paper with xi = s^2 / 2 and U = -log p(z | x), and Eq. (3)
of the CoopFlow paper with U = -f_theta(x). ``s`` is the reference codes' step size.

The loop is the hot path: it updates ``x`` in place under ``no_grad`` (no new leaf per step),
reuses one noise buffer, and checks finiteness on device, syncing with the host once per chain.

Inside :func:`watch_chains` every chain also reports a :class:`ChainStats`: its mean energy at the
first and last step (read from the per-step sums the loop keeps anyway) and its mean displacement
||x_K - x_0||, all as detached device tensors. Nothing is synced and nothing extra is computed
outside the block, so training logs chain health on its logging iterations only.

Example::

    >>> x = langevin(lambda x: 0.5 * (x * x).sum(1), torch.full((4, 2), 3.0), n_steps=200, step_size=0.3, noise=False)
    >>> bool(x.abs().max() < 0.01)
    True
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator, NamedTuple, Sequence

import torch
from torch import nn

from .errors import DivergenceError

__all__ = ["langevin", "frozen", "cast_weights", "ChainStats", "watch_chains", "WithGradient", "autograd_term"]

Energy = Callable[[torch.Tensor], torch.Tensor]


class WithGradient:
    """A function of a chain's state that also knows its gradient: ``f(*args)`` for autograd (the
    module's own computation, so gradients reach every input and parameter), and
    ``f.value_and_grad(*args) -> (value, grad)`` with the gradient in the chain's variable ``z``
    only (a prior's ``(z)``, a generator's ``(x, z, mask)``), both detached. :func:`langevin` steps an energy that carries
    ``value_and_grad`` without building a graph, which on small networks costs more than the
    arithmetic.

    The contract of every ``value_and_grad``: it never mutates its inputs, and what it returns is
    not aliased to them (:func:`langevin` scales the gradient it receives)."""

    def __init__(self, fn: Callable[..., torch.Tensor], value_and_grad: Callable[..., tuple[torch.Tensor, torch.Tensor]]):
        self.fn = fn
        self.value_and_grad = value_and_grad

    def __call__(self, *args):
        return self.fn(*args)


def autograd_term(fn: Callable[..., torch.Tensor], wrt: int = -1) -> WithGradient:
    """``fn`` with a ``value_and_grad`` taken by autograd through ``fn`` alone, in its positional
    argument ``wrt`` (the chain's variable): the fallback of a chain term that has no written-out
    gradient, so the other terms of the chain keep theirs.

    >>> t = autograd_term(lambda z: (z * z).sum(1))
    >>> v, g = t.value_and_grad(torch.ones(2, 3))
    >>> v.tolist(), g[0].tolist()
    ([3.0, 3.0], [2.0, 2.0, 2.0])
    """

    def value_and_grad(*args):
        args = list(args)
        with torch.enable_grad():
            z = args[wrt] = args[wrt].detach().requires_grad_(True)
            value = fn(*args)
            (g,) = torch.autograd.grad(value.sum(), z)
        return value.detach(), g

    return WithGradient(fn, value_and_grad)


class ChainStats(NamedTuple):
    """One chain's health, as detached 0-d tensors on the chain's device (the caller syncs them
    when it logs): a chain that does not lower its energy, or barely moves, is not mixing."""

    what: str  # the chain's name ("posterior z", "EBM prior z", "Langevin-flow x")
    n_steps: int
    energy_first: torch.Tensor  # mean per-example energy U(x_0), evaluated at step 1
    energy_last: torch.Tensor  # mean per-example energy U(x_{K-1}), evaluated at step K
    displacement: torch.Tensor  # mean per-example ||x_K - x_0||_2


# Open watch_chains() blocks (innermost last); a chain reports to every open one.
_WATCHERS: list[list[ChainStats]] = []


@contextlib.contextmanager
def watch_chains(enabled: bool = True) -> Iterator[list[ChainStats]]:
    """Collect a :class:`ChainStats` for every chain run inside the block (in order), e.g. around
    one training step. ``enabled=False`` yields an empty list and leaves chains untouched, so a
    caller can wrap every step and pay only on the steps it logs."""
    found: list[ChainStats] = []
    if not enabled:
        yield found
        return
    _WATCHERS.append(found)
    try:
        yield found
    finally:
        # By identity: list.remove compares by ==, and two blocks that saw no chain are equal.
        del _WATCHERS[next(i for i, w in enumerate(_WATCHERS) if w is found)]


@contextlib.contextmanager
def frozen(*modules: nn.Module, bn_updates: bool = False) -> Iterator[None]:
    """Parameters stop requiring grad (so the chain builds no graph for them) and BatchNorm
    running statistics stop updating (so K chain steps do not pollute them); both restored.

    ``bn_updates=True`` leaves the running statistics moving at every train-mode step, as the
    latent-flow reference code's chains do (its generator runs in train mode inside the chain,
    so each step's batch enters the running averages that eval mode uses)."""
    params = [p for m in modules for p in m.parameters()]
    flags = [p.requires_grad for p in params]
    bns = [b for m in modules for b in m.modules() if isinstance(b, nn.modules.batchnorm._BatchNorm)]
    momenta = [b.momentum for b in bns]
    try:
        for p in params:
            p.requires_grad_(False)
        for b in bns if not bn_updates else ():
            b.momentum = 0.0  # running = (1 - 0) * running + 0 * batch: unchanged
        yield
    finally:
        for p, f in zip(params, flags):
            p.requires_grad_(f)
        for b, m in zip(bns, momenta):
            b.momentum = m


@contextlib.contextmanager
def cast_weights(module: nn.Module, dtype: torch.dtype | None) -> Iterator[None]:
    """The weights and biases of ``module``'s linear and convolution layers held in ``dtype`` for
    the block (their Parameter objects kept, their float32 values restored after); ``None``: no-op.

    Why: a chain runs its generator under bf16 autocast, which casts every float32 weight to bf16
    at every call; its cast cache keeps only leaves that require grad, and a chain freezes them,
    so K steps cast the weights K times. Cast once, autocast passes them through unchanged: the
    same numbers (the same rounding of the same values), one cast per chain. Use inside
    :func:`frozen` and under autocast to ``dtype``; normalisation layers keep float32 as autocast does.
    """
    saved = []
    if dtype is not None:
        layers = (nn.Linear, nn.modules.conv._ConvNd)
        saved = [(p, p.data) for m in module.modules() if isinstance(m, layers) for p in m.parameters(recurse=False)]
    try:
        for p, data in saved:
            p.data = data.to(dtype)
        yield
    finally:
        for p, data in saved:
            p.data = data


def langevin(
    energy: Energy,
    x0: torch.Tensor,
    n_steps: int,
    step_size: float,
    noise: bool = True,
    clamp_update: float | None = None,
    clamp_state: float | None = None,
    record: Sequence[int] = (),
    what: str = "state",
    noise_scale: float = 1.0,
) -> torch.Tensor | tuple[torch.Tensor, dict[int, torch.Tensor]]:
    """Run ``n_steps`` Langevin steps from ``x0`` down ``energy``; return the final state. An
    energy with a written-out gradient (:class:`WithGradient`) is stepped without autograd.

    ``noise_scale`` multiplies the diffusion term (CoopFlow's decaying noise, its Eq. 10).

    ``record``: step counts k at which to keep a copy of x_k; then returns ``(x, {k: x_k})``.
    Inside :func:`watch_chains` the chain's :class:`ChainStats` are reported there.
    Raises :class:`DivergenceError` naming the first step whose energy or state is not finite.
    """
    half = 0.5 * step_size * step_size
    x = x0.detach().clone().requires_grad_(True)
    eps = torch.empty_like(x) if noise and noise_scale > 0 else None
    record = set(record)
    snaps: dict[int, torch.Tensor] = {}
    # Each step's total energy, kept on the device and checked once after the chain: a NaN/inf
    # energy shows in its step's sum, a NaN/inf gradient in the next step's (or the final state).
    # One copy per step instead of per-step reductions over the gradient (measured: the EBM prior
    # chain's small MLP steps were 25 % slower with them).
    sums = torch.empty(max(n_steps, 1), dtype=torch.float32, device=x.device)
    value_and_grad = getattr(energy, "value_and_grad", None)  # see WithGradient
    with torch.enable_grad():
        for k in range(n_steps):
            if value_and_grad is not None:
                with torch.no_grad():
                    u, g = value_and_grad(x)
                    total = u.sum()
            else:
                total = energy(x).sum()
                (g,) = torch.autograd.grad(total, x)
            with torch.no_grad():
                sums[k] = total
                # Not in place: a written-out gradient may be a tensor its energy still uses (the
                # Gaussian prior's is z itself).
                delta = g.mul(-half)
                if eps is not None:
                    delta.add_(eps.normal_(), alpha=step_size * noise_scale)
                if clamp_update is not None:
                    delta.clamp_(-clamp_update, clamp_update)
                x.add_(delta)
                if clamp_state is not None:
                    x.clamp_(-clamp_state, clamp_state)
            if k + 1 in record:
                snaps[k + 1] = x.detach().clone()
    out = x.detach()
    if _WATCHERS and n_steps > 0:
        # Device-side only: two reads of the energy sums the loop keeps anyway and one norm per chain.
        b = max(x0.shape[0], 1) if x0.dim() else 1
        step = out - x0.detach()
        moved = step.flatten(1).norm(dim=1).mean() if x0.dim() > 1 else step.abs().mean()
        stats = ChainStats(what, n_steps, sums[0].detach() / b, sums[n_steps - 1].detach() / b, moved.detach())
        for w in _WATCHERS:
            w.append(stats)
    finite = torch.isfinite(sums[:n_steps])
    bad = -1
    if not bool(finite.all() & torch.isfinite(out).all()):  # the chain's one host sync
        bad_steps = (~finite).nonzero()
        bad = int(bad_steps[0]) if len(bad_steps) else n_steps - 1
    if bad >= 0:
        raise DivergenceError(
            f"Langevin {what} became NaN/inf at step {bad + 1} of {n_steps} (step size {step_size}); "
            "lower the step size or set a clamp (clamp_update / clamp_state); in training, also try a lower train.lr"
        )
    return (out, snaps) if record else out
