"""A default run on an idle machine and beside one busy core, with torch's OpenMP threads
waiting as OpenMP does by default (spinning first) and passively (``OMP_WAIT_POLICY=PASSIVE``):
whether a run keeps its speed when another process holds a core, and what passive waiting
costs on an idle machine.

    python bench/shared_machine.py [--repeats 3] [--mnist-train-size 5000]

Jobs: the README's main job (digits, ``genflows run lfbm-mcmc --task anomaly --holdout 4``) and
one MNIST anomaly training epoch on the first ``--mnist-train-size`` normal images (its scoring
cut to 100 images). Each row runs the job as a user would (no ``--threads``), interleaved over
the four conditions, median wall time of ``--repeats``. "Busy" is one other process spinning on
one core for the whole run. Writes ``results/shared-machine.json``.
"""

from __future__ import annotations

import argparse
import json
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
        return ["run", "lfbm-mcmc", "--task", "anomaly", "--holdout", "4"]
    return ["run", "lfbm-mcmc", "--task", "anomaly", "--holdout", "4", "--data", "mnist", "--data-root", args.data_root,
            "--epochs", "1", "--set", f"data.train_size={args.mnist_train_size}", "--set", "anomaly.score_subset=100",
            "--set", "anomaly.track_every=0", "--set", "anomaly.score_steps=30", "--set", "anomaly.score_checkpoints=[]"]


def one(name: str, wait: str, busy: bool, args) -> float:
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    if wait == "passive":
        env["OMP_WAIT_POLICY"] = "PASSIVE"  # "spin": OpenMP's own default
    spinner = subprocess.Popen([sys.executable, "-c", SPIN]) if busy else None
    try:
        time.sleep(0.2 if busy else 0)
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "genflows", *job_args(name, args), "--out", str(Path(tmp) / "run")],
                           env=env, cwd=tmp, check=True, capture_output=True)
            return time.perf_counter() - t
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--jobs", default="digits,mnist")
    ap.add_argument("--mnist-train-size", type=int, default=5000)
    ap.add_argument("--data-root", default=os.environ.get("GENFLOWS_DATA", str(HERE.parent.parent / "shared" / "data")))
    ap.add_argument("--out", default=str(HERE / "results" / "shared-machine.json"))
    args = ap.parse_args()
    conditions = [(w, b) for b in (False, True) for w in ("spin", "passive")]
    rows = []
    for name in args.jobs.split(","):
        times: dict = {c: [] for c in conditions}
        for r in range(args.repeats):
            for c in conditions if r % 2 == 0 else conditions[::-1]:
                times[c].append(one(name, *c, args))
                print(name, c, f"{times[c][-1]:.2f}s", flush=True)
        med = {c: statistics.median(v) for c, v in times.items()}
        for (w, b), v in times.items():
            rows.append({"job": name, "wait": w, "busy_core": b, "wall_s": med[(w, b)], "runs": v,
                         "vs_idle_same_wait": med[(w, b)] / med[(w, False)], "vs_idle_spin": med[(w, b)] / med[("spin", False)]})
    cpu = describe_cpu()
    cpu["threads"] = os.cpu_count()  # the runs use torch's default: one thread per core
    write_json(Path(args.out), {"date": time.strftime("%Y-%m-%d"), **cpu, "repeats": args.repeats,
                                "mnist_train_size": args.mnist_train_size, "rows": rows})
    for r in rows:
        print(json.dumps({k: v for k, v in r.items() if k != "runs"}))


if __name__ == "__main__":
    main()
