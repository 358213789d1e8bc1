"""``genflows show RUN_DIR [RUN_DIR...]``: finished runs side by side, without reading JSON by hand.

One row per run folder (a multi-seed folder counts as its seed folders): model, task, data, seed,
epochs, the task's headline metrics, wall times and the selected epoch, then one row per
``genflows score`` result kept in that folder. Runs whose configs differ only by the seed get a
``mean ± sd`` row after them. Only finished runs are shown: a folder that is not a run, or one
still training (no ``metrics.json``), is a user error, so a table never mixes finished numbers
with half-trained ones; the error says how far each unfinished seed has come (:func:`progress`).
``genflows show --progress`` lists that for every seed, finished or not, of runs or of a
table's folder (:func:`show_progress`).
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import RunConfig, to_dict
from .errors import GenflowsError
from ._runtime.lock import is_held
from .runner import _RESUME_FREE, _flat, seed_dir, stored_config

__all__ = ["RunRecord", "run_config", "read_run", "progress", "expand_runs", "collect", "render_table", "show", "run_folders", "status", "show_progress"]

# Keys that do not make two runs different experiments (where a run lives, how it was watched).
# Keys a run may change on resume leave the numbers alone, so they never split seeds either.
_IGNORED = ("train.seed", "watch.", *sorted(_RESUME_FREE))


@dataclass
class RunRecord:
    """What ``show`` reads from one finished run folder (or one score result inside it)."""

    path: Path
    cfg: RunConfig
    metrics: dict
    label: str = ""
    score_name: str | None = None  # set for a genflows score result
    scores: list["RunRecord"] = field(default_factory=list)

    @property
    def seed(self) -> int:
        return int(self.metrics.get("seed", self.cfg.train.seed))

    def experiment(self) -> tuple:
        """The config without the seed (and without where/how it ran): runs that share it are seeds
        of one experiment."""
        flat = _flat(to_dict(self.cfg))
        return tuple(sorted((k, repr(v)) for k, v in flat.items() if not k.startswith(_IGNORED) and k not in _IGNORED))


def _read_json(path: Path, what: str) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise GenflowsError(f"{path} is not readable JSON: {what} is half-written or damaged") from None
    if not isinstance(data, dict):
        raise GenflowsError(f"{path} does not hold a {what}")
    return data


def run_config(path: Path) -> RunConfig:
    """The config a run folder was made with; a folder without one is not a run (user error)."""
    return stored_config(path, advice="")


def _unfinished(path: Path) -> GenflowsError:
    return GenflowsError(f"{path} is not a finished run (no metrics.json; {progress(path)}); {_advice([path], path)}")


def _advice(folders: list[Path], run: Path) -> str:
    if any(is_held(f) for f in folders):
        return "another process is training or scoring it now"
    return f"resume it with genflows run MODEL --resume {run}"


def progress(path: Path) -> str:
    """Where an unfinished run folder stands: its epochs, the batches of an epoch saved part-way
    and the scoring batches stored, e.g. "after epoch 21 of 21; scoring joint: 12 of 39 batches"
    (a run of the paper's schedule trains and scores for hours)."""
    from .tasks._fit import n_epochs
    from .trainer import position, resume_point

    try:
        state, _ = resume_point(path / "checkpoint.pt")  # where a resume would start (a stale partial ignored)
    except GenflowsError:
        return "its checkpoint is unreadable"
    if not state:
        return "; ".join(["no checkpoint yet", *_stores(path)])
    planned = n_epochs(run_config(path))
    return "; ".join([position(state["epoch"], state.get("within_epoch"), planned), *_training_left(state, planned), *_stores(path)])


def _training_left(state: dict, planned: int) -> list[str]:
    """The training time left at the run's median epoch so far, e.g. "about 4.1 h of training
    left at its median epoch (23 min)": the median, since an epoch beside other jobs runs slower."""
    seconds = [h["seconds"] for h in state.get("history", []) if _num(h.get("seconds"))]
    within = state.get("within_epoch")
    left = planned - state["epoch"] - (within["done"] / within["n_batches"] if within else 0)
    if not seconds or left <= 0:
        return []
    median = statistics.median(seconds)
    return [f"about {_duration(left * median)} of training left at its median epoch ({_duration(median)})"]


def _stores(path: Path) -> list[str]:
    """Each scoring pass whose finished batches are stored in ``path``, e.g. "scoring joint: 12 of 39 batches"."""
    from ._runtime.batch_store import SUFFIX, BatchStore

    return [f"{f.name.removesuffix(SUFFIX).replace('-', ' ')}: {BatchStore.progress(f, left=_duration)}" for f in sorted(path.glob(f"*{SUFFIX}"))]


def read_run(path: str | Path) -> RunRecord:
    """One finished single-seed run folder, with its score results (``score-*.json``)."""
    path = Path(path)
    if not path.is_dir():
        raise GenflowsError(f"{path} is not a folder" if path.exists() else f"no such run folder: {path}")
    cfg = run_config(path)
    m = path / "metrics.json"
    if not m.is_file():
        raise _unfinished(path)
    metrics = _read_json(m, "run's metrics")
    for key in ("model", "task"):
        if key not in metrics:
            raise GenflowsError(f"{m} is not a genflows metrics file (no '{key}')")
    rec = RunRecord(path, cfg, metrics, label=str(path))
    for f in sorted(path.glob("score-*.json")):
        data = _read_json(f, "score result")
        name = f.stem.removeprefix("score-")
        rec.scores.append(RunRecord(f, cfg, data, label=f"{path} [{name}]", score_name=name))
    return rec


def expand_runs(paths: list[str | Path]) -> list[Path]:
    """Run folders to read: a multi-seed folder (``seeds: N`` in its config) stands for its seed
    folders, in seed order."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir() and (p / "config.yaml").is_file() and not (p / "metrics.json").exists():
            cfg = run_config(p)
            if cfg.seeds > 1:
                seeds = _seed_folders(p, cfg)
                missing = [f"{s.name} ({progress(s) if s.is_dir() else 'no folder'})" for s in seeds if not (s / "metrics.json").is_file()]
                if missing:
                    raise GenflowsError(f"{p} is not a finished run: {', '.join(missing)} not finished; {_advice(seeds, p)}")
                out.extend(seeds)
                continue
        out.append(p)
    return out


def _seed_folders(path: Path, cfg: RunConfig) -> list[Path]:
    """Every seed's folder of the run in ``path`` (``path`` itself for one seed), made yet or not."""
    return [seed_dir(path, cfg, cfg.train.seed + i) for i in range(cfg.seeds)]


def _headline(task: str) -> tuple[list[str], list[str]]:
    """(metric keys, wall-time keys) of a task's HEADLINE."""
    from .tasks import TASKS

    keys = getattr(TASKS.get(task), "HEADLINE", ())
    return [k for k in keys if not k.endswith("seconds")], [k for k in keys if k.endswith("seconds")]


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))


