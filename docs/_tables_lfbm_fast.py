"""The LFBM tables of docs/results.md at the fast (4-epoch) schedule: the default config over seeds, on an
AVX2 CPU, with chain BatchNorm statistics, with the epoch chosen on held-out normals, all five models at
digits 4, 5 and 7, and the first-epoch collapse study."""

from __future__ import annotations

import statistics
from typing import Callable

from _records import R, mean_sd, minus, record
from genflows.table import PAPER_TABLE4  # the paper's Table 4, one copy

STEPS = ("30", "50", "100", "200", "400")
FIVE_MODELS = ("vae", "lfbm-vae", "abp", "lfbm-mcmc", "lebm")
PAPER_DIGITS = (1, 4, 5, 7, 9)  # the columns of PAPER_TABLE4


def _signed(v: float, digits: int = 3) -> str:
    """``+0.002`` / ``−0.010``, with the document's Unicode minus."""
    return minus(f"{v:+.{digits}f}")


def lfbm_default_seeds() -> str:
    """AUPRC per scoring step: metrics-default-h4-seed{1-5}.json, score-default-h4-seed1-scoreseed{101,102}.json."""
    train = [record(f"{R}/metrics-default-h4-seed{s}.json")["auprc_at_steps"] for s in range(1, 6)]
    rescored = [train[0], *(record(f"{R}/score-default-h4-seed1-scoreseed{s}.json")["auprc_at_steps"] for s in (101, 102))]
    lines = ["| scoring steps | " + " | ".join(f"seed {s}" for s in range(1, 6)) + " | over training seeds | over scoring seeds (seed 1) |",
             "|---|---|---|---|---|---|---|---|"]
    for k in STEPS:
        lines.append(f"| {k} | " + " | ".join(f"{a[k]:.3f}" for a in train) + f" | {mean_sd([a[k] for a in train])} | "
                     f"{mean_sd([a[k] for a in rescored])} |")
    return "\n".join(lines)


def lfbm_no_native_bf16() -> str:
    """Seed 1 on AVX2 beside AVX-512 with bf16 chains: metrics-avx2-h4-seed1.json, metrics-default-h4-seed1.json."""
    avx2, bf16 = record(f"{R}/metrics-avx2-h4-seed1.json"), record(f"{R}/metrics-default-h4-seed1.json")
    both = (avx2, bf16)

    def epochs(m: dict, shared: int | None = None) -> str:
        return ", ".join(f"{h['seconds']:.0f}" + (" shared" if i == shared else "") for i, h in enumerate(m["history"]))

    def total(m: dict) -> str:
        return f"{(m['train_seconds'] + m['score_seconds']) / 60:.1f} min"

    n_epochs, n_test = len(avx2["history"]), f"{avx2['n_test']:,}".replace(",", " ")
    return "\n".join([
        "| | AVX2, float32 chains | AVX-512 with native bf16, bf16 chains |",
        "|---|---|---|",
        # Seed 1's third epoch on the bf16 machine ran beside a short test.
        f"| training (seconds per epoch) | {avx2['train_seconds']:.0f} s ({epochs(avx2)}) | {bf16['train_seconds']:.0f} s ({epochs(bf16, shared=2)}) |",
        f"| 400-step scoring of {n_test} images | {avx2['score_seconds']:.0f} s ({avx2['n_test'] / avx2['score_seconds']:.1f} images/s) | "
        f"{bf16['score_seconds']:.0f} s |",
        f"| training + scoring | **{total(avx2)}** | {total(bf16)} |",
        "| AUPRC at " + " / ".join(STEPS) + " steps | " + " | ".join(" / ".join(f"{m['auprc_at_steps'][k]:.3f}" for k in STEPS) for m in both) + " |",
        f"| generator loss's share of the mean image's, epochs 1-{n_epochs} | "
        + " | ".join(" / ".join(f"{h['gen_loss_vs_mean_image']:.3f}" for h in m["history"]) for m in both) + " |",
        f"| posterior displacement, epoch {n_epochs} | " + " | ".join(f"{m['history'][-1]['posterior_displacement']:.2f}" for m in both) + " |",
    ])


