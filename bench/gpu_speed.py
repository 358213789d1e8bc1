"""CoopFlow training speed at a Table 1 config's sizes on real 32x32 images, on the GPU.

Builds the model of ``--config`` (default configs/coopflow-cifar10.yaml: the authors' width-128
EBM, T = 30, batch 28), trains it by Algorithm 1 on the 20 CIFAR-10 test images that ship in
shared/data (repeated, randomly flipped, to whole batches) for ``--seconds`` per precision
(float32, then bf16 autocast as ``--amp``), and prints iterations/s (median over epochs of 20
iterations) and test-time sampling images/s. The numbers say what a GPU-hour buys; the images
are too few to say anything about quality.

    python bench/gpu_speed.py --data-root ../shared/data --seconds 60 [--config FILE] [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from genflows import Trainer, build_model, load_config
from genflows.data import load_dataset
from genflows.errors import guarded

HERE = Path(__file__).resolve().parent


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(cfg, images: torch.Tensor, device: torch.device, seconds: float, amp: bool) -> dict:
    torch.manual_seed(0)
    model = build_model(cfg, tuple(images.shape[1:])).to(device)
    bs = cfg.train.batch_size
    reps = -(-20 * bs // images.shape[0])
    data = images.repeat(reps, 1, 1, 1)[: 20 * bs]
    flip = torch.rand(data.shape[0]) < 0.5
    data[flip] = data[flip].flip(-1)
    train_cfg = cfg.train
    train_cfg.amp = amp
    trainer = Trainer(model, train_cfg, progress=False)
    epoch_s, t_end = [], time.perf_counter() + seconds
    while time.perf_counter() < t_end or len(epoch_s) < 2:
        t0 = time.perf_counter()
        trainer.fit(data.to(device), epochs=trainer.epoch + 1)
        _sync(device)
        epoch_s.append(time.perf_counter() - t0)
    model.eval()
    with torch.no_grad():
        model.sample(bs)  # warm
        _sync(device)
        t0 = time.perf_counter()
        model.sample(4 * bs)
        _sync(device)
        sample_s = time.perf_counter() - t0
    steady = epoch_s[1:]  # the first epoch holds the flow's data initialisation and warm-up
    return {"amp": amp, "epochs": len(epoch_s), "iters_per_s": 20 / statistics.median(steady), "first_epoch_s": epoch_s[0],
            "sample_images_per_s": 4 * bs / sample_s,
            "peak_memory_gib": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=str(HERE.parent / "configs" / "coopflow-cifar10.yaml"))
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--out", default=None, help="also write the JSON here")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override (e.g. a small check on the CPU)")
    args = ap.parse_args()
    device = torch.device(args.device)
    cfg = load_config(config_file=args.config, overrides=args.set)
    images, _ = load_dataset("cifar10-samples", args.data_root)
    n_ebm = sum(p.numel() for p in build_model(cfg, tuple(images.shape[1:])).energy.parameters())
    rows = [measure(cfg, images, device, args.seconds, amp) for amp in ([False, True] if device.type == "cuda" else [False])]
    out = {"date": time.strftime("%Y-%m-%d"), "config": args.config, "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
           "torch": torch.__version__, "overrides": args.set, "batch_size": cfg.train.batch_size, "n_steps": cfg.coop.n_steps, "ebm_parameters": n_ebm, "rows": rows}
    print(json.dumps(out, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    guarded(main, "gpu_speed")
