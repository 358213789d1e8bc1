"""Tables of docs/results.md's latent-flow paper sections: the digits main job, the paper's
21-epoch schedule at digit 4 (one seed four ways, five training seeds, re-scoring one model) and
at the other digits of Table 4."""

from __future__ import annotations

import statistics
from typing import Callable

from _records import B, R, mean_sd, minus, record, side_runs, values
from genflows.table import PAPER_ROW, PAPER_TABLE4  # the paper's Table 4, one copy

PAPER_LFBM_H4 = PAPER_TABLE4["LFBM"][1]  # the paper's Table 4, LFBM, digit 4 (10 runs)
STEPS = ("30", "50", "100", "200", "400")
SEEDS = (1, 2, 3, 4, 5)
CLEAN = "clean, eval-mode BatchNorm (every genflows number)"
LEAKY = "the leaky split (37 % of the test normals replaced by training images), eval mode"
REFERENCE = "the reference code's scoring whole: leaky split, train-mode BatchNorm, shuffled batches of 100"


def _num(v: float, digits: int) -> str:
    return minus(f"{v:.{digits}f}")


def _refprotocol(seed: int, kind: str) -> str:
    """Path of a seed's epoch-21 re-scoring; seed 1 ran in float32 on the AVX2 CPU, seeds 2-5 in bf16."""
    return f"{R}/refprotocol-paper21-{'avx2' if seed == 1 else 'bf16'}-seed{seed}-e21-{kind}.json"


def metrics21(seed: int) -> dict:
    """A digit-4 seed's per-epoch training record at the paper's schedule (seed 1 float32 on the AVX2 CPU, seeds 2-5 bf16)."""
    return record(f"{R}/metrics-paper21-{'avx2' if seed == 1 else 'bf16'}-seed{seed}.json")


def _history(seed: int) -> list[dict]:
    return metrics21(seed)["history"]


def digits_main_job() -> str:
    """`genflows run lfbm-mcmc --task anomaly --holdout 4` timed on two CPUs: speed-main-job-no-autograd.json,
    speed-avx2-no-autograd.json (`main_job.runs`, this commit's side)."""
    lines = ["| CPU, 2 threads | date | AUPRC | end to end, median | training, median | scoring, median | record |", "|---|---|---|---|---|---|---|"]
    for cpu, path, bold in (("2-core AMD EPYC, AVX-512 with native bf16", f"{B}/speed-main-job-no-autograd.json", True),
                            ("2-core AMD EPYC, AVX2", f"{B}/speed-avx2-no-autograd.json", False)):
        r = record(path)
        runs = r["main_job"]["runs"]
        auprc = f"{statistics.median(side_runs(runs, 'now', 'auprc')):.3f}"  # equal in every run
        med = {k: statistics.median(side_runs(runs, "now", k)) for k in ("wall_s", "train_s", "score_s")}
        lines.append(f"| {cpu} | {r['date'].split()[0]} | {f'**{auprc}**' if bold else auprc} | {med['wall_s']:.1f} s ({len(side_runs(runs, 'now', 'wall_s'))} runs) | "
                     f"{med['train_s']:.1f} s | {med['score_s']:.1f} s | `{path}` |")
    return "\n".join(lines)


def paper21_scoring() -> str:
    """Seed 1's epoch-21 checkpoint scored four ways along 400-step chains: refprotocol-paper21-avx2-seed1-e21-{eval,s400,bntrain-clean}-s400.json."""
    ev, ref, bn = (record(_refprotocol(1, k)) for k in ("eval-s400", "s400", "bntrain-clean-s400"))
    rows = [(CLEAN, ev["clean"], True),
            ("the leaky split (37 % of the test normals replaced by training images), eval mode, the same scores", ev["leaky"], False),
            ("train-mode BatchNorm, shuffled batches of 100, clean split", bn["clean"], False),
            (REFERENCE, ref["leaky"], True)]
    lines = ["| scoring | 30 | 50 | 100 | 200 | 400 steps |", "|---|---|---|---|---|---|"]
    for name, auprc, bold in rows:
        cells = [f"{auprc[s]:.3f}" for s in STEPS]
        if bold:
            cells[-1] = f"**{cells[-1]}**"
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append(f"| the paper (LFBM, 10 runs) | | | | | {PAPER_LFBM_H4} |")
    return "\n".join(lines)


