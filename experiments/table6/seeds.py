"""CoopFlow paper, Table 6 over training seeds: several ``coopflow_table6.py ablation`` results side by side.

Reads ``experiments/results/coopflow-ablation-<data>-<tag>.json`` for each tag (one training seed each, the
same config and overrides apart from ``train.seed``), and writes per model the FID of every seed,
their mean and standard deviation, and for CoopFlow whether it beats the flow alone seed by seed
(Table 6's ordering). Reads finished results only; trains nothing.

    python experiments/coopflow_table6.py seeds --tags s13-sel-seed1 s13-sel-seed2 s13-sel-seed3 --out s13-sel
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

EXPERIMENTS = Path(__file__).resolve().parents[1]


def seed_of(info: dict) -> int:
    """The train.seed override of one ablation result (1, the config default, when absent)."""
    return next((int(s.split("=", 1)[1]) for s in info["overrides"] if s.startswith("train.seed=")), 1)


def summarize(infos: list[dict]) -> dict:
    """Per model: the seeds' FIDs (and its flow's, and reconstruction MSE), mean and sd; the
    seeds where CoopFlow's FID is below the flow alone's."""
    models: dict[str, dict] = {}
    for info in infos:
        for r in info["runs"]:
            m = models.setdefault(r["model"], {"seed": [], "fid": [], "fid_flow": [], "mse": [], "selected_epoch": [], "recon_protocol": []})
            m["seed"].append(seed_of(info))
            if r.get("mse") is not None:
                m["recon_protocol"].append(info["recon_protocol"])
            for k in ("fid", "fid_flow", "mse", "selected_epoch"):
                m[k].append(r.get(k))
    for m in models.values():
        for k in ("fid", "fid_flow", "mse"):
            vals = [v for v in m[k] if v is not None]
            m[f"{k}_mean"] = statistics.fmean(vals) if vals else None
            m[f"{k}_sd"] = statistics.stdev(vals) if len(vals) > 1 else None
    if "flow" in models:
        flow = dict(zip(models["flow"]["seed"], models["flow"]["fid"]))
        for name, m in models.items():
            if name != "flow":
                m["beats_flow"] = [s in flow and f < flow[s] for s, f in zip(m["seed"], m["fid"])]
    return models


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="mnist")
    ap.add_argument("--tags", nargs="+", required=True, help="ablation result tags, one per training seed")
    ap.add_argument("--out", required=True, help="name of the summary: results/coopflow-seeds-<data>-<out>.json / .md")
    args = ap.parse_args()
    from genflows.errors import GenflowsError
    from genflows._runtime.io import write_json, write_text

    infos = []
    for tag in args.tags:
        path = EXPERIMENTS / "results" / f"coopflow-ablation-{args.data}-{tag}.json"
        if not path.is_file():
            raise GenflowsError(f"{path} is missing: run experiments/coopflow_table6.py ablation --tag {tag} first")
        info = json.loads(path.read_text())
        # Older results lack the key; the ablation names a paper-protocol result ...-recon-paper.
        info.setdefault("recon_protocol", "paper" if tag.endswith("-recon-paper") else "adam")
        infos.append(info)
    models = summarize(infos)
    n_fid = infos[0]["runs"][0]["fid_n"]
    other = sorted({s for i in infos for s in i["overrides"] if not s.startswith("train.seed=")})
    stem = EXPERIMENTS / "results" / f"coopflow-seeds-{args.data}-{args.out}"
    write_json(stem.with_suffix(".json"), {"date": time.strftime("%Y-%m-%d"), "tags": args.tags, "config": infos[0]["config"], "overrides": other,
                                           "fid_n": n_fid, "models": models})

    def f(v, p=1):
        return "–" if v is None else f"{v:.{p}f}"

    seeds = sorted({seed_of(i) for i in infos})
    lines = [f"CoopFlow ablation on {args.data} over training seeds {seeds} (`{infos[0]['config']}`" + (f", {' '.join(other)}" if other else "")
             + f"; FID with N = {n_fid} samples vs {n_fid} test images; reconstruction MSE of the first {infos[0]['runs'][-1].get('recon_n', '–')} test images). "
             "Tags: " + ", ".join(args.tags) + ".", "",
             "| model | FID per seed | FID mean ± sd | its flow q_α per seed | selected epoch per seed | beats the flow alone | recon MSE mean ± sd (protocol) |",
             "|---|---|---|---|---|---|---|"]
    for name, m in models.items():
        sd = f" ± {f(m['fid_sd'])}" if m["fid_sd"] is not None else ""
        wins = f"{sum(m['beats_flow'])} of {len(m['beats_flow'])}" if "beats_flow" in m else "–"
        protocols = sorted(set(m["recon_protocol"]))
        if len(protocols) > 1:
            raise GenflowsError(f"{name}: reconstruction MSEs of different protocols ({', '.join(protocols)}) cannot be averaged; pass one protocol's tags")
        mse = f(m["mse_mean"], 4) + (f" ± {f(m['mse_sd'], 4)}" if m["mse_sd"] is not None else "") + (f" ({protocols[0]})" if protocols else "")
        def per_seed(key, fmt=f):
            return ", ".join(f"s{s} {fmt(v)}" for s, v in zip(m["seed"], m[key]))

        lines.append(f"| {name} | {per_seed('fid')} | {f(m['fid_mean'])}{sd} | {per_seed('fid_flow')} "
                     f"| {per_seed('selected_epoch', lambda e: str(e) if e else '–')} | {wins} | {mse} |")
    write_text(stem.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    from genflows.errors import guarded

    guarded(main, "coopflow_table6.py seeds")
