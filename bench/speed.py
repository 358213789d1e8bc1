"""Speed of the Langevin hot path: against bare torch, against the CPU's own peak, and against an
earlier commit on the same machine.

    python bench/speed.py --threads 2 --repeats 7 [--models lfbm-mcmc,abp] [--dtypes float32,bfloat16]
                          [--baseline COMMIT] [--main-job] [--profile lfbm-mcmc]

For every registered model at its MNIST size (28x28, training batch) it measures, in one process,
interleaved, median of ``--repeats``:

  (a) one Langevin step inside genflows, for each chain the model runs: ``posterior`` (Eq. 8 of
      the latent-flow paper, train-mode BatchNorm as in training; VAE models: the chain they run
      on masked images), ``prior`` (LEBM's prior sampling chain), ``data`` (CoopFlow's Langevin
      flow, T steps per batch);
  (b) the same step written directly in torch (forward, ``autograd.grad`` w.r.t. the state, update)
      and the ratio (a)/(b);
  the step's FLOPs (``torch.utils.flop_counter.FlopCounterMode`` on one energy + input gradient),
  the achieved GFLOP/s and the **utilisation**: achieved / this machine's peak for that dtype,
  measured in the same process with the same threads (a 2048 x 2048 matmul); the step's matrix
  products replayed alone (``products_ms``) and the utilisation they would allow if the rest of
  the step were free (``utilisation_ceiling``): where that ceiling is below a goal, no work outside
  the products can reach it;
  (c) one training iteration and the implied epoch; (d) scoring throughput of latent models
  (eval mode, noise-free; images per second for 100-step chains) at several batch sizes
  (``--score-batches``), and the rate the chains' matrix products alone would allow. On a CPU without native bf16 a bfloat16 row times chain steps only.

``--dtypes``: ``float32`` and/or ``bfloat16`` (the generator under bf16 autocast inside chains).
``--baseline COMMIT`` imports that commit's ``genflows`` (``git archive``) beside the working
tree's and times both sides in the same loop, so the speed-up is measured side by side.
``--main-job`` also times ``genflows run lfbm-mcmc --task anomaly --holdout 4`` (the README's
main job, digits) end to end, for the working tree and the baseline.
``--profile NAME`` writes the top operators of 5 training iterations (self CPU time).

Every run appends a record to ``results/speed-records.jsonl`` and compares itself with the last
record from the same CPU, capability and thread count: any row more than 20 % slower is printed
(a regression guard for people, not CI). The newest run is also in ``results/speed.json``.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

import genflows
from genflows.errors import GenflowsError, guarded
from genflows.hardware import describe_cpu
from genflows._runtime.io import write_json, write_text

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RECORDS = HERE / "results" / "speed-records.jsonl"
SHAPE = (1, 28, 28)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def _time(fn, n: int = 1) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) / n


def baseline_package(commit: str, into: Path):
    """That commit's ``genflows`` imported as ``genflows_base`` (its imports are relative), and the
    folder that holds it as ``genflows`` for subprocesses."""
    src = into / "src"
    src.mkdir()
    try:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "genflows"], check=True, capture_output=True).stdout
    except subprocess.CalledProcessError as e:
        raise GenflowsError(f"--baseline {commit}: {e.stderr.decode().strip().splitlines()[-1]}") from None
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    alias = into / "alias"
    alias.mkdir()
    (alias / "genflows_base").symlink_to(src / "genflows")
    sys.path.insert(0, str(alias))
    return importlib.import_module("genflows_base"), src


def peak_gflops(dtype: torch.dtype, n: int = 2048, repeats: int = 7) -> float:
    """The best of ``repeats`` square products: a peak is what the machine can reach (the
    median of 5 read 81-97 GFLOP/s between runs on one shared 2-core machine)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    return 2 * n**3 / min(_time(lambda: a @ b) for _ in range(repeats)) / 1e9


def step_flops(energy, x0: torch.Tensor, params) -> int:
    """FLOPs of one Langevin step: the energy and its gradient w.r.t. the state (not the update's
    few elementwise operations). The state is a non-leaf: the counter's module hooks refuse
    ``autograd.grad`` on a leaf."""
    flags = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        with FlopCounterMode(display=False) as fc:
            x = x0.clone().requires_grad_(True) * 1.0
            torch.autograd.grad(energy(x).sum(), x)
    finally:
        for p, f in zip(params, flags):
            p.requires_grad_(f)
    return fc.get_total_flops()


