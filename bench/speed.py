"""Speed of the Langevin hot path against the bare cost of the networks it differentiates.

    python bench/speed.py --threads 2 --repeats 11 [--models lfbm-mcmc,abp] [--autocast] [--profile lfbm-mcmc]

For every registered model at its MNIST size (28x28, batch 100) it measures, in one process,
interleaved, median of ``--repeats``:

  (a) one Langevin step inside genflows, for each chain the model runs:
      ``posterior``  the posterior chain of Eq. (8) (``model.infer``; VAE models: the Langevin
                     chain they use on masked images), train-mode BatchNorm as in training;
      ``prior``      LEBM's prior sampling chain (60 steps per batch in training);
      ``data``       CoopFlow's data-space Langevin flow (T steps per batch);
  (b) the same step written directly in torch: the networks' forward, ``autograd.grad`` with
      respect to the chain state, and the update (no toolkit code);
  the ratio (a)/(b); (c) one training iteration and the implied epoch (505 iterations for the
  MNIST anomaly protocol's 50 500 training images; 600 for CoopFlow on MNIST's 60 000);
  (d) test-time scoring throughput of latent models (eval mode, batch 500, 100 noise-free steps).

``--profile NAME`` also writes the top operators of 5 training iterations of NAME
(torch.profiler, self CPU time) to ``results/profile-NAME.txt``.

Writes ``results/speed[-bf16].json`` and prints a Markdown table. The harness times speed only;
the AUPRC that goes with a schedule's time is in ``results/anomaly-*.json``
(``bench/anomaly_protocol.py`` prints both).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from genflows import MODELS, Trainer, build_model, load_config
from genflows.errors import guarded
from genflows.io import write_json, write_text

HERE = Path(__file__).resolve().parent
SHAPE = (1, 28, 28)


def _time(fn, n: int = 1) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) / n


def _bare_chain(energy, x0: torch.Tensor, steps: int, step_size: float, noise: bool, params, clamp=None):
    """Langevin written directly: energy forward, input gradient, update. No checks, no hooks."""
    for p in params:
        p.requires_grad_(False)
    half = 0.5 * step_size**2
    x = x0
    for _ in range(steps):
        x = x.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(energy(x).sum(), x)
        d = -half * g
        if noise:
            d = d + step_size * torch.randn_like(x)
        if clamp is not None:
            d = d.clamp(-clamp, clamp)
        x = x.detach() + d
    for p in params:
        p.requires_grad_(True)
    return x


def chains(model, cfg, x: torch.Tensor, steps: int, autocast: bool) -> dict:
    """name -> (toolkit step fn, bare step fn), each running ``steps`` steps."""
    out = {}
    if MODELS[cfg.model].family == "coopflow":
        if model.mode == "flow":
            return out
        x0 = model.initial(x.shape[0])
        out["data"] = (
            lambda: model.langevin_flow(x0, n_steps=steps, noise_scale=0.0),
            lambda: _bare_chain(lambda v: -model.energy(v), x0, steps, model.step_size, False, list(model.energy.parameters()),
                                clamp=model.clamp_update),
        )
        return out
    prior, gen = model.prior, model.generator
    inv2s2 = 1.0 / (2 * gen.sigma**2)
    inf = model.inference.langevin if getattr(model.inference, "amortized", False) else model.inference
    s = inf.step_size
    z0 = torch.randn(x.shape[0], gen.nz)

    def posterior_energy(z):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            g = gen(z)
        return ((x - g.float()) ** 2).flatten(1).sum(1) * inv2s2 - prior.log_prob(z)

    out["posterior"] = (
        lambda: inf(prior, gen, x, z0=z0, n_steps=steps, noise=True),
        lambda: _bare_chain(posterior_energy, z0, steps, s, True, list(model.parameters())),
    )
    if cfg.prior.kind == "ebm":
        zp = torch.randn(x.shape[0], gen.nz)
        sp = prior.sample_step_size
        saved = prior.sample_steps

        def toolkit_prior():
            prior.sample_steps = steps
            try:
                prior.sample(x.shape[0])
            finally:
                prior.sample_steps = saved

        out["prior"] = (toolkit_prior, lambda: _bare_chain(lambda z: -prior.log_prob(z), zp, steps, sp, True, list(prior.parameters())))
    return out


def _config(name: str, args):
    task = "generation" if MODELS[name].family == "coopflow" else "anomaly"
    return load_config(name, overrides=[f"inference.autocast={args.autocast}"], extra={"task": task})


def measure(name: str, args) -> list[dict]:
    cfg = _config(name, args)
    torch.manual_seed(0)
    model = build_model(cfg, SHAPE)
    x = torch.rand(cfg.train.batch_size, *SHAPE) * 2 - 1
    trainer = Trainer(model, cfg.train, prior_lr=cfg.prior.lr, progress=False)
    model.train()
    fns = chains(model, cfg, x, args.steps, args.autocast)

    def iteration():
        trainer.train_step(x)

    for a, b in fns.values():  # warm-up (also initialises nflows' ActNorm)
        a(), b()
    iteration()
    times = {k: ([], []) for k in fns}
    its = []
    for r in range(args.repeats):  # interleaved: toolkit, bare, iteration, every repeat
        for k, (a, b) in fns.items():
            # The call right after a training iteration runs on cold caches; alternating which of
            # the pair goes first keeps that cost from landing on one side (it made LEBM's 0.5 ms
            # prior step read 1.16x when the toolkit always went first, 1.01-1.06x in isolation).
            order = ((0, a), (1, b)) if r % 2 == 0 else ((1, b), (0, a))
            for side, fn in order:
                times[k][side].append(_time(fn, args.steps))
        its.append(_time(iteration))
    coop = MODELS[name].family == "coopflow"
    iters_per_epoch = 60000 // cfg.train.batch_size if coop else 50500 // cfg.train.batch_size
    score = None
    if not coop:
        model.eval()
        xs = torch.rand(500, *SHAPE) * 2 - 1
        inf = model.inference.langevin if getattr(model.inference, "amortized", False) else model.inference
        z0 = torch.randn(500, model.nz)
        score = 500 / statistics.median(
            [_time(lambda: inf(model.prior, model.generator, xs, z0=z0, n_steps=100, noise=False)) for _ in range(3)]
        )
    it = statistics.median(its)
    rows = []
    for k in fns or {"-": None}:
        a = statistics.median(times[k][0]) if k in times else None
        b = statistics.median(times[k][1]) if k in times else None
        rows.append({
            "model": name,
            "chain": k,
            "langevin_step_ms": None if a is None else a * 1e3,
            "bare_step_ms": None if b is None else b * 1e3,
            "ratio": None if a is None else a / b,
            "train_iter_s": it,
            "epoch_min": it * iters_per_epoch / 60,
            "iters_per_epoch": iters_per_epoch,
            "score_images_per_s_100_steps": score,
        })
    return rows


def profile(name: str, args) -> str:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as tprofile

    cfg = _config(name, args)
    torch.manual_seed(0)
    model = build_model(cfg, SHAPE)
    x = torch.rand(cfg.train.batch_size, *SHAPE) * 2 - 1
    trainer = Trainer(model, cfg.train, prior_lr=cfg.prior.lr, progress=False)
    trainer.train_step(x)
    with tprofile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(5):
            trainer.train_step(x)
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20)
    head = f"# profile of 5 training iterations of {name}, batch {cfg.train.batch_size}, {args.threads} threads, autocast={args.autocast}, {time.strftime('%Y-%m-%d')}\n"
    write_text(HERE / "results" / f"profile-{name}{'-bf16' if args.autocast else ''}.txt", head + table)
    return head + table


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=11)
    ap.add_argument("--steps", type=int, default=10, help="Langevin steps per timed call")
    ap.add_argument("--autocast", action="store_true", help="bf16 generator inside the posterior chains")
    ap.add_argument("--profile", default="", help="comma-separated models to profile")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for name in args.models.split(","):
        for r in measure(name, args):
            rows.append(r)
            print(json.dumps(r), flush=True)
    for name in filter(None, args.profile.split(",")):
        print(profile(name, args))
    out = {"date": time.strftime("%Y-%m-%d"), "threads": args.threads, "autocast": args.autocast, "torch": torch.__version__,
           "cpu": platform.processor() or platform.machine(), "repeats": args.repeats, "steps_per_call": args.steps, "rows": rows}
    write_json(HERE / "results" / f"speed{'-bf16' if args.autocast else ''}.json", out)
    print(f"\nthreads={args.threads} autocast={args.autocast} batch=train batch (scoring: batch 500, 100 steps), median of {args.repeats}\n")
    print(markdown(rows))


def markdown(rows: list[dict]) -> str:
    fmt = lambda v, f: "n/a" if v is None else format(v, f)  # noqa: E731
    lines = ["| model | chain | (a) Langevin step ms | (b) bare step ms | (a)/(b) | train iter s | epoch min | scoring img/s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['chain']} | {fmt(r['langevin_step_ms'], '.2f')} | {fmt(r['bare_step_ms'], '.2f')} | "
                     f"{fmt(r['ratio'], '.2f')} | {r['train_iter_s']:.3f} | {r['epoch_min']:.1f} | {fmt(r['score_images_per_s_100_steps'], '.0f')} |")
    return "\n".join(lines)


if __name__ == "__main__":
    guarded(main, "speed")
