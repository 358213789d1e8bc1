"""Latent-flow paper, Table 4 (digit 4): what each difference from the reference code is worth, one
row per change, on the same training seeds, at the first-epoch CPU budget of the collapse study
(one MNIST epoch of configs/lfbm-mcmc-mnist.yaml, 2000 test images of the MEG split).

Reads the result files these wrote into experiments/results/ (the run folders are not needed, so
the table can be rebuilt from the record alone):

    python experiments/lfbm_table4.py collapse_study --data-root DATA --seeds 1-5 --threads 2 --runs runs/collapse
    python experiments/lfbm_table4.py collapse_study ... --seeds 1-3 --threads 2 --tag torchinit --set generator.init=torch
    python experiments/lfbm_table4.py collapse_study ... --seeds 1-3 --tag refflow --set prior.transform=reference
    python experiments/lfbm_table4.py collapse_study ... --seeds 1-3 --tag bf16 --set inference.autocast=true
    python experiments/lfbm_table4.py collapse_study ... --seeds 1 --tag f32-avx512 --set inference.autocast=false
    python experiments/lfbm_table4.py collapse_study ... --seeds 1-3 --tag torchinit-bf16 --set generator.init=torch --set inference.autocast=true
    python experiments/lfbm_table4.py collapse_study ... --seeds 1-3 --tag refflow-bf16 --set prior.transform=reference --set inference.autocast=true
    python experiments/lfbm_table4.py collapse_study ... --seeds 1-3 --threads 2 --tag refflow-retrained --set prior.transform=reference
    python experiments/lfbm_table4.py reference_protocol runs/collapse-TAG/seedS --subset 2000 --steps 30,100,200,400 \\
        --leak 0 --out experiments/results/refprotocol-collapse-TAG-seedS-s400.json
      (a tagged variant's 400-step column; recorded for TAG = torchinit and refflow-retrained)
    genflows score runs/collapse/seedS --name s400 --set anomaly.score_steps=400 \\
        --set "anomaly.score_checkpoints=[30,100,200]" --set anomaly.score_subset=2000 [--set anomaly.score_seed=K]
      (copied to experiments/results/score-collapse-seedS-s400[-scoreseedK].json)
    python experiments/lfbm_table4.py reference_protocol runs/collapse/seedS --subset 2000 --steps 30,100,200,400 \\
        [--bn-train --shuffle --batch 100] --out experiments/results/refprotocol-collapse-seedS-{leak,bntrain100}-s400.json
      (first recorded with --steps 30 and no -s400 suffix, on models trained before the chain
      gradients were written out; both are read)

and writes experiments/results/changes-lfbm-mcmc-mnist-h4.json plus a Markdown table on stdout.

    python experiments/lfbm_table4.py changes [--seeds 1-3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from genflows._runtime.io import write_json
from genflows.errors import GenflowsError, guarded
from table4.collapse_study import _seeds  # experiments/ is on sys.path when lfbm_table4.py runs this

EXPERIMENTS = Path(__file__).resolve().parents[1]
RESULTS = EXPERIMENTS / "results"


def _read(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _stat(values: list[float]) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.3f} (1 seed)"
    return f"{statistics.fmean(values):.3f} ± {statistics.stdev(values):.3f}"


def _row(name: str, per_seed: dict[int, dict], seeds: list[int]) -> dict:
    have = [s for s in seeds if s in per_seed]
    return {"change": name, "seeds": have,
            **{k: [per_seed[s][k] for s in have if per_seed[s].get(k) is not None]
               for k in ("auprc_30", "auprc_400", "collapsed", "epoch_seconds", "capability")}}


def _trained(tag: str, seeds: list[int]) -> dict[int, dict]:
    """First-epoch runs of one variant (its collapse-study record): 30-step AUPRC, collapse flag, epoch
    seconds and CPU, plus the 400-step AUPRC where the default's checkpoints were rescored."""
    rec = _read(RESULTS / f"collapse-lfbm-mcmc-mnist-h4{'-' + tag if tag else ''}.json")
    out = {}
    for r in (rec or {}).get("rows", []):
        if r["seed"] not in seeds:
            continue
        s = r["seed"]
        if not tag:
            s400 = _read(RESULTS / f"score-collapse-seed{s}-s400.json")
            auprc_400 = s400["auprc_at_steps"]["400"] if s400 else None
        else:
            s400 = _read(RESULTS / f"refprotocol-collapse-{tag}-seed{s}-s400.json")
            auprc_400 = s400["clean"].get("400") if s400 else None
        out[s] = {"auprc_30": r["auprc_2000_30steps"], "collapsed": r["collapsed"], "epoch_seconds": r["epoch_seconds"],
                  # records written before the key existed were all trained on the AVX2 CPU
                  "capability": r.get("capability") or "AVX2", "auprc_400": auprc_400}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="1-3")
    args = ap.parse_args()
    seeds = _seeds(args.seeds)
    base = _trained("", seeds)
    if not base:
        raise GenflowsError(f"no first-epoch records in {RESULTS}; run experiments/lfbm_table4.py collapse_study first")

    rows = [_row("default: reference init, coupling flow prior, float32 chains, clean split, eval-mode BatchNorm", base, seeds)]
    rows.append(_row("PyTorch's default init (generator.init=torch), trained with the current chain code (against the retrained rescoring baseline below)",
                     _trained("torchinit", seeds), seeds))
    rows.append(_row("the reference code's flow prior (prior.transform=reference)", _trained("refflow", seeds), seeds))
    # Trained on a CPU with native bf16: the same seeds in float32 there say how much the machine
    # alone moves a first epoch, and the init change is repeated in bf16 against the bf16 row.
    rows.append(_row("default, trained on another CPU (float32 chains)", _trained("f32-avx512", seeds), seeds))
    rows.append(_row("generator in bf16 inside the chains (inference.autocast=true)", _trained("bf16", seeds), seeds))
    rows.append(_row("PyTorch's default init, bf16 chains (against the bf16 row)", _trained("torchinit-bf16", seeds), seeds))
    rows.append(_row("the reference code's flow prior, bf16 chains (against the bf16 row)", _trained("refflow-bf16", seeds), seeds))
    # The rescoring block twice: as first recorded (30 steps), and on the same seeds' first epoch
    # retrained with the written-out chain gradients (a rounding-level change), along 400-step chains.
    for suffix, when in (("", ""), ("-s400", ", retrained with the current chain code")):
        leak, bn, clean = {}, {}, {}
        for s in seeds:
            if r := _read(RESULTS / f"refprotocol-collapse-seed{s}-leak{suffix}.json"):
                leak[s] = {"auprc_30": r["leaky"]["30"], "auprc_400": r["leaky"].get("400")}
                clean[s] = {"auprc_30": r["clean"]["30"], "auprc_400": r["clean"].get("400")}
            if r := _read(RESULTS / f"refprotocol-collapse-seed{s}-bntrain100{suffix}.json"):
                bn[s] = {"auprc_30": r["clean"]["30"], "auprc_400": r["clean"].get("400")}
        rows.append(_row(f"default, rescored by the rescoring script (the baseline of the next two rows){when}", clean, seeds))
        rows.append(_row(f"the reference split's leak (37 % of test normals are training images){when}", leak, seeds))
        rows.append(_row(f"train-mode BatchNorm, shuffled scoring batches of 100 (the reference's scoring){when}", bn, seeds))
    rows.append(_row("the reference code's flow prior, retrained with the current chain code (against the rescoring baseline above)",
                     _trained("refflow-retrained", seeds), seeds))

    # Scoring-seed against training-seed variance, along the same 400-step chains.
    steps = ("30", "100", "200", "400")
    by_training_seed = {s: _read(RESULTS / f"score-collapse-seed{s}-s400.json") for s in seeds}
    by_scoring_seed = {"own": by_training_seed.get(seeds[0])}
    for k in (101, 102):
        by_scoring_seed[str(k)] = _read(RESULTS / f"score-collapse-seed{seeds[0]}-s400-scoreseed{k}.json")
    variance = {}
    for label, group in (("training seeds", by_training_seed), (f"scoring seeds on training seed {seeds[0]}", by_scoring_seed)):
        got = {k: v for k, v in group.items() if v}
        variance[label] = {"members": list(got), **{st: [v["auprc_at_steps"][st] for v in got.values()] for st in steps}}

    out = {"date": time.strftime("%Y-%m-%d"), "budget": "one MNIST epoch of configs/lfbm-mcmc-mnist.yaml; 2000 test images (MEG split, anomaly.score_subset)",
           "rows": rows, "variance": variance}
    write_json(RESULTS / "changes-lfbm-mcmc-mnist-h4.json", out)  # atomic
    print("| change (one at a time) | seeds | AUPRC, 30 steps | AUPRC, 400 steps | collapsed | trained on |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        col = f"{sum(r['collapsed'])} of {len(r['collapsed'])}" if r["collapsed"] else "–"
        print(f"| {r['change']} | {','.join(map(str, r['seeds'])) or '–'} | {_stat(r['auprc_30'])} | {_stat(r['auprc_400'])} | {col} | {', '.join(sorted(set(r['capability']))) or '–'} |")
    print()
    print("| spread over | members | " + " | ".join(f"{st} steps" for st in steps) + " |")
    print("|---|---|" + "---|" * len(steps))
    for label, v in variance.items():
        print(f"| {label} | {', '.join(map(str, v['members'])) or '–'} | " + " | ".join(_stat(v[st]) for st in steps) + " |")


if __name__ == "__main__":
    guarded(main, "lfbm_table4.py changes")
