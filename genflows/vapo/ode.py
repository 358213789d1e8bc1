"""The probability-flow ODE of VAPO, dx/dt = grad_x psi(x, t), solved by a maintained solver:
``scipy.integrate.solve_ivp`` (RK45, the authors' choice), ``torchdiffeq.odeint`` (dopri5), or
fixed-step Euler. The whole batch is one system (one step size), as in the released sampler;
every solver reports its number of velocity evaluations (NFE), each a forward and a backward pass.

>>> v = lambda x, t: -x                                  # dx/dt = -x: x(1) = x(0) e^{-1}
>>> x, nfe = solve_ode(v, torch.ones(3, 2), 0.0, 1.0, "dopri5", 1e-6, 1e-6)
>>> torch.allclose(x, torch.full((3, 2), math.exp(-1)), atol=1e-5) and nfe > 0
True
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

__all__ = ["solve_ode"]

Velocity = Callable[[torch.Tensor, float], torch.Tensor]


def solve_ode(velocity: Velocity, x0: torch.Tensor, t0: float, t1: float, solver: str = "rk45", rtol: float = 1e-3,
              atol: float = 1e-3, euler_steps: int = 100) -> tuple[torch.Tensor, int]:
    """x(t1) from x(t0) = ``x0`` under dx/dt = ``velocity(x, t)``; returns (x(t1), NFE)."""
    nfe = 0

    def f(x: torch.Tensor, t: float) -> torch.Tensor:
        nonlocal nfe
        nfe += 1
        return velocity(x, t)

    if solver == "euler":
        x, h = x0, (t1 - t0) / euler_steps
        for k in range(euler_steps):
            x = x + h * f(x, t0 + k * h)
        return x, nfe
    if solver == "dopri5":
        from torchdiffeq import odeint

        ts = torch.tensor([t0, t1], dtype=x0.dtype, device=x0.device)
        return odeint(lambda t, x: f(x, float(t)), x0, ts, rtol=rtol, atol=atol, method="dopri5")[-1], nfe
    from scipy.integrate import solve_ivp

    shape, device, dtype = x0.shape, x0.device, x0.dtype

    def g(t: float, y: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(y).to(device=device, dtype=dtype).view(shape)
        return f(x, t).detach().cpu().double().numpy().ravel()

    sol = solve_ivp(g, (t0, t1), x0.detach().cpu().double().numpy().ravel(), method="RK45", rtol=rtol, atol=atol)
    return torch.from_numpy(sol.y[:, -1]).to(device=device, dtype=dtype).view(shape), nfe
