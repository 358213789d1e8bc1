"""VAPO: an energy-based model trained without MCMC and sampled by an ODE (Loo et al., "Variational
Potential Flow", 2024; the released code ljun0004/VAPO).

A scalar potential psi(x, t) = 1/2 |x - U(x, t)|^2 (U an MLP for vectors, a U-Net for images,
its last layer zero so that psi starts at 1/2 |x|^2) is trained along a homotopy from N(0, I)
(t = 0) to the data (t = 1) by :func:`~genflows.vapo.objective.vapo_loss`; samples start from
N(0, I) at t_min and follow dx/dt = grad_x psi(x, t) to 1 - t_min (:func:`~genflows.vapo.ode.solve_ode`).
No Markov chain is run anywhere: training needs one double backward per batch.

>>> m = VAPO((2,), hidden=16, layers=2, ema_decay=None)
>>> x = torch.randn(5, 2)
>>> torch.allclose(m.psi(x, torch.rand(5)), 0.5 * (x * x).sum(1))   # the zero-initialised start
True
"""

from __future__ import annotations

import copy
import math

import torch

from ..errors import GenflowsError
from ..interface import GenerativeModel
from .networks import MLPNet, UNet
from .objective import vapo_loss
from .ode import solve_ode

__all__ = ["VAPO"]


