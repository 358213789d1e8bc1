"""One process at a time trains into a run folder.

Two processes training one seed (a table restarted while its old workers still ran, or the same
``genflows run --out`` typed twice) would overwrite each other's checkpoints epoch by epoch and
interleave their event files; the second is refused instead. The lock is the operating
system's ``flock`` on the folder itself: a killed process releases it, and no lock file is left
behind (a refused or failed run writes nothing).

Taking the lock also removes what a killed holder was halfway through writing: the temporary
copies of checkpoints and scoring stores (up to 80 MB each), which only the holder writes.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from . import distributed as dist
from .batch_store import SUFFIX
from ..errors import GenflowsError

try:
    import fcntl
except ImportError:  # Windows: no flock; folders are not guarded there (README says so)
    fcntl = None

__all__ = ["training_lock", "is_held"]

# The temporaries of :func:`genflows._runtime.io.atomic_path` for the files only the lock holder
# writes; other files of a run folder (a ``genflows score`` result) may be written beside it.
_HOLDERS_TEMPORARIES = (".checkpoint*.pt.*.tmp", f".*{SUFFIX}.*.tmp")


def _flock(folder: Path) -> tuple[int | None, bool]:
    """(the descriptor that holds ``folder``'s lock, or None; whether another process holds it).
    A file system without ``flock`` (some network mounts) leaves the folder unguarded."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return None, False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        return None, isinstance(e, BlockingIOError)
    return fd, False


@contextlib.contextmanager
def training_lock(folder: str | Path) -> Iterator[None]:
    """Hold ``folder``'s training lock, making the folder if needed (rank 0 takes it; every rank
    raises if another process holds it)."""
    folder = Path(folder)
    fd, taken = None, False
    if dist.is_main() and fcntl is not None:
        folder.mkdir(parents=True, exist_ok=True)
        fd, taken = _flock(folder)
        if fd is not None:  # held: no other process can be writing here (unguarded folders are left alone)
            _sweep(folder)
    try:
        if dist.broadcast_object(taken):
            raise GenflowsError(f"{folder} is being trained by another process; wait for it to finish or stop it first")
        yield
    finally:
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the lock


def _sweep(folder: Path) -> None:
    for pattern in _HOLDERS_TEMPORARIES:
        for leftover in folder.glob(pattern):
            leftover.unlink(missing_ok=True)


def is_held(folder: str | Path) -> bool:
    """Whether another process holds ``folder``'s training lock now (it is training or scoring there)."""
    if fcntl is None or not Path(folder).is_dir():
        return False
    fd, taken = _flock(Path(folder))
    if fd is not None:
        os.close(fd)
    return taken
