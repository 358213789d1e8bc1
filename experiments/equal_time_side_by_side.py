"""VAPO beside CoopFlow, its flow, the short-run EBM and EBFlow at an equal wall-clock training
budget: 2-D toy densities (MMD²) or MNIST generation (FID), several seeds, samples side by side.

    python experiments/equal_time_side_by_side.py --task toy --data spiral,checkerboard-ebflow --seconds 45
    python experiments/equal_time_side_by_side.py --task generation --data mnist --data-root DATA --seconds 150 --fid-n 500

Every run is ``genflows run MODEL --task TASK`` at the model's recommended settings (toy: its
registry recipe, what ``genflows run MODEL --task toy`` does; MNIST: ``MNIST_CONFIGS``), with
``train.max_seconds`` = the budget and enough epochs that the budget, not the schedule, ends
training (``train.epochs`` = ``--epochs``). Each run has ``--threads`` threads. Evaluation
(MMD² on 2000 samples against fresh data; FID of ``eval.fid_n`` samples against as many
training images) is outside the budget and timed apart, with the sampler's cost (ODE
evaluations, Langevin steps). Run folders: ``experiments/runs/equal-time-TASK-DATA/MODEL``
(finished ones are read back); writes ``experiments/results/equal-time-TASK.json`` and one
figure of every model's seed-1 samples per data set, ``equal-time-TASK.png``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from genflows.errors import GenflowsError, guarded  # noqa: E402
from genflows.hardware import describe_cpu  # noqa: E402
from genflows.registry import MODELS  # noqa: E402
from genflows.table import BUDGETS  # noqa: E402
from genflows._runtime.io import shown_path, write_json  # noqa: E402

MODELS_DEFAULT = "vapo,coopflow,flow,ebm-sr,ebflow-ml,ebflow-ssm,ebflow-dsm"
# MNIST settings per model (CPU scale, named where they are set): VAPO's CPU config; the data-space
# CoopFlow family at the anomaly table's MNIST network sizes (genflows.table.BUDGETS["full"]);
# EBFlow at the paper's FC size. FID against training images (the CoopFlow paper's reference set).
MNIST_CONFIGS = {"vapo": "configs/vapo-mnist.yaml"}
MNIST_SETS = {"coopflow": [s for s in BUDGETS["full"]["coopflow"] if not s.startswith(("train.epochs", "data.train_size"))]}
HEADLINE = {"toy": "mmd", "generation": "fid"}


def _mean_sd(v: list[float]) -> dict:
    return {"mean": statistics.fmean(v), "sd": statistics.stdev(v) if len(v) > 1 else None, "n": len(v)}


def run_cell(model: str, task: str, data: str, args) -> Path:
    """Every seed of one model in its own process (``OUT/seedS``), so that one seed's divergence
    (exit 3: the run's own message, kept as ``diverged.txt``) leaves the others to run."""
    out = Path(args.runs) / f"equal-time-{task}-{data}" / model
    for seed in range(1, args.seeds + 1):
        folder = seed_dirs(out, args.seeds)[seed - 1]
        cmd = [sys.executable, "-m", "genflows", "run", model, "--task", task, "--data", data, "--seed", str(seed),
               "--threads", str(args.threads), "--out", str(folder), "--no-tensorboard",
               "--set", f"train.max_seconds={args.seconds}", "--set", f"train.epochs={args.epochs}"]
        if task == "generation":
            if model in MNIST_CONFIGS:
                cmd[4:4] = ["--config", str(ROOT / MNIST_CONFIGS[model])]
            for o in [*MNIST_SETS.get(MODELS[model].family, []), f"eval.fid_n={args.fid_n}", "eval.fid_ref=train", "eval.val_fid_every=0"]:
                cmd += ["--set", o]
            cmd += ["--data-root", args.data_root] if args.data_root else []
        print(" ".join(cmd[2:]), flush=True)
        done = subprocess.run(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True)
        sys.stderr.write(done.stderr)
        if done.returncode == 3:  # diverged: recorded as such, the other seeds still run
            (folder / "diverged.txt").write_text(done.stderr.strip().splitlines()[-1] + "\n")
        elif done.returncode != 0:
            raise subprocess.CalledProcessError(done.returncode, cmd)
    return out


def seed_dirs(out: Path, seeds: int) -> list[Path]:
    return [out / f"seed{s}" for s in range(1, seeds + 1)] if seeds > 1 else [out]


def _chain_steps(model: str, run: Path) -> int | None:
    """The Langevin steps a CoopFlow-family sample takes (the generation task does not record them)."""
    import yaml

    if MODELS[model].family != "coopflow" or not (run / "config.yaml").is_file():
        return None
    coop = yaml.safe_load((run / "config.yaml").read_text()).get("coop", {})
    return None if coop.get("mode") == "flow" else coop.get("n_steps")


def collect(task: str, datas: list[str], models: list[str], args) -> dict:
    key = HEADLINE[task]
    cells = []
    for data in datas:
        for model in models:
            out = Path(args.runs) / f"equal-time-{task}-{data}" / model
            ms = [json.loads((d / "metrics.json").read_text()) for d in seed_dirs(out, args.seeds) if (d / "metrics.json").is_file()]
            diverged = {i + 1: (d / "diverged.txt").read_text().strip() for i, d in enumerate(seed_dirs(out, args.seeds))
                        if (d / "diverged.txt").is_file() and not (d / "metrics.json").is_file()}
            if not ms:
                continue
            cell = {"data": data, "model": model, "family": MODELS[model].family, key: _mean_sd([m[key] for m in ms]),
                    "per_seed": [m[key] for m in ms], "iterations": _mean_sd([m["iterations"] for m in ms]),
                    "train_seconds": _mean_sd([m["train_seconds"] for m in ms]),
                    "sample_seconds_per_1000": _mean_sd([m["sample_seconds_per_1000"] if task == "generation" else 1000 * m["sample_seconds"] / m["n_eval"]
                                                         for m in ms]),
                    "sampler": ms[0].get("fid_sampler") or ms[0].get("sampler"), "langevin_steps": ms[0].get("langevin_steps") or _chain_steps(model, seed_dirs(out, args.seeds)[0]), "run_dir": shown_path(out, ROOT),
                    "seeds_finished": [m["seed"] for m in ms], "diverged": diverged}
            flow_key = "mmd_flow" if task == "toy" else "fid_flow"  # CoopFlow: its flow q_alpha's samples alone
            if ms[0].get(flow_key) is not None:
                cell[flow_key] = _mean_sd([m[flow_key] for m in ms])
            cells.append(cell)
    return {"date": time.strftime("%Y-%m-%d"), "task": task, **describe_cpu(), "budget_seconds": args.seconds, "threads": args.threads,
            "seeds": args.seeds, "fid_n": args.fid_n if task == "generation" else None,
            "command": f"python experiments/equal_time_side_by_side.py --task {task} --data {','.join(datas)} --seconds {args.seconds} "
                       f"--seeds {args.seeds} --threads {args.threads} --models {','.join(models)}"
                       + (f" --fid-n {args.fid_n} --data-root DATA" if task == "generation" else ""), "cells": cells}


def draw_samples(ax, run: Path, task: str, data: str) -> None:
    """One run's samples on ``ax``: 2000 drawn from its model (toy, seeded) or its sample grid."""
    import torch

    from genflows._runtime.output import pyplot
    from genflows.data.toy import EXTENT
    from genflows.runner import load_model

    if task != "toy":
        ax.imshow(pyplot().imread(run / "samples.png"), cmap="gray")
        return
    torch.manual_seed(0)
    _, model = load_model(run, "checkpoint.pt")
    with torch.no_grad():
        x = model.sample(2000).detach().cpu().numpy()
    ax.scatter(x[:, 0], x[:, 1], s=0.3, alpha=0.5)
    ax.set_xlim(-EXTENT[data], EXTENT[data]), ax.set_ylim(-EXTENT[data], EXTENT[data]), ax.set_aspect("equal")


def figure(task: str, datas: list[str], models: list[str], rec: dict, path: Path) -> None:
    from genflows._runtime.output import pyplot

    plt = pyplot()
    found = {(c["data"], c["model"]): c for c in rec["cells"]}
    fig, axes = plt.subplots(len(datas), len(models), figsize=(2.3 * len(models), 2.7 * len(datas)), squeeze=False)
    for i, data in enumerate(datas):
        for j, model in enumerate(models):
            ax = axes[i, j]
            ax.set_xticks([]), ax.set_yticks([])
            c = found.get((data, model))
            if c is None:
                ax.set_title(f"{model}: not run", fontsize=7)
                continue
            d = seed_dirs(ROOT / c["run_dir"], rec["seeds"])[0]  # an absolute run_dir stays itself
            val = c[HEADLINE[task]]["mean"]
            ax.set_title(f"{model}\n{HEADLINE[task].upper()} {val:.3g}" if task == "generation" else f"{model}\nMMD² {val:.4f}", fontsize=7)
            draw_samples(ax, d, task, data)
        axes[i, 0].set_ylabel(data, fontsize=8)
    fig.suptitle(f"{task} at {rec['budget_seconds']:g} s of training each ({rec['threads']} thread, {rec['cpu']}); samples of seed 1, "
                 f"the mean over {rec['seeds']} seeds in the titles: {rec['command']}", fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", choices=sorted(HEADLINE), default="toy")
    ap.add_argument("--data", default="spiral")
    ap.add_argument("--models", default=MODELS_DEFAULT)
    ap.add_argument("--seconds", type=float, default=45.0, help="training budget per run (train.max_seconds)")
    ap.add_argument("--epochs", type=int, default=100_000, help="train.epochs: large, so that the budget ends training")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--fid-n", type=int, default=1000)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--collect", action="store_true", help="only record and draw the runs that have finished")
    ap.add_argument("--runs", default=str(HERE / "runs"), help="folder of the run folders")
    ap.add_argument("--results", default=str(HERE / "results"), help="folder of the record and the figure")
    args = ap.parse_args()
    models, datas = args.models.split(","), args.data.split(",")
    for m in models:
        if m not in MODELS:
            raise GenflowsError(f"unknown model '{m}' (choose from: {', '.join(MODELS)})")
    if args.seconds <= 0 or args.seeds < 1:
        raise GenflowsError("--seconds must be > 0 and --seeds >= 1")
    if not args.collect:
        for data in datas:
            for model in models:
                run_cell(model, args.task, data, args)
    rec = collect(args.task, datas, models, args)
    name = f"equal-time-{args.task}"
    rec["figure"] = f"{name}.png"
    Path(args.results).mkdir(parents=True, exist_ok=True)
    figure(args.task, datas, models, rec, Path(args.results) / f"{name}.png")
    write_json(Path(args.results) / f"{name}.json", rec)
    for c in rec["cells"]:
        k = HEADLINE[args.task]
        print(f"{c['data']:>20} {c['model']:>12} {k} {c[k]['mean']:.4g} ± {c[k]['sd'] or 0:.2g}  iters {c['iterations']['mean']:.0f}")


if __name__ == "__main__":
    guarded(main, "equal_time_side_by_side")
