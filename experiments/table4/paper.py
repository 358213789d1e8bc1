"""Latent-flow paper, Table 4 at the paper's schedule: every cell trained by ``genflows table
anomaly --budget paper`` and scored two ways, recorded as each seed lands.

    python experiments/lfbm_table4.py paper --data-root DATA [--models lfbm-mcmc] [--holdouts 5,7,9,1]
        [--seeds 3] [--jobs 2] [--threads 1] [--out experiments/runs/table4-paper]
    python experiments/lfbm_table4.py paper --collect [...]   # record the finished seeds only

``--jobs N`` takes N seeds at once in separate processes, each trained, scored clean and then
scored the reference way before the process takes the next, and the record is written as each
lands (the free cores split between them unless ``--threads`` says otherwise).

Each (model, digit) cell is the run folder ``OUT/MODEL-hDIGIT`` that ``genflows table anomaly
--budget paper --out OUT`` makes and reads back (one ``seedS`` folder per training seed), so the
table command and this script share every finished seed. Every finished seed is scored

  clean      by the anomaly task itself: the MEG test split, eval mode, 400 noise-free steps;
  reference  the reference code's way (``lfbm_table4.py reference_protocol``): train-mode
             BatchNorm, the test images shuffled in batches of 100, 37 % of the test normals
             replaced by training images (its leak), 400 steps; stored as ``SEED/refscore-s400.json``.

The epoch is the schedule's last (nothing is chosen on the test set). Writes
``experiments/results/table4-paper.json``: per seed and per cell (mean ± sample sd), training and
scoring seconds, the CPU, the chains' dtype, the anomaly fraction, and the paper's values beside.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

EXPERIMENTS = Path(__file__).resolve().parents[1]
ROOT = EXPERIMENTS.parent
sys.path.insert(0, str(EXPERIMENTS))

from genflows.errors import GenflowsError, guarded  # noqa: E402
from genflows.registry import MODELS  # noqa: E402
from genflows.table import BUDGETS, PAPER_HOLDOUTS, PAPER_ROW, PAPER_TABLE4, anomaly_table, model_overrides  # noqa: E402
from genflows._runtime.io import shown_path, write_json  # noqa: E402
from genflows.runner import seed_dir as _seed_dir  # noqa: E402

def _mean_sd(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else None, "n": len(values)}


def seed_record(seed_dir: Path, threads: int, rescore_missing: bool, steps: int = 400, data_root: str | None = None) -> dict | None:
    """One finished seed's clean and reference AUPRC (the reference one computed if missing, from
    the data at ``data_root``, else where the seed was trained)."""
    if not (seed_dir / "metrics.json").is_file():
        return None
    m = json.loads((seed_dir / "metrics.json").read_text())
    ref_file = seed_dir / f"refscore-s{steps}.json"
    if not ref_file.is_file() and rescore_missing:
        from genflows._runtime.batch_store import SUFFIX
        from genflows._runtime.lock import training_lock
        from table4.reference_protocol import rescore

        # one process per seed: a second would score it again and could read the first's store
        with training_lock(seed_dir):
            store = seed_dir / f"refscore-s{steps}{SUFFIX}"  # an interrupted scoring resumes from its finished batches
            if not ref_file.is_file():
                write_json(ref_file, rescore(str(seed_dir), "checkpoint.pt", leak=0.37, steps=(steps,), bn_train=True, shuffle=True,
                                             batch=100, threads=threads, store=store, data_root=data_root))
            store.unlink(missing_ok=True)
    ref = json.loads(ref_file.read_text()) if ref_file.is_file() else None
    return {"seed": m["seed"], "run_dir": shown_path(seed_dir, ROOT), "auprc_clean": m["auprc"], "auprc_clean_at_steps": m.get("auprc_at_steps"),
            "auprc_reference": ref["leaky"][str(steps)] if ref else None, "reference_seconds": ref["seconds"] if ref else None,
            "reference_machines": ref.get("machines") if ref else None,
            "reference_chain_dtype": ref.get("chain_dtype") if ref else None,
            "anomaly_fraction": m["anomaly_fraction"], "epochs": m.get("epochs"), "train_seconds": m.get("train_seconds"),
            "score_seconds": m.get("score_seconds"), "score_machines": m.get("score_machines"), "cpu": m.get("cpu"), "capability": m.get("capability"),
            "torch_threads": m.get("torch_threads"), "chain_dtype": m.get("chain_dtype"), "train_machines": m.get("train_machines")}


def _train_and_score(cfg, seed: int, threads: int, steps: int = 400) -> None:
    """One seed in a worker process: trained and scored clean (resumed or read back if it has
    been), then scored the reference way if it has not been."""
    from genflows.runner import run_seed

    folder = _seed_dir(Path(cfg.out), cfg, seed)
    name = f"{Path(cfg.out).name}/{folder.name}"
    run_seed(cfg, seed, log=lambda m: print(f"[{name}] {m}", file=sys.stderr, flush=True))
    seed_record(folder, threads, True, steps, cfg.data.root)
    print(f"[{name}] scored the reference way", file=sys.stderr, flush=True)


def run_parallel(out: Path, models: list[str], holdouts: list[int], seeds: int, data_root: str | None, jobs: int,
                 threads: int | None, record: Path, budget: str = "paper", overrides: list[str] | None = None, steps: int = 400) -> None:
    """Every seed of every cell that lacks either scoring, ``jobs`` at a time, the record
    rewritten as each seed finishes (``budget``, ``overrides`` and ``steps`` other than the
    paper's: tests)."""
    import dataclasses
    import importlib

    from genflows.runner import prepare
    from genflows.table import anomaly_cfgs
    from genflows._runtime.threads import threads_per_job
    from genflows._runtime.workers import wait_all, worker_pool

    if seeds < 2:
        raise GenflowsError("--jobs needs --seeds 2 or more (a cell's seeds are its seedS folders)")
    cfgs = [prepare(c) for c in anomaly_cfgs(out, budget, models, holdouts, seeds, data_root, overrides).values()]
    skip = only_in_record(out, record)
    units = [(c, c.train.seed + i) for c in cfgs for i in range(c.seeds)
             if not (_seed_dir(Path(c.out), c, c.train.seed + i) / f"refscore-s{steps}.json").is_file()
             and (Path(c.out).name, c.train.seed + i) not in skip]
    if not units:
        return
    each = threads or threads_per_job(jobs, len(units))
    print(f"{len(units)} seeds to train or score, {jobs} at a time, {each} thread{'s' if each > 1 else ''} each", file=sys.stderr)
    # This file runs as __main__ under runpy: the worker is pickled by its importable name.
    worker = importlib.import_module("table4.paper")._train_and_score
    with worker_pool(jobs) as pool:
        futures = {pool.submit(worker, dataclasses.replace(c, train=dataclasses.replace(c.train, threads=each)), s, each, steps):
                   f"{Path(c.out).name}/seed{s}" for c, s in units}
        wait_all(futures, log=lambda m: print(m, file=sys.stderr, flush=True),
                 on_done=lambda _f: write_json(record, collect(out, each, rescore_missing=False, steps=steps, previous=record, budget=budget)))


def _previous_seeds(record: Path | None) -> dict[tuple[str, int], dict]:
    """The seeds a record already holds, by cell (``MODEL-hDIGIT``) and seed."""
    if record is None or not record.is_file():
        return {}
    cells = json.loads(record.read_text()).get("cells", [])
    return {(f"{c['model']}-h{c['holdout']}", s["seed"]): s for c in cells for s in c["seeds"]}


def recorded(record: Path | None) -> set[tuple[str, int]]:
    """(cell, seed) pairs the record holds with both scorings: where their run folder is gone (a
    fresh clone), they are not trained again."""
    return {k for k, s in _previous_seeds(record).items() if s.get("auprc_reference") is not None}


def only_in_record(out: Path, record: Path | None) -> set[tuple[str, int]]:
    """The :func:`recorded` seeds whose run folder under ``out`` is gone: never trained again."""
    return {(c, n) for c, n in recorded(record) if not _finished(out / c / f"seed{n}")}


def _finished(seed_dir: Path) -> bool:
    """A seed folder that has trained and scored clean: a partial folder left on another machine
    neither replaces its recorded seed nor makes it train again."""
    return (seed_dir / "metrics.json").is_file()


def on_disk_cells(out: Path, record: Path, model: str, holdouts: list[int]) -> list[int]:
    """The digits of ``model`` whose recorded seeds all have their run folder: ``genflows table``
    can read those cells back, while it would train a seed that lives only in the record again."""
    cells = {c for c, _n in only_in_record(out, record)}
    return [h for h in holdouts if f"{model}-h{h}" not in cells]


def _setups(entries: list[dict]) -> list[str]:
    """The setups of machine entries (stretches of training epochs, or seed records without any)
    in words. An entry written before CPU family and model were recorded names only the brand
    ("AMD EPYC"): beside an entry of that brand with them, the same capability and chain dtype, it
    is taken as that machine rather than counted as another setup."""
    keys = {(str(e.get("cpu")), e.get("capability"), e.get("chain_dtype")) for e in entries}
    keys = {k for k in keys if not any(o[0].startswith(f"{k[0]} (family") and o[1:] == k[1:] for o in keys)}
    return sorted(f"{cpu} ({capability}), {dtype} chains" for cpu, capability, dtype in keys)


def collect(out: Path, threads: int, rescore_missing: bool = True, steps: int = 400, previous: Path | None = None,
            budget: str = "paper") -> dict:
    """Every cell under ``out`` (all models and digits, whichever invocation trained them), with
    the seeds that ``previous`` (a record) holds and whose run folders are no longer on disk
    (``budget``: the one that trained them; other than the paper's: tests)."""
    cells = []
    kept = _previous_seeds(previous)
    found = {(d.name.rsplit("-h", 1)[0], int(d.name.rsplit("-h", 1)[1])) for d in out.glob("*-h[0-9]") if d.is_dir()}
    found |= {(c.rsplit("-h", 1)[0], int(c.rsplit("-h", 1)[1])) for c, _s in kept}
    for m, h in sorted(found, key=lambda c: (list(PAPER_ROW).index(c[0]) if c[0] in PAPER_ROW else 9, c[0], c[1])):
        on_disk = [r for d in sorted((out / f"{m}-h{h}").glob("seed*")) if (r := seed_record(d, threads, rescore_missing, steps))]
        have = {r["seed"] for r in on_disk}
        seeds = sorted(on_disk + [s for (c, n), s in kept.items()
                                  if c == f"{m}-h{h}" and n not in have and not _finished(out / c / f"seed{n}")], key=lambda r: r["seed"])
        if not seeds:
            continue
        for s in seeds:  # where each seed ran, for timings (seeds recorded before this was kept get it too)
            s["setups"] = _setups(s.get("train_machines") or [s])
            if Path(s["run_dir"]).is_absolute():  # recorded before run folders were named relative to the repository
                s["run_dir"] = shown_path(s["run_dir"], ROOT)
        paper = PAPER_TABLE4.get(PAPER_ROW.get(m, ""), [None] * 5)[PAPER_HOLDOUTS.index(h)] if h in PAPER_HOLDOUTS else None
        refs = [s["auprc_reference"] for s in seeds if s["auprc_reference"] is not None]
        cells.append({"model": m, "holdout": h, "paper": paper, "seeds": seeds,
                      "model_overrides": model_overrides(BUDGETS[budget], m),
                      "clean": _mean_sd([s["auprc_clean"] for s in seeds]),
                      "reference": _mean_sd(refs) if refs else None,
                      "anomaly_fraction": seeds[0]["anomaly_fraction"],
                      "train_seconds": _mean_sd([s["train_seconds"] for s in seeds]),
                      "score_seconds": _mean_sd([s["score_seconds"] for s in seeds]),
                      # the means above pool these: timings compare only within one setup
                      "setups": sorted({x for s in seeds for x in s["setups"]})})
    return {"date": time.strftime("%Y-%m-%d"), "budget": budget, "out": shown_path(out, ROOT),
            "command": "python experiments/lfbm_table4.py paper --data-root DATA --models MODELS --holdouts DIGITS --seeds 3",
            "scorings": {"clean": "MEG test split, eval mode, 400 noise-free steps (the anomaly task)",
                         "reference": "train-mode BatchNorm, shuffled batches of 100, 37 % of test normals replaced by training images, 400 steps"},
            "cells": cells}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--models", default="lfbm-mcmc")
    ap.add_argument("--holdouts", default="5,7,9,1")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch threads per run (default: the free cores)")
    ap.add_argument("--out", default=str(EXPERIMENTS / "runs" / "table4-paper"))
    ap.add_argument("--record", default=str(EXPERIMENTS / "results" / "table4-paper.json"))
    ap.add_argument("--jobs", type=int, default=1, help="seeds trained and scored at once in separate processes")
    ap.add_argument("--collect", action="store_true", help="only record the seeds that have finished (scoring them the reference way)")
    args = ap.parse_args()
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    for m in models:
        if m not in MODELS or MODELS[m].family != "latent":
            raise GenflowsError(f"--models: '{m}' is not a latent model of Table 4 (choose from: "
                                f"{', '.join(n for n, s in MODELS.items() if s.family == 'latent')})")
    try:
        holdouts = [int(h) for h in args.holdouts.split(",") if h.strip()]
    except ValueError:
        raise GenflowsError(f"--holdouts expects comma-separated digits, got '{args.holdouts}'") from None
    if not holdouts or any(not 0 <= h <= 9 for h in holdouts):
        raise GenflowsError(f"--holdouts expects digits 0-9, got '{args.holdouts}'")
    if args.seeds < 1:
        raise GenflowsError(f"--seeds must be >= 1, got {args.seeds}")
    if args.jobs < 1:
        raise GenflowsError(f"--jobs must be >= 1, got {args.jobs}")
    out, threads = Path(args.out), args.threads or 2
    if not args.collect and (args.jobs > 1 or args.seeds > 1):  # seed by seed, so a recorded seed is skipped
        run_parallel(out, models, holdouts, args.seeds, args.data_root, args.jobs, args.threads, Path(args.record))
        for m in models:  # the table command's table.md / table.csv, every seed read back (not trained again)
            whole = on_disk_cells(out, Path(args.record), m, holdouts)
            if whole:
                anomaly_table(out, budget="paper", models=[m], holdouts=whole, seeds=args.seeds, data_root=args.data_root)
            if len(whole) < len(holdouts):
                print(f"{m}: table.md left out digits {sorted(set(holdouts) - set(whole))}: a seed of theirs is only in the record",
                      file=sys.stderr)
    elif not args.collect:
        extra = [f"train.threads={args.threads}"] if args.threads else []
        for m in models:  # one cell at a time, each recorded as it lands
            for h in holdouts:
                anomaly_table(out, budget="paper", models=[m], holdouts=[h], seeds=args.seeds, data_root=args.data_root,
                              extra_overrides=extra)
                write_json(Path(args.record), collect(out, threads, previous=Path(args.record)))
    rec = collect(out, threads, previous=Path(args.record))
    write_json(Path(args.record), rec)
    for c in rec["cells"]:
        ref = f"{c['reference']['mean']:.3f} (n={c['reference']['n']})" if c["reference"] else "-"
        print(f"{c['model']} digit {c['holdout']}: clean {c['clean']['mean']:.3f} (n={c['clean']['n']}), reference {ref}, paper {c['paper']}")


if __name__ == "__main__":
    guarded(main, "lfbm_table4.py paper")