def _row(rec: RunRecord) -> dict:
    m, cfg = rec.metrics, rec.cfg
    data = cfg.data.name + (f" h{cfg.data.holdout}" if m.get("task") == "anomaly" else "")
    metric_keys, time_keys = _headline(m["task"])
    extra_times = [k for k in m if k.endswith("_seconds") and k not in time_keys and _num(m[k])]
    row = {
        "run": rec.label,
        "model": m["model"],
        "task": m["task"],
        "data": data,
        "seed": rec.seed,
        "epochs": m.get("epochs"),
        "selected_epoch": m.get("selected_epoch") or m.get("epochs"),
        "metrics": {k: m[k] for k in metric_keys if _num(m.get(k))},
        "seconds": {k: m[k] for k in [*time_keys, *extra_times] if _num(m.get(k))},
    }
    if rec.score_name is not None:
        s = m.get("scored", {})
        row["score"] = rec.score_name
        row["selected_epoch"] = s.get("epoch", row["selected_epoch"])
        row["checkpoint"] = s.get("checkpoint")
    return row


def _mean_sd(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0, "n": len(values)}


def collect(paths: list[str | Path]) -> dict:
    """Rows of every run and score result, and a ``mean ± sd`` group for each set of runs that
    differ only by seed (the JSON that ``show --json`` prints)."""
    records = [read_run(p) for p in expand_runs(paths)]
    rows: list[dict] = []
    groups: list[dict] = []
    order: dict[tuple, list[RunRecord]] = {}
    for r in records:
        order.setdefault(r.experiment(), []).append(r)
    for members in order.values():
        seeds = [r.seed for r in members]
        grouped = len(members) > 1 and len(set(seeds)) == len(seeds)
        for r in members:
            for row in [_row(r), *(_row(s) for s in r.scores)]:
                row["seed_group"] = len(groups) if grouped else None
                rows.append(row)
        if grouped:
            member_rows = [_row(r) for r in members]
            keys = [k for k in member_rows[0]["metrics"] if all(k in mr["metrics"] for mr in member_rows)]
            tkeys = [k for k in member_rows[0]["seconds"] if all(k in mr["seconds"] for mr in member_rows)]
            groups.append({
                "runs": [str(r.path) for r in members],
                "model": member_rows[0]["model"],
                "task": member_rows[0]["task"],
                "data": member_rows[0]["data"],
                "seeds": seeds,
                "epochs": member_rows[0]["epochs"],
                "metrics": {k: _mean_sd([mr["metrics"][k] for mr in member_rows]) for k in keys},
                "seconds": {k: _mean_sd([mr["seconds"][k] for mr in member_rows]) for k in tkeys},
            })
    return {"runs": rows, "seed_groups": groups}


