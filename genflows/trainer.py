"""One trainer for every registered model, whatever its family (Algorithm 1 of the latent-flow
paper; CoopFlow's Algorithm 1 through the same model interface).

Adam over per-component parameter groups, exponential learning-rate decay per epoch, a
progress bar (quiet when stderr is not a terminal), and, per epoch, an atomic checkpoint that
holds everything needed for an exact resume: model, optimiser, scheduler, every RNG, the
data-order generator, the step counters and the history. Within an epoch, every
``train.save_every_seconds``, a partial checkpoint also holds the epoch's data order and sums so
far, so a killed run resumes at the batch where it was saved (one process). An optional ``watcher``
(:class:`genflows.watch.Watcher`) records losses, Langevin chain health and epoch metrics for
TensorBoard and ``curves.png``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable

import torch
from tqdm.auto import tqdm

from ._runtime import distributed as dist
from .errors import DivergenceError, GenflowsError
from ._runtime.io import epoch_copy, load_checkpoint, save_checkpoint
from .collapse import check_collapse, collapse_warning
from .hardware import describe_cpu
from .langevin import watch_chains
from ._runtime.rng import get_rng_state, set_rng_state

__all__ = ["Trainer", "partial_path", "resume_point", "position", "progress_enabled"]

def progress_enabled(flag: bool | None = None) -> bool:
    return sys.stderr.isatty() if flag is None else flag


# Where a stretch of training starts, beside what it ran on.
_WHERE = ("first_epoch", "first_batch", "seconds_before")


def partial_path(checkpoint: str | Path) -> Path:
    """Where the partial checkpoint of an unfinished epoch sits beside ``checkpoint``."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(f"{checkpoint.stem}-partial{checkpoint.suffix}")


def resume_point(checkpoint: str | Path, partials: bool = True) -> tuple[dict | None, Path | None]:
    """(the state a run resumes from, a stale partial checkpoint or None): with ``partials``, the
    partial checkpoint of the epoch after ``checkpoint`` when it has one, else ``checkpoint``'s
    state (None without either). A partial of an older epoch is stale: a kill fell between the
    epoch checkpoint's write and the partial's removal."""
    checkpoint = Path(checkpoint)
    state = load_checkpoint(checkpoint) if checkpoint.is_file() else None
    part = partial_path(checkpoint)
    if not (partials and part.is_file()):
        return state, None
    partial = load_checkpoint(part)
    if partial["epoch"] == (state["epoch"] if state is not None else 0):
        return partial, None
    return state, part


def position(epoch: int, within: dict | None, planned: int | None = None) -> str:
    """"after epoch 3" (" of 21" given ``planned``), or "in epoch 4 after 120 of 540 batches"
    for a state saved inside an epoch."""
    if within is None:
        return f"after epoch {epoch}" + (f" of {planned}" if planned else "")
    return f"in epoch {epoch + 1} after {within['done']} of {within['n_batches']} batches"