def paper21_epochs() -> str:
    """Seed 1's per-epoch generator loss, its share of the mean image's loss and subset AUPRC: metrics-paper21-avx2-seed1.json."""
    h = _history(1)
    lines = ["| epoch | " + " | ".join(str(e["epoch"]) for e in h) + " |", "|---|" + "---|" * len(h),
             "| generator loss | " + " | ".join(_num(e["gen_loss"], 1) for e in h) + " |",
             "| share of the mean image's loss | " + " | ".join(f"{e['gen_loss_vs_mean_image']:.3f}" for e in h) + " |",
             "| subset AUPRC, 30 steps | " + " | ".join(f"{e['track_auprc']:.3f}" for e in h) + " |"]
    return "\n".join(lines)


def paper21_seeds() -> str:
    """Five training seeds' epoch-21 checkpoints at 30 and 400 steps: refprotocol-paper21-*-seed{1..5}-e21-{eval-s400,s400}.json."""
    ev = [record(_refprotocol(s, "eval-s400")) for s in SEEDS]
    ref = [record(_refprotocol(s, "s400")) for s in SEEDS]
    lines = ["| scoring | steps | seed 1 | seed 2 | seed 3 | seed 4 | seed 5 | mean ± sd over training seeds |", "|---|---|---|---|---|---|---|---|"]
    for name, recs, key, bold in ((CLEAN, ev, "clean", True), (LEAKY, ev, "leaky", False), (REFERENCE, ref, "leaky", True)):
        for steps in ("30", "400"):
            v = [x[key][steps] for x in recs]
            m = f"**{mean_sd(v)}**" if bold and steps == "400" else mean_sd(v)
            lines.append(f"|{f' {name}' if steps == '30' else ''} | {steps} | " + " | ".join(f"{x:.3f}" for x in v) + f" | {m} |")
    lines.append(f"| the paper (LFBM, 10 runs) | 400 | | | | | | {PAPER_LFBM_H4} |")
    return "\n".join(lines)


def paper21_seeds_epochs() -> str:
    """Seeds 2-5's generator loss, loss share and subset AUPRC at every other epoch, then 17-21: metrics-paper21-bf16-seed{2..5}.json."""
    epochs = (1, 3, 5, 7, 9, 11, 13, 15, 17, 18, 19, 20, 21)
    lines = ["| epoch | " + " | ".join(map(str, epochs)) + " |", "|---|" + "---|" * len(epochs)]
    for seed in SEEDS[1:]:
        h = {e["epoch"]: e for e in _history(seed)}
        for name, key, fmt in (("generator loss", "gen_loss", lambda v: _num(v, 1)),
                               ("share of the mean image's loss", "gen_loss_vs_mean_image", lambda v: f"{v:.3f}"),
                               ("subset AUPRC", "track_auprc", lambda v: f"{v:.3f}")):
            lines.append(f"| seed {seed}: {name} | " + " | ".join(fmt(h[e][key]) for e in epochs) + " |")
    return "\n".join(lines)


