"""Which maintained ODE solver VAPO samples with on this CPU: scipy's RK45 (the authors') against
torchdiffeq's dopri5 at the same tolerance, on the same potential and starting noise: wall time
(median of ``--repeats``) and the number of velocity evaluations (NFE), with Euler at the
released step count beside them. A potential is trained briefly first (``--train-steps``), so the
field is not the initial one.

    python bench/vapo_ode.py [--repeats 3] [--threads 1] [--tag NAME]

Writes ``bench/results/vapo-ode[-TAG].json``, CPU named.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from genflows._runtime.io import write_json  # noqa: E402
from genflows.data import load_split, sample_toy  # noqa: E402
from genflows.hardware import describe_cpu  # noqa: E402
from genflows.vapo import VAPO  # noqa: E402
from genflows.vapo.ode import solve_ode  # noqa: E402


def trained(shape, data: torch.Tensor, steps: int, **kw) -> VAPO:
    torch.manual_seed(0)
    m = VAPO(shape, lr=1e-3, warmup=50, ema_decay=0.99, **kw)
    opt = m.make_optimizer(m.parameter_groups())
    for i in range(steps):
        for g in opt.param_groups:
            g["lr"] = m.lr * m.lr_factor(i)
        batch = data[torch.randint(0, len(data), (128,))]
        opt.zero_grad(set_to_none=True)
        m.training_loss(batch)[0].backward()
        m.clip_gradients()
        opt.step()
        m.after_step()
    return m.eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--train-steps", type=int, default=300)
    ap.add_argument("--tag", default="")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cases = {
        "mlp-2d (8gaussians, 2000 samples)": (trained((2,), sample_toy("8gaussians", 10000), a.train_steps), 2000),
        "unet-digits (1x8x8, base 32, 500 samples)": (trained((1, 8, 8), load_split("digits")[0], a.train_steps, base=32, mults=(1, 2), blocks=1,
                                                              groups=8), 500),
    }
    rows = []
    for name, (m, n) in cases.items():
        torch.manual_seed(1)
        x0 = torch.randn(n, *m.shape)
        for solver, kw in (("rk45", {"rtol": 1e-3, "atol": 1e-3}), ("dopri5", {"rtol": 1e-3, "atol": 1e-3}), ("euler", {"euler_steps": 100})):
            times, nfe = [], 0
            for _ in range(a.repeats):
                t = time.perf_counter()
                with torch.no_grad():
                    _, nfe = solve_ode(m.velocity, x0, m.t_min, 1 - m.t_min, solver, **kw)
                times.append(time.perf_counter() - t)
            rows.append({"case": name, "solver": solver, **kw, "nfe": nfe, "seconds": statistics.median(times),
                         "ms_per_evaluation": 1000 * statistics.median(times) / nfe})
            print(f"{name:<44} {solver:<7} NFE {nfe:>4}  {statistics.median(times):7.3f} s  ({rows[-1]['ms_per_evaluation']:.2f} ms per evaluation)", flush=True)
    stem = "vapo-ode" + (f"-{a.tag}" if a.tag else "")
    write_json(HERE / "results" / f"{stem}.json", {"command": " ".join(["python bench/vapo_ode.py", *sys.argv[1:]]), **describe_cpu(),
                                                 "threads": a.threads, "repeats": a.repeats, "train_steps": a.train_steps,
                                                 "date": time.strftime("%Y-%m-%d"), "rows": rows})


if __name__ == "__main__":
    main()
