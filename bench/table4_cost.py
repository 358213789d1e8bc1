"""What one seed of each Table 4 cell costs at the paper's budget on this CPU, before spending it:
a few training iterations and one scoring batch of each model as ``genflows table anomaly --budget
paper`` configures it, timed and projected to the full run.

    python bench/table4_cost.py --data-root DATA [--models lfbm-mcmc,abp,lebm,vae,lfbm-vae]
        [--holdout 4] [--iters 20] [--images 100] [--threads 1]

Each model trains ``--iters`` iterations of the paper's schedule (``train.max_iters``; the rate
counts the first one's set-up too, so it errs long) and scores ``--images`` test images with the paper's
400-step chain in one batch; the projection multiplies by the schedule's iterations (epochs x
batches of the held-out digit's training normals) and by the test split, once for the clean pass
and once for the reference code's (the same number of images: its leaked training images replace
test normals). Models whose score has no chain (the VAEs) score every image once. ``--threads 1``
is how ``lfbm_table4.py paper --jobs 2`` runs each seed on 2 cores. Time it on an otherwise idle
machine; a busy core beside inflates every row alike. Appends one record per run to
``results/table4-cost.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import torch  # noqa: E402

from genflows.data import load_anomaly_split  # noqa: E402
from genflows.hardware import describe_cpu  # noqa: E402
from genflows.runner import load_model, run  # noqa: E402
from genflows.table import BUDGETS, anomaly_cfgs  # noqa: E402
from genflows.tasks.anomaly import anomaly_scores  # noqa: E402


def cost(model: str, args, tmp: Path) -> dict:
    """One model's measured rates and the full seed-run they imply."""
    steps = int(next(o for o in BUDGETS["paper"]["overrides"] if o.startswith("anomaly.score_steps=")).split("=")[1])
    ov = [f"train.max_iters={args.iters}", "train.epochs=1", f"train.threads={args.threads}", "anomaly.score_subset=2",
          "anomaly.score_steps=1", "anomaly.score_checkpoints=[]", "anomaly.track_every=0", "watch.tensorboard=false"]
    (key, cfg), = anomaly_cfgs(tmp / model, "paper", models=[model], holdouts=[args.holdout], seeds=1,
                               data_root=args.data_root, extra_overrides=ov).items()
    paper_cfg = anomaly_cfgs(tmp / "paper", "paper", models=[model], holdouts=[args.holdout], seeds=1, data_root=args.data_root)[key]
    run(cfg, log=lambda _: None)
    history = json.loads((Path(cfg.out) / "metrics.json").read_text())
    split = load_anomaly_split(paper_cfg.data.name, paper_cfg.data.holdout, paper_cfg.data.protocol, paper_cfg.data.root)
    iters_per_epoch = len(split.train) // paper_cfg.train.batch_size  # the trainer drops a last partial batch
    train_s = history["train_seconds"]
    per_iter = train_s / args.iters  # the first iteration included: a bound from above

    _, m = load_model(cfg.out, "checkpoint.pt")
    torch.set_num_threads(args.threads)
    x = split.test[: args.images]
    t = time.perf_counter()
    anomaly_scores(m, x, steps, paper_cfg.anomaly.score_step_size, batch_size=args.images, seed=0)
    per_image = (time.perf_counter() - t) / args.images
    n_test = len(split.test)
    train_h = per_iter * iters_per_epoch * paper_cfg.train.epochs / 3600
    score_h = per_image * n_test / 3600
    return {"model": model, "holdout": args.holdout, "train_iters_timed": args.iters, "seconds_per_iteration": per_iter,
            "iterations": iters_per_epoch * paper_cfg.train.epochs, "score_steps": steps, "seconds_per_image": per_image,
            "test_images": n_test, "train_h": train_h, "clean_h": score_h, "reference_h": score_h,
            "seed_run_h": train_h + 2 * score_h, "chain_dtype": history.get("chain_dtype")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", required=True)
    ap.add_argument("--models", default="lfbm-mcmc,abp,lebm,vae,lfbm-vae")
    ap.add_argument("--holdout", type=int, default=4)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--note", default="", help="what else ran on the machine")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            rows.append(cost(model, args, Path(tmp)))
            r = rows[-1]
            print(f"{model}: {r['seconds_per_iteration']:.2f} s/iteration, {r['seconds_per_image']:.3f} s/image -> "
                  f"training {r['train_h']:.1f} h + 2 x {r['clean_h']:.1f} h scoring = {r['seed_run_h']:.1f} h per seed", flush=True)
    record = {"date": time.strftime("%Y-%m-%d %H:%M"), **describe_cpu(), "threads": args.threads, "torch": torch.__version__,
              "note": args.note, "rows": rows}
    with open(HERE / "results" / "table4-cost.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
