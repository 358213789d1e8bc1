"""What every task shares: data for the run, training (with resume), batched inference with a
seeded start, sampling, FID. Tasks use only the model's public interface (``infer``,
``log_joint``, ``sample``, ``generator``)."""

from __future__ import annotations

import hashlib
import time
from typing import Callable

import torch
from tqdm.auto import tqdm

from .. import distributed as dist
from ..data import DATASETS, load_split
from ..errors import GenflowsError
from ..hardware import describe_cpu
from ..io import load_checkpoint
from ..model import LatentModel
from ..output import RunDir
from ..registry import build_model
from ..rng import seeded
from ..trainer import Trainer

__all__ = [
    "run_data", "prepare", "n_epochs", "train", "fit", "decode", "infer_batched", "reconstruct_batched", "sample_batched", "model_fid",
    "describe_inference", "data_space", "machine",
]


def run_data(cfg) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, test) images of ``cfg.data``; ``data.train_size`` keeps the first N training images."""
    train, test = load_split(cfg.data.name, cfg.data.root, cfg.data.download)
    if cfg.data.train_size:
        train = train[: cfg.data.train_size]
    return train, test


def prepare(cfg, out: RunDir, progress: bool = False, device: torch.device | str = "cpu", log=None):
    """``cfg.model`` built with ``cfg.train.seed`` and its trainer, restored from
    ``out/checkpoint.pt`` when that exists (same model, optimiser, RNGs and data order), with the
    run folder's watcher (``cfg.watch``: TensorBoard events, curves.png) attached."""
    info = DATASETS[cfg.data.name]
    torch.manual_seed(cfg.train.seed)
    model = build_model(cfg, info.shape).to(device)
    trainer = Trainer(model, cfg.train, prior_lr=cfg.prior.lr, progress=progress)
    ckpt = out.file("checkpoint.pt")
    if ckpt.exists():
        trainer.load_state_dict(load_checkpoint(ckpt))
        if log:
            log(f"resuming {out.path} after epoch {trainer.epoch}")
    if log:
        m = machine(model, device)
        log(f"{m['cpu']} ({m['capability']}), {m['torch_threads']} threads; Langevin chains in {m['chain_dtype']}")
    # Epoch sample grids use the seed of the task's own samples.png: the last epoch's grid is that picture.
    trainer.watcher = out.watch(cfg.watch, seed=cfg.train.seed, start_step=trainer.iteration)
    return model, trainer


def machine(model, device: torch.device | str) -> dict:
    """What a run's timings depend on, for its metrics: CPU, torch's capability, threads, and the
    generator's dtype inside the chains (``inference.autocast``; CoopFlow's chains: float32)."""
    cpu = describe_cpu()
    dtype = model.chain_dtype(device) if isinstance(model, LatentModel) else "float32"
    return {"torch_threads": cpu["threads"], "cpu": cpu["cpu"], "capability": cpu["capability"], "chain_dtype": dtype}


def n_epochs(cfg) -> int:
    """The epochs a run trains: ``train.epochs``, else the dataset's default."""
    return cfg.train.epochs or DATASETS[cfg.data.name].default_epochs


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


def _amortized(model) -> bool:
    return bool(getattr(model.inference, "amortized", False))


def describe_inference(model, masked: bool, steps: int, refine_steps: int) -> str:
    """How z* was obtained, for metrics files (VAE models fall back to Langevin on masked data)."""
    if _amortized(model) and not masked:
        return "encoder mean" + (f" + {refine_steps} Langevin refinement steps" if refine_steps else "")
    what = "Langevin on the learned prior and generator (encoder cannot read masked images)" if _amortized(model) else "Langevin"
    return f"{what}, {steps} noise-free steps"


