"""The tables of docs/results.md's "Speed" sections on the written-out chain gradients, bf16 chains,
the AMX Xeon and the one fast-gradient mechanism, generated from ``bench/results/speed-*``."""

from __future__ import annotations

import json
import statistics
from typing import Callable

from _records import B, record, root, side_runs

# Seams rows the document leaves out: lfbm-mcmc bf16 was measured while a test run shared the machine;
# the LEBM prior chain is shown in float32 only (its bf16 row takes the same 0.55 ms on both sides).
SEAMS_LEFT_OUT = {("lfbm-mcmc", "posterior", "bfloat16"), ("lebm", "prior", "bfloat16")}


def _bold(text: str, bold: bool) -> str:
    return f"**{text}**" if bold else text


def _jsonl(path: str) -> list[dict]:
    return [json.loads(line) for line in (root() / path).read_text().splitlines() if line.strip()]


def readme_performance() -> str:
    """README's per-CPU summary: the MNIST posterior step, its utilisation, the best scoring rate and the
    digits main job (speed-avx2-no-autograd.json, speed-no-autograd.json, speed-main-job-no-autograd.json)."""
    avx2, avx512 = record(f"{B}/speed-avx2-no-autograd.json"), record(f"{B}/speed-no-autograd.json")
    job512 = record(f"{B}/speed-main-job-no-autograd.json")["main_job"]["runs"]
    lines = ["| CPU (capability) | dtype | step ms | utilisation | scoring img/s (100 steps) | digits main job |", "|---|---|---|---|---|---|"]
    for r, job, name in ((avx2, avx2["main_job"]["runs"], "2-core AMD EPYC (AVX2)"), (avx512, job512, "2-core AMD EPYC (AVX512, native bf16)")):
        for i, x in enumerate(r["rows"]):
            cpu = f"{name}, {r['date'][:10]}" if i == 0 else "same"
            wall = f" {statistics.median(side_runs(job, 'now', 'wall_s')):.0f} s |" if x["dtype"] == "float32" else " |"
            score = x["score_images_per_s"][str(x["score_best_batch"])]
            lines.append(f"| {cpu} | {x['dtype']} | {x['langevin_step_ms']:.1f} | {x['utilisation']:.2f} | {score:.1f} |{wall}")
    return "\n".join(lines)


def main_job_no_autograd() -> str:
    """The digits main job now and at the baseline, runs in order (speed-main-job-no-autograd.json)."""
    r = record(f"{B}/speed-main-job-no-autograd.json")
    runs = r["main_job"]["runs"]
    lines = ["| | runs, s | median s | training s | scoring s |", "|---|---|---|---|---|"]
    for side, name in (("now", "now"), ("base", r["baseline"])):
        walls = side_runs(runs, side, "wall_s")
        med = f"{statistics.median(walls):.1f}"
        lines.append(f"| {name} | {', '.join(f'{w:.1f}' for w in walls)} | {_bold(med, side == 'now')} | "
                     f"{statistics.median(side_runs(runs, side, 'train_s')):.1f} | {statistics.median(side_runs(runs, side, 'score_s')):.1f} |")
    return "\n".join(lines)


def mnist_chains_no_autograd() -> str:
    """The MNIST chain rows against the baseline, float32 and bfloat16 (speed-no-autograd.json)."""
    rows = record(f"{B}/speed-no-autograd.json")["rows"]
    fastest = min(x["langevin_step_ms"] for x in rows)
    label = {"bfloat16": "bfloat16 (`auto` here)"}
    lines = ["| dtype | step ms (baseline) | utilisation (baseline) | products alone ms → utilisation they allow | train iter s (baseline) | "
             "scoring img/s (baseline at batch 500) | rate the products allow |", "|---|---|---|---|---|---|---|"]
    for x in rows:
        best = x["score_best_batch"]
        score = x["score_images_per_s"][str(best)]
        # The baseline was scored at batch 500 only: a ratio is shown where the best batch is the same.
        ratio = f", {score / x['base_score_images_per_s']:.2f}×" if best == 500 else ""
        step = _bold(f"{x['langevin_step_ms']:.1f}", x["langevin_step_ms"] == fastest)
        lines.append(f"| {label.get(x['dtype'], x['dtype'])} | {step} ({x['base_step_ms']:.1f}) | **{x['utilisation']:.2f}** ({x['base_utilisation']:.2f}) | "
                     f"{x['products_ms']:.1f} → {x['utilisation_ceiling']:.2f} | {x['train_iter_s']:.2f} ({x['base_train_iter_s']:.2f}) | "
                     f"{score:.1f} at batch {best} ({x['base_score_images_per_s']:.1f}){ratio} | "
                     f"{x['score_ceiling_images_per_s'][str(best)]:.1f} |")
    return "\n".join(lines)


