"""Watching a run while it trains: TensorBoard event files and ``curves.png`` in the run folder.

A researcher trusts a number after seeing how training got there. :class:`Watcher` is handed to
the :class:`~genflows.trainer.Trainer` (``trainer.watcher``) and records, with the global
iteration as the step of every event:

- every ``watch.every`` iterations: the step's losses (``train/*``), what the model marks worth
  watching (CoopFlow: ``train/contrast`` = f(x) - f(x~)), and each Langevin chain's mean energy at
  its first and last step and mean displacement (``langevin/<chain>/*``);
- every epoch: the epoch means and whatever the task's epoch hook measured (``epoch/*``: tracked
  AUPRC, validation FID, ...), each parameter group's learning rate (``lr/<group>``), a grid of
  64 seeded samples (``samples``, every ``watch.images_every`` epochs) and ``curves.png`` (each
  only as often as keeps its drawing under ``watch.max_share`` of the time: every epoch of a real
  run, every few of a run whose epochs take a second);
- at the end: the task's headline metrics (``final/*``) and, for the anomaly task, the PR curve
  and score histograms (``anomaly/*``).

Per-iteration values stay on the device until a logging iteration, which syncs them once
(one ``tolist`` of a stacked tensor). Under torchrun only rank 0 writes. A resumed run's writer
starts with a purge at the checkpoint's step, so events an interrupted run wrote after its last
checkpoint are dropped by TensorBoard and the resumed run's own events are the only ones kept.
Nothing here draws from the training run's random streams: a run watched or not gives the same
numbers.
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import torch

from ._runtime import distributed as dist
from ._runtime.output import RunDir, image_grid, pyplot

__all__ = ["Watcher", "watch", "chain_tag", "curves_figure", "read_scalars", "EVENT_GLOB"]

EVENT_GLOB = "events.out.tfevents.*"


def chain_tag(what: str) -> str:
    """'posterior z' -> 'posterior_z', 'Langevin-flow x' -> 'langevin-flow_x' (a tag path part)."""
    return re.sub(r"[^a-z0-9_-]+", "_", what.lower()).strip("_") or "chain"


def _numeric(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))


class Watcher:
    """The event writer and curve drawer of one run folder (see the module docstring).

    ``start_step``: the iteration the run (re)starts after; with event files already in the
    folder, the writer purges their events after it. ``seed``: the sample grids' seed."""

    def __init__(self, out: RunDir, cfg, seed: int = 0, start_step: int = 0):
        self.out = out
        self.cfg = cfg
        self.seed = seed
        self.main = dist.is_main()
        self.tensorboard = bool(cfg.tensorboard) and self.main
        self._resumed = any(Path(out.path).glob(EVENT_GLOB)) if self.tensorboard else False
        self._start = start_step
        self._writer = None
        self._paced: dict[str, tuple[float, float]] = {}  # what -> (perf_counter when last drawn, seconds it took)

    # ------------------------------------------------------------------ the writer
    @property
    def writer(self):
        """The SummaryWriter, made on first use (importing TensorBoard costs seconds)."""
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self.out.path.mkdir(parents=True, exist_ok=True)
            # purge_step: TensorBoard drops earlier files' events at steps >= it (an interrupted
            # run's iterations after its last checkpoint, which the resumed run repeats).
            self._writer = SummaryWriter(str(self.out.path), purge_step=self._start + 1 if self._resumed else None)
        return self._writer

    def wants(self, iteration: int) -> bool:
        """Whether iteration number ``iteration`` (1-based) logs per-iteration scalars."""
        return self.tensorboard and self.cfg.every > 0 and iteration % self.cfg.every == 0

    def scalars(self, values: dict[str, Any], step: int) -> None:
        """Write scalars (numbers or 0-d tensors; tensors are synced once, together)."""
        if not self.tensorboard or not values:
            return
        keys = list(values)
        tensors = [k for k in keys if isinstance(values[k], torch.Tensor)]
        if tensors:
            flat = torch.stack([values[k].detach().float().reshape(()) for k in tensors]).cpu().tolist()  # the one sync
            values = {**values, **dict(zip(tensors, flat))}
        for k in keys:
            v = values[k]
            if _numeric(v):
                self.writer.add_scalar(k, float(v), step)

    # ------------------------------------------------------------------ training
    def iteration(self, step: int, stats: dict[str, torch.Tensor], chains: Sequence = (), model=None) -> None:
        """One logging iteration: its losses, the model's watched extras, its chains' health."""
        if not self.tensorboard:
            return
        values: dict[str, Any] = {f"train/{k}": v for k, v in stats.items()}
        if len(stats) > 1:
            values["train/loss"] = sum(stats.values())
        if model is not None:
            values.update({f"train/{k}": v for k, v in model.watch(stats).items()})
        groups: dict[str, list] = {}
        for c in chains:
            groups.setdefault(chain_tag(c.what), []).append(c)
        for name, cs in groups.items():  # several chains of one kind in a step: their mean
            for field in ("energy_first", "energy_last", "displacement"):
                values[f"langevin/{name}/{field}"] = torch.stack([getattr(c, field) for c in cs]).mean()
        self.scalars(values, step)

    def epoch(self, step: int, history: list[dict], param_groups: Iterable[dict] = (), model=None, last: bool = True) -> None:
        """End of an epoch: its record as ``epoch/*``, learning rates, a sample grid, curves.png.
        Called before the epoch's checkpoint is written, so a resumed run never repeats it.
        ``last``: the run's final epoch, after which curves.png is always drawn."""
        if not self.main:
            return
        record = history[-1]
        if self.tensorboard:
            skip = {"epoch", "lr"}
            self.scalars({f"epoch/{k}": v for k, v in record.items() if k not in skip}, step)
            self.scalars({f"lr/{g.get('name', i)}": g["lr"] for i, g in enumerate(param_groups)}, step)
            every = self.cfg.images_every
            if model is not None and every and record["epoch"] % every == 0:
                self._pace("samples", last, lambda: self.samples(model, step))
        self._pace("curves", last, lambda: self.out.figure("curves.png", curves_figure(history), dpi=100, tight=False))
        self.flush()

    def _pace(self, what: str, last: bool, draw) -> None:
        """``draw()`` unless its last drawing took more than ``watch.max_share`` of the time passed
        since (curves.png: ~0.4 s, a sample grid: ~0.03 s, against digits epochs of 0.7 s); always
        on the last epoch."""
        now = time.perf_counter()
        before = self._paced.get(what)
        if last or before is None or before[1] <= self.cfg.max_share * (now - before[0]):
            draw()
            done = time.perf_counter()
            self._paced[what] = (done, done - now)

    def samples(self, model, step: int, n: int = 64) -> None:
        """A grid of ``n`` samples drawn on the run's seed in a forked random stream (the training
        streams are untouched; the last epoch's grid is the task's samples.png); 2-D data has no
        image to show."""
        from .sampling import sample_batched

        x = sample_batched(model, n, seed=self.seed)
        if x.dim() == 4:
            self.writer.add_image("samples", image_grid(x), step)

    # ------------------------------------------------------------------ after training
    def final(self, metrics: dict, keys: Iterable[str], step: int) -> None:
        """The task's headline metrics as ``final/*`` (one point each: compare runs at a glance)."""
        self.scalars({f"final/{k}": metrics.get(k) for k in keys if _numeric(metrics.get(k))}, step)
        self.flush()

    def anomaly(self, scores: np.ndarray, is_anomaly: np.ndarray, step: int) -> None:
        """The anomaly task's PR curve and the score histograms of normal and anomalous images."""
        if not self.tensorboard:
            return
        scores = np.asarray(scores, dtype=np.float64)
        y = np.asarray(is_anomaly).astype(bool)
        # TensorBoard's PR curve wants predictions in [0, 1]; the score's rank is a monotone map,
        # so the curve is the score's own, with thresholds at evenly spaced quantiles.
        rank = np.empty(len(scores))
        rank[np.argsort(scores, kind="stable")] = np.arange(len(scores)) / max(len(scores) - 1, 1)
        self.writer.add_pr_curve("anomaly/pr_curve", y, rank, step)
        if (~y).any():
            self.writer.add_histogram("anomaly/score_normal", scores[~y], step)
        if y.any():
            self.writer.add_histogram("anomaly/score_anomalous", scores[y], step)
        self.flush()

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