def infer_batched(
    model,
    x: torch.Tensor,
    mask: torch.Tensor | None = None,
    steps: int = 200,
    step_size: float = 0.1,
    refine_steps: int = 0,
    batch_size: int = 500,
    seed: int = 0,
    noise: bool = False,
) -> torch.Tensor:
    """z* for every image (eval mode, so results do not depend on the batch), started from one
    seeded N(0, I) stream. Amortised inference uses the encoder mean, then ``refine_steps``
    Langevin steps from it; with a mask it infers by Langevin (see VAEInference)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    g = torch.Generator().manual_seed(seed)
    n = x.shape[0]
    z0_all = torch.randn(n, model.nz, generator=g)
    a, b = dist.shard_bounds(n)  # under torchrun: this rank's shard, gathered in order below
    x, z0_all = x[a:b], z0_all[a:b]
    mask = None if mask is None else mask[a:b]
    out = []
    for i in range(0, x.shape[0], batch_size):
        xb = x[i : i + batch_size].to(device)
        mb = None if mask is None else mask[i : i + batch_size].to(device, xb.dtype)
        z0 = z0_all[i : i + batch_size].to(device)
        if _amortized(model) and mb is None:
            z = model.infer(xb, noise=False)
            if refine_steps:
                z = model.inference.langevin(model.prior, model.generator, xb, z0=z, n_steps=refine_steps, step_size=step_size, noise=False)
        else:
            z = model.infer(xb, mb, z0=z0, n_steps=steps, step_size=step_size, noise=noise)
        out.append(z.detach().cpu())
    model.train(was_training)
    return dist.gather_rows(out, n, (model.nz,))


def data_space(model) -> bool:
    """CoopFlow-family models: their latent variable is x_hat, found by optimisation (Sec. 5.3)."""
    return hasattr(model, "invert")


def reconstruct_batched(
    model, x: torch.Tensor, mask: torch.Tensor | None, e, seed: int, keep_latent: bool = False, progress: bool = False
) -> tuple[torch.Tensor, list, str]:
    """(x_hat, MSE curve, how) for every image: latent models decode z* (:func:`infer_batched`);
    data-space models optimise x_hat so that F_theta(x_hat) matches the visible pixels
    (``eval.invert_iters`` Adam steps at ``eval.invert_lr``) and return F_theta(x_hat*), or x_hat*
    itself with ``keep_latent``; their curve is the mean per-pixel MSE along the optimisation."""
    if not data_space(model):
        z = infer_batched(model, x, mask, steps=e.steps, step_size=e.step_size, refine_steps=e.refine_steps, batch_size=e.batch_size, seed=seed)
        return decode(model, z, e.batch_size), [], describe_inference(model, mask is not None, e.steps, e.refine_steps)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    n = x.shape[0]
    a, b = dist.shard_bounds(n)
    outs, steps, total = [], [], None  # total: the curve summed over images
    show = progress and dist.is_main()
    for i in tqdm(range(a, b, e.batch_size), desc="x_hat optimisation", disable=not show, leave=False):
        xb = x[i : min(i + e.batch_size, b)].to(device)
        mb = None if mask is None else mask[i : i + xb.shape[0]].to(device, xb.dtype)
        with seeded(seed + i, device):  # the starting samples x_hat_0 depend on (seed, index) only
            xhat, curve = model.invert(xb, mb, n_iters=e.invert_iters, lr=e.invert_lr, n_starts=e.invert_starts)
        outs.append((xhat if keep_latent else model.decode(xhat)).cpu())
        steps = [k for k, _ in curve]
        part = torch.tensor([v for _, v in curve], dtype=torch.float64) * xb.shape[0]
        total = part if total is None else total + part
    model.train(was_training)
    x_hat = dist.gather_rows(outs, n, tuple(x.shape[1:]))
    if dist.active():  # ranks with images share their step list; sum every rank's totals
        steps = dist.broadcast_object(steps)
        total = torch.zeros(len(steps), dtype=torch.float64) if total is None else total
        torch.distributed.all_reduce(total)
    curve = [(k, float(v) / n) for k, v in zip(steps, total if total is not None else [])]
    start = "N(0, I) noise" if model.mode == "ebm-sr" else "a flow sample"
    if e.invert_starts > 1:
        start = f"the best of {e.invert_starts} draws of {start.removeprefix('a ')} (by the error of F_theta(x_hat_0))"
    how = f"x_hat optimised by {e.invert_iters} Adam steps (lr {e.invert_lr}) from {start}; reconstruction F_theta(x_hat*), noise off"
    return x_hat, curve, how


@torch.no_grad()
def decode(model, z: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = torch.cat([model.generator(z[i : i + batch_size].to(device)).cpu() for i in range(0, z.shape[0], batch_size)])
    model.train(was_training)
    return out


def sample_batched(model, n: int, seed: int = 0, batch_size: int = 500, method: str = "sample") -> torch.Tensor:
    """n samples of the model (latent: g(z), z ~ p_alpha; CoopFlow: flow + Langevin flow), in
    eval mode, seeded; ``method="sample_flow"`` draws CoopFlow's flow q_alpha alone."""
    was_training = model.training
    model.eval()
    out = []
    with seeded(seed, next(model.parameters()).device):
        for i in range(0, n, batch_size):
            # Any model with sample(n): latent models (EBM priors sample by Langevin inside) and CoopFlow.
            out.append(getattr(model, method)(min(batch_size, n - i)).detach().cpu())
    model.train(was_training)
    return torch.cat(out)


def check_fid(cfg) -> None:
    """Fail before training when FID is asked for (``eval.fid_n``, ``eval.val_fid_every``) and its
    weights are not installed."""
    if cfg.eval.fid_n or cfg.eval.val_fid_every:
        from ..fid import weights_path

        weights_path()


_REAL_FEATURES: dict = {}


def model_fid(model, test_x: torch.Tensor, n: int, seed: int = 0, batch_size: int = 500, log=None, method: str = "sample") -> dict:
    """FID between n samples of the model (drawn by ``model.<method>``) and the first n test
    images (N is part of the result)."""
    from ..fid import InceptionFeatures, frechet_distance

    if not dist.is_main():  # Inception runs once, on rank 0; the others receive its result
        return dist.broadcast_object()
    n = min(n, test_x.shape[0])
    t0 = time.perf_counter()
    feats = InceptionFeatures.shared()
    fake = sample_batched(model, n, seed=seed, batch_size=batch_size, method=method)
    real = test_x[:n].contiguous()
    key = hashlib.sha1(real.numpy().tobytes()).hexdigest()
    if key not in _REAL_FEATURES:  # the test side is the same for every model compared in a process
        _REAL_FEATURES[key] = feats(real)
    fid = frechet_distance(feats(fake), _REAL_FEATURES[key])
    secs = time.perf_counter() - t0
    if log:
        what = "" if method == "sample" else f" of {method}"
        log(f"FID{what} {fid:.2f} (N = {n} samples vs {n} test images, {secs:.0f}s)")
    return dist.broadcast_object({"fid": fid, "fid_n": n, "fid_seconds": secs})
