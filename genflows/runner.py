"""Runs a task for one or several seeds: config checks, seeding, threads, run folders,
summary over seeds. Everything that can be checked is checked before anything is written."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import random
import shutil
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from ._runtime import distributed as dist
from .config import RunConfig, migrate, parse, read_yaml, to_dict
from .data import check_available
from .data.folder import is_folder
from .errors import GenflowsError
from ._runtime.io import check_writable, load_checkpoint
from ._runtime.lock import is_held, training_lock
from ._runtime.output import RunDir
from ._runtime.threads import choose_threads
from .tasks import TASKS

__all__ = ["run", "run_seed", "prepare", "pending_seeds", "seed_dir", "load_model", "default_run_dir", "seed_everything"]



def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def default_run_dir(cfg: RunConfig) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = is_folder(cfg.data.name)
    what = f"-h{cfg.data.holdout}" if cfg.task == "anomaly" and not folder else ""
    if cfg.task in ("inpainting", "recovery"):
        what = f"-{cfg.mask.kind}{cfg.mask.fraction if cfg.mask.kind == 'pepper' else cfg.mask.size or ''}"
    data = f"folder-{Path(cfg.data.name[len('folder:'):]).name}" if folder else cfg.data.name
    return Path("runs") / f"{cfg.model}-{cfg.task}-{data}{what}-{stamp}"


def headline(task, metrics: dict) -> str:
    """'AUPRC 0.7394' / 'MSE 0.01234  FID 35.2' for a log line."""
    parts = []
    for k in task.HEADLINE:
        v = metrics.get(k)
        if v is None or k.endswith("seconds"):
            continue
        parts.append(f"{k.upper() if len(k) <= 5 else k} {v:.4g}")
    return "  ".join(parts)


def _mean_sd(values: list[float]) -> dict:
    return {
        "mean": statistics.fmean(values),
        "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
        "n": len(values),
        "values": values,
    }


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


# Keys that may differ between a run and its continuation (none changes the run's numbers):
# a run carried to another machine finds its data elsewhere.
_RESUME_FREE = {"out", "train.threads", "train.save_every_seconds", "watch.tensorboard", "watch.every", "watch.images_every", "data.root", "data.download"}


def stored_config(root: Path, advice: str = "; choose another --out") -> RunConfig:
    """The config a run folder was made with (a user error, ending in ``advice``, if it is not a
    run folder)."""
    f = root / "config.yaml"
    if not f.is_file():
        raise GenflowsError(f"{root} is not a genflows run folder (no config.yaml){advice}")
    try:
        return parse(migrate(read_yaml(f)))
    except GenflowsError as e:
        raise GenflowsError(f"{f} is not a valid genflows config: {e}") from None


def _check_same(stored: RunConfig, cfg: RunConfig, root: Path) -> None:
    a, b = _flat(to_dict(stored)), _flat(to_dict(cfg))
    for k in sorted(set(a) | set(b)):
        if k not in _RESUME_FREE and a.get(k) != b.get(k):
            raise GenflowsError(
                f"{root} holds a run with {k}={a.get(k)!r}, not {b.get(k)!r}; "
                f"use --resume {root} to continue it as it was, or choose another --out"
            )


def run(cfg: RunConfig, progress: bool = False, device: str = "cpu", log=print, resume: bool = False, watch_given: bool = False,
        epochs: int | None = None) -> dict:
    """Run ``cfg.task`` for ``cfg.seeds`` seeds; returns the summary (also in summary.json).

    An existing run folder (``cfg.out``) with the same config is continued: finished seeds are
    read back, an interrupted one resumes from its last checkpoint. ``resume=True`` takes the
    folder's own config (``cfg`` then only supplies the folder and thread count, and
    ``watch.tensorboard`` when ``watch_given``: ``--no-tensorboard``); with ``epochs`` it also
    extends the run's training to that many epochs in all (:func:`extend`).

    ``device``: auto, cpu or cuda. Started by torchrun (``RANK``/``WORLD_SIZE`` set), the run
    joins the process group and trains with DDP (see :mod:`genflows._runtime.distributed`); only rank 0
    logs and writes.
    """
    device = dist.resolve_device(str(device).split(":")[0])
    if cfg.train.amp and device.type != "cuda":
        raise GenflowsError("--amp (train.amp) needs a CUDA device; on CPU use inference.autocast for bfloat16 chains")
    dist.setup(device)
    if not dist.is_main():
        log = lambda _m: None  # noqa: E731
    cfg, root, existing = _settle(cfg, resume, watch_given, epochs, log)
    task = TASKS[cfg.task]
    _check_before_writing(cfg, task, root, log)
    dist.barrier()  # every rank has looked at the folder before rank 0 writes into it
    made = _outermost_missing(root)
    if not existing:
        RunDir(root).config(to_dict(cfg))
    try:
        per_seed = [_run_seed(cfg, task, cfg.train.seed + i, root, progress, device, log) for i in range(cfg.seeds)]
    except GenflowsError:
        if not existing and dist.is_main():
            _undo_untrained(root, made, [seed_dir(root, cfg, cfg.train.seed + i) for i in range(cfg.seeds)])
        raise
    return _summarise(cfg, task, per_seed, root, log)


def _undo_untrained(root: Path, made: Path | None, seeds: list[Path]) -> None:
    """Remove what a refused command wrote (``made``, the outermost folder it created, or what it
    put in an empty ``root``) while that is only configs. Some settings are refused only when the
    model is built (ebflow.num_layers against num_blocks), and the folder left would refuse the
    corrected command as "another config". Kept when another process, started at the same
    moment, trains in it (its lock's refusal lands here too)."""
    if all(f.is_dir() or f.name == "config.yaml" for f in root.rglob("*")) and not any(map(is_held, seeds)):
        for f in [made] if made else list(root.iterdir()):
            shutil.rmtree(f) if f.is_dir() else f.unlink()


def _outermost_missing(path: Path) -> Path | None:
    """The outermost folder that writing into ``path`` creates; None when ``path`` exists."""
    if path.exists():
        return None
    while not path.parent.exists():
        path = path.parent
    return path


def prepare(cfg: RunConfig, log=print) -> RunConfig:
    """``cfg`` checked against its run folder, which is made (with its config) if new: what
    :func:`run_seed` needs before several processes train seeds of one run at once."""
    cfg, root, existing = _settle(cfg, False, False, None, log)
    _check_before_writing(cfg, TASKS[cfg.task], root, lambda _m: None)  # missing data: nothing written
    if not existing:
        RunDir(root).config(to_dict(cfg))
    return cfg


def seed_dir(root: Path, cfg: RunConfig, seed: int) -> Path:
    """Where ``seed`` of the run in ``root`` lives: ``seed<S>`` for several seeds, else ``root``."""
    return root / f"seed{seed}" if cfg.seeds > 1 else root


def pending_seeds(cfg: RunConfig) -> list[int]:
    """The seeds of a prepared run not finished yet (no ``metrics.json`` in their folder)."""
    seeds = [cfg.train.seed + i for i in range(cfg.seeds)]
    return [s for s in seeds if not (seed_dir(Path(cfg.out), cfg, s) / "metrics.json").is_file()]


def run_seed(cfg: RunConfig, seed: int, log=print) -> dict:
    """One seed of a :func:`prepare`-d run on the CPU, in its :func:`seed_dir` (resumed if
    interrupted); :func:`run` on the same config then reads it back with the others and
    summarises. Lets a table train the seeds of one cell in parallel processes."""
    root = Path(cfg.out)
    task = TASKS[cfg.task]
    _check_before_writing(cfg, task, root, log)
    return _run_seed(cfg, task, seed, root, False, torch.device("cpu"), log)


def _settle(cfg: RunConfig, resume: bool, watch_given: bool, epochs: int | None, log) -> tuple[RunConfig, Path, bool]:
    """(the config the run will have, its folder, whether the folder holds anything): a resumed
    run's stored config, or ``cfg`` checked against the folder it would continue."""
    root = Path(cfg.out) if cfg.out else default_run_dir(cfg)
    if root.exists() and not root.is_dir():
        raise GenflowsError(f"output path {root} is a file; choose another --out")
    existing = root.exists() and any(root.iterdir())
    if resume:
        if not existing:
            raise GenflowsError(f"cannot resume {root}: no such run folder")
        stored = stored_config(root)
        if stored.model != cfg.model:
            raise GenflowsError(f"cannot resume {root} as '{cfg.model}': it was made with model '{stored.model}'")
        # What the numbers do not depend on comes from this command line.
        train = dataclasses.replace(stored.train, threads=cfg.train.threads, save_every_seconds=cfg.train.save_every_seconds)
        cfg = dataclasses.replace(stored, out=str(root), train=train,
                                  watch=dataclasses.replace(stored.watch, tensorboard=cfg.watch.tensorboard) if watch_given else stored.watch)
        if epochs is not None:
            cfg = extend(cfg, root, epochs, log)
    elif existing:
        _check_same(stored_config(root), dataclasses.replace(cfg, out=str(root)), root)
    cfg = dataclasses.replace(cfg, out=str(root))
    cfg.validate()
    return cfg, root, existing


def _check_before_writing(cfg: RunConfig, task, root: Path, log) -> None:
    """Everything that can fail for want of a file or a permission, before anything is written;
    sets the thread count (:func:`~genflows._runtime.threads.choose_threads`)."""
    check_writable(root)
    check_available(cfg.data.name, cfg.data.root, cfg.data.download, cfg.data.image_size)
    threads, why = choose_threads(cfg.train.threads)
    if threads:
        torch.set_num_threads(threads)
        if why != "--threads":
            log(f"{threads} torch thread{'s' if threads > 1 else ''} ({why}; --threads N to choose)")
    if hasattr(task, "check"):  # a task module's optional hook (tasks are modules, not models)
        task.check(cfg)
    if cfg.eval.val_fid_every:  # model selection by FID, in whichever task trains: its weights must be there
        from .tasks._evaluate import check_fid

        check_fid(cfg)


def _run_seed(cfg: RunConfig, task, seed: int, root: Path, progress: bool, device, log) -> dict:
    """One seed's metrics: read back when its folder has finished, else trained and evaluated."""
    cfg_i = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, seed=seed), seeds=1)
    rd = RunDir(seed_dir(root, cfg, seed))
    if dist.broadcast_object(rd.file("metrics.json").is_file()):
        return _finished(task, rd, seed, log)
    with training_lock(rd.path):
        if dist.broadcast_object(rd.file("metrics.json").is_file()):  # another process finished it just before we locked
            return _finished(task, rd, seed, log)
        if not rd.file("config.yaml").is_file():
            rd.config(to_dict(cfg_i))
        seed_everything(seed)
        try:
            metrics = task.run(cfg_i, rd, progress=progress, device=device, log=log)
            if rd.watcher is not None:
                rd.watcher.final(metrics, task.HEADLINE, step=int(metrics.get("iterations") or 0))
        finally:
            rd.close()
    what = f" holdout {cfg.data.holdout}" if cfg.task == "anomaly" and not is_folder(cfg.data.name) else ""
    times = ", ".join(f"{k.split('_')[0]} {metrics[k]:.0f}s" for k in task.HEADLINE if k.endswith("seconds") and k in metrics)
    log(f"[{cfg.model} {cfg.task} {cfg.data.name}{what} seed {seed}] {headline(task, metrics)}  ({times}) -> {rd.path}")
    return metrics


