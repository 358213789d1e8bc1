"""What tasks measure on a trained model, whatever its family: seeded samples in batches, FID
against real images, and the machine facts that every timing depends on."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import numpy as np
import torch

from .._runtime import distributed as dist
from ..hardware import describe_cpu
from ..sampling import sample_batched

__all__ = ["machine", "sample_batched", "check_fid", "model_fid"]


def machine(model, device: torch.device | str) -> dict:
    """What a run's timings depend on, for its metrics: CPU, torch's capability, threads, and the
    generator's dtype inside the chains (``inference.autocast``; CoopFlow's chains: float32)."""
    cpu = describe_cpu()
    return {"torch_threads": cpu["threads"], "cpu": cpu["cpu"], "capability": cpu["capability"], "chain_dtype": model.chain_dtype(device)}


def check_fid(cfg) -> None:
    """Fail before training when FID is asked for (``eval.fid_n``, ``eval.val_fid_every``) and its
    weights are not installed."""
    if cfg.eval.fid_n or cfg.eval.val_fid_every:
        from ..metrics.fid import weights_path

        weights_path()


_REAL_FEATURES: dict = {}


def _cache_dir() -> Path:
    return Path(os.environ.get("GENFLOWS_CACHE") or Path.home() / ".cache" / "genflows")


def _real_features(feats, real: torch.Tensor) -> np.ndarray:
    """Inception features of the real images, computed once per machine: every model compared
    against the same images reuses them, in this process and (one process) from a file keyed by
    the images' bytes and the weights' (``$GENFLOWS_CACHE``, default ``~/.cache/genflows``)."""
    from ..metrics.fid import weights_path

    digest = hashlib.sha1(real.numpy().tobytes()).hexdigest()
    key = (digest, dist.world_size())
    if key in _REAL_FEATURES:
        return _REAL_FEATURES[key]
    path = None
    if dist.world_size() == 1:  # under DDP every rank computes its share; no file to agree on
        w = weights_path()
        wid = hashlib.sha1(f"{w.resolve()}:{w.stat().st_size}:{w.stat().st_mtime_ns}".encode()).hexdigest()[:12]
        path = _cache_dir() / "fid-features" / f"{digest}-{wid}.npy"
        if path.is_file():
            _REAL_FEATURES[key] = np.load(path)
            return _REAL_FEATURES[key]
    _REAL_FEATURES[key] = _features(feats, real).numpy()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.save(f, _REAL_FEATURES[key])
        os.replace(tmp, path)  # atomic: a reader sees the whole file or none
    return _REAL_FEATURES[key]


def _features(feats, x: torch.Tensor) -> torch.Tensor:
    """Inception features of every row of ``x``, each rank computing its :func:`shard_bounds`
    share: under torchrun every rank works and the collective comes only at the end (rank 0 alone
    on 50 000 images would keep the others waiting in a broadcast past NCCL's timeout)."""
    a, b = dist.shard_bounds(x.shape[0])
    part = torch.from_numpy(feats(x[a:b])) if b > a else torch.empty(0, 2048, dtype=torch.float64)
    return dist.gather_rows([part], x.shape[0], (part.shape[1],))


def model_fid(model, test_x: torch.Tensor, n: int, seed: int = 0, batch_size: int = 500, log=None, sampler=None, what: str = "",
              ref: str = "test") -> dict:
    """FID between n samples of the model (or of ``sampler``, logged as ``what``) and the first n
    images of ``test_x``, which are the ``ref`` split's (N and the split are part of the result).
    Every rank draws the same seeded samples, so the result does not depend on the world size."""
    from ..metrics.fid import InceptionFeatures, frechet_distance

    n = min(n, test_x.shape[0])
    t0 = time.perf_counter()
    feats = InceptionFeatures.shared(next(model.parameters()).device)  # on the run's device, in batches
    t_sample = time.perf_counter()
    fake = sample_batched(model, n, seed=seed, batch_size=batch_size, sampler=sampler)
    sample_secs = time.perf_counter() - t_sample
    real = test_x[:n].contiguous()
    fid = frechet_distance(_features(feats, fake).numpy(), _real_features(feats, real))
    secs = time.perf_counter() - t0
    if log:
        log(f"FID{what} {fid:.2f} (N = {n} samples vs {n} {ref} images, {secs:.0f}s)")
    # the sampler's own cost, apart from the Inception features: seconds per 1000 samples
    return {"fid": fid, "fid_n": n, "fid_ref": ref, "fid_seconds": secs, "sample_seconds_per_1000": 1000 * sample_secs / n}