def avx2_no_autograd() -> str:
    """Now against the baseline on the AVX2 EPYC: MNIST step, iteration, scoring, the main job (speed-avx2-no-autograd.json)."""
    r = record(f"{B}/speed-avx2-no-autograd.json")
    x = r["rows"][0]
    runs = r["main_job"]["runs"]
    best = x["score_best_batch"]

    def job(side: str) -> str:
        walls = side_runs(runs, side, "wall_s")
        med = f"{statistics.median(walls):.1f} s"
        return f"{', '.join(f'{w:.1f}' for w in walls)} s: median {_bold(med, side == 'now')}"

    def auprc(side: str) -> str:
        return ", ".join(f"{a:.3f}" for a in dict.fromkeys(side_runs(runs, side, "auprc")))

    lines = [f"| | now | {r['baseline']} |", "|---|---|---|",
             f"| MNIST posterior step, {x['dtype']}, batch 100 (median of {r['repeats']}) | {x['langevin_step_ms']:.1f} ms, utilisation "
             f"{x['utilisation']:.2f} (products alone {x['products_ms']:.1f} ms, ceiling {x['utilisation_ceiling']:.2f}) | "
             f"{x['base_step_ms']:.1f} ms, {x['base_utilisation']:.2f} |",
             f"| MNIST training iteration | {x['train_iter_s']:.2f} s | {x['base_train_iter_s']:.2f} s |",
             f"| MNIST scoring, 100 noise-free steps, batch {best} | {x['score_images_per_s'][str(best)]:.1f} images/s (the products allow "
             f"{x['score_ceiling_images_per_s'][str(best)]:.1f}) | {x['base_score_images_per_s']:.1f} images/s |",
             f"| digits main job end to end, runs in order | {job('now')} (training {statistics.median(side_runs(runs, 'now', 'train_s')):.1f} s) | "
             f"{job('base')} |",
             f"| its AUPRC (every run alike) | {auprc('now')} | {auprc('base')} |"]
    return "\n".join(lines)


def bf16_without_native() -> str:
    """Step time and the 2048² product's peak per chain dtype on the AVX2 EPYC (speed-dtypes.json)."""
    r = record(f"{B}/speed-dtypes.json")
    label = {"bfloat16": "bfloat16 (generator under autocast)"}
    lines = ["| dtype in the chain | step ms | peak of a 2048² product |", "|---|---|---|"]
    for x in r["rows"]:
        peak = r["peak_gflops"][x["dtype"]]
        # Two significant digits below 1 GFLOP/s (bf16 emulated in software).
        lines.append(f"| {label.get(x['dtype'], x['dtype'])} | {x['langevin_step_ms']:.1f} | {peak:.{1 if peak >= 1 else 2}f} GFLOP/s |")
    return "\n".join(lines)


def xeon_amx() -> str:
    """The MNIST chain per dtype on the AMX Xeon, the better dtype's times in bold (speed.json)."""
    r = record(f"{B}/speed.json")
    rows = r["rows"]
    batch = rows[0]["score_best_batch"]
    step = min(x["langevin_step_ms"] for x in rows)
    train = min(x["train_iter_s"] for x in rows)
    score = max(x["score_images_per_s"][str(batch)] for x in rows)
    lines = ["| dtype in the chain | step ms | utilisation | products alone ms (ceiling) | train iter s | implied epoch | "
             f"scoring img/s, 100 steps, batch {batch} |", "|---|---|---|---|---|---|---|"]
    for x in rows:
        s = x["score_images_per_s"][str(batch)]
        cells = (_bold(f"{x['langevin_step_ms']:.1f}", x["langevin_step_ms"] == step), _bold(f"{x['train_iter_s']:.3f}", x["train_iter_s"] == train),
                 _bold(f"{s:.1f}", s == score))
        lines.append(f"| {x['dtype']} (peak {r['peak_gflops'][x['dtype']]:.1f} GFLOP/s) | {cells[0]} | {x['utilisation']:.2f} | "
                     f"{x['products_ms']:.1f} ({x['utilisation_ceiling']:.2f}) | {cells[1]} | {x['epoch_min']:.1f} min | {cells[2]} |")
    return "\n".join(lines)


def seams_epyc() -> str:
    """Step and iteration time now and at a2ffcd3 per model, chain and dtype (speed-seams-epyc-2026-12-06.jsonl)."""
    rows = [x for x in _jsonl(f"{B}/speed-seams-epyc-2026-12-06.jsonl") if "model" in x]  # the other lines are main-job runs
    lines = ["| model | chain | dtype | step ms now | step ms before (a2ffcd3) | train iter s now | before |", "|---|---|---|---|---|---|---|"]
    for x in rows:
        if (x["model"], x["chain"], x["dtype"]) in SEAMS_LEFT_OUT:
            continue
        # A prior-chain row repeats its posterior row's training iteration: shown once.
        train = " | |" if x["chain"] == "prior" else f" {x['train_iter_s']:.3f} | {x['base_train_iter_s']:.3f} |"
        lines.append(f"| {x['model']} | {x['chain']} | {x['dtype']} | {x['langevin_step_ms']:.2f} | {x['base_step_ms']:.2f} |{train}")
    return "\n".join(lines)


TABLES: dict[str, Callable[[], str]] = {
    "readme-performance": readme_performance,
    "speed-main-job-no-autograd": main_job_no_autograd,
    "speed-mnist-chains-no-autograd": mnist_chains_no_autograd,
    "speed-avx2-no-autograd": avx2_no_autograd,
    "speed-bf16-without-native": bf16_without_native,
    "speed-xeon-amx": xeon_amx,
    "speed-seams-epyc": seams_epyc,
}
