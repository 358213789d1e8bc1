"""Comparison tables: run (or collect finished runs of) every model on every setting of a task
and print the latent-flow paper's numbers beside ours (Tables 2-6).

Each cell comes from a run folder ``OUT/<model>-<setting>/`` holding its config and metrics, so
the table can be traced back and re-run; finished runs are read back, not recomputed.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import sys
from pathlib import Path

from .config import load_config
from .errors import GenflowsError
from ._runtime.io import write_text
from ._runtime.threads import threads_per_job
from ._runtime.workers import wait_all, worker_pool
from .registry import MODELS
from .tasks import tasks_of
from .runner import pending_seeds, prepare, run, run_seed

__all__ = ["PAPER_TABLE4", "PAPER_ROW", "BUDGETS", "TABLE4_MODELS", "budget_overrides", "model_overrides", "TASK_BUDGETS", "anomaly_cfgs", "anomaly_table", "paper_table4_rows", "task_table"]

# Latent-flow paper, Table 4 (AUPRC, mean ± sd over 10 runs), held-out digits 1, 4, 5, 7, 9.
PAPER_TABLE4 = {
    "VAE": ["0.063", "0.337", "0.325", "0.148", "0.104"],
    "LEBM": ["0.336 ± 0.008", "0.630 ± 0.017", "0.619 ± 0.013", "0.463 ± 0.009", "0.413 ± 0.010"],
    "ABP": ["0.095 ± 0.028", "0.138 ± 0.037", "0.147 ± 0.026", "0.138 ± 0.021", "0.102 ± 0.033"],
    "LFBM": ["0.349 ± 0.002", "0.812 ± 0.007", "0.823 ± 0.009", "0.682 ± 0.004", "0.514 ± 0.008"],
}
PAPER_HOLDOUTS = [1, 4, 5, 7, 9]
# The row of PAPER_TABLE4 each registered model answers to (LFBM-VAE has none), in the order
# records and tables list their cells.
PAPER_ROW = {"lfbm-mcmc": "LFBM", "abp": "ABP", "lebm": "LEBM", "vae": "VAE"}


def paper_table4_rows(holdouts: list[int]) -> list[str]:
    """The paper's Table 4 as Markdown rows for these held-out digits (blank where it has none)."""
    rows = []
    for name, vals in PAPER_TABLE4.items():
        paper = [vals[PAPER_HOLDOUTS.index(h)] if h in PAPER_HOLDOUTS else "" for h in holdouts]
        rows.append(f"| {name} (paper, MNIST) | " + " | ".join(paper) + " |")
    return rows