def lfbm_bn_chain_stats() -> str:
    """30-step AUPRC per seed with and without inference.bn_stats_from_chain: change-bnchain-lfbm-mcmc-mnist-h4.json."""
    rows = record(f"{R}/change-bnchain-lfbm-mcmc-mnist-h4.json")["rows"]
    diff = [x["changed"] - x["default"] for x in rows]
    lines = ["| seed | default (learning step only) | running statistics from every chain step | difference |", "|---|---|---|---|"]
    lines += [f"| {x['seed']} | {x['default']:.3f} | {x['changed']:.3f} | {_signed(d)} |" for x, d in zip(rows, diff)]
    lines.append(f"| mean ± sd | {mean_sd([x['default'] for x in rows])} | {mean_sd([x['changed'] for x in rows])} | {minus(mean_sd(diff))} |")
    return "\n".join(lines)


def lfbm_epoch_choice() -> str:
    """Per-epoch validation and test-subset scores, and the AUPRC of the last and chosen epoch: valsel-lfbm-mcmc-mnist-h4-summary.json."""
    r = record(f"{R}/valsel-lfbm-mcmc-mnist-h4-summary.json")
    n = len(next(iter(r["per_seed"].values()))["val_score"])
    lines = [f"| seed | validation score per epoch 1-{n} (lower fits better) | test-subset AUPRC per epoch (read only) | chosen epoch | "
             f"AUPRC, epoch {n} | AUPRC, chosen epoch |", "|---|---|---|---|---|---|"]
    for seed, x in r["per_seed"].items():
        val = " / ".join(minus(f"**{v:.1f}**" if e == x["val_best_epoch"] else f"{v:.1f}") for e, v in enumerate(x["val_score"], 1))
        track = " / ".join(f"{v:.3f}" for v in x["track_auprc_test_subset"])
        lines.append(f"| {seed} | {val} | {track} | {x['val_best_epoch']} | {x['auprc_last']:.3f} | {x['auprc_val_selected']:.3f} |")
    lines.append(f"| mean ± sd | | | | {mean_sd(r['auprc_last_epoch']['values'])} | **{mean_sd(r['auprc_val_selected']['values'])}** |")
    return "\n".join(lines)


def _paper_row(digit: int) -> str:
    """The paper's four Table 4 values at one digit, best model first, as the document lists them."""
    return " · ".join(f"{m} {PAPER_TABLE4[m][PAPER_DIGITS.index(digit)]}" for m in ("LFBM", "LEBM", "ABP", "VAE"))


def _span(v: list[float]) -> str:
    return f"{min(v):.0f}-{max(v):.0f}"


def _five_models(digit: int) -> tuple[list[str], dict]:
    """Row starts ``| model | seed 1-3 (shares) | mean ± sd`` of digit{digit}-five-models-4epochs.json, and its runs by model."""
    r = record(f"{R}/digit{digit}-five-models-4epochs.json")
    runs = {m: sorted((x for x in r["rows"] if x["model"] == m), key=lambda x: x["seed"]) for m in FIVE_MODELS}
    cells = {m: " | ".join(f"{x['auprc']:.3f} ({x['gen_loss_vs_mean_image']:.2f} / {x['gen_loss_vs_mean_image_last']:.2f})" for x in xs)
             + f" | {mean_sd([x['auprc'] for x in xs])}" for m, xs in runs.items()}
    return [f"| {m} | {cells[m]}" for m in FIVE_MODELS], runs


def _collapsed(xs: list[dict]) -> str:
    return f"{sum(x['collapsed'] for x in xs)} of {len(xs)}"


