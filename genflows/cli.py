"""Command line: ``genflows run MODEL --task TASK ...``, ``genflows list``, ``genflows table``,
``genflows show RUN_DIR...`` and ``genflows score RUN_DIR``.

Any user error (bad flag, config, data, output folder) prints one line
``genflows: error: ...`` to stderr and exits with status 2; nothing is written.
"""

from __future__ import annotations

import sys

import click

from .errors import GenflowsError, guarded

__all__ = ["main", "cli"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """genflows: latent-variable generative models trained with short-run Langevin flows."""


@cli.command("list")
def list_cmd() -> None:
    """Name the registered models, priors, inference methods, tasks and datasets."""
    from .data import DATASETS
    from .inference import INFERENCES
    from .priors import PRIORS
    from .registry import MODELS
    from .tasks import TASKS

    from .tasks import tasks_of

    click.echo("latent-space models (tasks: " + ", ".join(tasks_of(next(n for n, s in MODELS.items() if s.family == "latent"))) + "):")
    for spec in MODELS.values():
        if spec.family == "latent":
            prior, inference = spec.defaults["prior"]["kind"], spec.defaults["inference"]["kind"]
            click.echo(f"  {spec.name:<14} prior={prior:<9} inference={inference:<9} {spec.description}")
    click.echo("data-space models:")
    for spec in MODELS.values():
        if spec.family != "latent":
            click.echo(f"  {spec.name:<14} {spec.description} [tasks: {', '.join(tasks_of(spec.name))}]")
    click.echo("priors:     " + ", ".join(PRIORS))
    click.echo("inference:  " + ", ".join(INFERENCES))
    click.echo("tasks:      " + ", ".join(TASKS))
    click.echo("datasets:   " + ", ".join(DATASETS))


@cli.command("run")
@click.argument("model", required=False)
@click.option("--task", default=None, help="task to run (default: anomaly)")
@click.option("--holdout", type=click.IntRange(0, 9), default=None, help="held-out (anomalous) digit, 0-9")
@click.option("--config", "config_file", type=str, default=None, help="YAML config (see configs/)")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="override a config key, e.g. --set inference.n_steps=30")
@click.option("--data", type=str, default=None, help="dataset (default: digits; `genflows list` names them all)")
@click.option("--data-root", type=str, default=None, help="data root holding MNIST/raw/... (default: $GENFLOWS_DATA or ~/.cache/genflows/data)")
@click.option("--download", is_flag=True, default=False, help="download the dataset with torchvision (needs internet)")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="training epochs")
@click.option("--seed", type=int, default=None, help="first seed")
@click.option("--seeds", type=click.IntRange(min=1), default=None, help="repeat the run with N seeds; report mean ± sd")
@click.option("--prior", type=str, default=None, help="override the model's prior")
@click.option("--inference", type=str, default=None, help="override the model's inference method")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="torch CPU threads")
@click.option("--out", type=str, default=None, help="run folder (default: runs/<model>-<task>-<data>-h<holdout>-<time>)")
@click.option("--resume", "resume_dir", type=str, default=None, help="continue the run in RUN_DIR from its last checkpoint, with its own config; with --epochs N, train it to N epochs in all")
@click.option("--progress/--no-progress", default=None, help="progress bars (default: when stderr is a terminal)")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True, help="where models, data and chains live")
@click.option("--amp", is_flag=True, default=False, help="CUDA only: bfloat16 autocast for the training loss (Langevin updates stay float32)")
@click.option("--tensorboard/--no-tensorboard", default=None, help="TensorBoard event files in the run folder (default: on; watch.tensorboard)")
def run_cmd(model, task, holdout, config_file, overrides, data, data_root, download, epochs, seed, seeds, prior, inference, threads, out, resume_dir,
            progress, device, amp, tensorboard):
    """Train MODEL and run a task on it, e.g. ``genflows run lfbm-mcmc --task anomaly --holdout 4``;
    ``genflows run --resume RUN_DIR [--epochs N]`` continues (and extends) a run folder."""
    from .config import load_config
    from .runner import run
    from .trainer import progress_enabled

    if resume_dir is not None:
        given = {"--task": task, "--holdout": holdout, "--config": config_file, "--set": overrides or None, "--data": data,
                 "--data-root": data_root, "--download": download or None, "--seed": seed,
                 "--seeds": seeds, "--prior": prior, "--inference": inference, "--out": out}
        clash = [k for k, v in given.items() if v is not None]
        if clash:
            raise GenflowsError(f"--resume continues a run with its own config (and --epochs N extends it); drop {', '.join(clash)}")
        from pathlib import Path

        from .runner import stored_config

        if not Path(resume_dir).is_dir():
            raise GenflowsError(f"cannot resume {resume_dir}: no such run folder")
        stored = stored_config(Path(resume_dir), advice="")
        model = model or stored.model  # the folder names its model, task and data
        extra_r: dict = {"out": resume_dir, "task": stored.task, "data": {"name": stored.data.name}}
        if threads:
            extra_r["train"] = {"threads": threads}
        if tensorboard is not None:  # watching never changes the run's numbers, so a resume may switch it
            extra_r["watch"] = {"tensorboard": tensorboard}
        cfg = load_config(model, extra=extra_r)
        run(cfg, progress=progress_enabled(progress), device=device, log=lambda m: click.echo(m), resume=True, watch_given=tensorboard is not None,
            epochs=epochs)
        return

    if model is None:
        raise GenflowsError("missing MODEL: genflows run MODEL [OPTIONS] (genflows list names them), or genflows run --resume RUN_DIR")
    extra: dict = {}

    def put(section: str | None, key: str, value) -> None:
        if value is None:
            return
        (extra.setdefault(section, {}) if section else extra)[key] = value

    put(None, "task", task)
    put(None, "seeds", seeds)
    put(None, "out", out)
    put("data", "holdout", holdout)
    put("data", "name", data)
    put("data", "root", data_root)
    put("data", "download", True if download else None)
    put("train", "epochs", epochs)
    put("train", "seed", seed)
    put("train", "threads", threads)
    put("prior", "kind", prior)
    put("inference", "kind", inference)
    put("train", "amp", True if amp else None)
    put("watch", "tensorboard", tensorboard)
    cfg = load_config(model, config_file, list(overrides), extra)
    run(cfg, progress=progress_enabled(progress), device=device, log=lambda m: click.echo(m))