def paper21_rescoring() -> str:
    """Seed 2's epoch-21 checkpoint under scoring seeds 101 and 102 beside the fixed draws and the spread over training seeds:
    refprotocol-paper21-bf16-seed2-e21-{eval-clean-s400,s400}-scoring{101,102}.json and the five-seed files."""
    lines = ["| scoring | steps | fixed draws | scoring seed 101 | scoring seed 102 | sd over the three draws | sd over training seeds 1-5 |",
             "|---|---|---|---|---|---|---|"]
    rows = (("clean, eval-mode BatchNorm", "eval-s400", "eval-clean-s400", "clean"),
            ("the reference code's scoring whole (leaky, train-mode BatchNorm, shuffled batches of 100)", "s400", "s400", "leaky"))
    for name, fixed, redrawn, key in rows:
        for steps in ("30", "400"):
            draws = [values([_refprotocol(2, fixed)], key, steps)[0],
                     *values([_refprotocol(2, f"{redrawn}-scoring{s}") for s in (101, 102)], key, steps)]
            seeds = values([_refprotocol(s, fixed) for s in SEEDS], key, steps)
            # At 400 steps the draws agree to the third decimal, so their sd takes a fourth.
            sd_draws, sd_seeds = f"{statistics.stdev(draws):.{3 if steps == '30' else 4}f}", f"{statistics.stdev(seeds):.3f}"
            if steps == "400":
                sd_draws, sd_seeds = f"**{sd_draws}**", f"**{sd_seeds}**"
            lines.append(f"|{f' {name}' if steps == '30' else ''} | {steps} | " + " | ".join(f"{x:.3f}" for x in draws) + f" | {sd_draws} | {sd_seeds} |")
    return "\n".join(lines)


def _hours(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds / 3600:.1f} h"


def cell_name(cell: dict, code: bool = False) -> str:
    """A cell's model as the tables name it (``code``: in backticks), with the settings the paper
    budget gives it alone (the VAE row trains a plain VAE, where ``vae`` elsewhere is VAE-IAF)."""
    own = cell.get("model_overrides") or []
    return (f"`{cell['model']}`" if code else cell["model"]) + (f" ({', '.join(f'`{o}`' for o in own)})" if own else "")


def paper_digits() -> str:
    """Table 4 at the paper's schedule cell by cell (every cell of table4-paper.json: LFBM-MCMC on
    the digits other than 4, whose five seeds have their own records, and the baselines as they
    land), seed by seed, with where each trained and how long each phase took."""
    lines = ["| model | digit | seed | trained on | clean AUPRC at 50 / 100 / 200 / 400 steps | the reference code's scoring | training | clean scoring | reference-way scoring |",
             "|---|---|---|---|---|---|---|---|---|"]
    for c in record(f"{R}/table4-paper.json")["cells"]:
        m, d = cell_name(c), c["holdout"]
        if (c["model"], d) == ("lfbm-mcmc", 4):
            continue
        for x in c["seeds"]:
            steps = x.get("auprc_clean_at_steps") or {}
            ref = "–" if x["auprc_reference"] is None else f"{x['auprc_reference']:.3f}"
            lines.append(f"| {m} | {d} | {x['seed']} | {'; '.join(x['setups'])}, {x['torch_threads']} thread{'s' * (x['torch_threads'] != 1)} | "
                         + " / ".join(f"{steps[k]:.3f}" if k in steps else "–" for k in STEPS[1:])
                         + f" | {ref} | {_hours(x['train_seconds'])} | {_hours(x['score_seconds'])} | {_hours(x['reference_seconds'])} |")
        refs = f"**{mean_sd([x['auprc_reference'] for x in c['seeds'] if x['auprc_reference'] is not None])}**" if c["reference"] else "–"
        lines.append(f"| {m} | {d} | mean ± sd (n = {c['clean']['n']} / {c['reference']['n'] if c['reference'] else 0}) | anomaly fraction {c['anomaly_fraction']:.3f} | "
                     f"400 steps: **{mean_sd([x['auprc_clean'] for x in c['seeds']])}** | {refs} | | | |")
        label, paper = (f"the paper ({PAPER_ROW[c['model']]}, 10 runs)", c["paper"]) if c["paper"] else ("the paper: no row", "–")
        lines.append(f"| {m} | {d} | {label} | | {paper} | | | | |")
    return "\n".join(lines)


TABLES: dict[str, Callable[[], str]] = {
    "lfbm-paper-digits": paper_digits,
    "lfbm-digits-main-job": digits_main_job,
    "lfbm-paper21-scoring": paper21_scoring,
    "lfbm-paper21-epochs": paper21_epochs,
    "lfbm-paper21-seeds": paper21_seeds,
    "lfbm-paper21-seeds-epochs": paper21_seeds_epochs,
    "lfbm-paper21-rescoring": paper21_rescoring,
}
