"""Finished batches of a long scoring pass, kept on disk so that an interrupted pass resumes.

Scoring MNIST's test split with the latent-flow paper's 400 Langevin steps takes most of an hour
on one CPU core; a pass stopped near its end would otherwise start again from its first batch.
A :class:`BatchStore` holds each finished batch's tensors under its index and rewrites its file
atomically at most every ``every`` seconds; the caller removes the file once it has saved the
pass's results (:meth:`machines` first reads how long the pass took, machine by machine). It is tied to a *fingerprint* of everything the
scores depend on (the images, the weights, the chain settings, the shard), so a file left by
another model, another image set or other settings is never reused: it is started afresh.
Each batch also keeps the name of the machine that computed it, since a resumed pass may finish
on another CPU and its seconds must not all be booked to the last one (:meth:`machines`).

>>> import tempfile, torch
>>> path = tempfile.mkdtemp() + "/scores.partial.pt"
>>> s = BatchStore(path, {"n": 2}, every=0)
>>> s.put(0, {"score": torch.tensor([1.0])})
>>> BatchStore(path, {"n": 2}).get(0)["score"].tolist()
[1.0]
>>> BatchStore(path, {"n": 3}).get(0) is None  # another fingerprint: nothing reused
True
>>> BatchStore.progress(path)
'1 batch'
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import statistics
import time
from pathlib import Path
from typing import Callable

import torch

from .io import save_checkpoint

__all__ = ["BatchStore", "SUFFIX", "add_seconds", "digest"]

# Every store's file name ends so: the run folder's lock sweeps their temporaries by it and
# ``genflows show`` finds them by it.
SUFFIX = ".partial.pt"


def digest(*tensors: torch.Tensor) -> str:
    """SHA-1 of the tensors' values, shapes and dtypes (a fingerprint entry for images or weights)."""
    h = hashlib.sha1()
    for t in tensors:
        h.update(f"{tuple(t.shape)}{t.dtype}".encode())
        t = t.detach().cpu().contiguous().reshape(-1)  # 0-d tensors (BatchNorm's counters) cannot be viewed as bytes
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


class BatchStore:
    """Per-batch results at ``path``, reused only under the same ``fingerprint``."""

    def __init__(self, path: str | Path, fingerprint: dict, every: float = 30.0, machine: str | None = None):
        self.path, self.every = Path(path), every
        self.machine = machine or _this_cpu()
        self.fingerprint = json.dumps(fingerprint, sort_keys=True, default=str)
        self.batches: dict[int, dict[str, torch.Tensor]] = {}
        self.where: dict[int, str] = {}
        self.resumed = 0
        if self.path.is_file():
            with contextlib.suppress(Exception):  # unreadable or foreign: start afresh, it is only a cache
                state = torch.load(self.path, map_location="cpu", weights_only=True)
                if state.get("fingerprint") == self.fingerprint:
                    self.batches = state["batches"]
                    self.where = state.get("where", {})
                    self.resumed = len(self.batches)
        self._saved = time.monotonic()

    def get(self, i: int) -> dict[str, torch.Tensor] | None:
        return self.batches.get(i)

    def put(self, i: int, tensors: dict[str, torch.Tensor]) -> None:
        """Keep batch ``i``; write the file when ``every`` seconds have passed since the last write."""
        self.batches[i] = {k: v.detach().cpu() for k, v in tensors.items()}
        self.where[i] = self.machine
        if time.monotonic() - self._saved >= self.every:
            self.flush()

    def flush(self) -> None:
        save_checkpoint(self.path, {"fingerprint": self.fingerprint, "batches": self.batches, "where": self.where})
        self._saved = time.monotonic()

    @staticmethod
    def machines(path: str | Path) -> dict[str, float] | None:
        """The seconds the finished batches in the file at ``path`` took to compute (each batch's
        ``seconds`` entry), by the machine that computed them (``unknown`` for a file written
        before machines were kept); None without a file."""
        if not Path(path).is_file():
            return None
        state = torch.load(path, map_location="cpu", weights_only=True)
        by: dict[str, float] = {}
        for i, b in state["batches"].items():
            if "seconds" in b:
                name = state.get("where", {}).get(i, "unknown")
                by[name] = by.get(name, 0.0) + float(b["seconds"])
        return by

    @staticmethod
    def _read(path: str | Path) -> tuple[int, int | None, list[float]] | None:
        """(batches done, the total where the fingerprint names a ``shard`` and a ``batch_size``,
        the done batches' ``seconds``); None for a damaged file."""
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            spec = json.loads(state["fingerprint"])
        except Exception:
            return None
        total = None
        if isinstance(spec, dict) and "shard" in spec and "batch_size" in spec:
            a, b = spec["shard"]
            total = -(-(b - a) // spec["batch_size"])
        return len(state["batches"]), total, [float(b["seconds"]) for b in state["batches"].values() if "seconds" in b]

    @staticmethod
    def progress(path: str | Path, left: Callable[[float], str] | None = None) -> str:
        """"12 of 39 batches" (the total where the fingerprint names one, else "12 batches");
        "unreadable" for a damaged file. With ``left`` (seconds to words), the time left at the
        median batch follows where it is known: "12 of 39 batches, about 1.3 h left at its median batch"."""
        read = BatchStore._read(path)
        if read is None:
            return "unreadable"
        done, total, _ = read
        if total is None:
            return f"{done} batch{'es' * (done != 1)}"
        seconds = BatchStore._left(read)
        return f"{done} of {total} batches" + (f", about {left(seconds)} left at its median batch" if left and seconds else "")

    @staticmethod
    def seconds_left(path: str | Path) -> float | None:
        """The batches still to compute times the median ``seconds`` of those done (a scoring pass
        of the paper's schedule takes hours); None where the file names no total or no batch has
        its seconds."""
        read = BatchStore._read(path)
        return None if read is None else BatchStore._left(read)

    @staticmethod
    def _left(read: tuple[int, int | None, list[float]]) -> float | None:
        done, total, seconds = read
        return None if total is None or not seconds else (total - done) * statistics.median(seconds)


def add_seconds(total: dict[str, float], more: dict[str, float] | None) -> dict[str, float]:
    """``total`` with ``more``'s seconds added machine by machine (several passes of one run)."""
    for k, v in (more or {}).items():
        total[k] = total.get(k, 0.0) + v
    return total


def _this_cpu() -> str:
    from ..hardware import describe_cpu

    c = describe_cpu()
    return f"{c['cpu']} ({c['capability']}), {c['threads']} thread{'s' * (c['threads'] != 1)}"