_aten = torch.ops.aten
PRODUCTS = {_aten.mm.default, _aten.addmm.default, _aten.bmm.default, _aten.baddbmm.default,
            _aten.convolution.default, _aten.convolution_backward.default}


class _Products(TorchDispatchMode):
    """Records every matrix product / convolution (after autocast's casts) with its operands."""

    def __init__(self):
        super().__init__()
        self.calls: list = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in PRODUCTS:  # detached: a parameter's data may be swapped back after the chain (cast_weights)
            keep = lambda v: v.detach() if isinstance(v, torch.Tensor) else v  # noqa: E731
            self.calls.append((func, tuple(keep(v) for v in args), {n: keep(v) for n, v in kwargs.items()}))
        return func(*args, **kwargs)


def products_ms(chain, steps: int, repeats: int) -> float:
    """Milliseconds per step of the chain's matrix products alone: the products of one run of
    ``chain`` (``steps`` steps) replayed back to back with their own operands, shapes, strides and
    dtypes. What a step would cost if everything else (normalisation, activations, copies, the
    update, Python) were free; flops / this / peak is the ceiling of the step's utilisation."""
    with _Products() as rec:
        chain()

    def replay():
        with torch.no_grad():
            for func, a, k in rec.calls:
                func(*a, **k)

    replay()
    return statistics.median(_time(replay) for _ in range(repeats)) * 1e3 / steps


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


class Side:
    """One ``genflows`` (the working tree's or a baseline's) with one model built in it."""

    def __init__(self, pkg, name: str, dtype: str, threads: int):
        self.pkg = pkg
        self.coop = pkg.MODELS[name].family == "coopflow"
        task = "generation" if self.coop else "anomaly"
        autocast = [] if self.coop else [f"inference.autocast={str(dtype == 'bfloat16').lower()}"]
        # CoopFlow at the CPU sizes its records were measured at (the defaults became the paper's).
        sizes = ["coop.energy_width=32", "coop.flow_depth=4", "coop.flow_hidden=64", "coop.flow_levels=2"] if self.coop else []
        self.cfg = pkg.load_config(name, overrides=autocast + sizes, extra={"task": task})
        torch.manual_seed(0)
        self.model = pkg.build_model(self.cfg, SHAPE)
        self.x = torch.rand(self.cfg.train.batch_size, *SHAPE) * 2 - 1
        # Baselines from before per-family configs pass the prior's lr to the trainer.
        old = "prior_lr" in inspect.signature(pkg.Trainer).parameters
        self.trainer = pkg.Trainer(self.model, self.cfg.train, progress=False, **({"prior_lr": self.cfg.prior.lr} if old else {}))
        self.model.train()
        self.bf16 = dtype == "bfloat16"

    def chains(self, steps: int) -> dict:
        """name -> (toolkit run, bare run, energy, x0, step size, params), each run ``steps`` steps."""
        m, x, out = self.model, self.x, {}
        if self.coop:
            if m.mode == "flow":
                return out
            x0 = m.initial(x.shape[0])
            e = lambda v: -m.energy(v)  # noqa: E731
            params = list(m.energy.parameters())
            out["data"] = (lambda: m.langevin_flow(x0, n_steps=steps, noise_scale=0.0),
                           lambda: _bare_chain(e, x0, steps, m.step_size, False, params, clamp=m.clamp_update), e, x0, params)
            return out
        prior, gen = m.prior, m.generator
        inf = m.inference.langevin if getattr(m.inference, "amortized", False) else m.inference
        z0 = torch.randn(x.shape[0], gen.nz)
        inv2s2 = 1.0 / (2 * gen.sigma**2)

        def posterior_energy(z):
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
                g = gen(z)
            return ((x - g.float()) ** 2).flatten(1).sum(1) * inv2s2 - prior.log_prob(z)

        params = list(m.parameters())
        out["posterior"] = (lambda: inf(prior, gen, x, z0=z0, n_steps=steps, noise=True),
                            lambda: _bare_chain(posterior_energy, z0, steps, inf.step_size, True, params), posterior_energy, z0, params)
        if self.cfg.prior.kind == "ebm":
            zp = torch.randn(x.shape[0], gen.nz)
            saved = prior.sample_steps

            def toolkit_prior():
                prior.sample_steps = steps
                try:
                    prior.sample(x.shape[0])
                finally:
                    prior.sample_steps = saved

            e = lambda z: -prior.log_prob(z)  # noqa: E731
            out["prior"] = (toolkit_prior, lambda: _bare_chain(e, zp, steps, prior.sample_step_size, True, list(prior.parameters())),
                            e, zp, list(prior.parameters()))
        return out

    def iteration(self) -> None:
        self.trainer.train_step(self.x)

    def scorer(self, batch: int, steps: int):
        """One batch of the anomaly task's scoring chains (eval mode, noise-free), ``steps`` steps."""
        m = self.model
        inf = m.inference.langevin if getattr(m.inference, "amortized", False) else m.inference
        xs, z0 = torch.rand(batch, *SHAPE) * 2 - 1, torch.randn(batch, m.nz)

        def run():
            m.eval()
            try:
                inf(m.prior, m.generator, xs, z0=z0, n_steps=steps, noise=False)
            finally:
                m.train()

        return run


