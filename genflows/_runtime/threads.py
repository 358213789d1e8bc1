"""How many CPU threads a run uses when the user does not say: one per core that no other
process is using when it starts.

Why: torch's OpenMP threads spin while they wait for each other, so a run with one thread per
core beside another busy process waits for the core it cannot get: 2.0-3.2x slower on a 2-core
AMD EPYC, 3.3x to over 11x on a 2-core Intel Xeon (docs/results.md, runs beside a busy core),
reported 40x on another Xeon; waiting passively instead cost 3.4x on an idle machine. A thread
count that leaves the busy cores alone avoids both. An explicit ``--threads``
(``train.threads``), ``OMP_NUM_THREADS`` or ``GENFLOWS_THREADS`` always wins.

>>> 1 <= default_threads() <= available_cores()
True
"""

from __future__ import annotations

import os
import time

__all__ = ["available_cores", "busy_elsewhere", "default_threads", "choose_threads", "threads_per_job"]


def _cores() -> set[int]:
    try:
        return set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return set(range(os.cpu_count() or 1))


def available_cores() -> int:
    """Cores this process may run on (its affinity mask, e.g. a container's share)."""
    return len(_cores())


def _cpu_times(cores: set[int]) -> tuple[float, float] | None:
    """(busy, total) jiffies of ``cores`` from /proc/stat; None where there is none."""
    busy = total = 0.0
    try:
        with open("/proc/stat") as f:
            for line in f:
                name, *values = line.split()
                if not (name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cores):
                    continue
                v = [float(x) for x in values]
                idle = v[3] + (v[4] if len(v) > 4 else 0.0)  # idle + iowait
                busy, total = busy + sum(v) - idle, total + sum(v)
    except (OSError, ValueError):
        return None
    return (busy, total) if total > 0 else None


def busy_elsewhere(interval: float = 0.2) -> float:
    """Cores of this process's share kept busy by other processes over ``interval`` seconds
    (this process sleeps meanwhile; what little it used is taken off); 0.0 without /proc/stat."""
    cores = _cores()
    a, own = _cpu_times(cores), time.process_time()
    time.sleep(interval)
    b = _cpu_times(cores)
    if a is None or b is None or b[1] <= a[1]:
        return 0.0
    busy = (b[0] - a[0]) / (b[1] - a[1]) * len(cores) - (time.process_time() - own) / interval
    return max(0.0, busy)


def default_threads(interval: float = 0.2) -> int:
    """One thread per available core not busy elsewhere (at least one)."""
    return max(1, min(available_cores(), available_cores() - round(busy_elsewhere(interval))))


def choose_threads(requested: int | None) -> tuple[int | None, str]:
    """(threads to set, or None to keep torch's, and why): ``requested`` (``--threads``) first,
    then ``OMP_NUM_THREADS`` / ``GENFLOWS_THREADS``, else :func:`default_threads` when some
    core is busy elsewhere."""
    if requested:
        return requested, "--threads"
    for var in ("GENFLOWS_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(var, "").strip().isdigit() and int(os.environ[var]) > 0:
            return int(os.environ[var]), var
    n = default_threads()
    if n < available_cores():
        return n, f"{available_cores() - n} of {available_cores()} cores busy elsewhere"
    return None, "every core free"


def threads_per_job(jobs: int, units: int) -> int:
    """Threads for each of ``jobs`` processes running ``units`` runs side by side: the free
    cores (as :func:`choose_threads` finds them) split between the processes that will run."""
    return max(1, (choose_threads(None)[0] or available_cores()) // min(jobs, units))
