"""One process at a time trains into a run folder.

Two processes training one seed (a table restarted while its old workers still ran, or the same
``genflows run --out`` typed twice) would overwrite each other's checkpoints epoch by epoch and
interleave their event files; the second is refused instead. The lock is the operating
system's (``flock``), so a killed process releases it and a stale lock file never blocks.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from . import distributed as dist
from ..errors import GenflowsError

try:
    import fcntl
except ImportError:  # Windows: no flock; folders are not guarded there
    fcntl = None

__all__ = ["LOCK_NAME", "training_lock"]

LOCK_NAME = ".training.lock"


@contextlib.contextmanager
def training_lock(folder: str | Path) -> Iterator[None]:
    """Hold ``folder``'s training lock (rank 0 takes it; every rank raises if it is taken)."""
    folder = Path(folder)
    handle, taken_by = None, None
    if dist.is_main() and fcntl is not None:
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / LOCK_NAME, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            taken_by = handle.read().strip() or "?"
            handle.close()
            handle = None
        else:
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
    taken_by = dist.broadcast_object(taken_by)
    if taken_by is not None:
        raise GenflowsError(f"{folder} is being trained by another process (pid {taken_by}); wait for it to finish or stop it first")
    try:
        yield
    finally:
        if handle is not None:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()