def measure(name: str, dtype: str, args, base) -> list[dict]:
    sides = {"now": Side(genflows, name, dtype, args.threads)}
    if base is not None and name in base.MODELS:
        sides["base"] = Side(base, name, dtype, args.threads)
    fns = {s: side.chains(args.steps) for s, side in sides.items()}
    whole = dtype == "float32" or args.native_bf16  # else chain steps only (see scoring below)
    for s, side in sides.items():  # warm-up (also initialises nflows' ActNorm)
        if whole:
            side.iteration()
        for a, b, *_ in fns[s].values():
            a(), b()
    flops = {k: step_flops(e, x0, params) for k, (_, _, e, x0, params) in fns["now"].items()}
    prod = {k: products_ms(a, args.steps, args.repeats) for k, (a, *_) in fns["now"].items()}
    times: dict = {(s, k, w): [] for s in sides for k in fns[s] for w in ("tk", "bare")}
    its: dict = {s: [] for s in sides}
    for r in range(args.repeats):
        order = list(sides) if r % 2 == 0 else list(sides)[::-1]
        for s in order:
            for k, (a, b, *_) in fns[s].items():
                # Alternate which of the pair runs first: the call right after a training iteration
                # runs on cold caches.
                pair = ((("tk", a), ("bare", b)) if r % 2 == 0 else (("bare", b), ("tk", a))) if s == "now" else (("tk", a),)
                for w, fn in pair:
                    times[(s, k, w)].append(_time(fn, args.steps))
            if whole:
                its[s].append(_time(sides[s].iteration))
    score = {}
    # Without native bf16 a bf16 chain is ~20x slower: its steps are timed, not whole iterations.
    if not sides["now"].coop and whole:
        for s, side in sides.items():
            batches = args.score_batches if s == "now" else [side.cfg.anomaly.score_batch_size]
            for bs in batches:
                run = side.scorer(bs, args.steps)
                run()
                # images per second for 100-step chains, from chains of --steps steps
                score[(s, bs)] = bs * args.steps / 100 / statistics.median(_time(run) for _ in range(args.score_repeats))
                if s == "now":  # what the products alone would allow: no work elsewhere can beat it
                    score[("ceiling", bs)] = bs / (products_ms(run, args.steps, args.score_repeats) * 100 / 1e3)
    peak = args.peaks[dtype]
    med = lambda v: statistics.median(v) if v else None  # noqa: E731
    rows = []
    for k in fns["now"] or {"-": None}:
        a, b = med(times.get(("now", k, "tk"), [])), med(times.get(("now", k, "bare"), []))
        row = {"model": name, "chain": k, "dtype": dtype, "langevin_step_ms": a and a * 1e3, "bare_step_ms": b and b * 1e3,
               "ratio": a and a / b, "gflop_per_step": flops[k] / 1e9 if k in flops else None,
               "gflops": flops[k] / a / 1e9 if k in flops else None, "peak_gflops": peak,
               "utilisation": flops[k] / a / 1e9 / peak if k in flops else None,
               # the step's matrix products alone, and the utilisation they would allow if nothing else cost time
               "products_ms": prod.get(k), "products_share": prod[k] / (a * 1e3) if k in prod and a else None,
               "utilisation_ceiling": flops[k] / (prod[k] / 1e3) / 1e9 / peak if k in flops and prod.get(k) else None,
               "train_iter_s": med(its["now"]), "iters_per_epoch": (60000 if sides["now"].coop else 50500) // sides["now"].cfg.train.batch_size}
        row["epoch_min"] = row["train_iter_s"] and row["train_iter_s"] * row["iters_per_epoch"] / 60
        if score:
            best = max((bs for (s, bs) in score if s == "now"), key=lambda bs: score[("now", bs)])
            row["score_images_per_s"] = {str(bs): v for (s, bs), v in score.items() if s == "now"}
            row["score_best_batch"] = best
            row["score_ceiling_images_per_s"] = {str(bs): v for (s, bs), v in score.items() if s == "ceiling"}
        if "base" in sides:
            ba = med(times.get(("base", k, "tk"), []))
            row["base_step_ms"] = ba and ba * 1e3
            row["base_utilisation"] = flops[k] / ba / 1e9 / peak if ba and k in flops else None
            row["base_train_iter_s"] = med(its["base"])
            base_score = [v for (s, _), v in score.items() if s == "base"]
            row["base_score_images_per_s"] = base_score[0] if base_score else None
        rows.append(row)
    return rows


def main_job(args, base_src: Path | None) -> dict:
    """Wall time of the README's main job, working tree and baseline alternating."""
    out: dict = {"command": "genflows run lfbm-mcmc --task anomaly --holdout 4", "runs": []}
    sides = [("now", ROOT)] + ([("base", base_src)] if base_src is not None else [])
    for r in range(args.main_job_repeats):
        for side, path in sides if r % 2 == 0 else sides[::-1]:
            with tempfile.TemporaryDirectory() as tmp:
                env = dict(os.environ, PYTHONPATH=str(path))
                cmd = [sys.executable, "-m", "genflows", "run", "lfbm-mcmc", "--task", "anomaly", "--holdout", "4",
                       "--out", str(Path(tmp) / "run"), "--threads", str(args.threads)]
                t = time.perf_counter()
                subprocess.run(cmd, env=env, cwd=tmp, check=True, capture_output=True)
                wall = time.perf_counter() - t
                m = json.loads((Path(tmp) / "run" / "metrics.json").read_text())
            rec = {"side": side, "wall_s": wall, "train_s": m["train_seconds"], "score_s": m["score_seconds"], "auprc": m["auprc"]}
            out["runs"].append(rec)
            print(json.dumps(rec), flush=True)
    for side, _ in sides:
        walls = [r["wall_s"] for r in out["runs"] if r["side"] == side]
        out[f"{side}_wall_s"] = statistics.median(walls)
    if base_src is not None:
        out["speedup"] = out["base_wall_s"] / out["now_wall_s"]
    return out


def profile(pkg, name: str, args, tag: str) -> str:
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as tprofile

    side = Side(pkg, name, args.dtypes[0], args.threads)
    side.iteration()
    with tprofile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(5):
            side.iteration()
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15)
    cpu = describe_cpu()
    head = (f"# profile of 5 training iterations of {name} ({tag}), batch {side.cfg.train.batch_size}, {args.dtypes[0]}, "
            f"{cpu['cpu']} ({cpu['capability']}), {args.threads} threads, {time.strftime('%Y-%m-%d')}\n")
    write_text(HERE / "results" / f"profile-{name}{'' if tag == 'now' else '-' + tag}.txt", head + table)
    return head + table