def _int_list(text: str | None, what: str) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise GenflowsError(f"--{what} expects comma-separated integers, got '{text}'") from None


@cli.command("table")
@click.argument("task", type=click.Choice(["anomaly", "reconstruction", "inpainting", "recovery"]))
@click.option("--budget", type=click.Choice(["quick", "full", "paper"]), default="quick",
              help="quick: digits, minutes; full: MNIST, a fast schedule; paper: MNIST, the latent-flow paper's schedule, hours per cell "
                   "(see README; without --models and --holdouts LFBM-MCMC at every digit and the baselines at digit 4)")
@click.option("--models", type=str, default=None, help="comma-separated registry names (default: the paper's rows)")
@click.option("--holdouts", type=str, default=None, help="comma-separated digits (default: 1,4,5,7,9 as in Table 4)")
@click.option("--seeds", type=click.IntRange(min=1), default=None, help="seeds per cell (default: the budget's)")
@click.option("--data-root", type=str, default=None)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="override a config key for every model")
@click.option("--out", type=str, default=None, help="folder of run folders (default: runs/table-TASK); finished cells are read back")
@click.option("--jobs", type=click.IntRange(min=1), default=1, help="seed runs (of one cell or of several) trained at once in separate processes, the free cores split between them")
def table_cmd(task, budget, models, holdouts, seeds, data_root, overrides, out, jobs):
    """Run (or collect) every model on every setting of TASK and print the comparison table
    beside the paper's numbers (anomaly: held-out digits; recovery: the six masks)."""
    from .table import anomaly_table, task_table

    out = out or f"runs/table-{task}"
    model_list = [m.strip() for m in models.split(",")] if models else None
    if task != "anomaly":
        if holdouts is not None:
            raise GenflowsError("--holdouts is for the anomaly table only")
        md = task_table(task, out, budget=budget, models=model_list, seeds=seeds, data_root=data_root,
                        extra_overrides=list(overrides), log=lambda m: click.echo(m, err=True), jobs=jobs)
        click.echo(md)
        click.echo(f"written: {out}/table.md, {out}/table.csv")
        return
    md = anomaly_table(
        out,
        budget=budget,
        models=model_list,
        holdouts=_int_list(holdouts, "holdouts"),
        seeds=seeds,
        data_root=data_root,
        extra_overrides=list(overrides),
        log=lambda m: click.echo(m, err=True),
        jobs=jobs,
    )
    click.echo(md)
    click.echo(f"written: {out}/table.md, {out}/table.csv")


