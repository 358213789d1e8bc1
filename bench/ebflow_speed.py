"""EBFlow's cost per training iteration for each objective, and how it grows with the dimension D.

    python bench/ebflow_speed.py [--dims 784,3072,6144] [--batch 100] [--repeats 5] [--threads 2] [--tag NAME]

EBFlow's argument (Chao et al. 2023) is O(D^2) per linear layer for score matching against
O(D^3) for maximum likelihood, which needs each D x D layer's log-determinant. One iteration =
loss, backward and the RMSprop update of the FC model (two D x D linear layers), on random 8-bit
images of D pixels (the cost does not depend on their content); median of ``--repeats`` after one
warm-up. Writes ``bench/results/ebflow-speed[-TAG].json`` and a log-log plot beside it, CPU named.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from genflows._runtime.io import write_json  # noqa: E402
from genflows._runtime.output import pyplot  # noqa: E402
from genflows.ebflow import OBJECTIVES, EBFlow  # noqa: E402
from genflows.hardware import describe_cpu  # noqa: E402


def one(dim: int, loss: str, batch: int, repeats: int) -> float:
    torch.manual_seed(0)
    model = EBFlow(dim=dim, data_shape=(1, 1, dim), loss=loss, newton_iters=100)  # 8-bit images of D pixels
    opt = model.make_optimizer(model.parameter_groups())
    x = torch.randint(0, 256, (batch, 1, 1, dim)).float() / 127.5 - 1
    times = []
    for r in range(repeats + 1):
        t = time.perf_counter()
        value, _ = model.training_loss(x)
        opt.zero_grad(set_to_none=True)
        value.backward()
        opt.step()
        model.after_step()
        if r:  # the first is a warm-up
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dims", default="784,3072,6144")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tag", default="")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dims = [int(d) for d in a.dims.split(",")]
    rows = []
    for dim in dims:
        for loss in OBJECTIVES:
            s = one(dim, loss, a.batch, a.repeats)
            rows.append({"dim": dim, "loss": loss, "seconds": s})
            print(f"D {dim:>6}  {loss:<6} {s * 1000:9.1f} ms/iteration", flush=True)
    stem = "ebflow-speed" + (f"-{a.tag}" if a.tag else "")
    cpu = describe_cpu()
    write_json(HERE / "results" / f"{stem}.json", {"command": " ".join(["python bench/ebflow_speed.py", *sys.argv[1:]]), **cpu, "threads": a.threads,
                                                 "batch": a.batch, "repeats": a.repeats, "date": time.strftime("%Y-%m-%d"), "rows": rows})
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    for loss in OBJECTIVES:
        ax.loglog(dims, [r["seconds"] * 1000 for r in rows if r["loss"] == loss], "o-", label=loss)
    ax.set_xlabel("D (pixels)")
    ax.set_ylabel("ms per iteration")
    ax.set_title(f"EBFlow FC, batch {a.batch}: {cpu['cpu']} ({cpu['capability']}), {a.threads} threads", fontsize=7)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(HERE / "results" / f"{stem}.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