# Budget presets: config overrides applied to every model, then those of the model's family
# (data-space models at CPU scale: networks far below the paper's, named here, never code defaults).
BUDGETS = {
    # digits, minutes on 2 cores for all models and digits.
    "quick": {"data": "digits", "seeds": 2, "overrides": ["train.epochs=20", "anomaly.score_steps=100", "anomaly.score_checkpoints=[50]"],
              "coopflow": ["coop.flow_levels=1", "coop.flow_depth=4", "coop.flow_hidden=32", "coop.energy_width=16"],
              # EBFlow's updates are cheap and its evaluation weights an EMA at 0.999: 20 epochs (240
              # updates) would leave them 79 % initialisation; 200 epochs (2400 updates) take ~30 s.
              "ebflow": ["train.epochs=200"],
              # VAPO's U-Net at configs/vapo-mnist.yaml's CPU scale (the released one cannot halve
              # 8 x 8 images three times), 2600 updates with a 100-iteration warm-up.
              "vapo": ["train.epochs=200", "vapo.base=32", "vapo.mults=[1,2]", "vapo.blocks=1", "vapo.groups=8", "vapo.warmup=100"]},
    # The MNIST protocol with the training schedule of configs/lfbm-mcmc-mnist.yaml, scored with 30 steps
    # (the config scores with 400; a 400-step chain passes through the same 30-step scores).
    "full": {"data": "mnist", "seeds": 3, "overrides": ["anomaly.score_steps=30", "anomaly.score_checkpoints=[20,25]"],
             "latent": ["train.epochs=4", "train.lr=1e-3", "inference.autocast=auto"],
             # configs/coopflow-mnist.yaml's CPU-scale networks and its step and energy penalty (measured
             # departures: delta 0.03 without the penalty diverged at this scale), 5 epochs on the first
             # 2000 normals (100 iterations: T = 100 chains cost 3x CoopFlow's), no lr warm-up.
             "coopflow": ["train.epochs=5", "data.train_size=2000", "coop.lr_warmup_iters=0", "coop.flow_levels=2", "coop.flow_depth=4",
                          "coop.flow_hidden=64", "coop.energy_width=8", "coop.step_size=0.1", "coop.energy_l2=1e-3"],
             # EBFlow's FC flow at the paper's size, 5 epochs on every normal (about 2500 updates: its
             # EMA at 0.999 needs thousands; an update costs milliseconds).
             "ebflow": ["train.epochs=5"]},
}
# The latent-flow paper's own schedule for every latent model (configs/lfbm-mcmc-paper.yaml: 21
# epochs at lr 4e-4 decayed 0.998, K = 20, the reference code's BatchNorm statistics from the
# chains, 400 noise-free scoring steps), bf16 chains only where they are fast (autocast: auto);
# hours per seed on 2 CPU cores (README). Data-space families as in "full" (no paper values).
BUDGETS["paper"] = {"data": "mnist", "seeds": 3, "overrides": ["anomaly.score_steps=400", "anomaly.score_checkpoints=[50,100,200]"],
                    "latent": ["train.epochs=21", "inference.bn_stats_from_chain=true", "inference.autocast=auto"],
                    "coopflow": BUDGETS["full"]["coopflow"], "ebflow": BUDGETS["full"]["ebflow"],
                    # Table 4's VAE row is the plain VAE of Kingma and Welling (2014); our ``vae`` is
                    # VAE-IAF, the design the paper gives LFBM-VAE, which keeps its IAF.
                    "models": {"vae": ["inference.iaf_depth=0"]},
                    # A table asked for without --models or --holdouts: LFBM-MCMC at every digit of
                    # Table 4, the baselines at digit 4 (an ABP or LEBM seed costs about what an
                    # LFBM-MCMC seed does: about 10 h on one thread of an AVX2 CPU, bench/table4_cost.py).
                    "cells": [*(("lfbm-mcmc", h) for h in PAPER_HOLDOUTS), *((m, 4) for m in ("abp", "lebm", "vae", "lfbm-vae"))]}
# The paper's Table 4 rows: a table asked for without --models.
TABLE4_MODELS = ("lfbm-mcmc", "abp", "vae", "lfbm-vae", "lebm")


def budget_overrides(preset: dict, model: str) -> list[str]:
    """A budget's overrides for ``model``: the common ones, then its family's, then its own."""
    return [*preset["overrides"], *preset.get(MODELS[model].family, []), *model_overrides(preset, model)]


def model_overrides(preset: dict, model: str) -> list[str]:
    """The overrides a budget gives ``model`` alone (the paper budget's VAE row: a plain VAE)."""
    return preset.get("models", {}).get(model, [])


def _cell(cfg, seed: int, prefix: str):
    """One seed of a cell in a worker process: its log lines go to stderr, prefixed with the cell."""
    return run_seed(cfg, seed, log=lambda m: print(f"[{prefix}] {m}", file=sys.stderr, flush=True))


def run_cells(cfgs: dict, jobs: int = 1, log=print) -> dict:
    """The summaries of every cell's run (``cfgs``: key -> RunConfig, each with its own ``out``),
    finished ones read back. ``jobs`` > 1 trains that many seeds at once in separate processes
    (the seeds of one cell are as independent as two cells), the free cores split between them
    (a cell's own ``train.threads`` wins); each cell is then summarised over its seeds."""
    if jobs <= 1:
        return {k: run(cfg, log=log) for k, cfg in cfgs.items()}
    cfgs = {k: prepare(cfg, log) for k, cfg in cfgs.items()}
    units = [(k, s) for k, cfg in cfgs.items() for s in pending_seeds(cfg)]
    if len(units) > 1:
        threads = threads_per_job(jobs, len(units))
        log(f"{len(units)} seed runs in {len(cfgs)} cell{'s' if len(cfgs) > 1 else ''}, {jobs} at a time, "
            f"{threads} thread{'s' if threads > 1 else ''} each")
        with worker_pool(jobs) as pool:
            futures = {}
            for k, s in units:
                cfg = cfgs[k]
                if not cfg.train.threads:
                    cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, threads=threads))
                name = Path(cfg.out).name + (f"/seed{s}" if cfg.seeds > 1 else "")
                futures[pool.submit(_cell, cfg, s, name)] = name
            wait_all(futures, log)
    return {k: run(cfg, log=log) for k, cfg in cfgs.items()}