def lfbm_five_models_h4() -> str:
    """All five models at digit 4, three seeds, 30 scoring steps (digit4-five-models-4epochs.json)."""
    rows, runs = _five_models(4)
    lines = ["| model | seed 1 | seed 2 | seed 3 | mean ± sd | collapsed | training s | scoring s |", "|---|---|---|---|---|---|---|---|"]
    for row, (m, xs) in zip(rows, runs.items()):
        score = [x["score_seconds"] for x in xs]
        # LFBM-MCMC's cells are read off the default config's 400-step chains, which have no 30-step time.
        scoring = "(400-step chain)" if None in score else _span(score)
        lines.append(f"{row} | {_collapsed(xs)} | {_span([x['train_seconds'] for x in xs])} | {scoring} |")
    frac = statistics.fmean(x["anomaly_fraction"] for xs in runs.values() for x in xs)
    lines.append(f"| chance (anomaly fraction) | {frac:.3f} | | | | | | |")
    lines.append(f"| paper (10 runs, full training) | {_paper_row(4)} | | | | | | |")
    return "\n".join(lines)


def _five_models_digit(digit: int) -> str:
    """Five models at ``digit`` beside their first-epoch means: digit{digit}-five-models-{4epochs,epoch1}.json."""
    rows, runs = _five_models(digit)
    first = record(f"{R}/digit{digit}-five-models-epoch1.json")["rows"]
    lines = ["| model | seed 1 | seed 2 | seed 3 | mean ± sd | first-epoch mean (2000 test images) | collapsed |", "|---|---|---|---|---|---|---|"]
    for row, (m, xs) in zip(rows, runs.items()):
        lines.append(f"{row} | {mean_sd([x['auprc'] for x in first if x['model'] == m])} | {_collapsed(xs)} |")
    frac = statistics.fmean(x["anomaly_fraction"] for xs in runs.values() for x in xs)
    lines.append(f"| chance (anomaly fraction) | {frac:.3f} | | | | | |")
    lines.append(f"| paper (10 runs) | {_paper_row(digit)} | | | | | |")
    return "\n".join(lines)


def lfbm_digit5() -> str:
    """All five models at digit 5 (digit5-five-models-4epochs.json, digit5-five-models-epoch1.json)."""
    return _five_models_digit(5)


def lfbm_digit7() -> str:
    """All five models at digit 7 (digit7-five-models-4epochs.json, digit7-five-models-epoch1.json)."""
    return _five_models_digit(7)


def lfbm_init_collapse_first_epoch() -> str:
    """The first MNIST epoch of the default schedule per training seed (collapse-lfbm-mcmc-mnist-h4.json)."""
    lines = ["| seed | generator loss | share of the way to the mean image | displacement ‖z_K − z_0‖ | collapsed | "
             "AUPRC (2000 images, 30 steps) | threads |", "|---|---|---|---|---|---|---|"]
    for x in record(f"{R}/collapse-lfbm-mcmc-mnist-h4.json")["rows"]:
        lines.append(f"| {x['seed']} | {x['gen_loss']:.1f} | {x['gen_loss_vs_mean_image']:.3f} | {x['posterior_displacement']:.2f} | "
                     f"{'yes' if x['collapsed'] else 'no'} | {x['auprc_2000_30steps']:.3f} | {x['threads']} |")
    return "\n".join(lines)


TABLES: dict[str, Callable[[], str]] = {
    "lfbm-default-seeds": lfbm_default_seeds,
    "lfbm-no-native-bf16": lfbm_no_native_bf16,
    "lfbm-bn-chain-stats": lfbm_bn_chain_stats,
    "lfbm-epoch-choice": lfbm_epoch_choice,
    "lfbm-five-models-h4": lfbm_five_models_h4,
    "lfbm-digit5": lfbm_digit5,
    "lfbm-digit7": lfbm_digit7,
    "lfbm-init-collapse-first-epoch": lfbm_init_collapse_first_epoch,
}