def _finished(task, rd: RunDir, seed: int, log) -> dict:
    metrics = json.loads(rd.file("metrics.json").read_text())
    log(f"[seed {seed}] already finished: {headline(task, metrics)} ({rd.path})")
    return metrics


def _summarise(cfg: RunConfig, task, per_seed: list[dict], root: Path, log) -> dict:
    """Mean, sd and values over seeds of the task's headline metrics (summary.json for several seeds)."""
    summary = {
        "model": cfg.model,
        "task": cfg.task,
        "data": cfg.data.name,
        "holdout": cfg.data.holdout,
        "seeds": [m["seed"] for m in per_seed],
        **{k: _mean_sd([m[k] for m in per_seed]) for k in task.HEADLINE if all(m.get(k) is not None for m in per_seed)},
        # Named families of a metric (the anomaly task's AUPRC of every score the model has).
        **{g: {k: _mean_sd([m[g][k] for m in per_seed]) for k in per_seed[0][g]}
           for g in getattr(task, "GROUPS", ()) if all(isinstance(m.get(g), dict) for m in per_seed)},
        "run_dir": str(root),
    }
    if cfg.seeds > 1:
        RunDir(root).json("summary.json", summary)
        main = task.HEADLINE[0]
        if main in summary:
            a = summary[main]
            log(f"{main.upper() if len(main) <= 5 else main} over {a['n']} seeds: {a['mean']:.4g} ± {a['sd']:.2g}")
    return summary


