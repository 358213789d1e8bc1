"""CoopFlow paper, Table 7: why a CoopFlow x_hat reconstruction stalls, on a trained run folder.

Recorded in docs/log.md, "Reconstruction step size and the projection onto the data range".

    python experiments/coopflow_table7_reconstruction_diagnosis.py \
        experiments/runs/coop-ablation-mnist-s11/coopflow-pre --lrs 0.003,0.03

Prints, for the first 20 test images and x_hat_0 drawn with torch.manual_seed(0): the starting MSE,
the share of F_theta(x_hat_0)'s pixels on the data clamp, the share of zero gradients w.r.t. x_hat,
how far F_theta moves the data itself (MSE of F_theta(x) vs x), and the MSE after eval.invert_iters Adam steps
at each lr (``CoopFlow.invert``, so with the projection onto the data range since 2026-11-30).
"""

from __future__ import annotations

import argparse
import time

import torch

from table6.ablation import lr_grid  # experiments/ is on sys.path when a script in it runs

from genflows.errors import guarded
from genflows.runner import load_model
from genflows.tasks._fit import run_data
from genflows.metrics import pixel_mse


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", help="a coopflow / ebm-sr run folder")
    ap.add_argument("--lrs", type=lr_grid, default=[0.01], help="comma list of Adam learning rates")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg, model = load_model(args.run)
    x = run_data(cfg)[1][: args.n]
    torch.manual_seed(0)
    xhat = model.initial(x.shape[0]).detach().requires_grad_(True)
    out = model.flow_map(xhat)
    err = (x - out).pow(2).flatten(1).sum(1)
    (g,) = torch.autograd.grad(err.sum(), xhat)
    with torch.no_grad():
        fx = model.decode(x)
    print(f"start MSE {float(err.detach().mean()) / x[0].numel():.4f}; F(x_hat_0) on the clamp {float((out.detach().abs() >= model.clamp_data - 1e-6).float().mean()):.3f}; "
          f"zero gradients {float((g == 0).float().mean()):.3f}; MSE of F(x) vs x {float((fx - x).pow(2).mean()):.4f}")
    for lr in args.lrs:
        torch.manual_seed(0)
        t0 = time.perf_counter()
        xh, curve = model.invert(x, n_iters=cfg.eval.invert_iters, lr=lr, curve_every=50)
        with torch.no_grad():
            mse = float(pixel_mse(x, model.decode(xh)).mean())
        print(f"lr {lr:g}: MSE {mse:.4f}, curve {[(i, round(v, 4)) for i, v in curve]}, {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    guarded(main, "coopflow_table7_reconstruction_diagnosis")
