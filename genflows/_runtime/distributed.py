"""Multi-process training on ``torch.distributed`` (DistributedDataParallel, launched by torchrun).

genflows never starts processes itself: ``torchrun --nproc_per_node N -m genflows run ...``
sets ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``/``MASTER_ADDR``, and :func:`setup` joins that group
(NCCL on CUDA, gloo on CPU). Without those variables nothing here does anything: a
single-process run has no process group and no DDP wrapper.

What is distributed and what is not:

- training: each rank takes ``train.batch_size / world`` examples of every global batch
  (``DistributedSampler``, reshuffled per epoch), runs its Langevin chains on them alone (the
  chains are per-example, so nothing is communicated inside a chain) and DDP averages the
  gradients; the global batch and the learning rate are the config's, whatever the world size.
- randomness: the model is built from ``train.seed`` on every rank (and DDP broadcasts rank 0's
  state); after that every rank draws its own stream, ``seed + 1000 * rank``, for chain starts,
  Langevin noise and prior samples.
- BatchNorm statistics are per rank (no SyncBatchNorm: it would communicate inside every chain
  step); DDP copies rank 0's running statistics to the others at each forward.
- evaluation: test images are split into contiguous shards, scored per rank and gathered in
  order, so metrics cover the whole test set and equal a single-process run's.
- only rank 0 writes files, prints logs and shows progress bars.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

from ..errors import GenflowsError

__all__ = [
    "all_reduce_sum",
    "wrap",
    "LossModule",
    "has_lazy_init",
    "setup",
    "teardown",
    "active",
    "rank",
    "world_size",
    "is_main",
    "resolve_device",
    "shard_bounds",
    "gather_rows",
    "broadcast_object",
    "barrier",
    "rank_seed",
]


def launched() -> bool:
    """Whether this process was started by torchrun (or another launcher setting the env)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    return rank() == 0


def rank_seed(seed: int) -> int:
    """The seed of this rank's random stream (rank 0 keeps ``seed``, as a single process does)."""
    return seed + 1000 * rank()


def resolve_device(name: str = "auto") -> torch.device:
    """``auto``: CUDA when available, else CPU. Under torchrun each rank takes GPU LOCAL_RANK."""
    if name not in ("auto", "cpu", "cuda"):
        raise GenflowsError(f"--device must be auto, cpu or cuda, got '{name}'")
    if name == "cuda" and not torch.cuda.is_available():
        raise GenflowsError("--device cuda asked for, but torch sees no CUDA device; use --device cpu")
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if local >= torch.cuda.device_count():
        raise GenflowsError(f"LOCAL_RANK {local} but only {torch.cuda.device_count()} CUDA devices")
    torch.cuda.set_device(local)
    return torch.device("cuda", local)


def setup(device: torch.device) -> bool:
    """Join the torchrun process group if launched under one; returns whether it did."""
    if not launched() or active():
        return active()
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend=backend)
    return True


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if active():
        dist.barrier()


def _bounds(n: int, r: int, w: int) -> tuple[int, int]:
    return r * n // w, (r + 1) * n // w


def shard_bounds(n: int) -> tuple[int, int]:
    """[start, stop) of this rank's contiguous share of n items (shares differ by at most one)."""
    return _bounds(n, rank(), world_size())


def _backend_device() -> torch.device:
    """Where the process group's collectives take their tensors: this rank's GPU under NCCL, the
    CPU under gloo."""
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def gather_rows(parts: list[torch.Tensor], n: int, row_shape: tuple = ()) -> torch.Tensor:
    """Concatenate this rank's row blocks (its :func:`shard_bounds` share of n; rows of
    ``row_shape`` when the share is empty) with every other rank's, in rank order, on CPU.

    Shares may differ in length by one, so they are padded to the longest before all_gather.
    """
    t = torch.cat(parts) if parts else torch.empty(0, *row_shape)
    if not active():
        return t
    w = world_size()
    lengths = [b - a for a, b in (_bounds(n, r, w) for r in range(w))]
    longest = max(lengths)
    local = t.to(_backend_device())
    if local.shape[0] < longest:
        pad = local.new_zeros((longest - local.shape[0], *local.shape[1:]))
        local = torch.cat([local, pad])
    gathered = [torch.empty_like(local) for _ in range(w)]
    dist.all_gather(gathered, local.contiguous())
    return torch.cat([p[:k] for p, k in zip(gathered, lengths)]).cpu()


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """The sum of ``t`` over every rank, on ``t``'s device (NCCL reduces CUDA tensors only, gloo
    CPU ones: the tensor travels to the backend's device and back)."""
    if not active():
        return t
    local = t.to(_backend_device(), copy=True)
    dist.all_reduce(local)
    return local.to(t.device)


def broadcast_object(obj=None):
    """Rank 0's ``obj`` on every rank (any picklable object)."""
    if not active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_finite(loss: torch.Tensor) -> bool:
    """True when the loss is finite on every rank, so all ranks stop together on a divergence."""
    ok = torch.isfinite(loss.detach()).to(torch.float32).reshape(1)
    if active():
        ok = ok.to(_backend_device())
        dist.all_reduce(ok, op=dist.ReduceOp.MIN)
    return bool(ok)


class LossModule(torch.nn.Module):
    """``model.training_loss`` as a forward pass, which is what DistributedDataParallel wraps."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x, mask=None):
        return self.model.training_loss(x, mask)


def has_lazy_init(model) -> bool:
    # nflows' ActNorm initialises itself from the first batch it sees; under DDP each rank would
    # see a different batch, so such models take one forward before rank 0's state is broadcast.
    return any(getattr(m, "initialized", None) is not None and not bool(m.initialized) for m in model.modules())


def wrap(model, first: torch.Tensor, first_mask: torch.Tensor | None):
    """``model.training_loss`` under DistributedDataParallel, after one forward pass on this rank's
    first batch where the model initialises itself lazily; DDP's constructor then broadcasts rank 0's
    parameters and buffers to every rank."""
    from torch.nn.parallel import DistributedDataParallel

    device = next(model.parameters()).device
    if has_lazy_init(model):
        model.training_loss(first, first_mask)
        # nflows' ActNorm swaps its `initialized` buffer for a new CPU tensor when it initialises;
        # DDP's constructor broadcasts every buffer, and NCCL takes device tensors only.
        model.to(device)
    # CoopFlow's phases leave one flow out of the loss; latent models use every parameter.
    return DistributedDataParallel(LossModule(model), device_ids=[device.index] if device.type == "cuda" else None,
                                   find_unused_parameters=model.phased)