@cli.command("show")
@click.argument("run_dirs", nargs=-1, metavar="RUN_DIR [RUN_DIR...]")
@click.option("--json", "as_json", is_flag=True, default=False, help="print the table's data as JSON (for scripts)")
@click.option("--progress", "progress_only", is_flag=True, default=False,
              help="one line per run folder, finished or not: how far each has trained and scored, and the time left (RUN_DIR may be a table's --out)")
def show_cmd(run_dirs, as_json, progress_only):
    """Finished runs side by side: model, task, data, seed, epochs, headline metrics, wall times,
    selected epoch, and their score results; runs that differ only by seed also as mean ± sd."""
    from .show import show, show_progress

    click.echo((show_progress if progress_only else show)(list(run_dirs), as_json=as_json))


@cli.command("score")
@click.argument("run_dir")
@click.argument("epoch_number", nargs=-1, metavar="")
@click.option("--checkpoint", default="selected", show_default=True, metavar="selected|last|best|epoch N",
              help="the run's model (selected), its last or best epoch, or a kept per-epoch checkpoint (train.keep_checkpoints)")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="an evaluation setting, e.g. --set anomaly.score_steps=50")
@click.option("--name", default=None, help="results name: RUN_DIR/score-NAME.json and RUN_DIR/score-NAME/ (default: from the settings)")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="torch CPU threads")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--progress/--no-progress", default=None, help="progress bars (default: when stderr is a terminal)")
def score_cmd(run_dir, epoch_number, checkpoint, overrides, name, threads, device, progress):
    """Evaluate a trained run's checkpoint again with other evaluation settings, writing a new
    results file into the run folder (metrics.json and the checkpoints are never touched)."""
    from .score import score
    from .trainer import progress_enabled

    if epoch_number:  # `--checkpoint epoch 3`: the number arrives as a second argument
        if checkpoint.strip().lower() != "epoch" or len(epoch_number) != 1:
            raise GenflowsError(f"unexpected argument(s): {' '.join(epoch_number)} (genflows score takes one RUN_DIR)")
        checkpoint = f"epoch {epoch_number[0]}"
    elif checkpoint.strip().lower() == "epoch":
        raise GenflowsError("--checkpoint epoch needs the epoch number: --checkpoint epoch N")

    sets = list(overrides) + ([f"train.threads={threads}"] if threads else [])
    score(run_dir, checkpoint=checkpoint, overrides=sets, name=name, device=device, progress=progress_enabled(progress), log=lambda m: click.echo(m))


def _click_main(argv: list[str] | None):
    try:
        return cli.main(args=argv, prog_name="genflows", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as e:  # `genflows` alone: show help
        click.echo(e.ctx.get_help() if e.ctx else str(e))
        sys.exit(0)
    except click.ClickException as e:
        click.echo(f"genflows: error: {e.format_message()}".replace("\n", " "), err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("genflows: aborted", err=True)
        sys.exit(130)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one line on stderr and exit status 2."""
    try:
        rv = guarded(lambda: _click_main(argv), "genflows")
    finally:
        from ._runtime.distributed import teardown

        teardown()  # leaves a torchrun process group cleanly (no-op otherwise)
    sys.exit(rv if isinstance(rv, int) else 0)
