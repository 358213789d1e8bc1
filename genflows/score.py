"""``genflows score RUN_DIR``: evaluate a trained run's checkpoint again, with other evaluation
settings, without retraining and without touching what the run wrote.

The evaluation is the task's own code: the task runs in a scratch folder that holds the chosen
checkpoint as its ``checkpoint.pt``, with ``train.epochs`` set to the checkpoint's epoch, so the
trainer resumes into a finished run and trains nothing; every evaluation step (seeded starts,
eval mode, batching) is then exactly the one ``genflows run`` used. Scoring the selected
checkpoint with unchanged settings therefore reproduces ``metrics.json``.

Only evaluation settings may change (``anomaly.score_*``, ``eval.*`` except model selection,
``inference.autocast`` and the chains' clamps, CoopFlow's test-time step, inpainting masks,
where the data lives, threads); anything that would describe another model is refused.

Results: ``RUN_DIR/score-NAME.json`` (the task's metrics, plus what was scored and how) and
``RUN_DIR/score-NAME/`` (the task's pictures and per-image files, and the evaluation config).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import time
from pathlib import Path
from typing import Callable

import torch

from ._runtime import distributed as dist
from .config import RunConfig, apply_overrides, parse, to_dict
from .data import check_available
from .errors import GenflowsError
from ._runtime.io import check_writable, epoch_copy, load_checkpoint, write_json
from ._runtime.output import RunDir
from ._runtime.threads import choose_threads
from .runner import headline, seed_everything
from .show import run_config
from .tasks import TASKS

__all__ = ["score", "resolve_checkpoint", "kept_epochs", "check_overrides", "score_name", "EVAL_KEYS"]

# What --set may change: prefixes ending in '.' cover a section, other entries one key.
EVAL_KEYS = (
    "anomaly.score_steps", "anomaly.score_step_size", "anomaly.score_batch_size", "anomaly.score_checkpoints", "anomaly.score_subset", "anomaly.score_seed",
    "eval.",
    "inference.autocast", "inference.clamp_update", "inference.clamp_state",
    "coop.test_step_ratio",
    "coop.test_step_size",
    "coop.test_noise",
    "data.root", "data.download",
    "train.threads",
)
# Inside eval.: model selection happens while training; the checkpoint choice replaces it.
_TRAINING_ONLY = ("eval.val_fid_every", "eval.val_fid_n", "eval.val_fid_from")


def check_overrides(overrides: list[str], task: str) -> None:
    """Refuse any ``--set`` that is not an evaluation setting of ``task`` (one-line error)."""
    for item in overrides:
        key = item.split("=", 1)[0].strip()
        allowed = [*EVAL_KEYS, *(["mask."] if task == "inpainting" else [])]
        ok = any(key.startswith(a) if a.endswith(".") else key == a for a in allowed) and key not in _TRAINING_ONLY
        if not ok:
            raise GenflowsError(
                f"--set {key}: genflows score re-evaluates the trained model, so only evaluation settings may change "
                f"(anomaly.score_*, eval.*{', mask.*' if task == 'inpainting' else ''}, inference.autocast, inference.clamp_*, "
                f"coop.test_step_ratio/size, coop.test_noise, data.root, train.threads); pick another checkpoint with --checkpoint"
            )


_EPOCH_RE = re.compile(r"^(?:checkpoint-)?(?:epoch[\s:=_-]?)?(\d+)(?:\.pt)?$")


def kept_epochs(root: Path) -> dict[int, str]:
    """The per-epoch checkpoints a run kept (``train.keep_checkpoints``): file name by epoch, in order."""
    last = Path(root) / "checkpoint.pt"
    stem = epoch_copy(last, 0).stem.removesuffix("0")
    epochs = sorted(int(p.stem[len(stem):]) for p in Path(root).glob(f"{stem}*.pt") if p.stem[len(stem):].isdigit())
    return {e: epoch_copy(last, e).name for e in epochs}


def resolve_checkpoint(root: Path, cfg: RunConfig, choice: str) -> tuple[str, Path]:
    """(label, file) for ``--checkpoint``: ``selected`` (the run's model, as ``load_model``),
    ``last``, ``best`` or ``epoch N`` (kept with ``train.keep_checkpoints``)."""
    choice = (choice or "selected").strip().lower()
    if choice == "selected":
        best = root / "checkpoint-best.pt"
        label, f = ("selected", best) if cfg.eval.val_fid_every and best.is_file() else ("selected", root / "checkpoint.pt")
    elif choice in ("last", "checkpoint.pt"):
        label, f = "last", root / "checkpoint.pt"
    elif choice in ("best", "checkpoint-best.pt"):
        label, f = "best", root / "checkpoint-best.pt"
    else:
        m = _EPOCH_RE.match(choice)
        if not m:
            raise GenflowsError(f"--checkpoint must be selected, last, best or 'epoch N', got '{choice}'")
        label, f = f"epoch{int(m.group(1))}", epoch_copy(root / "checkpoint.pt", int(m.group(1)))
    if not f.is_file():
        kept = kept_epochs(root)
        have = ", ".join(n for n, p in (("last", "checkpoint.pt"), ("best", "checkpoint-best.pt")) if (root / p).is_file())
        have += (", epoch " + ",".join(map(str, kept))) if kept else ""
        raise GenflowsError(f"{root} has no {f.name} (--checkpoint {choice}); it has: {have or 'no checkpoint'}")
    return label, f


def score_name(label: str, overrides: list[str]) -> str:
    """A file-name-safe name from the checkpoint and the settings: 'epoch3-score_steps50'."""
    parts = [] if label == "selected" else [label]
    for item in overrides:
        key, _, value = item.partition("=")
        if key.strip() in ("train.threads", "data.root", "data.download"):
            continue  # where and how fast, not what: the same evaluation
        parts.append(key.strip().split(".")[-1] + (re.sub(r"[^A-Za-z0-9.]+", "-", value.strip()).strip("-") or "-none"))
    return ("-".join(parts) or "default")[:100]


def _valid_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name) or len(name) > 100:
        raise GenflowsError(f"--name must be letters, digits, '.', '_' or '-' (at most 100), got '{name}'")
    return name


def _seed_folders(root: Path, cfg: RunConfig) -> list[Path]:
    return [root / f"seed{cfg.train.seed + i}" for i in range(cfg.seeds)]


def score(
    run_dir: str | Path,
    checkpoint: str = "selected",
    overrides: list[str] | None = None,
    name: str | None = None,
    device: str = "auto",
    progress: bool = False,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Score ``run_dir`` (every seed folder of a multi-seed run) and return the results written.
    Everything that can be checked is checked for every folder before anything is evaluated."""
    root = Path(run_dir)
    if not root.is_dir():
        raise GenflowsError(f"no such run folder: {root}" if not root.exists() else f"{root} is not a folder")
    base = run_config(root)
    folders = _seed_folders(root, base) if base.seeds > 1 else [root]
    overrides = list(overrides or [])
    parse(apply_overrides(to_dict(base), overrides))  # unknown keys and bad values first, with a suggestion
    check_overrides(overrides, base.task)
    jobs = []
    for folder in folders:
        stored = run_config(folder) if folder != root else base
        label, ckpt = resolve_checkpoint(folder, stored, checkpoint)
        nm = _valid_name(name) if name else score_name(label, overrides)
        if (folder / f"score-{nm}.json").exists() or (folder / f"score-{nm}").exists():
            raise GenflowsError(f"{folder / f'score-{nm}.json'} exists already; choose another --name (scores are never overwritten)")
        state = load_checkpoint(ckpt)
        counters = {"epoch": int(state["epoch"]), "iteration": int(state.get("iteration", 0))}
        del state
        cfg = parse(apply_overrides(to_dict(stored), overrides))
        # Zero epochs to go, no model selection, nothing watched: the task only evaluates.
        cfg = dataclasses.replace(
            cfg, seeds=1,
            train=dataclasses.replace(cfg.train, epochs=counters["epoch"]),
            eval=dataclasses.replace(cfg.eval, val_fid_every=0),
            watch=dataclasses.replace(cfg.watch, tensorboard=False),
        )
        cfg.validate()
        check_writable(folder)
        jobs.append((folder, label, ckpt, counters, nm, cfg))
    first = jobs[0][-1]
    task = TASKS[first.task]
    check_available(first.data.name, first.data.root, first.data.download, first.data.image_size)
    if hasattr(task, "check"):
        task.check(first)
    dev = dist.resolve_device(str(device).split(":")[0])
    threads, _ = choose_threads(first.train.threads)
    if threads:
        torch.set_num_threads(threads)
    return [_score_one(task, *job, overrides, dev, progress, log) for job in jobs]


def _score_one(task, folder: Path, label: str, ckpt: Path, state: dict, nm: str, cfg: RunConfig, overrides: list[str],
               device, progress: bool, log: Callable[[str], None]) -> dict:
    """Evaluate one folder's checkpoint in a scratch folder, then publish the results file and
    the pictures folder (renamed into place: an interrupted score leaves no half result)."""
    scratch = folder / f".score-{nm}.tmp"
    if scratch.exists():  # left by an interrupted score of the same name
        shutil.rmtree(scratch)
    scratch.mkdir()
    try:
        # The task restores "checkpoint.pt" of its folder; a hard link costs nothing, and should
        # anything write a checkpoint there, the atomic rename replaces the link, not the original.
        try:
            os.link(ckpt, scratch / "checkpoint.pt")
        except OSError:
            shutil.copyfile(ckpt, scratch / "checkpoint.pt")
        rd = RunDir(scratch)
        rd.config(to_dict(dataclasses.replace(cfg, out=str(folder / f"score-{nm}"))))
        seed_everything(cfg.train.seed)
        t0 = time.perf_counter()
        quiet = lambda m: None if m.startswith("resuming ") else log(m)  # noqa: E731  (the restore is the point here)
        try:
            metrics = task.run(cfg, rd, progress=progress, device=device, log=quiet)
        finally:
            rd.close()
        if metrics.get("iterations", state["iteration"]) != state["iteration"]:  # a bug, not bad input
            raise RuntimeError(f"scoring {ckpt} trained the model further ({state['iteration']} -> {metrics.get('iterations')} iterations)")
        (scratch / "checkpoint.pt").unlink()
        (scratch / "metrics.json").unlink(missing_ok=True)  # the results file below holds them
        metrics.pop("history", None)  # the training history is the run's own (metrics.json)
        metrics["scored"] = {
            "run_dir": str(folder),
            "checkpoint": ckpt.name,
            "which": label,
            "epoch": state["epoch"],
            "iteration": state["iteration"],
            "settings": dict(item.split("=", 1) for item in overrides),
            "files": f"score-{nm}/",
            "seconds": time.perf_counter() - t0,
            "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        write_json(folder / f"score-{nm}.json", metrics)
        os.replace(scratch, folder / f"score-{nm}")
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    log(f"[{cfg.model} {cfg.task} {folder}] {label} checkpoint (epoch {state['epoch']}) "
        f"{' '.join(o for o in overrides if not o.startswith('train.threads=')) or 'with the run settings'}: "
        f"{headline(task, metrics)} -> {folder / f'score-{nm}.json'}")
    return metrics


