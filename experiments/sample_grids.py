"""The sample grids behind reported FIDs, kept beside their records as one figure per table.

    python experiments/sample_grids.py table experiments/runs/tables/recovery   # a `genflows table` folder

A run folder's ``samples.png`` (64 samples at the run's seed, drawn after training by the model the
FID then scores) is lost with the run folder; the records in ``experiments/results/`` are kept. This
module puts the grids of one table into one PNG there, each panel titled with the FID it stands
behind. ``experiments/table6/ablation.py`` calls :func:`compose` for its models;
``experiments/lfbm_tables2_3_5_6_tasks.sh`` calls ``table`` for the recovery table.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from genflows._runtime.output import pyplot
from genflows.errors import GenflowsError

__all__ = ["compose", "table_figure"]


def compose(panels: list[tuple[str, Path]], out: Path, title: str, ncols: int | None = None) -> Path:
    """One figure of ``(title, samples.png)`` panels, ``ncols`` per row (default: all in one row);
    a missing grid is an error, so a figure never silently drops the model it should show."""
    missing = [str(p) for _, p in panels if not Path(p).is_file()]
    if missing:
        raise GenflowsError(f"sample grid missing: {missing[0]} (its run folder was not kept: run the table again)")
    plt = pyplot()
    ncols = ncols or len(panels)
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.1 * ncols, 2.35 * nrows + 0.3), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (label, path) in zip(axes.flat, panels):
        ax.imshow(plt.imread(path), cmap="gray")
        ax.set_title(label, fontsize=7)
    fig.suptitle(title, fontsize=6)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.stem + ".tmp.png")  # atomic, as every record
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(out)
    return out


def table_figure(table_dir: Path, out: Path) -> Path:
    """Rows = models, columns = settings of a ``genflows table`` folder (its ``table.csv``), seed 1's grid
    in each cell, titled with the cell's FID (mean over its seeds)."""
    path = table_dir / "table.csv"
    if not path.is_file():
        raise GenflowsError(f"no table here: {path} is missing (run `genflows table TASK --out {table_dir}` first)")
    rows = list(csv.DictReader(path.open()))
    if not rows:
        raise GenflowsError(f"{path} has no cells")
    settings = list(dict.fromkeys(r["setting"] for r in rows))
    panels = []
    for r in rows:
        fid = f"FID {float(r['fid_mean']):.1f}" if r.get("fid_mean") else "no FID"
        cell = table_dir / Path(r["run_dir"]).name  # one seed: the run folder itself; several: seed1/ inside it
        grid = cell / "seed1" / "samples.png"
        panels.append((f"{r['model']}, {r['setting']}\n{fid}", grid if grid.is_file() else cell / "samples.png"))
    return compose(panels, out, f"Samples behind the FIDs of {table_dir} (seed 1 of each cell; FID in each title)", ncols=len(settings))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("table", help="the sample grids of a `genflows table` folder")
    t.add_argument("folder", type=Path)
    t.add_argument("--out", type=Path, default=None, help="default: experiments/results/tables/<folder name>-samples.png")
    a = ap.parse_args()
    out = a.out or Path("experiments/results/tables") / f"{a.folder.name}-samples.png"
    print(f"written: {table_figure(a.folder, out)}")


if __name__ == "__main__":
    from genflows.errors import guarded

    guarded(main, "sample_grids.py")
