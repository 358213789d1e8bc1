"""What every table generator of ``docs/tables.py`` reads records with: one root (the repository,
or a copy of it under test), JSON and CSV readers, and the mean ± sample sd format."""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
R, B = "experiments/results", "bench/results"
_where = {"root": ROOT}  # sync() points this at the tree it checks


def set_root(root: Path) -> None:
    _where["root"] = Path(root)


def root() -> Path:
    return _where["root"]


def record(path: str) -> dict:
    """The JSON record at ``path`` (relative to the repository root)."""
    return json.loads((root() / path).read_text())


def rows_of_csv(path: str) -> list[dict]:
    with (root() / path).open() as f:
        return list(csv.DictReader(f))


def mean_sd(values: list[float], digits: int = 3) -> str:
    """``m ± sd`` with the sample (n - 1) standard deviation; one value alone is printed bare."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.fmean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def values(files: list[str], *keys) -> list[float]:
    """``record(f)[k1][k2]...`` of every file, as floats."""
    out = []
    for f in files:
        v = record(f)
        for k in keys:
            v = v[k]
        out.append(float(v))
    return out


def csv_value(path: str, model: str, setting: str, column: str) -> float:
    return next(float(r[column]) for r in rows_of_csv(path) if r["model"] == model and r["setting"] == setting)


def minus(text: str) -> str:
    """The document's minus sign (U+2212) for every ASCII hyphen-minus in a formatted number."""
    return text.replace("-", "−")


def side_runs(runs: list[dict], side: str, key: str) -> list[float]:
    """``key`` of a speed record's ``main_job.runs`` measured on ``side`` ("now" or "base"), in order."""
    return [r[key] for r in runs if r["side"] == side]
