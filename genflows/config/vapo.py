"""The VAPO family's config section: an energy-based model trained without MCMC along a homotopy
from noise to data and sampled by an ODE (Loo et al. 2024). Defaults are the authors' released
CIFAR-10 settings (``configs/homotopy/cifar10.py`` in ljun0004/VAPO), the U-Net's sizes included;
CPU-scale sizes are named in ``configs/vapo-mnist.yaml``."""

from __future__ import annotations

from dataclasses import dataclass, field

from .base import check as _check

__all__ = ["VAPOConfig", "SOLVERS"]

SOLVERS = ("rk45", "dopri5", "euler")


@dataclass
class VAPOConfig:
    arch: str = "auto"  # auto: mlp for vectors, unet for images
    hidden: int = 128  # mlp
    layers: int = 3  # mlp hidden layers
    base: int = 128  # unet base channels
    mults: list[int] = field(default_factory=lambda: [2, 2, 2])  # unet channel multipliers per level
    blocks: int = 4  # unet residual blocks per level
    dropout: float = 0.3
    groups: int = 32  # GroupNorm groups
    time_scale: float = 1.0  # t in [0, 1] enters the sinusoidal embedding as it is (the released code)
    t_min: float = 1.0e-5  # t ~ U[t_min, 1]; the ODE runs from t_min to 1 - t_min
    w_align: float = 1.0  # alignment of grad psi with x - eps (the released "cvf" weight)
    w_grad: float = 0.5  # 1/2 |grad psi|^2
    w_dt: float = 0.1  # (d psi / dt)^2
    lr: float = 1.0e-4  # Adam
    warmup: int = 5000  # linear lr warm-up, iterations
    clip_std: float | None = 3.0  # each gradient element within clip_std * sqrt(Adam's v) + clip_floor; None: off
    clip_floor: float = 0.1
    ema_decay: float | None = 0.9999  # with the warm-up min(decay, (1 + n) / (10 + n)); None: off
    # dopri5 (torchdiffeq) | rk45 (scipy.integrate.solve_ivp, the authors') | euler. Measured at
    # rtol = atol = 1e-3 on one CPU (bench/vapo_ode.py, bench/results/vapo-ode.json): the same NFE
    # on a 2-D MLP potential (20 each, rk45 0.16 s against 0.19 s), and on a digits U-Net dopri5
    # 32 evaluations and 18.9 s against RK45's 44 and 24.7 s: dopri5 for the images that cost.
    solver: str = "dopri5"
    rtol: float = 1.0e-3
    atol: float = 1.0e-3
    euler_steps: int = 100

    def validate(self) -> None:
        _check(self.arch in ("auto", "mlp", "unet"), f"unknown vapo.arch '{self.arch}' (choose from: auto, mlp, unet)")
        _check(self.solver in SOLVERS, f"unknown vapo.solver '{self.solver}' (choose from: {', '.join(SOLVERS)})")
        for k in ("hidden", "layers", "base", "blocks", "groups", "euler_steps"):
            _check(getattr(self, k) >= 1, f"vapo.{k} must be >= 1, got {getattr(self, k)}")
        _check(len(self.mults) >= 1 and all(m >= 1 for m in self.mults), f"vapo.mults must be a non-empty list of integers >= 1, got {self.mults}")
        _check(0 <= self.dropout < 1, f"vapo.dropout must be in [0, 1), got {self.dropout}")
        _check(0 < self.t_min < 0.5, f"vapo.t_min must be in (0, 0.5), got {self.t_min}")
        for k in ("lr", "rtol", "atol", "time_scale"):
            _check(getattr(self, k) > 0, f"vapo.{k} must be > 0, got {getattr(self, k)}")
        for k in ("w_align", "w_grad", "w_dt", "clip_floor"):
            _check(getattr(self, k) >= 0, f"vapo.{k} must be >= 0, got {getattr(self, k)}")
        _check(self.warmup >= 0, f"vapo.warmup must be >= 0, got {self.warmup}")
        _check(self.clip_std is None or self.clip_std > 0, f"vapo.clip_std must be > 0 or null, got {self.clip_std}")
        _check(self.ema_decay is None or 0 <= self.ema_decay < 1, f"vapo.ema_decay must be in [0, 1) or null, got {self.ema_decay}")