class VAPO(GenerativeModel):
    vector_data = True
    invertible = True  # the ODE runs both ways: codes, no lossy reconstruction
    divergence_hint = "lower vapo.lr or lengthen vapo.warmup"
    def __init__(self, shape: tuple[int, ...], arch: str = "auto", hidden: int = 128, layers: int = 3, base: int = 128,
                 mults: tuple[int, ...] = (2, 2, 2), blocks: int = 4, dropout: float = 0.3, groups: int = 32, time_scale: float = 1.0,
                 t_min: float = 1e-5, w_align: float = 1.0, w_grad: float = 0.5, w_dt: float = 0.1, lr: float = 1e-4,
                 warmup: int = 5000, clip_std: float | None = 3.0, clip_floor: float = 0.1, ema_decay: float | None = 0.9999,
                 solver: str = "dopri5", rtol: float = 1e-3, atol: float = 1e-3, euler_steps: int = 100):
        super().__init__()
        self.shape = tuple(shape)
        if arch == "auto":
            arch = "mlp" if len(self.shape) == 1 else "unet"
        if arch == "mlp":
            self.net = MLPNet(math.prod(self.shape), hidden, layers)
            last = self.net.net[-1]
        else:
            step = 2 ** (len(mults) - 1)
            if len(self.shape) != 3 or self.shape[1] % step or self.shape[2] % step:
                raise GenflowsError(f"vapo's U-Net with {len(mults)} levels (vapo.mults) needs images whose sides divide by {step}, "
                                    f"got data of shape {self.shape}")
            self.net = UNet(self.shape[0], base, tuple(mults), blocks, dropout, groups)
            last = self.net.out[-1]
        torch.nn.init.zeros_(last.weight), torch.nn.init.zeros_(last.bias)
        self.arch, self.time_scale, self.t_min = arch, time_scale, t_min
        self.w_align, self.w_grad, self.w_dt = w_align, w_grad, w_dt
        self.lr, self.warmup, self.clip_std, self.clip_floor = lr, warmup, clip_std, clip_floor
        self.solver, self.rtol, self.atol, self.euler_steps = solver, rtol, atol, euler_steps
        self.ema_decay = ema_decay
        self.ema_net = copy.deepcopy(self.net).requires_grad_(False) if ema_decay is not None else None
        self.register_buffer("ema_updates", torch.zeros((), dtype=torch.long))
        self._optimizer: torch.optim.Optimizer | None = None  # read by clip_gradients (Adam's second moments)
        self._last_sample: dict = {}

    @classmethod
    def from_config(cls, cfg, shape: tuple[int, ...]) -> "VAPO":
        """The model of a :class:`~genflows.config.RunConfig`'s ``vapo`` section for data of ``shape``."""
        import dataclasses

        c = cfg.vapo
        return cls(shape, **{f.name: getattr(c, f.name) for f in dataclasses.fields(c)})

    @classmethod
    def anomaly_kinds(cls, mode: str | None = None) -> tuple[str, ...]:
        return ("log_potential", "potential")

    # ------------------------------------------------------------------ the potential
    def _net(self) -> torch.nn.Module:
        """The live network in training, its EMA in eval mode (the authors sample with the EMA)."""
        return self.net if self.training or self.ema_net is None else self.ema_net

    def psi(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """psi(x, t) = 1/2 |x - U(x, t)|^2 per example; t of shape (B,)."""
        net = self._net()
        u = net(x.flatten(1), t * self.time_scale) if self.arch == "mlp" else net(x, t * self.time_scale)
        return 0.5 * (x.flatten(1) - u.flatten(1)).pow(2).sum(1)

    def velocity(self, x: torch.Tensor, t: float) -> torch.Tensor:
        """grad_x psi(x, t): the flow's velocity at time t (a float), by autograd."""
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(self.psi(x, torch.full((x.shape[0],), t, device=x.device, dtype=x.dtype)).sum(), x)
        return g

    # ------------------------------------------------------------------ learning
    def training_loss(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
        if mask is not None:
            raise ValueError("VAPO trains on complete data only")
        return vapo_loss(self.psi, x, self.t_min, self.w_align, self.w_grad, self.w_dt)

    def parameter_groups(self, lr: float | None = None) -> list[dict]:
        return [{"params": list(self.net.parameters()), "lr": self.lr, "name": "potential"}]

    def make_optimizer(self, groups: list[dict], **defaults) -> torch.optim.Optimizer:
        """Adam (betas 0.9, 0.999; no weight decay), kept for the gradient clipping."""
        self._optimizer = torch.optim.Adam(groups, lr=self.lr)
        return self._optimizer

    def lr_factor(self, iteration: int) -> float:
        """The released linear warm-up: lr x min((iteration + 1) / warmup, 1)."""
        return min((iteration + 1) / self.warmup, 1.0) if self.warmup else 1.0

    @torch.no_grad()
    def clip_gradients(self) -> None:
        """The released variance-based clipping: every gradient element within
        clip_std sqrt(v_hat) + clip_floor, v_hat Adam's bias-corrected second moment from the
        steps before (nothing before the first step)."""
        if self.clip_std is None or self._optimizer is None:
            return
        for group in self._optimizer.param_groups:
            beta2 = group["betas"][1]
            for p in group["params"]:
                st = self._optimizer.state.get(p)
                if p.grad is None or not st or "exp_avg_sq" not in st:
                    continue
                step = float(st["step"])
                bound = self.clip_std * (st["exp_avg_sq"] / (1 - beta2**step)).sqrt() + self.clip_floor
                p.grad.copy_(torch.minimum(torch.maximum(p.grad, -bound), bound))

    @torch.no_grad()
    def after_step(self) -> None:
        """The EMA, its decay warmed up as min(decay, (1 + n) / (10 + n)) after n updates."""
        if self.ema_net is None:
            return
        n = float(self.ema_updates)
        d = min(self.ema_decay, (1 + n) / (10 + n))
        torch._foreach_lerp_(list(self.ema_net.parameters()), [p.detach() for p in self.net.parameters()], 1 - d)
        self.ema_updates += 1

    # ------------------------------------------------------------------ sampling and scores
    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        """n samples: N(0, I) at t_min carried by the ODE to 1 - t_min (``solver``); the number of
        velocity evaluations is in :meth:`sample_stats`."""
        device = next(self.parameters()).device
        x0 = torch.randn(n, *self.shape, device=device)
        x, nfe = self._flow(x0, self.t_min, 1 - self.t_min)
        self._last_sample = {"solver": self.solver, "nfe": nfe, "rtol": self.rtol, "atol": self.atol, "n": n,
                             **({"euler_steps": self.euler_steps} if self.solver == "euler" else {})}
        return x.clamp(-1, 1) if len(self.shape) == 3 else x

    def _flow(self, x: torch.Tensor, t0: float, t1: float) -> tuple[torch.Tensor, int]:
        return solve_ode(self.velocity, x, t0, t1, self.solver, self.rtol, self.atol, self.euler_steps)

    @torch.no_grad()
    def encode_batched(self, x: torch.Tensor, e, seed: int, progress: bool = False) -> tuple[torch.Tensor, str]:
        """The noise each image comes from: the ODE run backward from 1 - t_min to t_min (the
        authors' inversion for interpolation), in eval mode, in batches of ``e.batch_size``."""
        was = self.training
        self.eval()
        device = next(self.parameters()).device
        try:
            parts, nfe = [], 0
            for i in range(0, x.shape[0], e.batch_size):
                z, n = self._flow(x[i : i + e.batch_size].to(device), 1 - self.t_min, self.t_min)
                parts.append(z.flatten(1).cpu())  # flat codes: straight lines between them
                nfe += n
        finally:
            self.train(was)
        return torch.cat(parts), f"the ODE backward to t = {self.t_min:g} ({self.solver}, {nfe} evaluations in all)"

    @torch.no_grad()
    def decode_batched(self, codes: torch.Tensor, e) -> torch.Tensor:
        """Images of noises: the ODE forward from t_min (as :meth:`sample`, from given noise)."""
        was = self.training
        self.eval()
        device = next(self.parameters()).device
        try:
            z = codes.view(codes.shape[0], *self.shape)
            parts = [self._flow(z[i : i + e.batch_size].to(device), self.t_min, 1 - self.t_min)[0].cpu() for i in range(0, z.shape[0], e.batch_size)]
        finally:
            self.train(was)
        x = torch.cat(parts)
        return x.clamp(-1, 1) if len(self.shape) == 3 else x

    def sample_stats(self) -> dict:
        return dict(self._last_sample)

    @torch.no_grad()
    def anomaly_scores(self, x, n_steps=0, step_size=0.0, batch_size=500, seed=0, record=(), progress=False, kind=None,
                       store=None):
        """The potential at the data end, t = 1 (no ODE; eval mode, the EMA), higher = more
        anomalous. ``log_potential``: minus the released out-of-distribution score,
        log(4 psi(x, 1) - |x|^2), its argument floored at 1e-12 (the released code returns NaN
        there); ``potential``: -psi(x, 1). Data have high potential: the flow climbs psi."""
        kind = self.anomaly_kind(kind)

        def score(b: torch.Tensor) -> torch.Tensor:
            p = self.psi(b, torch.ones(b.shape[0], device=b.device))
            if kind == "potential":
                return -p
            return -torch.log((4 * p - b.flatten(1).pow(2).sum(1)).clamp_min(1e-12))

        return self.score_rows(x, score, batch_size), {}