def anomaly_cfgs(
    out: str | Path,
    budget: str = "quick",
    models: list[str] | None = None,
    holdouts: list[int] | None = None,
    seeds: int | None = None,
    data_root: str | None = None,
    extra_overrides: list[str] | None = None,
) -> dict:
    """The run config of every (model, holdout) cell of the anomaly table, each in ``OUT/MODEL-hDIGIT``:
    every model at every holdout, or, given neither, the budget's own ``cells`` where it has them."""
    if budget not in BUDGETS:
        raise GenflowsError(f"unknown budget '{budget}' (choose from: {', '.join(BUDGETS)})")
    preset = BUDGETS[budget]
    able = [name for name in MODELS if "anomaly" in tasks_of(name)]
    pairs = preset.get("cells") if not models and not holdouts else None
    models = models or list(TABLE4_MODELS)
    holdouts = holdouts or PAPER_HOLDOUTS
    pairs = pairs or [(m, h) for m in models for h in holdouts]
    for m in models:
        if m not in able:
            what = "unknown model" if m not in MODELS else "model that does not detect anomalies"
            raise GenflowsError(f"{what} '{m}' (choose from: {', '.join(able)})")
    for h in holdouts:
        if not 0 <= h <= 9:
            raise GenflowsError(f"holdout must be a digit 0-9, got {h}")
    out = Path(out)
    cfgs = {}
    for m, h in pairs:
        extra = {
            "task": "anomaly",
            "seeds": seeds or preset["seeds"],
            "out": str(out / f"{m}-h{h}"),
            "data": {"name": preset["data"], "holdout": h, **({"root": data_root} if data_root else {})},
        }
        cfgs[(m, h)] = load_config(m, overrides=[*budget_overrides(preset, m), *(extra_overrides or [])], extra=extra)
    return cfgs


def anomaly_table(
    out: str | Path,
    budget: str = "quick",
    models: list[str] | None = None,
    holdouts: list[int] | None = None,
    seeds: int | None = None,
    data_root: str | None = None,
    extra_overrides: list[str] | None = None,
    log=print,
    jobs: int = 1,
) -> str:
    """Run/collect every (model, holdout) cell; write ``table.md`` and ``table.csv``; return the Markdown."""
    cfgs = anomaly_cfgs(out, budget, models, holdouts, seeds, data_root, extra_overrides)
    preset, out = BUDGETS[budget], Path(out)
    models, holdouts = list(dict.fromkeys(m for m, _ in cfgs)), list(dict.fromkeys(h for _, h in cfgs))
    cells: dict[tuple[str, int], dict] = run_cells(cfgs, jobs, log)

    header = "| model | " + " | ".join(f"digit {h}" for h in holdouts) + " |"
    lines = [header, "|---" * (len(holdouts) + 1) + "|"]
    rows = []
    for m in models:
        # Every score the model has, its headline first (CoopFlow: the EBM's energy, then its flow's NLL).
        kinds = list(next(cells[(m, h)] for h in holdouts if (m, h) in cells).get("auprc_by_score") or {"": None})
        for kind in kinds:
            vals = []
            for h in holdouts:
                if (m, h) not in cells:  # a budget's own cells need not fill the grid
                    vals.append("–")
                    continue
                a = cells[(m, h)]["auprc_by_score"][kind] if kind else cells[(m, h)]["auprc"]
                # one seed has no spread: print the value alone rather than a misleading "± 0.000"
                vals.append(f"{a['mean']:.3f} ± {a['sd']:.3f}" if a["n"] > 1 else f"{a['mean']:.3f}")
                rows.append({"model": m, "score": kind, "holdout": h, "auprc_mean": a["mean"], "auprc_sd": a["sd"], "n_seeds": a["n"],
                             "train_seconds": cells[(m, h)]["train_seconds"]["mean"], "score_seconds": cells[(m, h)]["score_seconds"]["mean"],
                             "run_dir": cells[(m, h)]["run_dir"]})
            what = f", score {kind}" if len(kinds) > 1 else ""
            lines.append(f"| {m} (ours, {preset['data']}{what}) | " + " | ".join(vals) + " |")
    # AUPRC's chance level is the test set's anomaly fraction, which the protocol sets.
    protocol = load_config(models[0], overrides=[*budget_overrides(preset, models[0]), *(extra_overrides or [])]).data.protocol
    lines.append(f"| chance level (anomaly fraction, protocol {protocol}) | "
                 + " | ".join(f"{next(c for k, c in cells.items() if k[1] == h)['anomaly_fraction']['mean']:.3f}" for h in holdouts) + " |")
    lines += paper_table4_rows(holdouts)
    n_seeds = seeds or preset["seeds"]
    # a model with overrides of its own is named apart from its family
    groups = {(m if model_overrides(preset, m) else f"{MODELS[m].family} models"): [*budget_overrides(preset, m), *(extra_overrides or [])]
              for m in models}
    md = (
        f"AUPRC, {'mean ± sd over ' + str(n_seeds) + ' seeds' if n_seeds > 1 else '1 seed'}; ours on {preset['data']} with budget '{budget}' "
        f"({'; '.join(f'{who}: ' + ', '.join(ov) for who, ov in groups.items())}); paper: 10 runs on MNIST"
        + ("; –: a cell this budget does not run by default (ask for it with --models and --holdouts)" if len(cells) < len(models) * len(holdouts) else "")
        + ".\n\n" + "\n".join(lines) + "\n"
    )
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    write_text(out / "table.md", md)
    write_text(out / "table.csv", buf.getvalue())
    return md


