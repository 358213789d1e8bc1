"""EBFlow's MNIST FC table (Chao et al. 2023, Table 2 FC row and the MaP / EMA ablation of
Section 5.3) at a CPU budget, side by side on one machine.

    python experiments/ebflow_mnist_table.py --data-root DATA [--epochs 10] [--seeds 3] [--jobs 2]
    python experiments/ebflow_mnist_table.py --collect        # record what has finished

Every cell is ``genflows run ebflow-<objective> --task nll --data mnist`` (the authors' FC
settings: RMSprop 1e-4, x 0.95 per epoch, batch 100, EMA 0.999, MaP) for ``--epochs`` epochs, the
exact test NLL on all 10 000 test images after every epoch (the curve at equal epochs and at
equal training seconds). The ablation cells turn MaP and the EMA off for SSM and DSM. Runs live in
``experiments/runs/ebflow-mnist-fc/<cell>/seed<N>`` (resumed and skipped when finished); writes
``experiments/results/ebflow-mnist-fc.json`` (per cell and seed: final NLL, bits/dim, the
curve, seconds per iteration) and ``.png`` (test NLL against epochs and against training
seconds, mean over seeds, one line per cell); ``docs/tables.py`` makes the table from the record.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from genflows import load_config
from genflows._runtime.io import write_json
from genflows._runtime.output import pyplot
from genflows.ebflow import OBJECTIVES
from genflows.table import run_cells

RESULTS = Path("experiments/results")
RUNS = Path("experiments/runs/ebflow-mnist-fc")
ARCH_CONFIG = {"fc": None, "cnn": "configs/ebflow-cnn-mnist.yaml"}  # the paper's two MNIST flows
# The paper's Table 2 (MNIST, FC): NLL in nats after training to convergence, and batches per
# second on the authors' GPU; its ablation (FC, NLL) without and with both EMA and MaP.
PAPER = {"ml": (1092.4, 8.00), "sml": (1092.3, 12.27), "ssm": (1092.8, 33.11), "dsm": (1099.2, 66.67), "fdssm": (1104.1, 130.21)}
PAPER_ABLATION = {("ssm", "neither"): 1757.5, ("dsm", "neither"): 4660.3, ("fdssm", "neither"): 3267.0,
                  ("ssm", "both"): 1092.8, ("dsm", "both"): 1099.2, ("fdssm", "both"): 1104.1}
# Ablation variants: name -> overrides (the main cells have both).
VARIANTS = {"neither": ["ebflow.map=false", "ebflow.ema_decay=null"], "ema": ["ebflow.map=false"], "map": ["ebflow.ema_decay=null"]}
ABLATED = ("ssm", "dsm")


def cells(epochs: int, seeds: int, data_root: str | None, threads: int | None, arch: str = "fc") -> dict:
    common = [f"train.epochs={epochs}", f"seeds={seeds}"] + ([f"train.threads={threads}"] if threads else [])
    extra = {"task": "nll", "data": {"name": "mnist", **({"root": data_root} if data_root else {})}}
    conf = ARCH_CONFIG[arch]
    out = {}
    for loss in OBJECTIVES:
        out[loss] = load_config(f"ebflow-{loss}", conf, overrides=common + [f"model=ebflow-{loss}", f"out={RUNS / loss}"], extra=extra)
    for loss in ABLATED:
        for v, over in VARIANTS.items():
            out[f"{loss}-{v}"] = load_config(f"ebflow-{loss}", conf, overrides=common + over + [f"model=ebflow-{loss}", f"out={RUNS / f'{loss}-{v}'}"],
                                             extra=extra)
    return out


def _sd(v: list[float]) -> float:
    return statistics.stdev(v) if len(v) > 1 else 0.0


def collect(names: list[str]) -> list[dict]:
    rows = []
    for name in names:
        seeds = [json.loads(f.read_text()) for f in sorted((RUNS / name).glob("seed*/metrics.json"))]
        if not seeds:
            continue
        loss, _, variant = name.partition("-")
        per_iter = [sum(h["seconds"] for h in s["history"]) / s["iterations"] for s in seeds]
        rows.append({
            "cell": name, "loss": loss, "variant": variant or "both",
            "nll": {"mean": statistics.fmean(s["nll"] for s in seeds), "sd": _sd([s["nll"] for s in seeds]), "n": len(seeds),
                    "values": [s["nll"] for s in seeds], "seeds": [s["seed"] for s in seeds]},
            "bits_per_dim": statistics.fmean(s["bits_per_dim"] for s in seeds),
            "epochs": seeds[0]["epochs"], "iterations": seeds[0]["iterations"],
            "seconds_per_iteration": statistics.median(per_iter), "batches_per_second": 1 / statistics.median(per_iter),
            "train_seconds": statistics.fmean(s["train_seconds"] for s in seeds),
            "curves": [{"seed": s["seed"], "epoch": [h["epoch"] for h in s["history"]], "seconds": _cumulative(s["history"]),
                        "test_nll": [h.get("test_nll") for h in s["history"]]} for s in seeds],
            "cpu": seeds[0]["cpu"], "capability": seeds[0]["capability"], "threads": seeds[0]["torch_threads"],
            "run_dir": str(RUNS / name),
        })
    return rows


def _cumulative(history: list[dict]) -> list[float]:
    total, out = 0.0, []
    for h in history:
        total += h["seconds"]
        out.append(total)
    return out


def figure(rows: list[dict], path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for r in rows:
        style = "-" if r["variant"] == "both" else "--"
        n = min(len(c["epoch"]) for c in r["curves"])
        mean = [statistics.fmean(c["test_nll"][i] for c in r["curves"]) for i in range(n)]
        secs = [statistics.fmean(c["seconds"][i] for c in r["curves"]) for i in range(n)]
        label = r["loss"].upper() + ("" if r["variant"] == "both" else f" ({_variant_label(r['variant'])})")
        axes[0].plot(range(1, n + 1), mean, style, marker="o", ms=3, label=label)
        axes[1].plot(secs, mean, style, marker="o", ms=3, label=label)
    for ax, xl in zip(axes, ("epoch", "training seconds")):
        ax.set_xlabel(xl)
        ax.set_ylabel("test NLL (nats), mean over seeds")
        ax.set_yscale("log")
    axes[0].legend(fontsize=7)
    cpu = rows[0]
    fig.suptitle(f"EBFlow on MNIST: {cpu['cpu']} ({cpu['capability']}), {cpu['threads']} thread(s) per run", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _variant_label(v: str) -> str:
    return {"both": "MaP + EMA", "neither": "no MaP, no EMA", "ema": "EMA, no MaP", "map": "MaP, no EMA"}[v]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--only", default=None, help="comma-separated cells (default: all)")
    ap.add_argument("--collect", action="store_true", help="run nothing: record the seeds that have finished")
    ap.add_argument("--arch", choices=list(ARCH_CONFIG), default="fc", help="the paper's FC or CNN flow (configs/ebflow-cnn-mnist.yaml)")
    a = ap.parse_args()
    global RUNS
    RUNS = Path(f"experiments/runs/ebflow-mnist-{a.arch}")
    cfgs = cells(a.epochs, a.seeds, a.data_root, a.threads, a.arch)
    if a.only:  # in the order given
        cfgs = {k: cfgs[k] for k in a.only.split(",")}
    if not a.collect:
        run_cells(cfgs, jobs=a.jobs)
    rows = collect(list(cells(a.epochs, a.seeds, a.data_root, a.threads, a.arch)))
    if not rows:
        raise SystemExit("no finished run under " + str(RUNS))
    stem = f"ebflow-mnist-{a.arch}"
    figure(rows, RESULTS / f"{stem}.png")
    write_json(RESULTS / f"{stem}.json", {
        "command": f"python experiments/ebflow_mnist_table.py --data-root DATA --arch {a.arch} --epochs {a.epochs} --seeds {a.seeds} --jobs {a.jobs}",
        "epochs": a.epochs, "seeds": a.seeds, "jobs": a.jobs, "paper": PAPER,
        "paper_ablation": {f"{k[0]}-{k[1]}": v for k, v in PAPER_ABLATION.items()},
        "complete": all(r["nll"]["n"] >= a.seeds for r in rows) and len(rows) == len(cfgs), "rows": rows, "figure": f"{stem}.png"})
    for r in rows:  # the table itself: docs/tables.py (ebflow-mnist-fc), from this record
        print(f"{r['cell']:<14} NLL {r['nll']['mean']:8.1f} ± {r['nll']['sd']:.1f} (n={r['nll']['n']})  {r['batches_per_second']:.1f} batch/s")


if __name__ == "__main__":
    main()