def _fmt(v: Any, sd: float | None = None) -> str:
    if v is None:
        return "-"
    if sd is not None:
        return f"{v:.4g} ± {sd:.2g}"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _secs(v: float) -> str:
    return f"{v:.1f}" if v < 100 else f"{v:.0f}"


def _short_time(k: str) -> str:
    return k.removesuffix("_seconds") + " s"


def render_table(data: dict) -> str:
    """The rows as a plain-text table; seed groups follow their runs as ``mean ± sd`` rows."""
    rows, groups = data["runs"], data["seed_groups"]
    mkeys = list(dict.fromkeys(k for r in rows for k in r["metrics"]))
    tkeys = list(dict.fromkeys(k for r in rows for k in r["seconds"]))
    header = ["run", "model", "task", "data", "seed", "epochs", *mkeys, *map(_short_time, tkeys), "selected"]
    table: list[list[str]] = []
    for i, r in enumerate(rows):
        table.append([
            r["run"], r["model"], r["task"], r["data"], str(r["seed"]), _fmt(r["epochs"]),
            *(_fmt(r["metrics"].get(k)) for k in mkeys),
            *(_secs(r["seconds"][k]) if k in r["seconds"] else "-" for k in tkeys),
            _fmt(r["selected_epoch"]),
        ])
        gi = r.get("seed_group")
        if gi is not None and (i + 1 == len(rows) or rows[i + 1].get("seed_group") != gi):
            g = groups[gi]  # the group's row right after its last member (and that member's scores)
            table.append([
                f"mean ± sd over {len(g['seeds'])} seeds", g["model"], g["task"], g["data"], ",".join(map(str, g["seeds"])),
                _fmt(g["epochs"]),
                *(_fmt(g["metrics"][k]["mean"], g["metrics"][k]["sd"]) if k in g["metrics"] else "-" for k in mkeys),
                *(f"{_secs(g['seconds'][k]['mean'])} ± {_secs(g['seconds'][k]['sd'])}" if k in g["seconds"] else "-" for k in tkeys),
                "",
            ])
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(header)]
    fmt = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *map(fmt, table)])