# --------------------------------------------------------------------------- other tasks

# Latent-flow paper numbers, for orientation only (other data sets: CelebA / SVHN / CIFAR-10).
PAPER = {
    "reconstruction": (
        "Table 2, reconstruction MSE (SVHN / CIFAR-10 / CelebA)",
        {"abp": "- / 0.018 / -", "lebm": "0.008 / 0.020 / 0.013", "lfbm-vae": "0.005 / 0.020 / 0.014", "lfbm-mcmc": "0.005 / 0.016 / 0.011"},
    ),
    "inpainting": (
        "Table 3, CelebA, columns as printed: 'FID' / 'MSE'",
        {"lfbm-mcmc": "0.0557 / 0.1937", "lfbm-vae": "0.0562 / 0.2074"},
    ),
    "recovery": (
        "Tables 5 and 6, CelebA 64x64: MSE / FID; squares 20, 30, 40",
        {
            "lfbm-mcmc": ["0.0244 / 46.2", "0.0317 / 59.14", "0.0464 / 86.77", "0.0420 / 42.39", "0.0587 / 47.52", "0.0864 / 72.47"],
            "lebm": ["0.0256 / 52.78", "0.0319 / 61.91", "0.0465 / 88.27", "0.0429 / 49.16", "0.0684 / 51.59", "0.0957 / 77.39"],
            "abp": ["0.0259 / 153.01", "0.0326 / 156.71", "0.0472 / 172.77", "0.0404 / 150.95", "0.0572 / 146.41", "0.0918 / 184.53"],
        },
    ),
}

# The paper's six recovery masks; squares 20/30/40 on 64x64 scale to 9/13/18 on 28x28 (and to
# 3/4/5 on 8x8 digits).
RECOVERY_SETTINGS = [("pepper30", ["mask.kind=pepper", "mask.fraction=0.3"]), ("pepper50", ["mask.kind=pepper", "mask.fraction=0.5"]),
                     ("pepper70", ["mask.kind=pepper", "mask.fraction=0.7"]), ("square-s", ["mask.kind=square"]),
                     ("square-m", ["mask.kind=square"]), ("square-l", ["mask.kind=square"])]
_SQUARES = {8: (3, 4, 5), 28: (9, 13, 18), 32: (10, 15, 20), 64: (20, 30, 40)}

TASK_BUDGETS = {
    # digits, a few minutes on 2 cores per table.
    "quick": {"data": "digits", "seeds": 1, "overrides": ["train.epochs=20", "train.lr=1e-3", "inference.n_steps=10", "eval.steps=60",
                                                          "eval.n_test=360", "eval.fid_n=0"]},
    # MNIST at CPU scale (about 35 min for the recovery table, 10 for the other two, on 2 cores): the first 5000 training
    # images, 3 epochs, 50-step evaluation chains on 500 images, FID on 250 samples vs 250 test images.
    "full": {"data": "mnist", "seeds": 1, "overrides": ["data.train_size=5000", "train.epochs=3", "train.lr=1e-3", "inference.autocast=auto",
                                                        "eval.steps=50", "eval.n_test=500", "eval.fid_n=250"]},
}
TASK_MODELS = {"reconstruction": ["abp", "lebm", "lfbm-mcmc", "lfbm-vae"], "inpainting": ["lfbm-mcmc", "lfbm-vae"],
               "recovery": ["abp", "lebm", "lfbm-mcmc"]}


