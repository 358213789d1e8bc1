"""CoopFlow paper, Figure 2 (Section 5.1): the toy study on this machine.

Trains, on one 2-D density, the flow alone, the short-run EBM from noise (``ebm-sr``) and CoopFlow
with Langevin flows of several lengths T, each through ``genflows run MODEL --task toy`` with
``configs/coopflow-toy.yaml``; collects MMD (model samples and, for CoopFlow, its flow q_alpha
alone) and wall times into ``experiments/results/coopflow-toy-<data>.json`` / ``.md`` and one
figure with every run's densities and samples.

    python experiments/coopflow_figure2_toy.py                       # spiral, T in 10 100 500
    python experiments/coopflow_figure2_toy.py --data 8gaussians --steps 10 100
    python experiments/coopflow_figure2_toy.py --config none --tag l2-1e-3 --set coop.energy_l2=1e-3 --models coopflow

``--config none`` uses genflows' defaults (the toy task's recipe); ``--set`` applies to every run,
``--tag`` names the result files and run folders; ``--models`` picks among flow, ebm-sr, coopflow.
Besides the samples' MMD, each EBM is scored alone: the correlation of exp f_theta with the true
density on the grid and the MMD of long-run Langevin samples of p_theta from noise.
Run folders go to ``experiments/runs/coop-toy-<data>[-<tag>]/``; a finished run is read back, not retrained.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CONFIG = ROOT / "configs" / "coopflow-toy.yaml"


def run_one(model: str, data: str, out: Path, sets: list[str], threads: int, config: Path | None = CONFIG) -> dict:
    metrics = out / "metrics.json"
    if not metrics.is_file():
        cmd = [sys.executable, "-m", "genflows", "run", model, "--task", "toy", *(["--config", str(config)] if config else []), "--data", data,
               "--threads", str(threads), "--out", str(out), "--no-tensorboard"]
        for s in sets:
            cmd += ["--set", s]
        print(" ".join(cmd[2:]), flush=True)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, cwd=ROOT)
        print(f"  {time.perf_counter() - t0:.0f} s wall", flush=True)
    return json.loads(metrics.read_text())


def montage(rows: list[tuple[str, Path]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.image as mpimg
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), 1, figsize=(15, 3.3 * len(rows)), squeeze=False)
    for ax, (name, png) in zip(axes[:, 0], rows):
        ax.imshow(mpimg.imread(png))
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="spiral")
    ap.add_argument("--steps", type=int, nargs="+", default=[10, 100, 500], help="Langevin-flow lengths T for CoopFlow")
    ap.add_argument("--ebm-sr-steps", type=int, default=100, help="T of the short-run EBM from noise")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None, help="run folders (default experiments/runs/coop-toy-DATA[-TAG])")
    ap.add_argument("--config", default=str(CONFIG), help="config file for every run, or 'none' for genflows' defaults")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every run")
    ap.add_argument("--tag", default="", help="suffix of the result files and run folders")
    ap.add_argument("--models", default="flow,ebm-sr,coopflow")
    args = ap.parse_args()
    config = None if args.config == "none" else Path(args.config)
    suffix = f"-{args.tag}" if args.tag else ""
    runs = Path(args.out) if args.out else HERE / "runs" / f"coop-toy-{args.data}{suffix}"
    chosen = args.models.split(",")
    plan = [("flow", "flow", ["coop.n_steps=0"]), ("ebm-sr", f"ebm-sr-t{args.ebm_sr_steps}", [f"coop.n_steps={args.ebm_sr_steps}"])]
    plan += [("coopflow", f"coopflow-t{t}", [f"coop.n_steps={t}"]) for t in args.steps]
    rows = []
    for model, name, sets in (p for p in plan if p[0] in chosen):
        m = run_one(model, args.data, runs / name, [*sets, *args.set], args.threads, config)
        rows.append({"run": name, "model": model, "T": m["langevin_steps"], "mmd": m["mmd"], "mmd_flow": m["mmd_flow"],
                     "ebm_density_corr": m.get("ebm_density_corr"), "mmd_ebm_longrun": m.get("mmd_ebm_longrun"),
                     "flow_density_corr": m.get("flow_density_corr"),
                     "epochs": m["epochs"], "iterations": m["iterations"], "train_seconds": m["train_seconds"],
                     "sample_seconds": m["sample_seconds"], "threads": m["torch_threads"]})
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    stem = results / f"coopflow-toy-{args.data}{suffix}"
    info = {"date": time.strftime("%Y-%m-%d"), "data": args.data, "config": str(config.relative_to(ROOT)) if config else "genflows defaults", "overrides": args.set,
            "metric": "unbiased squared MMD, sum of Gaussian kernels (bandwidths 0.1-2), 2000 model samples vs 2000 fresh true points",
            "runs": rows}
    stem.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")
    lines = [(f"CoopFlow toy study on `{args.data}` ({info['date']}, {rows[0]['threads']} threads, `{info['config']}` {' '.join(args.set)}): "
              "MMD² of 2000 samples against 2000 fresh true points (lower is better)."), "",
             "| run | T | MMD² model samples | MMD² flow q_α alone | EBM alone: density correlation | EBM alone: long-run MMD² | epochs | train s |",
             "|---|---|---|---|---|---|---|---|"]

    def f(v, fmt):
        return "–" if v is None else format(v, fmt)

    for r in rows:
        lines.append(f"| {r['run']} | {r['T']} | {r['mmd']:.4f} | {f(r['mmd_flow'], '.4f')} | {f(r['ebm_density_corr'], '.3f')} | "
                     f"{f(r['mmd_ebm_longrun'], '.4f')} | {r['epochs']} | {r['train_seconds']:.0f} |")
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    montage([(r["run"], runs / r["run"] / "toy.png") for r in rows], stem.with_suffix(".png"))
    print("\n".join(lines))


if __name__ == "__main__":
    from genflows.errors import guarded

    guarded(main, "coopflow_figure2_toy")