# ---------------------------------------------------------------------------- curves.png

def watch(out: RunDir, cfg, seed: int = 0, start_step: int = 0) -> Watcher:
    """The run folder's :class:`Watcher` for the ``watch`` config section ``cfg``, made on first
    call and kept as ``out.watcher`` (the runner closes it after the task)."""
    if out.watcher is None:
        out.watcher = Watcher(out, cfg, seed=seed, start_step=start_step)
    return out.watcher


def _log_helps(values: list[float]) -> bool:
    """Log scale for positive series spanning more than a factor of 20 (losses early on)."""
    pos = [v for v in values if v > 0]
    return len(pos) == len(values) and len(pos) > 1 and max(pos) / min(pos) > 20


def curves_figure(history: list[dict]):
    """Training curves per epoch: the loss terms, each tracked metric, learning rate and epoch
    time, one panel each, log scale where a series spans decades."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    epochs = [h["epoch"] for h in history]
    keys = list(dict.fromkeys(k for h in history for k, v in h.items() if _numeric(v)))  # union: some epochs are not tracked
    losses = [k for k in keys if k == "loss" or k.endswith("_loss") or k == "kl"]
    # Everything else an epoch recorded (tracked AUPRC, validation FID, recovery MSE, CoopFlow's contrast).
    tracked = [k for k in keys if k not in losses and k not in ("epoch", "iters", "lr") and not k.endswith("seconds")]
    panels: list[tuple[str, list[str]]] = [("loss (epoch mean)", losses)] if losses else []
    panels += [(k, [k]) for k in tracked]
    panels += [("learning rate", ["lr"])] if "lr" in keys else []
    panels += [("epoch seconds", ["seconds"])] if "seconds" in keys else []
    if not panels:
        panels = [("no epochs yet", [])]
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    for ax, (title, ks) in zip(axes.flat, panels):
        all_vals = []
        for k in ks:
            pts = [(h["epoch"], h[k]) for h in history if _numeric(h.get(k))]
            if not pts:
                continue
            xs, ys = zip(*pts)
            all_vals += list(ys)
            ax.plot(xs, ys, marker="o", ms=3, label=k)
        if all_vals and _log_helps(all_vals):
            ax.set_yscale("log")
        elif all_vals and min(all_vals) < 0 < max(all_vals) and max(abs(v) for v in all_vals) > 1e3:
            ax.set_yscale("symlog", linthresh=1.0)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if len(ks) > 1:
            ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        if epochs:
            ax.set_xlim(min(epochs) - 0.5, max(epochs) + 0.5)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    # Fixed margins: tight_layout measured 0.25 s a figure, redrawn every epoch.
    height = 3.0 * rows  # inches: half an inch below for the axis label, a third above for the title
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.5 / height, top=1 - 0.3 / height, wspace=0.3, hspace=0.55)
    return fig


def read_scalars(run_dir: str | Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar tag of a run folder's event files as (step, value) pairs, read as TensorBoard
    reads them (events purged by a resume are gone): for scripts and tests."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
