"""Whether a default run keeps its speed when another process holds a core: each job run as a
user would (no ``--threads``), on an idle machine and beside one busy core, with today's thread
choice (``after``: one thread per core no other process is using, ``genflows/_runtime/threads.py``)
and the one it replaced (``before``: torch's default, one OpenMP thread per core, forced here
with ``GENFLOWS_THREADS``/``GENFLOWS_TEST_THREADS`` = the core count); ``passive`` adds torch's
default count with ``OMP_WAIT_POLICY=PASSIVE``; ``one`` forces one thread, the best a run can do
with one core free.

    python bench/shared_machine.py [--repeats 3] [--jobs digits,mnist,table,tests] [--modes before,after] [--cap S] [--out PATH]

Jobs: ``digits``, the README's main job (``genflows run lfbm-mcmc --task anomaly --holdout 4``);
``mnist``, one MNIST anomaly training epoch on the first ``--mnist-train-size`` normal images (its
scoring cut to 100 images); ``table``, ``genflows table anomaly`` at its quick budget for one model
and digit; ``tests``, ``pytest tests/priors tests/inference``. Conditions are interleaved, median
wall time of ``--repeats`` (interpreter start included); with ``--cap S`` a run still going after S
seconds is stopped, counts as infinitely long (a median that is infinite reads "over S") and that
condition is not repeated. "Busy" is one other process spinning
on one core for the whole run. Writes ``results/shared-machine.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from genflows.hardware import describe_cpu  # noqa: E402
from genflows._runtime.io import write_json  # noqa: E402

SPIN = "import time\nt = time.time()\nwhile time.time() - t < 3600: pass\n"


def job_args(name: str, args) -> list[str]:
    if name == "digits":
        return ["-m", "genflows", "run", "lfbm-mcmc", "--task", "anomaly", "--holdout", "4"]
    if name == "table":
        return ["-m", "genflows", "table", "anomaly", "--models", "abp", "--holdouts", "4", "--seeds", "1"]
    if name == "tests":
        return ["-m", "pytest", "-q", "-p", "no:cacheprovider", str(HERE.parent / "tests" / "priors"), str(HERE.parent / "tests" / "inference")]
    return ["-m", "genflows", "run", "lfbm-mcmc", "--task", "anomaly", "--holdout", "4", "--data", "mnist", "--data-root", args.data_root,
            "--epochs", "1", "--set", f"data.train_size={args.mnist_train_size}", "--set", "anomaly.score_subset=100",
            "--set", "anomaly.track_every=0", "--set", "anomaly.score_steps=30", "--set", "anomaly.score_checkpoints=[]"]


def one(name: str, mode: str, busy: bool, args) -> float:
    env = dict(os.environ)
    for var in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "GENFLOWS_THREADS", "GENFLOWS_TEST_THREADS"):
        env.pop(var, None)
    if mode in ("before", "passive"):  # torch's own default: one thread per core, whatever else runs
        env["GENFLOWS_THREADS"] = env["GENFLOWS_TEST_THREADS"] = str(os.cpu_count())
    if mode == "passive":
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    if mode == "one":  # the floor beside a busy core: all a run can have is the one free core
        env["GENFLOWS_THREADS"] = env["GENFLOWS_TEST_THREADS"] = "1"
    spinner = subprocess.Popen([sys.executable, "-c", SPIN]) if busy else None
    try:
        time.sleep(0.2 if busy else 0)
        with tempfile.TemporaryDirectory() as tmp:
            out = [] if name == "tests" else ["--out", str(Path(tmp) / "run")]
            t = time.perf_counter()
            try:
                subprocess.run([sys.executable, *job_args(name, args), *out], env=env, cwd=tmp, check=True, capture_output=True,
                               timeout=args.cap or None)
            except subprocess.TimeoutExpired:
                return math.inf
            return time.perf_counter() - t
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()


def finite(x: float) -> float | None:
    """JSON has no infinity: a run stopped at ``--cap`` is written as null."""
    return x if math.isfinite(x) else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--jobs", default="digits,mnist,table,tests")
    ap.add_argument("--modes", default="before,after")
    ap.add_argument("--cap", type=float, default=0, help="stop a run after this many seconds and record it as at least that long (0: never)")
    ap.add_argument("--mnist-train-size", type=int, default=5000)
    ap.add_argument("--data-root", default=os.environ.get("GENFLOWS_DATA", str(HERE.parent.parent / "shared" / "data")))
    ap.add_argument("--out", default=str(HERE / "results" / "shared-machine.json"))
    args = ap.parse_args()
    modes = args.modes.split(",")
    conditions = [(m, b) for b in (False, True) for m in modes]
    rows = []
    for name in args.jobs.split(","):
        times: dict = {c: [] for c in conditions}
        for r in range(args.repeats):
            for c in conditions if r % 2 == 0 else conditions[::-1]:
                if times[c] and not math.isfinite(times[c][0]):
                    continue  # its first run already passed the cap: more would only spend the cap again
                times[c].append(one(name, *c, args))
                print(name, c, f"{times[c][-1]:.2f}s", flush=True)
        med = {c: statistics.median(v) for c, v in times.items()}
        for (m, b), v in times.items():
            rows.append({"job": name, "mode": m, "busy_core": b, "wall_s": finite(med[(m, b)]),
                         "runs": [finite(x) for x in v], "vs_idle_same_mode": finite(med[(m, b)] / med[(m, False)]),
                         "vs_idle_before": finite(med[(m, b)] / med[("before", False)]) if "before" in modes else None})
    cpu = describe_cpu()
    cpu["cores"] = os.cpu_count()
    write_json(Path(args.out), {"date": time.strftime("%Y-%m-%d"), **cpu, "repeats": args.repeats, "cap_s": args.cap or None,
                                "mnist_train_size": args.mnist_train_size, "rows": rows})
    for r in rows:
        print(json.dumps({k: v for k, v in r.items() if k != "runs"}))


if __name__ == "__main__":
    main()
