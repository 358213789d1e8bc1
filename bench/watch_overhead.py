"""What watching a run costs: one MNIST anomaly epoch with TensorBoard off, on (default
``watch.every=10``) and on at every iteration, interleaved, median of N repeats.

    python bench/watch_overhead.py --data-root ROOT [--train-size 2000] [--repeats 3] [--threads 1]

Each repeat runs, in a fresh process, `genflows run lfbm-mcmc --config configs/lfbm-mcmc-mnist.yaml
--epochs 1 --set data.train_size=N` (N / 100 iterations; scoring cut to 200 test images and
5 steps, since scoring is not watched per step). The child times the watcher's own calls: the
per-iteration logging (``Watcher.iteration``: one sync, the scalar events), the epoch end
(``Watcher.epoch``: epoch scalars, the sample grid, curves.png, flush; curves.png is drawn with
TensorBoard off too) and the end of the run (``final``, ``anomaly``: PR curve, histograms), and
reads the epoch's training seconds from metrics.json (per-iteration logging is inside them, the
epoch end is not). Importing matplotlib and TensorBoard (once per process) is timed apart. Writes results/watch-overhead.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SETTINGS = {
    "off": ["--no-tensorboard"],
    "on (every 10)": [],
    "on (every 1)": ["--set", "watch.every=1"],
}


def child(argv: list[str], timing_file: str) -> None:
    """Run the CLI in this process with the watcher's methods timed."""
    from genflows.cli import main
    from genflows.watch import Watcher

    spent: dict[str, list[float]] = {}

    def timed(name):
        fn = getattr(Watcher, name)

        def wrapper(*a, **k):
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent.setdefault(name, []).append(time.perf_counter() - t0)

        setattr(Watcher, name, wrapper)

    for name in ("iteration", "epoch", "final", "anomaly"):
        timed(name)
    # One-time costs, paid by the first watched epoch of a process, timed apart from the steady state.
    t0 = time.perf_counter()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401

    spent["import_matplotlib"] = [time.perf_counter() - t0]
    t0 = time.perf_counter()
    import torch.utils.tensorboard  # noqa: F401

    spent["import_tensorboard"] = [time.perf_counter() - t0]
    t0 = time.perf_counter()
    try:
        main(argv)
    except SystemExit as e:
        if e.code:
            raise
    spent["process"] = [time.perf_counter() - t0]
    Path(timing_file).write_text(json.dumps(spent))


def one(setting: str, args, out: Path) -> dict:
    run = ["run", "lfbm-mcmc", "--config", str(HERE.parent / "configs" / "lfbm-mcmc-mnist.yaml"), "--data-root", args.data_root,
           "--epochs", "1", "--threads", str(args.threads), "--device", "cpu", "--out", str(out), "--no-progress",
           "--set", f"data.train_size={args.train_size}", "--set", "anomaly.score_subset=200", "--set", "anomaly.score_steps=5",
           "--set", "anomaly.score_checkpoints=[]", *SETTINGS[setting]]
    timing = out.parent / f"{out.name}-timing.json"
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    code = f"import sys; sys.path.insert(0, {str(HERE)!r}); import watch_overhead as w; w.child({run!r}, {str(timing)!r})"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if res.returncode:
        raise SystemExit(res.stderr[-2000:])
    spent = json.loads(timing.read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    events = sorted(p.name for p in out.glob("events.out.tfevents.*"))
    return {
        "train_seconds": metrics["history"][0]["seconds"],
        "iters": metrics["history"][0]["iters"],
        "iteration_calls": len(spent.get("iteration", [])),
        "iteration_seconds": sum(spent.get("iteration", [])),
        "iteration_call_seconds": spent.get("iteration", []),
        "import_seconds": {k.removeprefix("import_"): v[0] for k, v in spent.items() if k.startswith("import_")},
        "epoch_end_seconds": sum(spent.get("epoch", [])),
        "run_end_seconds": sum(spent.get("final", [])) + sum(spent.get("anomaly", [])),
        "process_seconds": spent["process"][0],
        "event_bytes": sum((out / e).stat().st_size for e in events),
        "out": str(out),
    }


def tags(run_dir: Path) -> dict:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "images": 0, "histograms": 0, "tensors": 0})
    acc.Reload()
    t = acc.Tags()
    return {k: sorted(t[k]) for k in ("scalars", "images", "histograms", "tensors")}


def cpu_name() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-root", required=True)
    ap.add_argument("--train-size", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import torch

    runs: dict[str, list[dict]] = {s: [] for s in SETTINGS}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):  # interleaved, so load from elsewhere hits every setting alike
            for i, s in enumerate(SETTINGS):
                runs[s].append(one(s, args, Path(tmp) / f"s{i}r{r}"))
                print(f"repeat {r + 1} {s}: {runs[s][-1]['train_seconds']:.2f} s", file=sys.stderr)
        tag_list = tags(Path(runs["on (every 1)"][0]["out"]))
    med = lambda s, k: statistics.median(r[k] for r in runs[s])  # noqa: E731
    # Per logging iteration: the median call (the first also opens the event file).
    per_log = {s: statistics.median(c for r in runs[s] for c in r["iteration_call_seconds"]) for s in SETTINGS if runs[s][0]["iteration_calls"]}
    imports = {k: statistics.median(r["import_seconds"][k] for s in SETTINGS for r in runs[s]) for k in ("matplotlib", "tensorboard")}
    iters = runs["off"][0]["iters"]
    result = {
        "command": f"python bench/watch_overhead.py --data-root ROOT --train-size {args.train_size} --repeats {args.repeats} --threads {args.threads}",
        "cpu": cpu_name(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": args.threads,
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d"),
        "iterations_per_epoch": iters,
        "median": {s: {k: med(s, k) for k in ("train_seconds", "epoch_end_seconds", "run_end_seconds", "process_seconds", "event_bytes")}
                   for s in SETTINGS},
        "seconds_per_logging_iteration": per_log,
        "import_seconds_once_per_process": imports,
        "runs": {s: [{k: v for k, v in r.items() if k != "out"} for r in runs[s]] for s in SETTINGS},
        "tags": tag_list,
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "watch-overhead.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"{result['cpu']} ({result['cpu_capability']}), {args.threads} thread(s), {iters} iterations per epoch, median of {args.repeats}\n")
    print("| TensorBoard | epoch training s | per logging iteration ms | epoch end s | run end s | events KB |")
    print("|---|---|---|---|---|---|")
    for s in SETTINGS:
        m = result["median"][s]
        pl = f"{per_log[s] * 1e3:.2f}" if s in per_log else "–"
        print(f"| {s} | {m['train_seconds']:.2f} | {pl} | {m['epoch_end_seconds']:.2f} | {m['run_end_seconds']:.2f} | {m['event_bytes'] / 1024:.0f} |")
    print(f"\nonce per process (first watched epoch): import matplotlib.pyplot {imports['matplotlib']:.2f} s, "
          f"torch.utils.tensorboard {imports['tensorboard']:.2f} s (TensorBoard on only)")


if __name__ == "__main__":
    main()
