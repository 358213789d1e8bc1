"""genflows show: finished runs side by side, seeds as mean ± sd, one-line errors for the rest."""

import json
import shutil
import statistics

import pytest

from genflows.cli import main

from .cli_helpers import run_cli

TINY = ["run", "lfbm-mcmc", "--task", "anomaly", "--holdout", "4", "--epochs", "1", "--threads", "1", "--no-tensorboard",
        "--set", "inference.n_steps=3", "--set", "train.batch_size=200", "--set", "prior.depth=2",
        "--set", "anomaly.score_steps=4", "--set", "anomaly.score_checkpoints=[]"]


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    root = tmp_path_factory.mktemp("show") / "two-seeds"
    with pytest.raises(SystemExit) as e:
        main([*TINY, "--seeds", "2", "--out", str(root)])
    assert e.value.code == 0
    return root


def _auprcs(root):
    return [json.loads((root / f"seed{s}" / "metrics.json").read_text())["auprc"] for s in (1, 2)]


def test_two_seed_folders_show_as_rows_and_mean_sd(seeds, capsys):
    a = _auprcs(seeds)
    assert a[0] != a[1]
    for argv in ([seeds], [seeds / "seed1", seeds / "seed2"]):  # the multi-seed folder stands for its seeds
        code, out, err = run_cli(["show", *argv], capsys)
        assert code == 0, err
        lines = out.strip().splitlines()
        assert lines[0].split()[:6] == ["run", "model", "task", "data", "seed", "epochs"] and "auprc" in lines[0]
        assert sum(str(seeds / "seed1") in ln or str(seeds / "seed2") in ln for ln in lines) == 2
        mean_row = next(ln for ln in lines if ln.startswith("mean ± sd over 2 seeds"))
        assert f"{statistics.fmean(a):.4g} ± {statistics.stdev(a):.2g}" in mean_row
        assert "lfbm-mcmc" in mean_row and "digits h4" in mean_row and "1,2" in mean_row


