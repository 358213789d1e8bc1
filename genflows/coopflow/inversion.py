"""Inverting the two-flow generator (CoopFlow paper Section 5.3, A.8, Figure 5): the latent
variable of an image is the flow sample x_hat whose Langevin flow F_theta(x_hat) reproduces it,
found by gradient descent on x_hat; reconstruction, inpainting and interpolation use it."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from tqdm.auto import tqdm

from .._runtime import distributed as dist
from .._runtime.rng import seeded
from ..langevin import frozen

__all__ = ["Inversion", "InversionRecipe", "RECIPES", "recipe_for"]


@dataclass(frozen=True)
class InversionRecipe:
    """How x_hat is optimised: ``optimiser`` adam | gd (plain gradient descent), ``lr`` times
    ``lr_decay`` ** step, ``iters`` steps, and whether F_theta keeps its training clamps."""

    optimiser: str
    lr: float
    iters: int
    lr_decay: float = 1.0
    clamps: bool = True

    def describe(self) -> str:
        opt = "Adam" if self.optimiser == "adam" else "gradient-descent"
        decay = f" x {self.lr_decay}^step" if self.lr_decay != 1 else ""
        return f"{self.iters} {opt} steps (lr {self.lr:g}{decay}, F_theta {'with' if self.clamps else 'without'} its clamps)"


# eval.recon_protocol -> what x_hat is optimised for -> recipe. "paper": the authors' test scripts
# (test_recons.py: gradient descent at 0.05 for 200 steps on the summed error; test_impaint.py and
# test_interp.py: 0.03 x 0.99^step for 201 steps), F_theta without clamps. "adam": genflows' variant,
# which keeps F_theta's clamps and needs Adam's per-pixel step sizes to move x_hat through them.
RECIPES: dict[str, dict[str, InversionRecipe]] = {
    "paper": {
        "reconstruct": InversionRecipe("gd", 0.05, 200, 1.0, clamps=False),
        "inpaint": InversionRecipe("gd", 0.03, 201, 0.99, clamps=False),
        "interpolate": InversionRecipe("gd", 0.03, 201, 0.99, clamps=False),
    },
    "adam": {purpose: InversionRecipe("adam", 0.01, 200) for purpose in ("reconstruct", "inpaint", "interpolate")},
}


def recipe_for(e, purpose: str) -> InversionRecipe:
    """The recipe of ``e.recon_protocol`` for ``purpose``, with ``e.invert_lr`` / ``e.invert_iters``
    replacing its lr / steps where set.

    >>> from types import SimpleNamespace as NS
    >>> recipe_for(NS(recon_protocol="paper", invert_lr=None, invert_iters=None), "inpaint").describe()
    '201 gradient-descent steps (lr 0.03 x 0.99^step, F_theta without its clamps)'
    """
    r = RECIPES[e.recon_protocol][purpose]
    return replace(r, lr=e.invert_lr or r.lr, iters=e.invert_iters or r.iters)


def _visible_sq_error(x: torch.Tensor, out: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """||M (x - F_theta(x_hat))||^2 per image: the reconstruction loss of Section 5.3 / Figure 5,
    which both the choice of start and the descent on x_hat minimise."""
    return ((x - out) * m).pow(2).flatten(1).sum(1)


class Inversion:
    """Mixin of :class:`~genflows.coopflow.CoopFlow` (reads its energy, step size, clamps, mode and
    ``initial``/``decode``/``encode_flow``/``decode_flow``): the evaluation half of the
    :class:`~genflows.interface.GenerativeModel` interface."""

    def flow_map(self, xhat: torch.Tensor, clamps: bool = True) -> torch.Tensor:
        """F_theta(x_hat) with the noise e = 0 (Section 5.3), differentiable in x_hat: the T
        training-size steps of Eq. (3), with their clamps unless ``clamps`` is false (the
        authors' test scripts run F_theta without them), as a T-layer residual network."""
        half = 0.5 * self.step_size**2
        x = xhat
        with frozen(self.energy), torch.enable_grad():
            for _ in range(self.n_steps):
                (g,) = torch.autograd.grad(self.energy(x).sum(), x, create_graph=True)
                d = half * g
                if clamps and self.clamp_update is not None:
                    d = d.clamp(-self.clamp_update, self.clamp_update)
                x = x + d
                if clamps and self.clamp_data is not None:
                    x = x.clamp(-self.clamp_data, self.clamp_data)
        return x

    def invert(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        recipe: InversionRecipe = RECIPES["adam"]["reconstruct"],
        curve_every: int = 10,
        n_starts: int = 1,
        per_channel_sum: bool = False,
    ) -> tuple[torch.Tensor, list[float]]:
        """x_hat* = argmin ||M (x - F_theta(x_hat))||^2 by ``recipe`` from a flow sample (ebm-sr:
        N(0, I) noise), Section 5.3 / A.8 and, with a mask, Figure 5. Returns x_hat* and the mean
        error over the visible pixels every ``curve_every`` iterations (Fig. 13): per value, or with
        ``per_channel_sum`` summed over channels per pixel position (the authors' unit).

        ``n_starts`` > 1 draws that many starting points per image and keeps the one whose
        F_theta(x_hat_0) is closest to the visible pixels (:meth:`best_start`); the paper uses one.

        Each step is projected back onto the data range [-clamp_data, clamp_data] (as in the
        authors' test scripts). With F_theta's clamps on, a pixel of x_hat that Adam's momentum
        carries out of the box would get zero gradient from then on and be lost for good (measured
        on MNIST: the MSE froze at 0.259 after 40 steps at lr 0.1, 0.245 at lr 0.03; docs/log.md)."""
        if self.mode == "flow":
            raise ValueError("the flow alone is invertible: reconstruct with flow.encode/decode, not by x_hat optimisation")
        m = torch.ones_like(x) if mask is None else mask.expand_as(x).to(x.dtype)
        n_vis = m.flatten(1).sum(1).clamp_min(1)
        if per_channel_sum:
            n_vis = n_vis / x.shape[1]
        xhat = self.best_start(x, m, n_starts).requires_grad_(True)
        if recipe.optimiser == "adam":
            opt = torch.optim.Adam([xhat], lr=recipe.lr)
        else:  # x_hat -= lr * grad, as the authors' scripts update it
            opt = torch.optim.SGD([xhat], lr=recipe.lr)
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, recipe.lr_decay) if recipe.lr_decay != 1 else None
        curve = []
        for i in range(recipe.iters):
            err = _visible_sq_error(x, self.flow_map(xhat, clamps=recipe.clamps), m)
            opt.zero_grad(set_to_none=True)
            err.sum().backward()
            opt.step()
            if sched is not None:
                sched.step()
            if self.clamp_data is not None:
                with torch.no_grad():
                    xhat.clamp_(-self.clamp_data, self.clamp_data)
            if i % curve_every == 0 or i == recipe.iters - 1:
                curve.append((i, (err.detach() / n_vis).mean()))
        return xhat.detach(), [(i, float(v)) for i, v in curve]  # host syncs once, after the loop

    def best_start(self, x: torch.Tensor, m: torch.Tensor, n_starts: int = 1) -> torch.Tensor:
        """A starting x_hat_0 per image: the best of ``n_starts`` draws of :meth:`initial` by the
        visible-pixel error of F_theta(x_hat_0). Gradient descent on x_hat only moves within the
        basin F_theta maps its start into (on MNIST, 3 of 20 flow starts ended on another digit,
        MSE ~0.67 against a median of 0.008), and one forward pass of F_theta per candidate is
        cheap next to the 200 double-backward steps that follow."""
        b = x.shape[0]
        if n_starts < 1:
            raise ValueError(f"n_starts must be >= 1, got {n_starts}")
        if n_starts == 1:
            return self.initial(b).detach()
        cand = self.initial(b * n_starts).detach().view(b, n_starts, *x.shape[1:])
        err = torch.empty(b, n_starts, device=x.device, dtype=x.dtype)
        for k in range(n_starts):  # one batch of b per candidate index keeps memory as in invert
            err[:, k] = _visible_sq_error(x, self.langevin_flow(cand[:, k]), m)
        return cand[torch.arange(b, device=x.device), err.argmin(1)].clone()

    def _invert_batched(self, x: torch.Tensor, mask: torch.Tensor | None, e, seed: int, purpose: str, progress: bool):
        """(F_theta(x_hat*) or, for ``purpose`` interpolate, x_hat* itself; mean error curve; how) for
        every image: :meth:`invert` by the recipe of ``e.recon_protocol`` in batches of
        ``e.batch_size``, each start seeded by (seed, index)."""
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        recipe = recipe_for(e, purpose)
        paper_unit = e.recon_protocol == "paper"
        n = x.shape[0]
        a, b = dist.shard_bounds(n)
        outs, steps, total = [], [], None  # total: the curve summed over images
        show = progress and dist.is_main()
        for i in tqdm(range(a, b, e.batch_size), desc="x_hat optimisation", disable=not show, leave=False):
            xb = x[i : min(i + e.batch_size, b)].to(device)
            mb = None if mask is None else mask[i : i + xb.shape[0]].to(device, xb.dtype)
            with seeded(seed + i, device):  # the starting samples x_hat_0 depend on (seed, index) only
                xhat, curve = self.invert(xb, mb, recipe, n_starts=e.invert_starts, per_channel_sum=paper_unit)
            outs.append((xhat if purpose == "interpolate" else self.decode(xhat, recipe.clamps)).cpu())
            steps = [k for k, _ in curve]
            part = torch.tensor([v for _, v in curve], dtype=torch.float64) * xb.shape[0]
            total = part if total is None else total + part
        self.train(was_training)
        x_hat = dist.gather_rows(outs, n, tuple(x.shape[1:]))
        if dist.active():  # ranks with images share their step list; sum every rank's totals
            steps = dist.broadcast_object(steps)
            total = dist.all_reduce_sum(torch.zeros(len(steps), dtype=torch.float64) if total is None else total)
        curve = [(k, float(v) / n) for k, v in zip(steps, total if total is not None else [])]
        start = "N(0, I) noise" if self.mode == "ebm-sr" else "a flow sample"
        if e.invert_starts > 1:
            start = f"the best of {e.invert_starts} draws of {start.removeprefix('a ')} (by the error of F_theta(x_hat_0))"
        how = f"x_hat optimised by {recipe.describe()} from {start} ({e.recon_protocol} protocol); reconstruction F_theta(x_hat*), noise off"
        return x_hat, curve, how

    def reconstruct_batched(self, x, mask, e, seed: int, progress: bool = False):
        """F_theta(x_hat*) with x_hat* optimised so that it matches the visible pixels (the recipe
        of ``e.recon_protocol``: reconstruction without a mask, inpainting with one); the curve is
        the mean error per visible pixel along the way, in the protocol's unit."""
        return self._invert_batched(x, mask, e, seed, "reconstruct" if mask is None else "inpaint", progress)

    def encode_batched(self, x, e, seed: int, progress: bool = False):
        """z* = g_alpha^{-1}(x_hat*) (Section 5.4, Figure 6)."""
        xhat, _, how = self._invert_batched(x, None, e, seed, "interpolate", progress)
        self.eval()
        device = next(self.parameters()).device
        with torch.no_grad():  # x_hat* comes back on the CPU, like every batched result
            z = torch.cat([self.encode_flow(c.to(device)).cpu() for c in xhat.split(e.batch_size)])
        return z, how + "; z* = g_alpha^-1(x_hat*), frames F_theta(g_alpha(z))"

    def decode_batched(self, codes: torch.Tensor, e) -> torch.Tensor:
        """The whole two-flow generator F_theta(g_alpha(z)) of latent codes z (on the CPU), F_theta
        with its clamps as the interpolation recipe of ``e.recon_protocol`` has it."""
        self.eval()
        device = next(self.parameters()).device
        clamps = recipe_for(e, "interpolate").clamps
        with torch.no_grad():
            return torch.cat([self.decode(self.decode_flow(c.to(device)), clamps).cpu() for c in codes.split(e.batch_size)])