def extend(cfg: RunConfig, root: Path, epochs: int, log=print) -> RunConfig:
    """``cfg`` of the run folder ``root`` trained for ``epochs`` epochs in all. The learning-rate
    decay and CoopFlow's phases are functions of the epoch, so the result is the run that had
    asked for ``epochs`` from the start. A finished seed's ``metrics.json`` is kept as
    ``metrics-epoch<E>.json`` (E: the epochs it had), then every stored config says ``epochs``."""
    from .tasks._fit import n_epochs

    planned = n_epochs(cfg)
    if epochs < planned:
        raise GenflowsError(f"--epochs {epochs} is fewer than the {planned} epochs {root} was made for; a run is only extended")
    if epochs == planned:
        return cfg
    folders = [seed_dir(root, cfg, cfg.train.seed + i) for i in range(cfg.seeds)]
    with contextlib.ExitStack() as held:  # no seed is being trained while its results are renamed
        for folder in folders:
            if folder.is_dir():
                held.enter_context(training_lock(folder))
        _extend_files(cfg, root, folders, planned, epochs)
    dist.barrier()
    log(f"extending {root} from {planned} to {epochs} epochs")
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=epochs))


def _extend_files(cfg: RunConfig, root: Path, folders: list[Path], planned: int, epochs: int) -> None:
    if dist.is_main():
        for folder in folders:  # results first: a crash in between leaves a run that resumes as it was
            done = folder / "metrics.json"
            if done.is_file():
                kept = folder / f"metrics-epoch{planned}.json"
                if kept.exists():
                    raise GenflowsError(f"{kept} exists already; move it away to extend {root} again")
                done.rename(kept)
        new = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, epochs=epochs))
        RunDir(root).config(to_dict(dataclasses.replace(new, train=dataclasses.replace(new.train, threads=stored_config(root).train.threads))))
        for i, folder in enumerate(folders if cfg.seeds > 1 else []):
            if (folder / "config.yaml").is_file():
                one = stored_config(folder)
                RunDir(folder).config(to_dict(dataclasses.replace(one, train=dataclasses.replace(one.train, epochs=epochs))))


def load_model(run_dir: str | Path, checkpoint: str | None = None, device: str = "cpu"):
    """The config and trained model of a run folder. ``checkpoint`` may name a per-epoch file; by
    default the run's model: ``checkpoint-best.pt`` when the run selected an epoch by validation
    FID (``eval.val_fid_every``), else the last epoch's ``checkpoint.pt``."""
    from .data import dataset_info
    from .registry import build_model

    run_dir = Path(run_dir)
    cfg = stored_config(run_dir, advice="")
    if checkpoint is None:  # checkpoint-best.pt is missing only when no epoch was scored (train.max_iters)
        selected = cfg.eval.val_fid_every and (run_dir / "checkpoint-best.pt").is_file()
        checkpoint = "checkpoint-best.pt" if selected else "checkpoint.pt"
    model = build_model(cfg, dataset_info(cfg.data.name, cfg.data.image_size).shape)
    state = load_checkpoint(run_dir / checkpoint)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError:
        raise GenflowsError(f"checkpoint {run_dir / checkpoint} does not match the model in {run_dir / 'config.yaml'}") from None
    return cfg, model.to(device).eval()