def test_json_for_scripts(seeds, capsys):
    code, out, _ = run_cli(["show", seeds, "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert [r["seed"] for r in data["runs"]] == [1, 2] and all(r["seed_group"] == 0 for r in data["runs"])
    (g,) = data["seed_groups"]
    a = _auprcs(seeds)
    assert g["seeds"] == [1, 2] and g["metrics"]["auprc"]["mean"] == pytest.approx(statistics.fmean(a))
    assert g["metrics"]["auprc"]["sd"] == pytest.approx(statistics.stdev(a))
    r = data["runs"][0]
    assert r["model"] == "lfbm-mcmc" and r["task"] == "anomaly" and r["epochs"] == 1 and r["selected_epoch"] == 1
    assert set(r["seconds"]) >= {"train_seconds", "score_seconds"}


def test_a_run_that_differs_by_more_than_its_seed_is_not_averaged_in(seeds, tmp_path, capsys):
    other = tmp_path / "other"
    shutil.copytree(seeds / "seed2", other)
    cfg = (other / "config.yaml").read_text()
    (other / "config.yaml").write_text(cfg.replace("  lr: 0.0004\n", "  lr: 0.001\n", 1))
    code, out, _ = run_cli(["show", seeds / "seed1", other, "--json"], capsys)
    assert code == 0 and json.loads(out)["seed_groups"] == []


def test_score_results_appear_under_their_run(seeds, tmp_path, capsys):
    run = tmp_path / "scored"
    shutil.copytree(seeds / "seed1", run)
    m = json.loads((run / "metrics.json").read_text())
    (run / "score-steps50.json").write_text(json.dumps({**m, "auprc": 0.123, "scored": {"epoch": 1, "checkpoint": "checkpoint.pt"}}))
    code, out, _ = run_cli(["show", run], capsys)
    assert code == 0
    row = next(ln for ln in out.splitlines() if "[steps50]" in ln)
    assert "0.123" in row


BAD = {
    "missing": lambda t, s: [t / "nope"],
    "a file": lambda t, s: [t / "afile"],
    "not a run": lambda t, s: [t / "empty"],
    "half-written": lambda t, s: [t / "half"],
    "damaged metrics": lambda t, s: [t / "damaged"],
    "seed not finished": lambda t, s: [t / "partial-seeds"],
    "one good one bad": lambda t, s: [s / "seed1", t / "empty"],
    "no folder": lambda t, s: [],
}


@pytest.mark.parametrize("case", BAD)
def test_bad_inputs_are_one_line_and_exit_2(case, seeds, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "afile").write_text("x")
    shutil.copytree(seeds / "seed1", tmp_path / "half")
    (tmp_path / "half" / "metrics.json").unlink()  # still training: config and checkpoint only
    shutil.copytree(seeds / "seed1", tmp_path / "damaged")
    (tmp_path / "damaged" / "metrics.json").write_text('{"auprc": 0.5, "mod')  # cut off mid-write
    shutil.copytree(seeds, tmp_path / "partial-seeds")
    (tmp_path / "partial-seeds" / "seed2" / "metrics.json").unlink()
    code, out, err = run_cli(["show", *BAD[case](tmp_path, seeds)], capsys)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genflows: error:") and "Traceback" not in err
    if case == "half-written":
        assert "not a finished run" in err and "epoch 1" in err


def test_an_unfinished_run_says_how_far_it_has_trained_and_scored(seeds, tmp_path, capsys):
    import torch

    from genflows._runtime.batch_store import BatchStore
    from genflows._runtime.io import save_checkpoint
    from genflows._runtime.lock import training_lock

    run = tmp_path / "stopped"
    shutil.copytree(seeds / "seed1", run)
    (run / "metrics.json").unlink()
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 1
    code, _, err = run_cli(["show", run], capsys)
    assert code == 2 and "after epoch 1 of 1); resume it with" in err  # trained; scoring not begun
    with training_lock(run):  # as the process still scoring it holds it
        code, _, err = run_cli(["show", run], capsys)
    assert code == 2 and err.rstrip().endswith("after epoch 1 of 1); another process is training or scoring it now")

    store = BatchStore(run / "scoring-joint.partial.pt", {"shard": [0, 1001], "batch_size": 500}, every=0)
    store.put(0, {"final": torch.zeros(500)})
    code, _, err = run_cli(["show", run], capsys)
    assert code == 2 and "after epoch 1 of 1; scoring joint: 1 of 3 batches)" in err
    BatchStore(run / "refscore-s400.partial.pt", {"shard": [0, 1001], "batch_size": 100}, every=0).put(0, {"final": torch.zeros(100)})
    code, _, err = run_cli(["show", run], capsys)  # the reference-way pass of experiments/table4 keeps a store too
    assert code == 2 and "refscore s400: 1 of 11 batches; scoring joint: 1 of 3 batches)" in err

    (run / "scoring-joint.partial.pt").unlink()
    (run / "refscore-s400.partial.pt").unlink()
    save_checkpoint(run / "checkpoint-partial.pt", {**state, "within_epoch": {"done": 3, "n_batches": 7}})
    code, _, err = run_cli(["show", run], capsys)
    assert code == 2 and "(no metrics.json; in epoch 2 after 3 of 7 batches)" in err
    save_checkpoint(run / "checkpoint-partial.pt", {**state, "epoch": 0, "within_epoch": {"done": 3, "n_batches": 7}})
    code, _, err = run_cli(["show", run], capsys)
    assert code == 2 and "after epoch 1 of 1)" in err  # a stale partial, which a resume drops

    root = tmp_path / "seeds"
    shutil.copytree(seeds, root)
    shutil.rmtree(root / "seed2")
    code, _, err = run_cli(["show", root], capsys)
    assert code == 2 and "seed2 (no folder) not finished" in err


def test_progress_lists_every_run_of_a_table_finished_or_not(seeds, tmp_path, capsys):
    """--progress: a table's folder (its cells' run folders) or a run folder, one line per seed,
    finished with its headline, stopped where it stopped, or not there."""
    import torch

    from genflows._runtime.batch_store import BatchStore
    from genflows._runtime.lock import training_lock

    table = tmp_path / "table"
    shutil.copytree(seeds, table / "lfbm-mcmc-h4")
    stopped = table / "lfbm-mcmc-h4" / "seed2"
    (stopped / "metrics.json").unlink()
    shutil.rmtree(table / "lfbm-mcmc-h4" / "seed1")
    (table / "notes").mkdir()  # not a run folder: passed over
    code, out, err = run_cli(["show", "--progress", table], capsys)
    assert code == 0, err
    assert out.splitlines() == [f"{table / 'lfbm-mcmc-h4' / 'seed1'}  no folder",
                                f"{stopped}  after epoch 1 of 1",
                                "2 seed runs: 0 finished, 1 part-way (0 running now), 1 not begun here (or trained on another machine)"]

    # with epochs still to train, the time they take at the run's median epoch so far
    from genflows.show import _duration
    from genflows.trainer import resume_point

    config = stopped / "config.yaml"
    kept = config.read_text()
    assert kept.count("epochs: 1\n") == 1
    config.write_text(kept.replace("epochs: 1\n", "epochs: 3\n"))
    epoch = resume_point(stopped / "checkpoint.pt")[0]["history"][0]["seconds"]
    code, out, _ = run_cli(["show", "--progress", stopped], capsys)
    assert out.strip() == f"{stopped}  after epoch 1 of 3; about {_duration(2 * epoch)} of training left at its median epoch ({_duration(epoch)})"
    config.write_text(kept)

    shutil.copytree(seeds / "seed1", table / "lfbm-mcmc-h4" / "seed1")
    BatchStore(stopped / "scoring-joint.partial.pt", {"shard": [0, 1001], "batch_size": 500}, every=0).put(
        0, {"final": torch.zeros(500), "seconds": torch.tensor(2.0)})
    auprc = json.loads((seeds / "seed1" / "metrics.json").read_text())["auprc"]
    with training_lock(stopped):
        code, out, _ = run_cli(["show", "--progress", table / "lfbm-mcmc-h4", "--json"], capsys)
    first, second = json.loads(out)["runs"]
    assert json.loads(out)["counts"] == {"finished": 1, "part_way": 1, "not_here": 0, "running": 1}
    assert first["status"].startswith(f"finished: auprc {auprc:.4g}, ") and " train " in first["status"]
    assert second["status"] == "after epoch 1 of 1; scoring joint: 1 of 3 batches, about 4 s left at its median batch; running now"

    code, _, err = run_cli(["show", "--progress", tmp_path / "nothing"], capsys)
    assert code == 2 and err.strip() == f"genflows: error: no such run folder: {tmp_path / 'nothing'}"
    code, _, err = run_cli(["show", "--progress", table / "notes"], capsys)
    assert code == 2 and "holds no genflows run folder" in err
