"""CoopFlow paper, Table 6 at CPU scale: can a small EBM's Langevin flow improve a pretrained flow's
samples, and how long does the joint phase (Algorithm 1's flow update) keep improving them?

CoopFlow's Table 6 ordering needs x_tilde = Langevin(x_hat) to be better than x_hat. This probe
takes the flow of a finished ``flow`` run (``experiments/coopflow_table6.py ablation``), attaches a fresh
ConvNet EBM and trains it as CoopFlow(Pre)'s warm-up does (the flow frozen); from ``--joint-at``
on, the flow learns too (Algorithm 1) at ``--flow-lr``. Every ``--eval-every`` iterations it
records the FID of the test-time samples x_tilde (step x 4/3, noise off) and, when the flow
changes, of x_hat, with N = ``--fid-n`` against as many test images, and the contrast
f(x) - f(x_tilde). One JSON per run: ``experiments/results/coopflow-probe-<tag>.json``.

    python experiments/coopflow_table6.py joint_phase_probe --data-root ../shared/data --tag w8 --width 8 --iters 1000

Uses only the package's public pieces (CoopFlow.training_loss, parameter_groups, sample).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from genflows.coopflow import CoopFlow
from genflows.coopflow.energies import build_energy
from genflows.errors import GenflowsError, guarded
from genflows.metrics.fid import InceptionFeatures, frechet_distance
from genflows._runtime.io import load_checkpoint, save_checkpoint, write_json
from genflows.runner import load_model
from genflows.tasks._evaluate import sample_batched
from genflows.tasks._fit import run_data
from genflows.trainer import progress_enabled

EXPERIMENTS = Path(__file__).resolve().parents[1]


def warmup_args(args) -> dict:
    """The settings that decide the warm-up (the flow frozen, the EBM alone): what a cache must match."""
    keys = ("flow_run", "width", "step_size", "n_steps", "clamp_update", "energy_l2", "ebm_lr", "batch", "joint_at", "eval_every", "fid_n", "grad_clip", "clip", "seed")
    return {k: getattr(args, k) for k in keys}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--flow-run", default=str(EXPERIMENTS / "runs/coop-ablation-mnist/flow"))
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--width", type=int, default=8)
    ap.add_argument("--step-size", type=float, default=0.1)
    ap.add_argument("--n-steps", type=int, default=30)
    ap.add_argument("--clamp-update", type=float, default=0.1)
    ap.add_argument("--energy-l2", type=float, default=1e-3)
    ap.add_argument("--ebm-lr", type=float, default=1e-4)
    ap.add_argument("--flow-lr", type=float, default=1e-4)
    ap.add_argument("--flow-data-weight", type=float, default=0.0, help="joint phase: weight of -log q(x) in the flow's loss (coop.flow_data_weight)")
    ap.add_argument("--joint-ebm-lr", type=float, default=None, help="the EBM's lr from --joint-at on (default: --ebm-lr)")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--iters", type=int, default=1000)
    ap.add_argument("--joint-at", type=int, default=-1, help="iteration from which the flow learns too (-1: never)")
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--fid-n", type=int, default=500)
    ap.add_argument("--grad-clip", type=float, default=10.0)
    ap.add_argument("--clip", choices=["joint", "each"], default="joint", help="clip the norm of all gradients together (as the trainer) or each flow's on its own")
    ap.add_argument("--warm-cache", default=None, help="file holding the state after the warm-up (written if missing, else read and the warm-up skipped): variants of the joint phase share one warm-up")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.iters < 1 or args.eval_every < 1 or args.fid_n < 2 or args.batch < 1:
        ap.error("--iters, --eval-every, --batch must be >= 1 and --fid-n >= 2")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    cfg, flow_model = load_model(args.flow_run)
    if args.data_root:
        cfg.data.root = args.data_root
    train_x, test_x = run_data(cfg)
    shape = tuple(train_x.shape[1:])
    model = CoopFlow(
        flow_model.flow, build_energy(shape, args.width), mode="coopflow", n_steps=args.n_steps, step_size=args.step_size,
        clamp_update=args.clamp_update, clamp_data=1.0, energy_l2=args.energy_l2, flow_data_weight=args.flow_data_weight, pretrain_epochs=0,
        warmup_epochs=1, data_shape=shape, flow_lr=args.flow_lr, ebm_lr=args.ebm_lr, joint_ebm_lr=args.joint_ebm_lr,
    ).train()
    groups = model.parameter_groups()
    opt = torch.optim.Adam(groups)
    # "joint": one norm over both flows, as Trainer; "each": the flow's large -log q(x_tilde)
    # gradient no longer shrinks the EBM's step.
    clip_sets = [[p for g in groups for p in g["params"]]] if args.clip == "joint" else [g["params"] for g in groups]

    feats = InceptionFeatures.shared()
    n = min(args.fid_n, test_x.shape[0])
    real = feats(test_x[:n].contiguous())

    def fid_of(method: str) -> float:
        return frechet_distance(feats(sample_batched(model, n, seed=0, sampler=getattr(model, method))), real)

    probe_x = train_x[:200]

    def diagnose() -> dict[str, float]:
        """Where the Langevin flow moves the flow's samples, and what that costs the flow in nats:
        on MNIST most pixels are background at exactly -1, where a flow fitted to dequantised data
        is as narrow as one quantisation bin (2/256)."""
        with torch.random.fork_rng(), torch.no_grad():  # the training stream is left as it was
            torch.manual_seed(0)
            x_hat = model.initial(200).clamp(-1, 1)
        x_tilde = model.langevin_flow(x_hat)
        with torch.no_grad():
            bg = x_hat < -0.98
            shift = (x_tilde - x_hat).abs()
            return {
                "nll_data": float(-model.flow.log_prob(probe_x, dequantize=True).mean()),
                "nll_hat": float(-model.flow.log_prob(x_hat, dequantize=True).mean()),
                "nll_tilde": float(-model.flow.log_prob(x_tilde, dequantize=True).mean()),
                "shift_background": float(shift[bg].mean()),
                "shift_foreground": float(shift[~bg].mean()),
                "background_fraction": float(bg.float().mean()),
            }

    flow_fid = fid_of("sample_flow")
    print(f"[{args.tag}] flow alone: FID {flow_fid:.1f} (N = {n})", flush=True)
    log, t_train, contrast = [], 0.0, []
    gen = torch.Generator().manual_seed(args.seed)
    start = 1
    cache = Path(args.warm_cache) if args.warm_cache else None
    if cache and args.joint_at < 2:
        ap.error("--warm-cache needs --joint-at >= 2")
    if cache and cache.is_file():
        state = load_checkpoint(cache)
        if state["args"] != warmup_args(args):
            raise GenflowsError(f"{cache} was written by a warm-up with other settings: {state['args']}")
        model.energy.load_state_dict(state["energy"])
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["gen"])
        torch.set_rng_state(state["rng"])
        log, t_train, start = state["log"], state["train_seconds"], args.joint_at
        print(f"[{args.tag}] warm-up read from {cache}", flush=True)
    for it in tqdm(range(start, args.iters + 1), desc=args.tag, disable=not progress_enabled(), leave=False):
        if cache and it == args.joint_at and not cache.is_file():
            save_checkpoint(cache, {"args": warmup_args(args), "energy": model.energy.state_dict(), "optimizer": opt.state_dict(),
                         "gen": gen.get_state(), "rng": torch.get_rng_state(), "log": log, "train_seconds": t_train})
        lrs = model.schedule(0 if args.joint_at < 0 or it < args.joint_at else 1).lrs  # 0: warm-up, 1: joint (e.g. joint_ebm_lr)
        for g in opt.param_groups:
            g["lr"] = lrs[g["name"]]
        t0 = time.perf_counter()
        x = train_x[torch.randint(0, train_x.shape[0], (args.batch,), generator=gen)]
        loss, stats = model.training_loss(x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        for ps in clip_sets:
            torch.nn.utils.clip_grad_norm_(ps, args.grad_clip)
        opt.step()
        t_train += time.perf_counter() - t0
        contrast.append(-stats["ebm_loss"])
        if it % args.eval_every == 0 or it == args.iters:
            c = float(torch.stack(contrast).mean())
            contrast = []
            row = {"iter": it, "phase": model.phase, "contrast": c, "fid_coopflow": fid_of("sample"), "train_seconds": t_train, **diagnose()}
            if model.phase == "joint":
                row["fid_flow"] = fid_of("sample_flow")
            if not torch.isfinite(loss):
                row["diverged"] = True
            log.append(row)
            print(f"[{args.tag}] " + "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()), flush=True)
            if row.get("diverged"):
                break
    out = EXPERIMENTS / "results" / f"coopflow-probe-{args.tag}.json"
    write_json(out, {"date": time.strftime("%Y-%m-%d"), "args": vars(args), "fid_n": n, "fid_flow_start": flow_fid,
                     "torch_threads": torch.get_num_threads(), "log": log})
    print(f"-> {out}")


if __name__ == "__main__":
    guarded(main, "coopflow_table6.py joint_phase_probe")