def _settings(task: str, data: str) -> list[tuple[str, list[str]]]:
    from .data import DATASETS

    if task != "recovery":
        return [("", [])]
    side = DATASETS[data].shape[1]
    small, mid, large = _SQUARES.get(side, (side // 4, side // 3, side // 2))
    sizes = {"square-s": small, "square-m": mid, "square-l": large}
    return [(name, [*ov, f"mask.size={sizes[name]}"] if name in sizes else ov) for name, ov in RECOVERY_SETTINGS]


def task_table(
    task: str,
    out: str | Path,
    budget: str = "quick",
    models: list[str] | None = None,
    seeds: int | None = None,
    data_root: str | None = None,
    extra_overrides: list[str] | None = None,
    log=print,
    jobs: int = 1,
) -> str:
    """Reconstruction / inpainting / recovery table: run or collect every (model, setting) cell,
    write ``table.md`` and ``table.csv``, return the Markdown."""
    if task not in TASK_MODELS:
        raise GenflowsError(f"no table for task '{task}' (choose from: anomaly, {', '.join(TASK_MODELS)})")
    if budget not in TASK_BUDGETS:
        raise GenflowsError(f"unknown budget '{budget}' (choose from: {', '.join(TASK_BUDGETS)})")
    preset = TASK_BUDGETS[budget]
    models = models or TASK_MODELS[task]
    for m in models:
        if m not in MODELS:
            raise GenflowsError(f"unknown model '{m}' (choose from: {', '.join(MODELS)})")
    out = Path(out)
    settings = _settings(task, preset["data"])
    cfgs = {}
    for m in models:
        for name, ov in settings:
            extra = {"task": task, "seeds": seeds or preset["seeds"], "out": str(out / (f"{m}-{name}" if name else m)),
                     "data": {"name": preset["data"], **({"root": data_root} if data_root else {})}}
            cfgs[(m, name)] = load_config(m, overrides=[*preset["overrides"], *ov, *(extra_overrides or [])], extra=extra)
    cells, rows = run_cells(cfgs, jobs, log), []
    fid_n, fid_ref = next(iter(cfgs.values())).eval.fid_n, next(iter(cfgs.values())).eval.fid_ref
    for (m, name), summary in cells.items():
        rows.append({"model": m, "setting": name or task, **{f"{k}_mean": v["mean"] for k, v in summary.items() if isinstance(v, dict)},
                     "n_seeds": summary["mse"]["n"], "run_dir": summary["run_dir"]})

    def cell(summary: dict) -> str:
        txt = f"{summary['mse']['mean']:.4f}"
        if summary["mse"]["n"] > 1:
            txt += f" ± {summary['mse']['sd']:.4f}"
        if "fid" in summary:
            txt += f" / {summary['fid']['mean']:.1f}"
        return txt

    paper_note, paper = PAPER[task]
    names = [n for n, _ in settings]
    head = [n or "MSE" for n in names]
    lines = ["| model | " + " | ".join(head) + " | paper |", "|---" * (len(head) + 2) + "|"]
    for m in models:
        p = paper.get(m, "")
        p = ", ".join(p) if isinstance(p, list) else p
        lines.append(f"| {m} | " + " | ".join(cell(cells[(m, n)]) for n in names) + f" | {p} |")
    any_fid = any("fid" in c for c in cells.values())
    what = "MSE per hidden pixel" if task != "reconstruction" else "MSE per pixel"
    md = (
        f"{task}: {what} on the [-1, 1] scale (divide by 4 for [0, 1])"
        + (f" / FID with N = {int(fid_n)} samples vs {int(fid_n)} {'training' if fid_ref == 'train' else 'test'} images" if any_fid else "")
        + f"; ours on {preset['data']} with budget '{budget}' ({', '.join([*preset['overrides'], *(extra_overrides or [])])}), "
        f"{seeds or preset['seeds']} seed(s). Paper column: {paper_note} — a different data set, for orientation only.\n\n"
        + "\n".join(lines) + "\n"
    )
    buf = io.StringIO()
    keys = sorted({k for r in rows for k in r}, key=lambda k: list(rows[0]).index(k) if k in rows[0] else 99)
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    w.writerows(rows)
    write_text(out / "table.md", md)
    write_text(out / "table.csv", buf.getvalue())
    return md