def regressions(record: dict) -> list[str]:
    """Rows more than 20 % slower than in the last record from the same machine and threads."""
    if not RECORDS.exists():
        return []
    key = lambda r: (r["cpu"], r["capability"], r["threads"])  # noqa: E731
    last = None
    for line in RECORDS.read_text().splitlines():
        r = json.loads(line)
        if key(r) == key(record):
            last = r
    if last is None:
        return []
    before = {(r["model"], r["chain"], r["dtype"]): r for r in last["rows"]}
    slow = []
    for r in record["rows"]:
        old = before.get((r["model"], r["chain"], r["dtype"]))
        if old is None:
            continue
        for k in ("langevin_step_ms", "train_iter_s"):
            if old.get(k) and r.get(k) and r[k] > 1.2 * old[k]:
                slow.append(f"{r['model']} {r['chain']} {r['dtype']}: {k} {r[k]:.4g} vs {old[k]:.4g} on {last['date']}")
    return slow


def markdown(rows: list[dict]) -> str:
    f = lambda v, spec: "–" if v is None else format(v, spec)  # noqa: E731
    base = any("base_step_ms" in r for r in rows)
    head = ("| model | chain | dtype | step ms | bare ms | (a)/(b) | GFLOP/step | GFLOP/s | utilisation | products alone ms | their ceiling "
            "| train iter s | scoring img/s (batch) | products alone would allow |")
    if base:
        head += " baseline step ms | baseline util. | baseline iter s | baseline scoring img/s |"
    lines = [head, "|" + "---|" * head.count(" | ") + "---|"]
    for r in rows:
        sc = r.get("score_images_per_s")
        line = (f"| {r['model']} | {r['chain']} | {r['dtype']} | {f(r['langevin_step_ms'], '.2f')} | {f(r['bare_step_ms'], '.2f')} | "
                f"{f(r['ratio'], '.2f')} | {f(r['gflop_per_step'], '.3f')} | {f(r['gflops'], '.1f')} | {f(r['utilisation'], '.2f')} | "
                f"{f(r.get('products_ms'), '.2f')} | {f(r.get('utilisation_ceiling'), '.2f')} | "
                f"{f(r['train_iter_s'], '.3f')} | {f(sc and sc[str(r['score_best_batch'])], '.1f')}{' (' + str(r['score_best_batch']) + ')' if sc else ''} | "
                f"{f(sc and r.get('score_ceiling_images_per_s', {}).get(str(r['score_best_batch'])), '.1f')} |")
        if base:
            line += (f" {f(r.get('base_step_ms'), '.2f')} | {f(r.get('base_utilisation'), '.2f')} | {f(r.get('base_train_iter_s'), '.3f')} | "
                     f"{f(r.get('base_score_images_per_s'), '.1f')} |")
        lines.append(line)
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=",".join(genflows.MODELS))
    ap.add_argument("--dtypes", default="float32", help="comma-separated: float32, bfloat16")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--steps", type=int, default=10, help="Langevin steps per timed call")
    ap.add_argument("--score-batches", default="100,250,500,1000", help="scoring batch sizes to time")
    ap.add_argument("--score-repeats", type=int, default=3)
    ap.add_argument("--baseline", default="", help="commit to time side by side (e.g. main's last commit)")
    ap.add_argument("--main-job", action="store_true", help="also time the README's main job end to end")
    ap.add_argument("--main-job-repeats", type=int, default=1)
    ap.add_argument("--profile", default="", help="comma-separated models to profile")
    ap.add_argument("--tag", default="", help="suffix of the results files")
    args = ap.parse_args()
    args.dtypes = args.dtypes.split(",")
    args.score_batches = [int(b) for b in args.score_batches.split(",")]
    models = [m for m in args.models.split(",") if m]  # --models "": the main job alone
    bad = [d for d in args.dtypes if d not in DTYPES] + [m for m in models if m not in genflows.MODELS]
    if bad:
        raise GenflowsError(f"unknown dtype or model: {', '.join(bad)}")
    torch.set_num_threads(args.threads)
    cpu = describe_cpu()
    args.native_bf16 = cpu["native_bf16"]
    print(f"CPU {cpu['cpu']}, capability {cpu['capability']}, native bf16 {cpu['native_bf16']}, {args.threads} threads, torch {torch.__version__}")
    args.peaks = {d: peak_gflops(DTYPES[d]) for d in args.dtypes}
    print("peak GFLOP/s (2048 x 2048 matmul): " + ", ".join(f"{d} {v:.1f}" for d, v in args.peaks.items()), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        base, base_src = baseline_package(args.baseline, Path(tmp)) if args.baseline else (None, None)
        rows = []
        for name in models:
            for dtype in args.dtypes:
                for r in measure(name, dtype, args, base):
                    rows.append(r)
                    print(json.dumps(r), flush=True)
        job = main_job(args, base_src) if args.main_job else None
        for name in filter(None, args.profile.split(",")):
            print(profile(genflows, name, args, "now"))
            if base is not None:
                print(profile(base, name, args, f"baseline-{args.baseline[:7]}"))
    record = {"date": time.strftime("%Y-%m-%d %H:%M"), **cpu, "threads": args.threads, "torch": torch.__version__,
              "peak_gflops": args.peaks, "repeats": args.repeats, "steps_per_call": args.steps, "baseline": args.baseline or None,
              "rows": rows, "main_job": job}
    slow = regressions(record)
    write_json(HERE / "results" / f"speed{'-' + args.tag if args.tag else ''}.json", record)
    RECORDS.parent.mkdir(parents=True, exist_ok=True)
    with RECORDS.open("a") as f:
        f.write(json.dumps(record) + "\n")
    print(f"\n{cpu['cpu']} ({cpu['capability']}), {args.threads} threads; training batch; scoring 100 noise-free steps; "
          f"median of {args.repeats}\n")
    print(markdown(rows))
    if job:
        print("\nmain job: " + json.dumps({k: v for k, v in job.items() if k != "runs"}))
    print("\nslower than the last record from this machine by > 20 %:" if slow else "\nno row > 20 % slower than the last record from this machine")
    for line in slow:
        print("  " + line)


if __name__ == "__main__":
    guarded(main, "speed")
