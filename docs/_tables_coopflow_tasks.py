"""Tables of docs/results.md's "Reconstruction, inpainting and recovery on MNIST at CPU scale" section
(LFBM Tables 2, 3, 5, 6) and of the CoopFlow toy study and MNIST ablation sections."""

from __future__ import annotations

from typing import Callable

from _records import R, mean_sd, record, rows_of_csv
from genflows.table import PAPER  # the latent-flow paper's Tables 2, 3, 5, 6 (one copy)

# --------------------------------------------------------------------------- LFBM Tables 2, 3, 5, 6


def lfbm_tasks(task: str) -> str:
    """Reconstruction or inpainting MSE per model, from experiments/results/tables/{task}.csv."""
    lines = ["| model | MSE | paper |", "|---|---|---|"]
    for r in rows_of_csv(f"{R}/tables/{task}.csv"):
        lines.append(f"| {r['model']} | {float(r['mse_mean']):.4f} | {PAPER[task][1].get(r['model'], '')} |")
    return "\n".join(lines)


def lfbm_recovery() -> str:
    """Recovery MSE / FID per model and mask, from experiments/results/tables/recovery.csv."""
    rows = rows_of_csv(f"{R}/tables/recovery.csv")
    settings = list(dict.fromkeys(r["setting"] for r in rows))
    cell = {(r["model"], r["setting"]): f"{float(r['mse_mean']):.4f} / {float(r['fid_mean']):.1f}" for r in rows}
    lines = ["| model | " + " | ".join(settings) + " | paper |", "|---" * (len(settings) + 2) + "|"]
    for m in dict.fromkeys(r["model"] for r in rows):
        paper = ", ".join(PAPER["recovery"][1].get(m, []))
        lines.append(f"| {m} | " + " | ".join(cell[m, s] for s in settings) + f" | {paper} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- CoopFlow toy study

TOY = "coopflow-toy-spiral-noisy"


def _toy_runs() -> list[tuple[str, dict, float | None]]:
    """(row label, metrics with test chains with noise, MMD² of the noise-free test chains or None)."""
    d01 = {r["T"]: r for r in record(f"{R}/{TOY}-d01.json")["runs"]}

    def noisy(T: int) -> dict:
        # The same models rescored with noisy test chains; the flow alone keeps its training run's score.
        return {**d01[T], "mmd": record(f"{R}/{TOY}-d01-t{T}-testnoise.json")["mmd"]}

    return [("30 (the penalty 0.01)", record(f"{R}/{TOY}-t30-metrics.json"), None),
            ("100", noisy(100), d01[100]["mmd"]),
            ("100, penalty 0.001", record(f"{R}/{TOY}-d01-l2e-3.json")["runs"][0], None),
            ("500", noisy(500), d01[500]["mmd"]),
            ("10 000 (the paper's long run)", record(f"{R}/{TOY}-d01-t10000.json")["runs"][0], None),
            ("100, 4 epochs only", record(f"{R}/{TOY}-e4-t100-metrics.json"), None),
            ("500, 4 epochs only", record(f"{R}/{TOY}-e4-t500-metrics.json"), None)]


def coopflow_toy() -> str:
    """The spiral at each T, from coopflow-toy-spiral-noisy-{t30-metrics,d01,d01-t{100,500}-testnoise,
    d01-l2e-3,d01-t10000,e4-t{100,500}-metrics}.json."""
    runs = _toy_runs()
    full = [m for _, m, _ in runs if m["epochs"] == max(x["epochs"] for _, x, _ in runs)]
    # Bold: the best of the full-schedule runs in each measure of one network alone (4-epoch rings score
    # a low long-run MMD² that says nothing of the density).
    best = {"mmd_flow": min(m["mmd_flow"] for m in full), "ebm_density_corr": max(m["ebm_density_corr"] for m in full),
            "mmd_ebm_longrun": min(m["mmd_ebm_longrun"] for m in full)}

    def b(m: dict, key: str, fmt: str) -> str:
        text = format(m[key], fmt)
        return f"**{text}**" if m in full and m[key] == best[key] else text

    lines = ["| T | MMD² samples, test chains with noise | … noise-free (A.3) | MMD² flow q_α alone | EBM alone: density correlation | "
             "EBM alone: long-run MMD² | train s |", "|---|---|---|---|---|---|---|"]
    for label, m, free in runs:
        lines.append(f"| {label} | {m['mmd']:.4f} | {'–' if free is None else format(free, '.4f')} | {b(m, 'mmd_flow', '.4f')} | "
                     f"{b(m, 'ebm_density_corr', '.3f')} | {b(m, 'mmd_ebm_longrun', '.3g')} | {m['train_seconds']:.0f} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- CoopFlow ablation on MNIST

SEEDS = (1, 2, 3)
EARLIER = "earlier recipe ([log](log.md#ablation-on-mnist-at-cpu-scale-with-the-earlier-recipe-2026-11-30))"


def _mse(v: float) -> str:
    """Four decimals, or two significant figures below 0.001 (one-start `paper` reconstructions)."""
    return f"{v:.4f}" if v >= 1e-3 else f"{v:.2g}"


def _run(path: str, model: str) -> dict:
    """The run of ``model`` in an ablation record."""
    return next(r for r in record(path)["runs"] if r["model"] == model)


def coopflow_ablation() -> str:
    """Flow alone against CoopFlow(Pre), seeds 1-3, from coopflow-ablation-mnist-recipe-seedS{,-recon-paper}.json,
    and the earlier recipe's row from coopflow-seeds-mnist-s13-sel.json."""
    flow = [_run(f"{R}/coopflow-ablation-mnist-recipe-seed{s}.json", "flow") for s in SEEDS]
    coop = [_run(f"{R}/coopflow-ablation-mnist-recipe-seed{s}.json", "coopflow-pre") for s in SEEDS]
    paper = [_run(f"{R}/coopflow-ablation-mnist-recipe-seed{s}-recon-paper.json", "coopflow-pre")["mse"] for s in SEEDS]
    best = min(r["fid"] for r in flow + coop)

    def fid(r: dict) -> str:
        # The schedule's one joint epoch is its last (14 flow, 3 EBM warm-up, 1 joint).
        epoch = f"{r['selected_epoch']}, joint" if r["model"] == "coopflow-pre" and r["selected_epoch"] == r["epochs"] else r["selected_epoch"]
        return (f"**{r['fid']:.1f}**" if r["fid"] == best else f"{r['fid']:.1f}") + f" ({epoch})"

    lines = ["| seed | flow alone: test FID (selected epoch) | CoopFlow(Pre): test FID (selected epoch) | its flow q_α | "
             "CoopFlow validation FID, epochs 15 / 16 / 17 / 18 | reconstruction MSE, `adam`, lr 0.03, 16 starts | "
             "reconstruction MSE, `paper` protocol, one start |", "|---|---|---|---|---|---|---|"]
    for s, f, c, p in zip(SEEDS, flow, coop, paper):
        val = " / ".join(f"{c['val_fid'][str(e)]:.1f}" for e in (15, 16, 17, 18))
        lines.append(f"| {s} | {fid(f)} | {fid(c)} | {c['fid_flow']:.1f} | {val} | {_mse(c['mse'])} | {_mse(p)} |")
    means = [mean_sd([r["fid"] for r in runs], 1) for runs in (flow, coop)]
    lowest = min(means, key=lambda t: float(t.split()[0]))
    fm, cm = (f"**{t}**" if t == lowest else t for t in means)
    lines.append(f"| mean ± sd | {fm} | {cm} | {mean_sd([r['fid_flow'] for r in coop], 1)} | | "
                 f"{mean_sd([r['mse'] for r in coop], 4)} | {mean_sd(paper, 4)} |")
    e = record(f"{R}/coopflow-seeds-mnist-s13-sel.json")["models"]
    lines.append(f"| {EARLIER} | {mean_sd(e['flow']['fid'], 1)} | {mean_sd(e['coopflow-pre']['fid'], 1)} | "
                 f"{mean_sd(e['coopflow-pre']['fid_flow'], 1)} | | {mean_sd(e['coopflow-pre']['mse'], 4)} | – |")
    return "\n".join(lines)


def coopflow_ablation_ebm_sr() -> str:
    """The short-run EBM, seeds 1-3, from coopflow-ablation-mnist-recipe-{ebmsr-,}seedS-recon-paper.json; the earlier
    recipe's from coopflow-ablation-mnist-s11-starts16.json (seed 1) and -s13-sel-seed3-ebm-sr-metrics.json."""
    ebm = [_run(f"{R}/coopflow-ablation-mnist-recipe-ebmsr-seed{s}-recon-paper.json", "ebm-sr") for s in SEEDS]
    coop = [_run(f"{R}/coopflow-ablation-mnist-recipe-seed{s}-recon-paper.json", "coopflow-pre")["mse"] for s in SEEDS]
    # The median and worst image of each one-start reconstruction were not kept with the records.
    lines = ["| seed | `ebm-sr` test FID | validation FID, epoch 2 | reconstruction MSE, `paper` protocol | CoopFlow(Pre), `paper` protocol |",
             "|---|---|---|---|---|"]
    for s, r, c in zip(SEEDS, ebm, coop):
        lines.append(f"| {s} | {r['fid']:.1f} | {r['val_fid'][str(r['epochs'])]:.1f} | {_mse(r['mse'])} | {_mse(c)} |")
    lines.append(f"| mean ± sd | **{mean_sd([r['fid'] for r in ebm], 1)}** | | {mean_sd([r['mse'] for r in ebm], 4)} | {mean_sd(coop, 4)} |")
    s1 = _run(f"{R}/coopflow-ablation-mnist-s11-starts16.json", "ebm-sr")  # seed 1, the earlier recipe, `adam` at its best lr
    s3 = record(f"{R}/coopflow-ablation-mnist-s13-sel-seed3-ebm-sr-metrics.json")
    lines.append(f"| earlier recipe | {s1['fid']:.1f} (seed 1), {s3['fid']:.1f} (seed 3) | | {_mse(s1['mse'])} (`adam`, seed 1) | |")
    return "\n".join(lines)


def coopflow_ablation_grids() -> str:
    """Each seed trained again to keep its sample grids (coopflow-ablation-mnist-grids-seedS.json), its FIDs beside
    the recorded runs' (…-recipe-seedS.json, …-recipe-ebmsr-seedS-recon-paper.json)."""
    lines = ["| seed | flow alone: recorded → rerun (epoch) | CoopFlow(Pre): recorded → rerun (epoch) | its flow q_α: "
             "recorded → rerun | short-run EBM: recorded → rerun | figure |", "|---|---|---|---|---|---|"]
    for s in SEEDS:
        path = f"{R}/coopflow-ablation-mnist-grids-seed{s}.json"
        was = {m: _run(f"{R}/coopflow-ablation-mnist-recipe-seed{s}.json", m) for m in ("flow", "coopflow-pre")}
        was["ebm-sr"] = _run(f"{R}/coopflow-ablation-mnist-recipe-ebmsr-seed{s}-recon-paper.json", "ebm-sr")
        now = {r["model"]: r for r in record(path)["runs"]}

        def pair(m: str, key: str = "fid", epoch: bool = True) -> str:
            sel = f" ({was[m]['selected_epoch']} → {now[m]['selected_epoch']})" if epoch else ""
            return f"{was[m][key]:.1f} → {now[m][key]:.1f}{sel}"

        lines.append(f"| {s} | {pair('flow')} | {pair('coopflow-pre')} | {pair('coopflow-pre', 'fid_flow', False)} | "
                     f"{pair('ebm-sr', epoch=False)} | [grids](../{path[:-5]}-samples.png) |")
    return "\n".join(lines)


TABLES: dict[str, Callable[[], str]] = {
    "lfbm-tasks-reconstruction": lambda: lfbm_tasks("reconstruction"),
    "lfbm-tasks-inpainting": lambda: lfbm_tasks("inpainting"),
    "lfbm-tasks-recovery": lfbm_recovery,
    "coopflow-toy": coopflow_toy,
    "coopflow-ablation-mnist": coopflow_ablation,
    "coopflow-ablation-mnist-ebm-sr": coopflow_ablation_ebm_sr,
    "coopflow-ablation-mnist-grids": coopflow_ablation_grids,
}