class Trainer:
    """Trains any :class:`~genflows.interface.GenerativeModel` under ``cfg``
    (:class:`~genflows.config.TrainConfig`).

    >>> from genflows import build_model, load_config
    >>> cfg = load_config("lfbm-mcmc", overrides=["inference.n_steps=2"])
    >>> model = build_model(cfg, (1, 8, 8))
    >>> history = Trainer(model, cfg.train, progress=False).fit(torch.rand(64, 1, 8, 8) * 2 - 1, epochs=1)
    >>> sorted(history[0])
    ['epoch', 'gen_loss', 'gen_loss_vs_mean_image', 'iters', 'loss', 'lr', 'posterior_displacement', 'prior_loss', 'seconds']
    """

    def __init__(self, model, cfg, progress: bool | None = None):
        self.model = model
        self.cfg = cfg
        # train.lr/betas/lr_decay are the latent family's (None for CoopFlow, whose groups carry
        # their own lr and betas and whose lr does not decay: A.2).
        adam = {} if cfg.lr is None else {"lr": cfg.lr, "betas": (cfg.beta1, cfg.beta2)}
        # foreach: one multi-tensor call per update step instead of ~15 per parameter (the same
        # numbers; 1.3 -> 0.9 ms per step for the digits model's 74 parameters on 2 cores).
        self.optimizer = model.make_optimizer(model.parameter_groups(cfg.lr), **adam)
        self.scheduler = torch.optim.lr_scheduler.ExponentialLR(self.optimizer, gamma=1.0 if cfg.lr_decay is None else cfg.lr_decay)
        self.progress = progress_enabled(progress)
        # Data order has its own generator, so extra draws elsewhere never change it.
        self.data_generator = torch.Generator().manual_seed(cfg.seed)
        self.epoch = 0
        self.iteration = 0
        self.history: list[dict] = []
        self.best: float | None = None
        self.best_epoch: int | None = None
        # Where each stretch of epochs trained (a run resumed elsewhere spans CPUs): what its
        # epochs' seconds depend on.
        self.machines: list[dict] = []
        # (record key, "min" | "max"): the metric that picks checkpoint-best.pt (tasks set it: anomaly
        # its validation score, fit its validation FID); epochs whose record lacks it are never best.
        # None: the lowest training loss.
        self.select: tuple[str, str] | None = None
        self.ddp = None  # DistributedDataParallel wrapper, made at the first fit() under torchrun
        self.amp = cfg.amp
        # genflows.watch.Watcher (or anything with wants/iteration/epoch); None: nothing recorded.
        self.watcher = None
        # (x, mask, generator) -> (x, mask) per training batch, drawing from the data-order generator.
        self.augment = None
        # The unfinished epoch a partial checkpoint restored (data order, batches done, sums).
        self.within_epoch: dict | None = None

    def _loss(self, x: torch.Tensor, mask: torch.Tensor | None):
        fn = self.ddp if self.ddp is not None else self.model.training_loss
        if self.amp:  # CUDA only (checked by the config); Langevin updates of z stay float32
            with torch.autocast("cuda", dtype=torch.bfloat16):
                return fn(x, mask)
        return fn(x, mask)

    def _setup_ddp(self, first: torch.Tensor, first_mask: torch.Tensor | None) -> None:
        if self.cfg.batch_size % dist.world_size():
            raise GenflowsError(f"train.batch_size {self.cfg.batch_size} is not divisible by the {dist.world_size()} processes")
        if dist.rank() > 0:  # independent chains, noise and prior samples per rank
            torch.manual_seed(dist.rank_seed(self.cfg.seed) + 7919 * self.epoch)
        self.ddp = dist.wrap(self.model, first, first_mask)

    def train_step(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> dict:
        loss, stats = self._loss(x, mask)
        # Checked before the update, so a NaN never reaches the parameters (CPU: no real sync);
        # under DDP every rank learns whether any rank diverged, so they stop together.
        if not (dist.all_finite(loss) if self.ddp is not None else bool(torch.isfinite(loss))):
            raise DivergenceError(
                f"training loss became NaN/inf at epoch {self.epoch + 1}, iteration {self.iteration + 1}; {self.model.divergence_hint}"
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.model.clip_gradients()
        if self.cfg.grad_clip:
            torch.nn.utils.clip_grad_norm_([p for g in self.optimizer.param_groups for p in g["params"]], self.cfg.grad_clip)
        base, factor = [g["lr"] for g in self.optimizer.param_groups], self.model.lr_factor(self.iteration)
        for g in self.optimizer.param_groups:  # a warm-up scales this update only (x 1.0 changes nothing)
            g["lr"] = g["lr"] * factor
        self.optimizer.step()
        self.model.after_step()
        for g, lr in zip(self.optimizer.param_groups, base):
            g["lr"] = lr
        self.iteration += 1
        return stats

    def fit(
        self,
        data: torch.Tensor,
        epochs: int,
        on_epoch_end: Callable[[int, dict], dict | None] | None = None,
        checkpoint: str | Path | None = None,
        log: Callable[[str], None] | None = None,
        masks: torch.Tensor | None = None,
    ) -> list[dict]:
        """Train until ``epochs`` epochs are done in all (continuing after :meth:`load_state_dict`),
        dropping each epoch's last partial batch (BatchNorm needs > 1 example). Returns the
        history: one dict of mean statistics per epoch.

        ``masks`` (N, 1, H, W; visible = 1, any dtype) makes every example's likelihood run over
        its visible pixels only: learning from incomplete data (latent-flow paper Section 4.6)."""
        self.model.train()
        n = data.shape[0]
        bs = min(self.cfg.batch_size, n)
        world = dist.world_size()
        if world > 1:
            from torch.utils.data import DistributedSampler

            bs = bs // world  # this rank's share of every global batch
            sampler = DistributedSampler(range(n), num_replicas=world, rank=dist.rank(), shuffle=True, seed=self.cfg.seed, drop_last=True)
            n_batches = max(len(sampler) // max(bs, 1), 1)
        else:
            n_batches = max(n // bs, 1)
        # Posterior collapse is judged against a generator that ignores z (complete data only).
        reference = self.model.collapse_reference(data) if masks is None else None
        if self.epoch < epochs:
            self._note_machine()
        # Partial checkpoints: one process only (under DDP each rank's sampler and streams would
        # have to be saved too).
        every = self.cfg.save_every_seconds if checkpoint is not None and world == 1 else None
        within, self.within_epoch = self.within_epoch, None
        while self.epoch < epochs and not self._budget_spent(iters=False):  # a resumed run may have spent its seconds
            spent = sum(r["seconds"] for r in self.history)  # finished epochs' training seconds, once per epoch
            # A restored epoch keeps its Adam states: only a fresh epoch restarts a phase's.
            self._apply(self.model.schedule(self.epoch), restart=within is None)
            if within is not None:
                perm, start, sums, chain_sums, chain_counts, before = self._unpack(within, n_batches, data.device)
                t0, within = time.perf_counter() - before, None
            else:
                t0, start = time.perf_counter(), 0
                sums, chain_sums, chain_counts = {}, {}, {}  # chain_*: the model's chain summaries over the epoch's steps
                if world > 1:
                    sampler.set_epoch(self.epoch)
                    perm = torch.tensor(list(sampler), dtype=torch.long, device=data.device)
                    if self.ddp is None:
                        self._setup_ddp(data[perm[:bs]], None if masks is None else masks[perm[:bs]].to(data.dtype))
                else:
                    perm = torch.randperm(n, generator=self.data_generator).to(data.device)
            show = self.progress and dist.is_main()
            bar = tqdm(range(start, n_batches), desc=f"epoch {self.epoch + 1}/{epochs}", disable=not show, leave=False,
                       initial=start, total=n_batches)
            done = start
            saved = time.perf_counter()
            watcher = self.watcher
            for b in bar:
                idx = perm[b * bs : (b + 1) * bs]
                # Chain statistics stay on the device: one norm per chain, synced once per epoch.
                logs = watcher is not None and watcher.wants(self.iteration + 1)
                xb, mb = data[idx], None if masks is None else masks[idx].to(data.dtype)
                if self.augment is not None:
                    xb, mb = self.augment(xb, mb, self.data_generator)
                with watch_chains() as chains:
                    stats = self.train_step(xb, mb)
                if logs:
                    watcher.iteration(self.iteration, stats, chains, self.model)
                for k, v in self.model.chain_summary(chains).items():
                    chain_sums[k] = chain_sums.get(k, 0.0) + v
                    chain_counts[k] = chain_counts.get(k, 0) + 1
                for k, v in stats.items():
                    sums[k] = sums.get(k, 0.0) + (v.detach().float() if torch.is_tensor(v) else v)  # bf16 terms (--amp) would round the sum
                done += 1
                if show and b % 25 == 0:
                    bar.set_postfix({k: f"{float(v):.3g}" for k, v in stats.items()})
                now = time.perf_counter()
                if self._budget_spent(spent + now - t0):
                    break
                if every is not None and now - saved >= every and done < n_batches:
                    if watcher is not None:  # its events up to here, which a resume does not write again
                        watcher.flush()
                    self._save_partial(Path(checkpoint), {"perm": perm, "done": done, "n_batches": n_batches, "sums": sums,
                                                          "chain_sums": chain_sums, "chain_counts": chain_counts, "seconds": now - t0})
                    saved = time.perf_counter()
                    t0 += saved - now  # saving is not training time
            bar.close()
            # the generator's rate where the model has one: a latent EBM prior's group comes first
            # and its own rate (LEBM's 2e-5) would read as the model's
            groups = self.optimizer.param_groups
            lead = next((g for g in groups if g.get("name") == "generator"), groups[0])
            record = {"epoch": self.epoch + 1, "iters": done, "lr": lead["lr"]}
            if world > 1:  # epoch means over every rank's examples: one all-reduce per epoch
                keys = sorted(sums)
                vec = dist.all_reduce_sum(torch.stack([torch.as_tensor(sums[k], dtype=torch.float64) for k in keys]))
                sums = {k: v / world for k, v in zip(keys, vec.cpu())}
            for k, v in sums.items():
                record[k] = float(v) / done  # one host sync per epoch
            record["loss"] = sum(record[k] for k in sums)
            for k, v in chain_sums.items():
                record[k] = float(v) / chain_counts[k]
            if check_collapse(record, reference, self.iteration) and log is not None and dist.is_main():
                log(collapse_warning(record, reference))
            record.update(self.model.watch(record))  # worth a curve, not loss terms (CoopFlow's contrast)
            lrs = [{"name": g.get("name", str(i)), "lr": g["lr"]} for i, g in enumerate(self.optimizer.param_groups)]  # before the decay
            self.scheduler.step()
            self.epoch += 1
            record["seconds"] = time.perf_counter() - t0
            if on_epoch_end is not None:
                extra = on_epoch_end(self.epoch, record)
                if extra:
                    record.update(extra)
                self.model.train()
            self.history.append(record)
            if log is not None and dist.is_main():
                log(f"epoch {self.epoch}/{epochs}: " + "  ".join(f"{k} {v:.4g}" for k, v in record.items() if k != "epoch"))
            if watcher is not None:  # before the checkpoint: a resumed run starts after these events
                stops = self.epoch >= epochs or self._budget_spent()
                watcher.epoch(self.iteration, self.history, lrs, self.model, last=stops)
            if checkpoint is not None and dist.is_main():
                self._save(Path(checkpoint), record)
            if self._budget_spent():
                break
        return self.history

    def _budget_spent(self, seconds: float | None = None, iters: bool = True) -> bool:
        """Whether train.max_seconds (or, with ``iters``, train.max_iters) is reached. ``seconds``:
        training seconds so far (default: the finished epochs' in the history, so a resumed run
        counts them)."""
        if iters and self.cfg.max_iters is not None and self.iteration >= self.cfg.max_iters:
            return True
        if self.cfg.max_seconds is None:
            return False
        if seconds is None:
            seconds = sum(r["seconds"] for r in self.history)
        spent = seconds >= self.cfg.max_seconds
        return bool(dist.broadcast_object(spent)) if dist.world_size() > 1 else spent  # every rank stops together

    def _apply(self, schedule, restart: bool = True) -> None:
        """The model's :class:`~genflows.interface.Schedule` for this epoch: named groups' lrs (a
        phase's base lr; those groups do not decay) and, with ``restart``, fresh Adam states
        where a phase starts."""
        for group in self.optimizer.param_groups:
            name = group.get("name")
            if name in schedule.lrs:
                group["lr"] = schedule.lrs[name]
            if restart and name in schedule.restart:
                for p in group["params"]:
                    self.optimizer.state.pop(p, None)

    def _is_best(self, record: dict) -> bool:
        if self.select is not None:
            key, mode = self.select
            if key not in record:
                return False
            value = record[key] if mode == "max" else -record[key]
        else:
            value = -record["loss"]
        if self.best is None or value > self.best:
            self.best, self.best_epoch = value, record["epoch"]
            return True
        return False

    def _save(self, path: Path, record: dict) -> None:
        best = self._is_best(record)
        copies = [path.with_name(f"{path.stem}-best{path.suffix}")] if best else []
        if self.cfg.keep_checkpoints:
            copies.append(epoch_copy(path, self.epoch))
        save_checkpoint(path, self.state_dict(), *copies)
        partial_path(path).unlink(missing_ok=True)  # the finished epoch supersedes it

    def _save_partial(self, path: Path, within: dict) -> None:
        """Everything :meth:`_save` holds, plus the unfinished epoch: its data order, the batches
        done and the statistics summed so far (the global RNGs and the data-order generator are
        those of the next batch)."""
        save_checkpoint(partial_path(path), {**self.state_dict(), "within_epoch": within})

    def _unpack(self, within: dict, n_batches: int, device: torch.device) -> tuple:
        """A partial checkpoint's epoch on ``device``: (data order, batches done, sums, chain
        sums, chain counts, seconds so far)."""
        if within["n_batches"] != n_batches:
            raise GenflowsError(
                f"the partial checkpoint of epoch {self.epoch + 1} was saved with {within['n_batches']} batches per epoch; "
                f"this run has {n_batches}: resume it with the data and train.batch_size it was started with"
            )
        on = lambda d: {k: v.to(device) if torch.is_tensor(v) else v for k, v in d.items()}  # noqa: E731
        return (within["perm"].to(device), within["done"], on(within["sums"]), on(within["chain_sums"]), dict(within["chain_counts"]),
                within["seconds"])

    def restore(self, checkpoint: str | Path) -> str | None:
        """Continue from ``checkpoint`` and, when it is newer, the partial checkpoint of the epoch
        after it; returns where the run resumes ("after epoch 3", "in epoch 4 after 120 of 540
        batches"), or None when there is nothing to resume. A partial checkpoint older than the
        epoch checkpoint (a kill between the two writes) is removed."""
        # Partials are one process's (each DDP rank would need its own sampler and streams): a
        # multi-process run resumes from the epoch checkpoint, whose next save replaces the partial.
        state, stale = resume_point(checkpoint, partials=dist.world_size() == 1)
        if stale is not None:
            stale.unlink()
        if state is None:
            return None
        self.load_state_dict(state)
        return position(self.epoch, self.within_epoch)

    def _note_machine(self) -> None:
        cpu = describe_cpu()
        here = {"cpu": cpu["cpu"], "capability": cpu["capability"], "threads": cpu["threads"], "world": dist.world_size(),
                "chain_dtype": self.model.chain_dtype(next(self.model.parameters()).device)}
        if not self.machines or {k: v for k, v in self.machines[-1].items() if k not in _WHERE} != here:
            entry = {"first_epoch": self.epoch + 1, **here}
            if self.within_epoch is not None and self.machines:
                # resumed inside an epoch: its first seconds are the previous machine's
                entry.update(first_batch=self.within_epoch["done"] + 1, seconds_before=self.within_epoch["seconds"])
            self.machines.append(entry)

    def state_dict(self) -> dict:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "epoch": self.epoch,
            "iteration": self.iteration,
            "history": self.history,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "machines": self.machines,
            "rng": get_rng_state(),
            "data_generator": self.data_generator.get_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = state["epoch"]
        self.iteration = state["iteration"]
        self.history = list(state.get("history", []))
        self.best = state.get("best")
        self.best_epoch = state.get("best_epoch")
        # A checkpoint from before machines were recorded: its epochs' machine is unknown, said so.
        unknown = [{"first_epoch": 1, "cpu": None, "capability": None, "threads": None, "world": None, "chain_dtype": None}]
        self.machines = list(state.get("machines", unknown if self.epoch else []))
        if "rng" in state:
            set_rng_state(state["rng"])
        if dist.rank() > 0:  # the checkpoint holds rank 0's streams; other ranks draw their own
            torch.manual_seed(dist.rank_seed(self.cfg.seed) + 7919 * self.epoch)
        if "data_generator" in state:
            self.data_generator.set_state(state["data_generator"])
        self.within_epoch = state.get("within_epoch")
