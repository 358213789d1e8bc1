"""Worker processes for runs side by side (``genflows table --jobs N``): each a fresh
interpreter, and each gone soon after the process that started it is.

A table's parent killed by ``kill PID`` (not Ctrl-C, which reaches the whole process group)
would otherwise leave its workers training on, unsupervised, into the folders a restarted
table then trains into as well: two writers on one run folder. The watch reads the parent's
pid, which changes on Linux and macOS; on Windows it does not, and workers outlive their parent.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from typing import Callable

__all__ = ["worker_pool", "wait_all"]

_CHECK_SECONDS = 2.0


def _exit_with(parent: int) -> None:
    """In a worker: end the process once ``parent`` is no longer its parent. Checkpoints are
    written atomically, so what an interrupted epoch loses is that epoch."""

    def watch() -> None:
        while not threading.Event().wait(_CHECK_SECONDS):
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, daemon=True, name="genflows-exit-with-parent").start()


def worker_pool(jobs: int) -> ProcessPoolExecutor:
    """``jobs`` worker processes, spawned (a fresh torch each: no forked OpenMP pool), each
    exiting within seconds of its parent."""
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_exit_with, initargs=(os.getpid(),))


def wait_all(futures: dict[Future, str], log=print, on_done: Callable[[Future], None] | None = None) -> None:
    """Wait for every future (each named), in the order they finish: each failure is logged
    with its name as it comes and the others go on (``on_done`` runs for each success); the
    first failure is then raised as it was (a divergence keeps its own exit status)."""
    first = None
    for f in as_completed(futures):
        try:
            f.result()
        except Exception as e:  # noqa: BLE001 - re-raised below, after the others have finished
            log(f"[{futures[f]}] failed: {e}")
            first = first or e
            continue
        if on_done is not None:
            on_done(f)
    if first is not None:
        raise first