def run_folders(path: Path) -> list[Path]:
    """The single-seed run folders under ``path``: itself, a multi-seed run's seed folders (those
    not made yet included), or, for a table's folder (``genflows table --out``), every cell's."""
    if not path.is_dir():
        raise GenflowsError(f"{path} is not a folder" if path.exists() else f"no such run folder: {path}")
    if (path / "config.yaml").is_file():
        cfg = run_config(path)
        return _seed_folders(path, cfg) if not (path / "metrics.json").exists() else [path]
    cells = sorted(d for d in path.iterdir() if d.is_dir() and (d / "config.yaml").is_file())
    if not cells:
        raise GenflowsError(f"{path} holds no genflows run folder (no config.yaml in it or in its subfolders)")
    return [f for c in cells for f in run_folders(c)]


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 100 else f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def status(path: Path) -> str:
    """One run folder's state in words: finished, with its headline metrics and wall times, or how
    far it has come (:func:`progress`); plus any scoring pass whose batches are stored, and
    whether a process holds it now."""
    if not path.is_dir():  # not begun, or trained elsewhere (a table's record may still hold it)
        return "no folder"
    if not (path / "config.yaml").is_file():
        return "not started"
    m = path / "metrics.json"
    if m.is_file():
        metrics = _read_json(m, "run's metrics")
        keys, _ = _headline(str(metrics.get("task")))
        done = [f"{k} {_fmt(metrics[k])}" for k in keys if _num(metrics.get(k))]
        done += [f"{k.removesuffix('_seconds')} {_duration(metrics[k])}" for k in ("train_seconds", "score_seconds") if _num(metrics.get(k))]
        # a later pass over the finished model (experiments/table4's reference-way scoring) keeps a store
        where = [f"finished: {', '.join(done)}" if done else "finished", *_stores(path)]
    else:
        where = [progress(path)]
    return "; ".join(where + (["running now"] if is_held(path) else []))


def show_progress(paths: list[str | Path], as_json: bool = False) -> str:
    """``genflows show --progress``: one line per run folder, finished or not (a table's cells
    train for days; :func:`show` itself shows finished runs only)."""
    if not paths:
        raise GenflowsError("genflows show needs at least one RUN_DIR")
    rows = [{"run": str(f), "status": status(f)} for p in map(Path, paths) for f in run_folders(p)]
    counts = _tally([r["status"] for r in rows])
    if as_json:
        return json.dumps({"runs": rows, "counts": counts}, indent=2)
    width = max(len(r["run"]) for r in rows)
    lines = [f"{r['run'].ljust(width)}  {r['status']}" for r in rows]
    if len(rows) > 1:  # a table of many seeds: where the whole stands
        lines.append(f"{len(rows)} seed runs: {counts['finished']} finished, {counts['part_way']} part-way "
                     f"({counts['running']} running now), {counts['not_here']} not begun here (or trained on another machine)")
    return "\n".join(lines)


def _tally(statuses: list[str]) -> dict[str, int]:
    """How many of :func:`status`'s lines are finished, part-way, not begun here (no folder, or
    one without a config: a table's record may hold such a seed, trained elsewhere), and held by a
    process now."""
    finished = sum(s.startswith("finished") for s in statuses)
    not_here = sum(s in ("no folder", "not started") for s in statuses)
    return {"finished": finished, "part_way": len(statuses) - finished - not_here, "not_here": not_here,
            "running": sum(s.endswith("running now") for s in statuses)}


def show(paths: list[str | Path], as_json: bool = False) -> str:
    """The text ``genflows show`` prints: a table, or JSON with ``as_json``."""
    if not paths:
        raise GenflowsError("genflows show needs at least one RUN_DIR")
    data = collect(paths)
    return json.dumps(data, indent=2) if as_json else render_table(data)
