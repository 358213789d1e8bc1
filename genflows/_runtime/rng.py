"""Every random number generator a run touches, as tensors (so checkpoints load with
``torch.load(weights_only=True)``): python, numpy, torch CPU and CUDA."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import numpy as np
import torch

__all__ = ["get_rng_state", "set_rng_state", "seeded"]


def get_rng_state() -> dict:
    py_version, py_state, py_gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": torch.tensor(py_state, dtype=torch.int64),
        "python_meta": torch.tensor([py_version, 0 if py_gauss is None else 1], dtype=torch.int64),
        "python_gauss": torch.tensor(0.0 if py_gauss is None else py_gauss, dtype=torch.float64),
        "numpy_keys": torch.from_numpy(keys.astype(np.int64)),
        "numpy_meta": torch.tensor([pos, has_gauss], dtype=torch.int64),
        "numpy_gauss": torch.tensor(cached, dtype=torch.float64),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.stack(torch.cuda.get_rng_state_all())
    return state


def set_rng_state(state: dict) -> None:
    version, has_gauss = state["python_meta"].tolist()
    gauss = float(state["python_gauss"]) if has_gauss else None
    random.setstate((version, tuple(state["python"].tolist()), gauss))
    pos, np_has_gauss = state["numpy_meta"].tolist()
    np.random.set_state(("MT19937", state["numpy_keys"].numpy().astype(np.uint32), pos, np_has_gauss, float(state["numpy_gauss"])))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        # Only as many devices as this machine has (a run may resume on fewer GPUs than it began on).
        torch.cuda.set_rng_state_all(list(state["cuda"])[: torch.cuda.device_count()])


@contextlib.contextmanager
def seeded(seed: int, device: torch.device | str = "cpu") -> Iterator[None]:
    """Draw from torch's global generator(s) seeded with ``seed`` inside the block, and give the
    caller's streams back untouched afterwards: evaluation inside training (epoch hooks) must
    not change the training run's random numbers, or a resumed run would differ."""
    device = torch.device(device)
    cuda = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        yield
