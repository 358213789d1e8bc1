"""The result tables of docs/results.md and README.md, generated from their records.

    python docs/tables.py            # rewrite every generated table from its records
    python docs/tables.py --check    # exit 1, naming the table, where a document drifted from its records

A generated table sits between ``<!-- table:NAME -->`` and ``<!-- /table:NAME -->`` in a document;
:data:`TABLES` says how each is computed from files under ``experiments/results/`` and
``bench/results/``. ± is the sample standard deviation (n - 1) over training seeds.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from genflows.table import BUDGETS, PAPER_HOLDOUTS, PAPER_TABLE4, model_overrides  # noqa: E402  (the paper's Table 4, one copy)
from _records import B, R, ROOT, csv_value, mean_sd, record, root, rows_of_csv, set_root, values  # noqa: E402,F401
import _tables_coopflow_tasks as coopflow_tasks  # noqa: E402  (each section's tables in a module of its own)
import _tables_lfbm_fast as lfbm_fast  # noqa: E402
import _tables_lfbm_paper as lfbm_paper  # noqa: E402
import _tables_speed as speed  # noqa: E402

DOCUMENTS = ["docs/results.md", "README.md"]


# --------------------------------------------------------------------------- anomaly, every family

SCORE_NAMES = {"joint": "−log p(x, z*)", "energy": "energy", "flow": "−log q_α(x)", "log_potential": "−log(4ψ(x, 1) − ‖x‖²)",
               "potential": "−ψ(x, 1)"}


def anomaly_every_family(data: str, compact: bool = False) -> str:
    """Held-out digit 4, every registered model, each score's AUPRC over the seeds that finished."""
    r = record(f"experiments/results/anomaly-every-family-{data}.json")
    lines = (["| model | score | AUPRC |", "|---|---|---|"] if compact else
             ["| model | family | score | AUPRC | seeds | per seed |", "|---|---|---|---|---|---|"])
    for row in r["rows"]:
        if compact and not row["headline"]:
            continue
        name = SCORE_NAMES.get(row["score"], row["score"]) + ("" if row["headline"] else " (beside)")
        a = row["auprc"]
        cell = mean_sd(a["values"]) + (f" ({a['n']} seed{'s' * (a['n'] > 1)})" if compact and a["n"] < 3 else "")
        if compact:
            lines.append(f"| `{row['model']}` | {name} | {cell} |")
        else:
            lines.append(f"| `{row['model']}` | {row['family']} | {name} | {cell} | {a['n']} | {', '.join(f'{v:.3f}' for v in a['values'])} |")
    frac = r["rows"][0]["anomaly_fraction"]
    lines.append(f"| chance (anomaly fraction) | | {frac:.3f} |" if compact else f"| chance (anomaly fraction) | | | {frac:.3f} | | |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- EBFlow

EBFLOW_LOSSES = ("ml", "sml", "ssm", "dsm", "fdssm")
EBFLOW_VARIANTS = {"neither": "no MaP, no EMA", "ema": "EMA, no MaP", "map": "MaP, no EMA", "both": "MaP + EMA"}


def ebflow_mnist_fc() -> str:
    """EBFlow's MNIST FC row at our budget beside the paper's: NLL, bits/dim, batch/s and its ratio to ML."""
    r = record(f"{R}/ebflow-mnist-fc.json")
    main = {x["loss"]: x for x in r["rows"] if x["variant"] == "both"}
    # Equal wall time: every objective's NLL at the last evaluation within the shortest run's training time.
    budget = min(min(c["seconds"][-1] for c in x["curves"]) for x in main.values())

    def at_budget(x: dict) -> str:
        v = [next((n for s, n in reversed(list(zip(c["seconds"], c["test_nll"]))) if s <= budget), None) for c in x["curves"]]
        return "–" if None in v else f"{statistics.fmean(v):.1f}"

    lines = [f"| objective | NLL (nats), ours | seeds | bits/dim | NLL within {budget:.0f} s of training | paper NLL | batch/s, ours | ratio to ML | "
             "paper batch/s (GPU) | paper ratio |", "|---|---|---|---|---|---|---|---|---|---|"]
    for loss in EBFLOW_LOSSES:
        paper_nll, paper_bs = r["paper"][loss]
        if loss not in main:
            lines.append(f"| {loss.upper()} | not finished | 0 | | | {paper_nll} | | | {paper_bs} | {paper_bs / r['paper']['ml'][1]:.2f} |")
            continue
        x = main[loss]
        ratio = x["batches_per_second"] / main["ml"]["batches_per_second"] if "ml" in main else float("nan")
        lines.append(f"| {loss.upper()} | {mean_sd(x['nll']['values'], 1)} | {x['nll']['n']} | {x['bits_per_dim']:.3f} | {at_budget(x)} | {paper_nll} | "
                     f"{x['batches_per_second']:.1f} | {ratio:.2f} | {paper_bs} | {paper_bs / r['paper']['ml'][1]:.2f} |")
    return "\n".join(lines)


def readme_ebflow() -> str:
    """README's EBFlow table: test NLL after 10 epochs beside the paper's, and the speed ratio at D = 784."""
    r = record(f"{R}/ebflow-mnist-fc.json")
    main = {x["loss"]: x for x in r["rows"] if x["variant"] == "both"}
    lines = ["| objective | test NLL (nats), 10 epochs | paper (converged) | batch/s ÷ ML's, ours / paper |", "|---|---|---|---|"]
    for loss in EBFLOW_LOSSES:
        x = main.get(loss)
        ours = "–" if x is None else f"{mean_sd(x['nll']['values'], 1)} ({x['nll']['n']} seed{'s' if x['nll']['n'] > 1 else ''})"
        ratio = "–" if x is None or "ml" not in main else f"{x['batches_per_second'] / main['ml']['batches_per_second']:.2f}"
        lines.append(f"| {loss.upper()} | {ours} | {r['paper'][loss][0]} | {ratio} / {r['paper'][loss][1] / r['paper']['ml'][1]:.2f} |")
    return "\n".join(lines)


def ebflow_ablation() -> str:
    """MaP and the EMA, on and off, for SSM and DSM at the same budget, beside the paper's ablation."""
    r = record(f"{R}/ebflow-mnist-fc.json")
    lines = ["| objective | MaP | EMA | NLL (nats), ours | seeds | paper NLL |", "|---|---|---|---|---|---|"]
    for loss in ("ssm", "dsm"):
        for v in ("neither", "ema", "map", "both"):
            x = next((y for y in r["rows"] if y["loss"] == loss and y["variant"] == v), None)
            paper = r["paper_ablation"].get(f"{loss}-{v}", "–")
            cell = "not finished" if x is None else mean_sd(x["nll"]["values"], 1)
            lines.append(f"| {loss.upper()} | {'yes' if v in ('map', 'both') else 'no'} | {'yes' if v in ('ema', 'both') else 'no'} | {cell} | "
                         f"{0 if x is None else x['nll']['n']} | {paper} |")
    return "\n".join(lines)


def ebflow_toy() -> str:
    """KL(data || model) of every objective on the paper's three densities (grid; Monte Carlo beside)."""
    r = record(f"{R}/ebflow-toy.json")
    lines = ["| density | " + " | ".join(x.upper() for x in EBFLOW_LOSSES) + " |", "|---|" + "---|" * len(EBFLOW_LOSSES)]
    for d in ("sine", "swirl", "checkerboard-ebflow"):
        cells = []
        for loss in EBFLOW_LOSSES:
            x = next((y for y in r["rows"] if y["density"] == d and y["loss"] == loss), None)
            if x is None:
                cells.append("–")
            elif x["kl"]["mean"] is None:
                cells.append("not finite")
            else:
                cells.append(f"{mean_sd(x['kl']['values'])} (MC {x['kl_mc']['mean']:.3f})")
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ebflow_speed() -> str:
    """Milliseconds per training iteration of each objective at each D, and the ratio to ML."""
    r = record(f"{B}/ebflow-speed.json")
    dims = sorted({x["dim"] for x in r["rows"]})
    ms = {(x["dim"], x["loss"]): 1000 * x["seconds"] for x in r["rows"]}
    lines = ["| D | " + " | ".join(f"{x.upper()} ms (× vs ML)" for x in EBFLOW_LOSSES) + " |", "|---|" + "---|" * len(EBFLOW_LOSSES)]
    for d in dims:
        lines.append(f"| {d} | " + " | ".join(f"{ms[d, x]:.1f} ({ms[d, 'ml'] / ms[d, x]:.2f}×)" for x in EBFLOW_LOSSES) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- shared machines, parallel tables

SHARED_JOBS = {"digits": "digits main job", "mnist": "MNIST training epoch (5000 normals)", "table": "`genflows table` (abp, digit 4)",
               "tests": "`pytest tests/priors tests/inference`"}


def cpu_label(r: dict) -> str:
    """The CPU a bench record was measured on, as its tables name it."""
    return f"{r['cpu']}, {r['capability']}" + (" with native bf16" if r["native_bf16"] else "")


def shared_machine() -> str:
    """Wall seconds of a default run, idle and beside one busy core, with torch's thread count
    (before) and one thread per free core (now), on each CPU measured. A run the bench stopped at
    its cap (recorded as null) reads "over" the cap, its slowdown "over" the cap's ratio."""
    lines = ["| CPU (2 cores) | job | before: idle | before: one core busy | slowdown | now: idle | now: one core busy | slowdown | now ÷ before, idle |",
             "|---|---|---|---|---|---|---|---|---|"]
    for path in ("bench/results/shared-machine.json", "bench/results/shared-machine-xeon.json"):
        r = record(path)
        cpu = cpu_label(r)
        t = {(x["job"], x["mode"], x["busy_core"]): x["wall_s"] for x in r["rows"]}

        def wall(s: float | None) -> str:
            return f"{s:.1f} s" if s is not None else f"over {r['cap_s']:.0f} s"

        def ratio(s: float | None, idle: float) -> str:
            return f"{s / idle:.2f}×" if s is not None else f"over {r['cap_s'] / idle:.1f}×"

        for job in dict.fromkeys(x["job"] for x in r["rows"]):
            bi, bb, ai, ab = t[job, "before", False], t[job, "before", True], t[job, "after", False], t[job, "after", True]
            lines.append(f"| {cpu} | {SHARED_JOBS.get(job, job)} | {wall(bi)} | {wall(bb)} | {ratio(bb, bi)} | {wall(ai)} | {wall(ab)} | "
                         f"{ratio(ab, ai)} | {ai / bi:.2f} |")
    return "\n".join(lines)


def table_jobs() -> str:
    """`genflows table --jobs N` against one job with every core, on each CPU measured: wall time,
    cells per minute, and (where recorded) the speed-up of training and of scoring alone."""
    lines = ["| CPU (2 cores) | table | cells | jobs | wall | cells per minute | speed-up over 1 job | training / scoring alone |",
             "|---|---|---|---|---|---|---|---|"]
    for path in ("bench/results/table-jobs.json", "bench/results/table-jobs-avx2.json"):
        r = record(path)
        cpu = cpu_label(r)
        for x in r["rows"]:
            ph = x.get("phase_speedup_vs_1_job")
            phases = f"{ph['train_seconds']:.2f}× / {ph['score_seconds']:.2f}×" if ph else "–"
            lines.append(f"| {cpu} | {x['table']} | {x['cells']} | {x['jobs']} | {x['wall_s']:.0f} s | {x['cells_per_minute']:.2f} | "
                         f"{x['speedup_vs_1_job']:.2f}× | {phases} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- equal wall time, every family

def _sampler(c: dict) -> str:
    s = c.get("sampler") or {}
    if s.get("nfe") is not None:
        return f"ODE {s.get('solver')}, {s['nfe']} evaluations"
    if c.get("langevin_steps"):
        return f"{c['langevin_steps']} Langevin steps"
    return {"ebflow": "inverse by Newton steps", "latent": "ancestral, one pass"}.get(c.get("family"), "one pass of the flow")


def equal_time(task: str) -> str:
    """Every model at the same training seconds: the headline (toy MMD², MNIST FID) over seeds,
    updates done in the budget, and what sampling costs."""
    r = record(f"{R}/equal-time-{task}.json")
    key = "mmd" if task == "toy" else "fid"
    head = "MMD² (× 10⁻³)" if task == "toy" else f"FID (N = {r['fid_n']}, training images)"
    lines = [f"| data | model | {head} | its flow alone | updates in {r['budget_seconds']:g} s | sampler | s per 1000 samples |",
             "|---|---|---|---|---|---|---|"]
    scale = 1e3 if task == "toy" else 1.0
    for c in r["cells"]:
        v = [x * scale for x in c["per_seed"]]
        flow = c.get("mmd_flow") or c.get("fid_flow")
        flow_s = f"{flow['mean'] * scale:.2f}" if flow else ""
        div = f"; seed {', '.join(map(str, c['diverged']))} diverged" if c.get("diverged") else ""
        lines.append(f"| {c['data']} | `{c['model']}` | {mean_sd(v, 2)} (n={len(v)}{div}) | {flow_s} | {c['iterations']['mean']:.0f} | {_sampler(c)} "
                     f"| {c['sample_seconds_per_1000']['mean']:.2f} |")
    return "\n".join(lines)


def _show_groups(path: str) -> dict:
    """Runs of a `genflows show --json` record grouped by (model, data), in the record's order."""
    groups: dict = {}
    for r in record(path)["runs"]:
        groups.setdefault((r["model"], r["data"]), []).append(r)
    return groups


def toy_defaults() -> str:
    """`genflows run MODEL --task toy --data spiral` as it comes: MMD² over seeds, CoopFlow's flow beside."""
    lines = ["| model | MMD² (× 10⁻³) | its flow alone (× 10⁻³) | training seconds |", "|---|---|---|---|"]
    for (model, _), runs in _show_groups(f"{R}/toy-defaults-spiral.json").items():
        mmd = [1e3 * r["metrics"]["mmd"] for r in runs]
        flow = [1e3 * r["metrics"]["mmd_flow"] for r in runs if r["metrics"].get("mmd_flow") is not None]
        secs = statistics.fmean(r["seconds"]["train_seconds"] for r in runs)
        lines.append(f"| `{model}` | {mean_sd(mmd, 2)} (n={len(mmd)}) | {mean_sd(flow, 2) if flow else ''} | {secs:.0f} |")
    return "\n".join(lines)


def vapo_toy_every() -> str:
    """VAPO's toy defaults on every 2-D density, one seed each."""
    lines = ["| density | MMD² (× 10⁻³) | training seconds |", "|---|---|---|"]
    for (_, data), runs in _show_groups(f"{R}/vapo-toy-every-density.json").items():
        lines.append(f"| {data} | {mean_sd([1e3 * r['metrics']['mmd'] for r in runs], 2)} | {runs[0]['seconds']['train_seconds']:.0f} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- results at a glance

def glance() -> str:
    """One row per paper result genflows addresses: paper · ours · status · chosen on test data ·
    command · record."""
    paper21, paper21_ref = PAPER21_H4, [f.replace("-eval-s400", "-s400") for f in PAPER21_H4]
    fast = [f"{R}/metrics-default-h4-seed{s}.json" for s in range(1, 6)]
    digit = {d: record(f"{R}/digit{d}-five-models-4epochs.json")["per_model"] for d in (4, 5, 7)}
    coop = record(f"{R}/coopflow-seeds-mnist-recipe.json")["models"]
    coop_ebm = record(f"{R}/coopflow-seeds-mnist-recipe-paper-recon.json")["models"]
    toy = [record(f"{R}/coopflow-toy-spiral-noisy-t30-metrics.json")["ebm_density_corr"],
           *(r["ebm_density_corr"] for r in record(f"{R}/coopflow-toy-spiral-noisy-d01.json")["runs"]),
           *(r["ebm_density_corr"] for r in record(f"{R}/coopflow-toy-spiral-noisy-d01-t10000.json")["runs"])]
    speed = record(f"{B}/speed-main-job-no-autograd.json")
    fam = record(f"{R}/anomaly-every-family-digits.json")["rows"]
    eb = {(x["loss"], x["variant"]): x for x in record(f"{R}/ebflow-mnist-fc.json")["rows"]}

    toy_rows = record(f"{R}/ebflow-toy.json")["rows"]

    def toy_kl(density: str, loss: str) -> str:
        x = next((y for y in toy_rows if y["density"] == density and y["loss"] == loss), None)
        return "–" if x is None or x["kl"]["mean"] is None else f"{x['kl']['mean']:.3f}"

    def eb_nll(loss: str, variant: str = "both") -> str:
        x = eb.get((loss, variant))
        return "–" if x is None else f"{mean_sd(x['nll']['values'], 1)} (n={x['nll']['n']})"
    best, worst = max(fam, key=lambda r: r["auprc"]["mean"]), min(fam, key=lambda r: r["auprc"]["mean"])

    def pm(d: dict, digits: int = 3) -> str:
        return f"{d['mean']:.{digits}f} ± {d['sd']:.{digits}f}"

    rows = [
        ("LFBM Table 4, MNIST digit 4, the paper's 21-epoch schedule; eval-mode BatchNorm, clean split, 400 steps "
         "(seed 1 in float32 chains on an AVX2 CPU, seeds 2-5 in bf16 chains on an Intel Xeon)",
         "0.812 ± 0.007", f"{mean_sd(values(paper21, 'clean', '400'))} (5 seeds)", _within(values(paper21, 'clean', '400'), _paper_mean(lfbm_paper.PAPER_LFBM_H4)), "no",
         "`genflows run lfbm-mcmc --config configs/lfbm-mcmc-paper.yaml --seed S` (seeds 2-5 add `--set inference.autocast=true`)", "`refprotocol-paper21-*-e21-eval-s400.json`"),
        ("the same models scored as the reference code does (train-mode BatchNorm, shuffled batches of 100, its leaky split)",
         "0.812 ± 0.007", f"{mean_sd(values(paper21_ref, 'leaky', '400'))} (5 seeds)", "reproduced", "no",
         "`python experiments/lfbm_table4.py reference_protocol RUN --bn-train --shuffle --batch 100 --leak 0.37`", "`refprotocol-paper21-*-e21-s400.json`"),
        ("LFBM Table 4, digit 4, the fast schedule (`configs/lfbm-mcmc-mnist.yaml`: lr 1e-3, 4 epochs), 400 steps",
         "0.812 ± 0.007", f"{mean_sd(values(fast, 'auprc_at_steps', '400'))} (5 seeds)", "below", "yes: lr and epochs read off the test split",
         "`python experiments/lfbm_table4.py default_seeds --data-root DATA --seeds 1-5`", "`metrics-default-h4-seed*.json`"),
        ("LFBM Table 4, digits 5 / 7, fast schedule, 30 steps: LFBM-MCMC", "0.823 ± 0.009 / 0.682 ± 0.004",
         f"{pm(digit[5]['lfbm-mcmc'])} / {pm(digit[7]['lfbm-mcmc'])} (3 seeds)", "below", "yes: schedule and 30 steps read off the test split",
         "`python experiments/lfbm_table4.py digit_seeds --data-root DATA --holdout 5 --schedule default`", "`digit{5,7}-five-models-4epochs.json`"),
        ("LFBM Table 4 ordering: the flow prior beats ABP, LEBM, VAE (fast schedule, digits 4, 5, 7)", _paper_lead((4, 5, 7)),
         "all five within " + f"{max(max(m['mean'] for m in digit[d].values()) - min(m['mean'] for m in digit[d].values()) for d in digit):.3f}" + " of each other (3 seeds)",
         "not reproduced at this budget", "yes (as above)", "`genflows table anomaly --budget full`", "`digit{4,5,7}-five-models-4epochs.json`"),
        ("LFBM Table 2 reconstruction MSE, MNIST at CPU scale (5000 images, 3 epochs): LFBM-MCMC", "0.005-0.016 (SVHN, CIFAR-10, CelebA)",
         f"{csv_value(R + '/tables/reconstruction.csv', 'lfbm-mcmc', 'reconstruction', 'mse_mean'):.4f} (1 seed)", "not comparable (other data)", "no",
         "`bash experiments/lfbm_tables2_3_5_6_tasks.sh`", "`tables/reconstruction.csv`"),
        *_glance_tasks(),
        ("CoopFlow Table 6, MNIST at CPU scale: FID of CoopFlow(Pre) / the flow alone / the short-run EBM", "21.16 / 92.10 / 49.51 (CIFAR-10)",
         f"{coop['coopflow-pre']['fid_mean']:.1f} ± {coop['coopflow-pre']['fid_sd']:.1f} / {coop['flow']['fid_mean']:.1f} ± {coop['flow']['fid_sd']:.1f} / "
         f"{coop_ebm['ebm-sr']['fid_mean']:.1f} ± {coop_ebm['ebm-sr']['fid_sd']:.1f} (3 seeds)",
         "CoopFlow best, as in the paper; flow and EBM in the other order; no model draws recognisable digits (sample grids)", "yes: the recipe and schedule won on test FID; epochs chosen on held-out training images",
         "`python experiments/coopflow_table6.py ablation --data-root DATA --tag recipe-seedS`", "`coopflow-seeds-mnist-recipe.json`"),
        ("CoopFlow Table 7, reconstruction MSE (the paper's protocol, 20 test images): CoopFlow(Pre) / short-run EBM", "0.0254 / 0.1083 (CIFAR-10)",
         f"{coop_ebm['coopflow-pre']['mse_mean']:.4f} ± {coop_ebm['coopflow-pre']['mse_sd']:.4f} / {coop_ebm['ebm-sr']['mse_mean']:.4f} ± {coop_ebm['ebm-sr']['mse_sd']:.4f} (3 seeds)",
         "not reproduced (one seed's image left in another basin)", "no",
         "`python experiments/coopflow_table6.py seeds --tags recipe-seed1-recon-paper ...`", "`coopflow-seeds-mnist-recipe-paper-recon.json`"),
        ("CoopFlow Figure 2, spiral: the EBM's density against the truth (correlation), T = 30 / 100 / 500 / 10 000", "qualitative: better with T",
         " / ".join(f"{v:.2f}" for v in toy) + " (1 seed)", "reproduced (qualitative)", "yes: the toy recipe was picked on these metrics",
         "`python experiments/coopflow_figure2_toy.py --config none --models coopflow --steps 100 500 --tag noisy-d01 ...`", "`coopflow-toy-spiral-noisy-*.json`"),
        ("EBFlow Table 2, MNIST FC, test NLL (nats) after 10 epochs: ML / SML / SSM / DSM / FDSSM", "1092.4 / 1092.3 / 1092.8 / 1099.2 / 1104.1",
         " / ".join(eb_nll(x) for x in EBFLOW_LOSSES), "below (10 epochs; the paper trains up to 10 000)", "no",
         "`python experiments/ebflow_mnist_table.py --data-root DATA --epochs 10 --seeds 3`", "`ebflow-mnist-fc.json`"),
        ("EBFlow Table 1, 2-D densities, KL(data ‖ model) of SSM on sine / swirl / checkerboard (1000 iterations)", "Table 1 (not in the available copies)",
         " / ".join(toy_kl(d, "ssm") for d in ("sine", "swirl", "checkerboard-ebflow")) + " (1 seed)", "not comparable (budget; exact KL vs a kernel estimate)", "no",
         "`python experiments/ebflow_toy_table.py --epochs 250 --lr 1e-3`", "`ebflow-toy.json`"),
        ("EBFlow ablation, MNIST FC, SSM: no MaP and no EMA / both", "1757.5 / 1092.8",
         f"{eb_nll('ssm', 'neither')} / {eb_nll('ssm')}", "ordering reproduced", "no",
         "`python experiments/ebflow_mnist_table.py --data-root DATA --only ssm-neither,...`", "`ebflow-mnist-fc.json`"),
        (f"Anomaly, every family, digits, held-out 4: best `{best['model']}` ({best['score']}) / worst `{worst['model']}` ({worst['score']})", "no paper value",
         f"{pm(best['auprc'])} / {pm(worst['auprc'])} (3 seeds)", "new", "no", "`python experiments/anomaly_every_family.py --budget quick`",
         "`anomaly-every-family-digits.json`"),
        *_glance_new(),
        ("Speed: the digits main job end to end (AMD EPYC AVX-512, 2 threads)", "–",
         f"{speed['main_job']['now_wall_s']:.1f} s, {speed['main_job']['speedup']:.2f}× faster than before the chain gradients were written out",
         "–", "–", "`python bench/speed.py --main-job --baseline e213b34`", "`bench/results/speed-main-job-no-autograd.json`"),
    ]
    lines = ["| result | paper | ours | status | chosen on test data? | command | record |", "|---|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)



def _within(ours: list[float], paper: float) -> str:
    """Where the paper's mean lies from ours, in standard errors of ours."""
    m, se = statistics.fmean(ours), statistics.stdev(ours) / len(ours) ** 0.5
    r = abs(m - paper) / se
    return f"{'consistent' if r < 2 else 'differs'}: {'under' if m < paper else 'over'} by {abs(m - paper):.3f}, {r:.1f} standard errors of our mean"


def _ahead(lfbm: list[float], other: list[float]) -> str:
    """LFBM-MCMC's lead over another model's seeds, in standard errors of the difference."""
    d = statistics.fmean(lfbm) - statistics.fmean(other)
    se = (statistics.variance(lfbm) / len(lfbm) + statistics.variance(other) / len(other)) ** 0.5
    return f"{'ahead' if d >= 0 else 'behind'} by {abs(d):.3f} ({abs(d) / se:.1f} standard errors)"


# LFBM-MCMC's five digit-4 seeds at the paper's schedule, each scored clean (eval mode) in its own record.
PAPER21_H4 = [f"{R}/refprotocol-paper21-avx2-seed1-e21-eval-s400.json", *(f"{R}/refprotocol-paper21-bf16-seed{s}-e21-eval-s400.json" for s in (2, 3, 4, 5))]


def _digit4_lfbm() -> tuple[list[float], list[float]]:
    """Those five seeds' AUPRC at 400 steps: clean, and the reference code's way."""
    return values(PAPER21_H4, "clean", "400"), values([f.replace("-eval-s400", "-s400") for f in PAPER21_H4], "leaky", "400")


def _paper_cells() -> list[dict]:
    """The cells of experiments/lfbm_table4.py paper's record (none before it exists)."""
    return record(f"{R}/table4-paper.json")["cells"] if (root() / R / "table4-paper.json").is_file() else []


def _paper_mean(cell: str) -> float:
    """The mean of a paper's table cell ("0.823 ± 0.009", or a bare "0.337")."""
    return float(cell.split()[0])


def _paper_lead(digits: tuple[int, ...]) -> str:
    """How far the paper's LFBM row stands above its best other row at ``digits``."""
    def mean(row: str, d: int) -> float:
        return _paper_mean(PAPER_TABLE4[row][PAPER_HOLDOUTS.index(d)])
    leads = [mean("LFBM", d) - max(mean(r, d) for r in PAPER_TABLE4 if r != "LFBM") for d in digits]
    return f"LFBM first by {min(leads):.2f}-{max(leads):.2f}"


def _glance_tasks() -> list[tuple[str, ...]]:
    """Glance rows of the latent-flow paper's Tables 3, 5 and 6 at CPU scale (MNIST, 1 seed): which
    model wins, against which the paper's CelebA rows name."""
    from genflows.table import PAPER

    inp = {m: csv_value(f"{R}/tables/inpainting.csv", m, "inpainting", "mse_mean") for m in ("lfbm-mcmc", "lfbm-vae")}
    rec = _rows_by_cell(f"{R}/tables/recovery.csv")
    settings = list(dict.fromkeys(s for _, s in rec))
    models = list(dict.fromkeys(m for m, _ in rec))
    paper = {m: [tuple(float(v) for v in cell.split(" / ")) for cell in PAPER["recovery"][1][m]] for m in models}

    def wins(get) -> int:  # settings where lfbm-mcmc has the lowest value of the models
        return sum(min(models, key=lambda m: get(m, k)) == "lfbm-mcmc" for k in range(len(settings)))
    ours = [wins(lambda m, k: float(rec[m, settings[k]]["mse_mean"])), wins(lambda m, k: float(rec[m, settings[k]]["fid_mean"]))]
    theirs = [wins(lambda m, k: paper[m][k][0]), wins(lambda m, k: paper[m][k][1])]
    return [
        ("LFBM Table 3 inpainting MSE (centre square hidden), MNIST at CPU scale: LFBM-MCMC / LFBM-VAE", "0.0557 / 0.0562 and 0.1937 / 0.2074 (CelebA, Table 3's two columns)",
         f"{inp['lfbm-mcmc']:.4f} / {inp['lfbm-vae']:.4f} (1 seed)",
         "not comparable (other data); " + ("the same order" if inp["lfbm-mcmc"] < inp["lfbm-vae"] else "the other order"), "no",
         "`bash experiments/lfbm_tables2_3_5_6_tasks.sh`", "`tables/inpainting.csv`"),
        (f"LFBM Tables 5-6 recovery, MNIST at CPU scale: of {len(settings)} masks, where the flow prior has the lowest MSE / FID of {', '.join(models)}",
         f"{theirs[0]} / {theirs[1]} (CelebA)", f"{ours[0]} / {ours[1]} (1 seed)", "not comparable (other data, FID of 250 samples)", "no",
         "`bash experiments/lfbm_tables2_3_5_6_tasks.sh`", "`tables/recovery.csv`"),
    ]


def _rows_by_cell(path: str) -> dict[tuple[str, str], dict]:
    return {(r["model"], r["setting"]): r for r in rows_of_csv(path)}


def _glance_new() -> list[tuple[str, ...]]:
    """Glance rows of the side-by-side and default-settings records, and of Table 4 at the paper's
    schedule (LFBM-MCMC on the other digits, the digit-4 baselines), where they exist."""
    rows = []
    lfbm = _digit4_lfbm()
    for c in _paper_cells():
        if (c["model"], c["holdout"]) == ("lfbm-mcmc", 4):
            continue
        clean = [x["auprc_clean"] for x in c["seeds"]]
        refs = [x["auprc_reference"] for x in c["seeds"] if x["auprc_reference"] is not None]
        if len(c["seeds"]) < 3 or len(refs) < len(clean):
            status = "in progress"
        else:
            against = [f"clean {_within(clean, _paper_mean(c['paper']))}; the reference way {_within(refs, _paper_mean(c['paper']))}"] if c["paper"] else []
            if c["model"] != "lfbm-mcmc" and c["holdout"] == 4:  # the paper's claim at equal budget
                against.append(f"LFBM-MCMC {_ahead(lfbm[0], clean)} clean, {_ahead(lfbm[1], refs)} the reference way")
            status = "; ".join(against) or "no paper row"
        what = "LFBM" if c["model"] == "lfbm-mcmc" else f"{lfbm_paper.cell_name(c, code=True)} (baseline)"
        rows.append((f"{what} Table 4, digit {c['holdout']}, the paper's 21-epoch schedule: clean 400 steps / the reference code's scoring "
                     f"(the seeds pool: {'; '.join(c['setups'])})",
                     c["paper"] or "–", f"{mean_sd(clean)}{f' / {mean_sd(refs)}' if refs else ''} ({len(c['seeds'])} seed{'s' * (len(c['seeds']) > 1)})",
                     status, "no",
                     f"`python experiments/lfbm_table4.py paper --data-root DATA --models {c['model']} --holdouts {c['holdout']}`", "`table4-paper.json`"))
    if (root() / R / "equal-time-toy.json").is_file():
        eq = {(c["data"], c["model"]): c for c in record(f"{R}/equal-time-toy.json")["cells"]}
        sp = [eq.get(("spiral", m)) for m in ("vapo", "coopflow", "flow")]
        if all(sp):
            rows.append(("Every family at equal training time (45 s, 1 thread), spiral MMD² × 10³: VAPO / CoopFlow / its flow alone (`flow`)", "no paper value",
                         " / ".join(mean_sd([1e3 * v for v in c["per_seed"]], 2) for c in sp) + " (3 seeds)",
                         "new: VAPO " + ("matches or beats" if sp[0]["mmd"]["mean"] <= sp[1]["mmd"]["mean"] else "behind") + " CoopFlow", "no",
                         "`python experiments/equal_time_side_by_side.py --task toy --data spiral,checkerboard-ebflow --seconds 45`", "`equal-time-toy.json`"))
    if (root() / R / "toy-defaults-spiral.json").is_file():
        g = _show_groups(f"{R}/toy-defaults-spiral.json")
        co, fl = g[("coopflow", "spiral")], g[("flow", "spiral")]
        rows.append(("Toy defaults, spiral MMD² × 10³: CoopFlow / its own flow q_α / the `flow` model", "qualitative (Figure 2)",
                     f"{mean_sd([1e3 * r['metrics']['mmd'] for r in co], 2)} / {mean_sd([1e3 * r['metrics']['mmd_flow'] for r in co], 2)} / "
                     f"{mean_sd([1e3 * r['metrics']['mmd'] for r in fl], 2)} (3 seeds)", "CoopFlow at least as good as its flow", "yes: the toy recipe was picked on the spiral",
                     "`genflows run coopflow --task toy --data spiral --seeds 3`", "`toy-defaults-spiral.json`"))
    return rows


def _chains(rec: dict) -> str:
    """How a seed's Langevin chains ran in training, e.g. "bf16 (AVX-512)"; a seed resumed on
    another kind of machine lists each setup in order. The oldest digit-4 record states its
    dtype and CPU in its prose fields only."""
    def one(m: dict) -> str:
        dtype = m.get("chain_dtype") or ("float32" if "float32 chains" in m.get("what", "") else "?")
        cap = m.get("capability") or ("AVX2" if "AVX2" in m.get("cpu", "") else "?")
        return f"{'bf16' if dtype == 'bfloat16' else dtype} ({'AVX-512' if cap == 'AVX512' else cap})"
    return " then ".join(dict.fromkeys(one(m) for m in rec.get("train_machines") or [rec]))


def _seed_groups(labels: dict[int, str]) -> str:
    """"seed 1 float32 (AVX2), seeds 2-5 bf16 (AVX-512)": runs of consecutive seeds alike."""
    runs: list[tuple[list[int], str]] = []
    for s in sorted(labels):
        if runs and runs[-1][1] == labels[s] and runs[-1][0][-1] == s - 1:
            runs[-1][0].append(s)
        else:
            runs.append(([s], labels[s]))
    return ", ".join((f"seed {s[0]}" if len(s) == 1 else f"seeds {s[0]}-{s[-1]}") + f" {label}" for s, label in runs)


def readme_table4_status() -> str:
    """README's line above Table 4: which paper-schedule cells have landed (seeds per cell), which
    of the paper budget's cells are still to come, and how each seed's chains ran in training."""
    chains = {("lfbm-mcmc", 4): {s: _chains(lfbm_paper.metrics21(s)) for s in lfbm_paper.SEEDS}}
    names = {("lfbm-mcmc", 4): "lfbm-mcmc"}
    for c in _paper_cells():
        if (c["model"], c["holdout"]) != ("lfbm-mcmc", 4):
            chains[c["model"], c["holdout"]] = {x["seed"]: _chains(x) for x in c["seeds"]}
            names[c["model"], c["holdout"]] = lfbm_paper.cell_name(c)
    seeds = BUDGETS["paper"]["seeds"]
    todo = [f"{lfbm_paper.cell_name({'model': m, 'model_overrides': model_overrides(BUDGETS['paper'], m)})} at digit {h}" + (f" ({len(chains[m, h])} of {seeds} seeds so far)" if (m, h) in chains else "")
            for m, h in BUDGETS["paper"]["cells"] if len(chains.get((m, h), ())) < seeds]
    landed = "; ".join(f"{names[k]} at digit {k[1]}, {len(v)} seed{'s' * (len(v) != 1)}" for k, v in chains.items())
    how = "; ".join(f"digit {k[1]}'s {_seed_groups(v)}" if k[0] == "lfbm-mcmc" else f"{names[k]}'s {_seed_groups(v)}" for k, v in chains.items())
    return (f"Measured: {landed}. " + (f"Still to come, {seeds} seeds each: {', '.join(todo)}. " if todo else "")
            + f"Chains in training: {how}.")


def readme_table4() -> str:
    """README's Table 4 at the paper's digits: LFBM-MCMC at the paper's schedule under both
    scorings (digit 4: five seeds; the other digits from experiments/lfbm_table4.py paper as
    they land), the paper's rows, and the five models at the fast schedule (30 steps)."""
    digits = (1, 4, 5, 7, 9)
    lfbm = _digit4_lfbm()
    clean, ref = {("lfbm-mcmc", 4): lfbm[0]}, {("lfbm-mcmc", 4): lfbm[1]}
    names = {"lfbm-mcmc": "lfbm-mcmc"}
    for c in _paper_cells():
        names[c["model"]] = lfbm_paper.cell_name(c)
        if (c["model"], c["holdout"]) != ("lfbm-mcmc", 4):
            clean[c["model"], c["holdout"]] = [x["auprc_clean"] for x in c["seeds"]]
            refs = [x["auprc_reference"] for x in c["seeds"] if x["auprc_reference"] is not None]
            if refs:
                ref[c["model"], c["holdout"]] = refs

    def cell(found: dict, m: str, d: int) -> str:
        return f"{mean_sd(found[m, d])} (n={len(found[m, d])})" if (m, d) in found else "–"

    lines = ["| model, schedule, scoring | " + " | ".join(f"digit {d}" for d in digits) + " |", "|---" * (len(digits) + 1) + "|"]
    for m in dict.fromkeys(m for m, _ in clean):  # LFBM-MCMC first, then the baselines as they land
        lines += [f"| {names[m]}, the paper's 21 epochs, clean split, eval mode, 400 steps | " + " | ".join(cell(clean, m, d) for d in digits) + " |",
                  f"| {names[m]}, the paper's 21 epochs, the reference code's scoring | " + " | ".join(cell(ref, m, d) for d in digits) + " |"]
    for name, vals in PAPER_TABLE4.items():
        lines.append(f"| {name} (paper, 10 runs) | " + " | ".join(vals) + " |")
    fast = {d: record(f"{R}/digit{d}-five-models-4epochs.json") for d in (4, 5, 7)}
    for m in ("lfbm-mcmc", "lfbm-vae", "lebm", "abp", "vae"):
        lines.append(f"| {m}, 4 epochs at lr 1e-3, 30 steps (chosen on test) | "
                     + " | ".join(f"{fast[d]['per_model'][m]['mean']:.3f} ± {fast[d]['per_model'][m]['sd']:.3f}" if d in fast else "–" for d in digits) + " |")
    fracs = {d: statistics.fmean(r["anomaly_fraction"] for r in fast[d]["rows"]) for d in fast}
    lines.append("| chance (anomaly fraction) | " + " | ".join(f"{fracs[d]:.3f}" if d in fracs else "–" for d in digits) + " |")
    return "\n".join(lines)


def readme_coopflow() -> str:
    """README's CoopFlow Tables 6-7 at CPU scale on MNIST, seeds 1-3."""
    coop = record(f"{R}/coopflow-seeds-mnist-recipe.json")["models"]
    paper = record(f"{R}/coopflow-seeds-mnist-recipe-paper-recon.json")["models"]
    f, c, e = coop["flow"], paper["coopflow-pre"], paper["ebm-sr"]
    mse = ", ".join(f"{v:.4f}" for v in c["mse"])
    return "\n".join([
        "| model | FID, seeds 1-3 (mean ± sd) | reconstruction MSE | paper, CIFAR-10: FID / MSE |",
        "|---|---|---|---|",
        f"| `flow` | {f['fid_mean']:.1f} ± {f['fid_sd']:.1f} | – (invertible) | 92.10 / – |",
        f"| `coopflow-pre` | **{c['fid_mean']:.1f} ± {c['fid_sd']:.1f}** | {c['mse_mean']:.4f} ± {c['mse_sd']:.4f} (seeds: {mse}) | 21.16 / 0.0254 |",
        f"| `ebm-sr` | {e['fid_mean']:.1f} ± {e['fid_sd']:.1f} | {e['mse_mean']:.4f} ± {e['mse_sd']:.4f} | 49.51 / 0.1083 |",
    ])


TABLES: dict[str, Callable[[], str]] = {
    "glance": glance,
    "readme-table4": readme_table4,
    "readme-table4-status": readme_table4_status,
    "readme-coopflow": readme_coopflow,
    "anomaly-every-family-digits": lambda: anomaly_every_family("digits"),
    "anomaly-every-family-mnist": lambda: anomaly_every_family("mnist"),
    "readme-anomaly-every-family": lambda: anomaly_every_family("digits", compact=True),
    "ebflow-mnist-fc": ebflow_mnist_fc,
    "readme-ebflow": readme_ebflow,
    "ebflow-ablation": ebflow_ablation,
    "ebflow-toy": ebflow_toy,
    "ebflow-speed": ebflow_speed,
    "shared-machine": shared_machine,
    "table-jobs": table_jobs,
    "equal-time-toy": lambda: equal_time("toy"),
    "equal-time-generation": lambda: equal_time("generation"),
    "toy-defaults": toy_defaults,
    "vapo-toy-every": vapo_toy_every,
    **lfbm_paper.TABLES,
    **lfbm_fast.TABLES,
    **coopflow_tasks.TABLES,
    **speed.TABLES,
}

_BLOCK = re.compile(r"(<!-- table:(?P<name>[\w-]+) -->\n)(?P<body>.*?)\n?(<!-- /table:(?P=name) -->)", re.S)


def sync(check: bool, root: Path = ROOT) -> list[str]:
    """Rewrite (or, with ``check``, compare) every generated table of the documents under
    ``root``; returns the drifted ones."""
    set_root(root)
    drifted: list[str] = []
    for doc in (Path(root) / d for d in DOCUMENTS):
        text = doc.read_text()

        def fill(m: re.Match) -> str:
            name = m["name"]
            if name not in TABLES:
                raise SystemExit(f"{doc.name}: unknown generated table '{name}' (known: {', '.join(TABLES)})")
            body = TABLES[name]()
            if body != m["body"]:
                drifted.append(f"{doc.relative_to(root)}: table '{name}'")
            return m.group(1) + body + "\n" + m.group(4)

        new = _BLOCK.sub(fill, text)
        if not check and new != text:
            doc.write_text(new)
    return drifted


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare only; exit 1 where a document drifted from its records")
    a = ap.parse_args()
    drifted = sync(a.check)
    if a.check and drifted:
        print("out of date with their records (run python docs/tables.py): " + "; ".join(drifted), file=sys.stderr)
        raise SystemExit(1)
    print(("checked: " if a.check else "written: ") + f"{sum(len(_BLOCK.findall((ROOT / d).read_text())) for d in DOCUMENTS)} generated tables")


if __name__ == "__main__":
    main()
