"""How every task trains its model: the run's data, the model and trainer (restored from the run
folder's checkpoint when there is one), Algorithm 1 for the configured epochs, and optional
model selection by validation FID."""

from __future__ import annotations

from typing import Callable

import torch

from .._runtime.io import load_checkpoint
from .._runtime.output import RunDir
from ..data import dataset_info, load_split, random_hflip
from ..errors import GenflowsError
from ..registry import build_model
from ..trainer import Trainer
from ..watch import watch
from ._evaluate import machine, model_fid

__all__ = ["run_data", "prepare", "n_epochs", "train", "fit", "validation_images", "validation_fid_hook"]


def run_data(cfg) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, test) images of ``cfg.data``; ``data.train_size`` keeps the first N training images."""
    train, test = load_split(cfg.data.name, cfg.data.root, cfg.data.download, cfg.data.image_size)
    if cfg.data.train_size:
        train = train[: cfg.data.train_size]
    return train, test


def prepare(cfg, out: RunDir, progress: bool = False, device: torch.device | str = "cpu", log=None):
    """``cfg.model`` built with ``cfg.train.seed`` and its trainer, restored from
    ``out/checkpoint.pt`` when that exists, or from the partial checkpoint of the epoch after it
    (same model, optimiser, RNGs and data order), with the run folder's watcher (``cfg.watch``:
    TensorBoard events, curves.png) attached."""
    info = dataset_info(cfg.data.name, cfg.data.image_size)
    torch.manual_seed(cfg.train.seed)
    model = build_model(cfg, info.shape).to(device)
    trainer = Trainer(model, cfg.train, progress=progress)
    where = trainer.restore(out.file("checkpoint.pt"))
    if where and log:
        log(f"resuming {out.path} {where}")
    if log:
        m = machine(model, device)
        log(f"{m['cpu']} ({m['capability']}), {m['torch_threads']} threads; Langevin chains in {m['chain_dtype']}")
    hflip = cfg.data.hflip if cfg.data.hflip is not None else info.hflip
    trainer.augment = random_hflip if hflip else None
    # Epoch sample grids use the seed of the task's own samples.png: the last epoch's grid is that picture.
    trainer.watcher = watch(out, cfg.watch, seed=cfg.train.seed, start_step=trainer.iteration)
    return model, trainer


def n_epochs(cfg) -> int:
    """The epochs a run trains: ``train.epochs``, else the dataset's default."""
    return cfg.train.epochs or dataset_info(cfg.data.name, cfg.data.image_size).default_epochs


def train(
    cfg,
    trainer: Trainer,
    out: RunDir,
    train_x: torch.Tensor,
    masks: torch.Tensor | None = None,
    on_epoch_end: Callable[[int, dict], dict | None] | None = None,
    log=None,
) -> tuple[list[dict], float]:
    """Algorithm 1 for the configured number of epochs; returns (history, training seconds),
    the seconds summed per epoch so a resumed run reports its whole training time
    (evaluation hooks excluded)."""
    device = next(trainer.model.parameters()).device
    epochs = n_epochs(cfg)
    history = trainer.fit(train_x.to(device), epochs, on_epoch_end=on_epoch_end, checkpoint=out.file("checkpoint.pt"), log=log,
                          masks=None if masks is None else masks.to(device))
    return history, sum(h["seconds"] for h in history)


def fit(cfg, out: RunDir, train_x: torch.Tensor, progress: bool = False, device: torch.device | str = "cpu", log=None):
    """:func:`prepare` then :func:`train`: (model, trainer, history, train_seconds). With
    ``eval.val_fid_every`` the model returned is the epoch of lowest validation FID
    (:func:`validation_fid_hook`), which ``trainer.best_epoch`` names."""
    model, trainer = prepare(cfg, out, progress, device, log)
    hook = validation_fid_hook(cfg, trainer, train_x, log) if cfg.eval.val_fid_every else None
    history, secs = train(cfg, trainer, out, train_x, on_epoch_end=hook, log=log)
    if hook is not None and trainer.best_epoch not in (None, trainer.epoch):
        model.load_state_dict(load_checkpoint(out.file("checkpoint-best.pt"))["model"])
        if log:
            log(f"model selected by validation FID: epoch {trainer.best_epoch} of {trainer.epoch}")
    return model, trainer, history, secs


def validation_images(cfg, n: int, n_train_used: int) -> torch.Tensor:
    """The last ``n`` images of the training split: held out from training (which uses the first
    ``data.train_size``) and from the test set, so model selection never sees either."""
    train, _ = load_split(cfg.data.name, cfg.data.root, cfg.data.download)  # 2-D data: refused by RunConfig.validate
    if n_train_used + n > train.shape[0]:
        raise GenflowsError(
            f"eval.val_fid_every holds out the last eval.val_fid_n = {n} of {train.shape[0]} training images: "
            f"set data.train_size <= {train.shape[0] - n} (now {n_train_used})"
        )
    return train[-n:].contiguous()


def validation_fid_hook(cfg, trainer: Trainer, train_x: torch.Tensor, log=None) -> Callable[[int, dict], dict | None]:
    """``on_epoch_end`` that records ``val_fid`` (model samples vs held-out training images) from
    epoch ``eval.val_fid_from`` on, every ``eval.val_fid_every`` epochs, and always at the last; makes
    the trainer keep the epoch with the lowest as ``checkpoint-best.pt``: early stopping by a
    sample-quality metric, the same rule for every model compared."""
    e = cfg.eval
    val_x = validation_images(cfg, e.val_fid_n, train_x.shape[0])
    last = n_epochs(cfg)
    trainer.select = ("val_fid", "min")

    def hook(epoch: int, record: dict) -> dict | None:
        # The last epoch is always scored, so a run shorter than val_fid_from still has a model.
        if epoch != last and (epoch < e.val_fid_from or (epoch - e.val_fid_from) % e.val_fid_every):
            return None
        r = model_fid(trainer.model, val_x, e.val_fid_n, seed=cfg.train.seed, batch_size=e.batch_size)
        if log:
            log(f"epoch {epoch}: validation FID {r['fid']:.2f} (N = {r['fid_n']}, {r['fid_seconds']:.0f}s)")
        return {"val_fid": r["fid"], "val_fid_seconds": r["fid_seconds"]}

    return hook
