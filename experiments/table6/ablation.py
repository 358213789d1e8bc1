"""CoopFlow paper, Tables 6 and 7: the ablation on MNIST / Fashion-MNIST at CPU scale.

Trains the flow alone (``flow``), the short-run EBM from noise (``ebm-sr``) and CoopFlow
(``coopflow-pre``: the flow pretrained, then CoopFlow) with the same flow and the same EBM architecture (``configs/coopflow-mnist.yaml``
sizes), each by ``genflows run MODEL --task generation`` (FID of N samples vs N test images; for
CoopFlow also the FID of its flow q_alpha alone), then reconstructs the first ``--n-recon`` test
images with the two models that have a Langevin flow (x_hat* by 200 Adam steps, Section 5.3 /
A.8) and records the per-pixel MSE (``--n-recon 0``: FIDs only). Results: ``experiments/results/coopflow-ablation-<data>[-<tag>].json``
/ ``.md``, beside the paper's CIFAR-10 numbers for orientation, and the sample grids behind the FIDs in
``…-samples.png`` (they outlive the run folders).

    python experiments/coopflow_table6.py ablation --data-root ../shared/data
    python experiments/coopflow_table6.py ablation --data fashion-mnist --epochs 3 --fid-n 500

Run folders go to ``experiments/runs/coop-ablation-<data>[-<tag>]/``; finished parts are read back.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

EXPERIMENTS = Path(__file__).resolve().parents[1]
ROOT = EXPERIMENTS.parent
CONFIG = ROOT / "configs" / "coopflow-mnist.yaml"
PAPER = {  # CIFAR-10, CoopFlow paper Table 6 (FID) and Table 7 (per-pixel MSE, 1000 test images)
    "flow": {"fid": 92.10, "mse": None},
    "ebm-sr": {"fid": 49.51, "mse": 0.1083},
    "coopflow": {"fid": 21.16, "mse": 0.0254},
    "coopflow-pre": {"fid": 21.16, "mse": 0.0254},  # Table 6/7 name no variant; Table 1: CoopFlow(Pre) 15.80
}
# Per-model settings on top of the config: the short-run EBM gets about the wall time of
# CoopFlow's EBM phases (its T = 100 chain costs 3.5 s per iteration at width 8, 2 threads).
PER_MODEL = {"ebm-sr": ["train.epochs=2"]}


N_RECON = 20  # test images reconstructed by default


def train(model: str, args, out: Path) -> dict:
    metrics = out / "metrics.json"
    if not metrics.is_file():
        cmd = [sys.executable, "-m", "genflows", "run", model, "--task", "generation", "--config", str(CONFIG),
               "--data", args.data, "--threads", str(args.threads), "--out", str(out), "--set", f"eval.fid_n={args.fid_n}"]
        if args.data_root:
            cmd += ["--data-root", args.data_root]
        if args.epochs:
            cmd += ["--epochs", str(args.epochs)]
        for s in [*PER_MODEL.get(model, []), *args.set]:
            cmd += ["--set", s]
        print(" ".join(cmd[2:]), flush=True)
        subprocess.run(cmd, check=True, cwd=ROOT)
    return json.loads(metrics.read_text())


def reconstruct(out: Path, n: int, threads: int, lr: float | None = None, iters: int | None = None, starts: int = 1,
                protocol: str | None = None) -> dict:
    """x_hat* reconstruction of the first n test images by the trained model in ``out``; ``lr`` and
    ``iters`` replace the config's ``eval.invert_lr`` / ``eval.invert_iters`` (the paper gives 200
    steps of gradient descent and no step size); ``starts`` is ``eval.invert_starts``, the starting
    points drawn per image (the paper: 1); ``protocol`` replaces ``eval.recon_protocol`` (``paper``: the
    authors' test script, see docs/log.md). A finished result for the same n, lr, steps and starts is
    read back (also from the config-default file ``reconstruction.json``); ``x_hat_box`` marks results
    of the projected optimisation (``CoopFlow.invert`` keeps x_hat in the data range since
    2026-11-30), so older files are recomputed."""
    named = (("lr", lr), ("it", iters), ("starts", starts if starts > 1 else None), ("n", n if n != N_RECON else None))
    suffix = "".join(f"-{k}{v:g}" for k, v in named if v is not None) + (f"-{protocol}" if protocol else "")  # one file per setting: a rerun never overwrites another
    path = out / f"reconstruction{suffix}.json"
    for cached in (path, *([] if protocol else [out / "reconstruction.json"])):
        if cached.is_file():
            r = json.loads(cached.read_text())
            if r["n"] == n and r.get("protocol") == protocol and r.get("x_hat_box") and (lr is None or r["invert_lr"] == lr) and (iters is None or r["invert_iters"] == iters) and r.get("invert_starts", 1) == starts:
                return r
    import torch

    from genflows._runtime.io import write_json
    from genflows.runner import load_model
    from genflows.tasks._fit import run_data
    from genflows.coopflow.inversion import recipe_for
    from genflows.tasks.reconstruction import reconstruction_mse

    torch.set_num_threads(threads)
    cfg, model = load_model(out)
    if lr is not None:
        cfg.eval.invert_lr = lr
    if iters is not None:
        cfg.eval.invert_iters = iters
    cfg.eval.invert_starts = starts
    if protocol:  # the protocol's own lr unless one is given (the config pins the adam protocol's 0.03)
        cfg.eval.recon_protocol = protocol
        cfg.eval.invert_lr = lr
    _, test_x = run_data(cfg)
    x = test_x[:n]
    t0 = time.perf_counter()
    x_hat, curve, how = model.reconstruct_batched(x, None, cfg.eval, cfg.train.seed)
    recipe = recipe_for(cfg.eval, "reconstruct")  # what was run: the protocol's lr / steps unless replaced
    per_image, unit = reconstruction_mse(x, x_hat, cfg.eval.recon_protocol)  # the reconstruction task's unit
    res = {"mse": float(per_image.mean()), "mse_per_image": per_image.tolist(), "n": int(x.shape[0]), "inference": how, "mse_curve": curve,
           "seconds": time.perf_counter() - t0, "x_hat_box": True, "invert_iters": recipe.iters, "invert_lr": recipe.lr, "invert_starts": starts,
           "protocol": protocol, "recon_protocol": cfg.eval.recon_protocol, "mse_unit": unit}
    write_json(path, res)
    print(f"  reconstruction MSE {res['mse']:.4f} ({res['seconds']:.0f} s)", flush=True)
    return res


def plot_curves(curves: dict[str, list], path: Path, what: str) -> None:
    """Figure 13: the mean per-pixel reconstruction MSE over the x_hat iterations, one line per model."""
    from genflows._runtime.output import RunDir, pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for model, curve in curves.items():
        ax.plot([k for k, _ in curve], [v for _, v in curve], label=model)
    ax.set(xlabel="x̂ iteration", ylabel="MSE per pixel", yscale="log", title=f"Reconstruction error, {what}")
    ax.legend()
    RunDir(path.parent).figure(path.name, fig)


def lr_grid(text: str) -> list[float]:
    """'0.01,0.03' -> [0.01, 0.03]: the x_hat learning rates every model is reconstructed with."""
    try:
        grid = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected positive numbers separated by commas, got {text!r}") from None
    if not grid or min(grid) <= 0:
        raise argparse.ArgumentTypeError(f"learning rates must be > 0, got {text!r}")
    return grid


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="mnist", choices=["mnist", "fashion-mnist"])
    ap.add_argument("--data-root", default=os.environ.get("GENFLOWS_DATA"))
    ap.add_argument("--epochs", type=int, default=None, help="default: the config's")
    ap.add_argument("--fid-n", type=int, default=1000)
    ap.add_argument("--n-recon", type=int, default=N_RECON, help="test images reconstructed (paper 1000; one x_hat iteration of 20 images costs ~1.2 s for T = 30; 0: FIDs only)")
    ap.add_argument("--invert-lr", type=lr_grid, default=[None], help="Adam lr of the x_hat optimisation, or a comma list: each model is reconstructed at every lr "
                    "and its best is reported, the same grid for all (default: the config's eval.invert_lr)")
    ap.add_argument("--invert-iters", type=int, default=None, help="its steps (default: the config's eval.invert_iters, 200 as in A.8)")
    ap.add_argument("--invert-starts", type=int, default=1, help="starting points drawn per image, the one F_theta maps closest to the image kept "
                    "(eval.invert_starts; default 1, the paper's protocol, whatever the config says)")
    ap.add_argument("--recon-protocol", default=None, choices=["paper", "adam"],
                    help="eval.recon_protocol for the reconstruction (default: the config's); results get a -PROTOCOL suffix")
    ap.add_argument("--models", nargs="+", default=["flow", "coopflow-pre", "ebm-sr"])
    ap.add_argument("--set", action="append", default=[], help="extra config override for every model")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tag", default="", help="suffix of the run and result names, for variants")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if args.n_recon < 0:
        ap.error(f"--n-recon must be >= 0 (0: no reconstruction), got {args.n_recon}")
    if args.invert_starts < 1:
        ap.error(f"--invert-starts must be >= 1, got {args.invert_starts}")
    name = f"coop-ablation-{args.data}" + (f"-{args.tag}" if args.tag else "")
    runs = Path(args.out) if args.out else EXPERIMENTS / "runs" / name
    rows = []
    for model in args.models:
        m = train(model, args, runs / model)
        row = {"model": model, "fid": m["fid"], "fid_flow": m.get("fid_flow"), "fid_n": m["fid_n"], "epochs": m["epochs"],
               "n_train": m["n_train"], "train_seconds": m["train_seconds"], "fid_seconds": m.get("fid_seconds"),
               "threads": m["torch_threads"], "mse": None, "recon_seconds": None,
               # eval.val_fid_every: the epoch chosen by FID against held-out training images, and that curve
               "selected_epoch": m.get("selected_epoch"), "val_fid": {h["epoch"]: h["val_fid"] for h in m["history"] if "val_fid" in h}}
        if model != "flow" and args.n_recon:  # the flow alone is invertible: its reconstruction is exact, nothing to compare
            grid = [reconstruct(runs / model, args.n_recon, args.threads, lr, args.invert_iters, args.invert_starts, args.recon_protocol) for lr in args.invert_lr]
            r = min(grid, key=lambda g: g["mse"])  # the paper gives no step size: each model at its best lr of one grid
            row.update(mse=r["mse"], recon_n=r["n"], recon_seconds=r["seconds"], invert_iters=r["invert_iters"], invert_lr=r["invert_lr"], mse_curve=r["mse_curve"],
                       mse_by_lr={f"{g['invert_lr']:g}": g["mse"] for g in grid})
        rows.append(row)
    from genflows._runtime.io import write_json, write_text  # atomic: a failed run leaves the last table intact

    results = EXPERIMENTS / "results"
    results.mkdir(exist_ok=True)
    stem = results / (name.replace("coop-", "coopflow-", 1) + (f"-recon-{args.recon_protocol}" if args.recon_protocol else ""))
    info = {"date": time.strftime("%Y-%m-%d"), "data": args.data, "recon_protocol": args.recon_protocol or "adam", "invert_starts": args.invert_starts, "invert_lr_grid": sorted({lr for r in rows for lr in r.get("mse_by_lr", {})}, key=float), "config": str(CONFIG.relative_to(ROOT)), "overrides": args.set, "per_model": PER_MODEL,
            "paper_cifar10": PAPER, "runs": rows}
    write_json(stem.with_suffix(".json"), info)

    def f(v, p=2):
        return "–" if v is None else f"{v:.{p}f}"

    n_fid = rows[0]["fid_n"]
    iters = next((r["invert_iters"] for r in rows if r.get("invert_iters")), "–")
    grid = info["invert_lr_grid"]
    recon_lr = f" (lr {grid[0]})" if len(grid) == 1 else f" at each lr of {{{', '.join(grid)}}}, the best per model" if grid else ""
    lines = [f"CoopFlow ablation on {args.data} ({info['date']}, {rows[0]['threads']} threads, `{info['config']}`"
             + (f", {' '.join(args.set)}" if args.set else "") + f"): FID with N = {n_fid} samples vs {n_fid} test images; "
             f"reconstruction = per-pixel MSE on [-1, 1] of the first {args.n_recon} test images after {iters} {'gradient-descent steps (the paper protocol)' if args.recon_protocol == 'paper' else 'Adam steps'}{recon_lr} on x̂" + (f" from the best of {args.invert_starts} starts per image" if args.invert_starts > 1 else "") + "; "
             f"per model: {PER_MODEL}. "
             "Paper: CIFAR-10, FID of 50 000 samples (Table 6), MSE of 1000 images (Table 7).", "",
             "| model | FID (ours) | FID of its flow q_α | reconstruction MSE (ours) | MSE by x̂ lr | paper FID | paper MSE | epochs | train s | recon s (one lr) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    selecting = any(r["selected_epoch"] for r in rows)
    if selecting:  # model selection by validation FID: say which epoch each model is
        lines[-2] += " selected epoch (validation FID by epoch) |"
        lines[-1] += "---|"
    for r in rows:
        p = PAPER[r["model"]]
        by_lr = ", ".join(f"{lr}: {v:.4f}" for lr, v in r.get("mse_by_lr", {}).items()) or "–"
        lines.append(f"| {r['model']} | {f(r['fid'])} | {f(r['fid_flow'])} | {f(r['mse'], 4)} | {by_lr} | {f(p['fid'])} | {f(p['mse'], 4)} "
                     f"| {r['epochs']} | {r['train_seconds']:.0f} | {f(r['recon_seconds'], 0)} |"
                     + (f" {r['selected_epoch']} ({', '.join(f'{e}: {v:.1f}' for e, v in r['val_fid'].items())}) |" if selecting else ""))
    write_text(stem.with_suffix(".md"), "\n".join(lines) + "\n")
    from sample_grids import compose  # experiments/: the grids behind these FIDs outlive the run folders

    panels = []
    for r in rows:
        panels.append((f"{r['model']}\nFID {f(r['fid'], 1)}", runs / r["model"] / "samples.png"))
        if r.get("fid_flow") is not None:
            panels.append((f"{r['model']}: its flow q_α\nFID {f(r['fid_flow'], 1)}", runs / r["model"] / "samples_flow.png"))
    compose(panels, results / (name.replace("coop-", "coopflow-", 1) + "-samples.png"),
            f"{name}: 64 samples each model drew after training, at its selected epoch (FID of {n_fid} samples vs {n_fid} test images in each title)")
    curves = {r["model"]: r["mse_curve"] for r in rows if r.get("mse_curve")}
    if curves:
        plot_curves(curves, stem.with_suffix(".png"), f"first {args.n_recon} {args.data} test images")
    print("\n".join(lines))


if __name__ == "__main__":
    from genflows.errors import guarded

    guarded(main, "coopflow_table6.py ablation")
