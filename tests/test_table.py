import pytest

from genflows.cli import main


def test_anomaly_table_runs_collects_and_prints_paper_rows(tmp_path, capsys):
    args = ["table", "anomaly", "--models", "lfbm-mcmc,abp", "--holdouts", "4", "--seeds", "1", "--out", str(tmp_path),
            "--set", "train.epochs=2", "--set", "inference.n_steps=3", "--set", "anomaly.score_steps=5", "--set", "anomaly.score_checkpoints=[]"]
    with pytest.raises(SystemExit) as e:
        main(args)
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "| lfbm-mcmc (ours, digits) |" in out and "| LFBM (paper, MNIST) | 0.812 ± 0.007 |" in out
    chance = next(line for line in out.splitlines() if line.startswith("| chance level"))
    assert "protocol meg" in chance and 0.3 < float(chance.split("|")[2]) < 0.4  # held-out digit: 36 % of the meg test set
    csv_text = (tmp_path / "table.csv").read_text()
    assert csv_text.count("\n") == 3  # header + 2 cells
    # A second call reads the finished runs back instead of training again.
    mtime = (tmp_path / "abp-h4" / "metrics.json").stat().st_mtime_ns
    with pytest.raises(SystemExit):
        main(args)
    assert (tmp_path / "abp-h4" / "metrics.json").stat().st_mtime_ns == mtime


def test_jobs_run_cells_in_parallel_processes_with_the_cores_split(tmp_path, capsys, monkeypatch):
    """--jobs 2: two cells at once, one thread each on two free cores, the same runs as one at a
    time (each cell is seeded alike), finished cells read back."""
    import json

    monkeypatch.setenv("GENFLOWS_THREADS", "2")
    common = ["table", "anomaly", "--models", "abp,vae", "--holdouts", "4", "--seeds", "1", "--set", "train.epochs=2",
              "--set", "train.max_iters=6", "--set", "anomaly.score_steps=5", "--set", "anomaly.score_checkpoints=[]"]
    for jobs, out in (("1", tmp_path / "one"), ("2", tmp_path / "two")):
        with pytest.raises(SystemExit) as e:
            main([*common, "--jobs", jobs, "--out", str(out)])
        assert e.value.code == 0
    assert "2 seed runs in 2 cells, 2 at a time, 1 thread each" in capsys.readouterr().err
    for cell in ("abp-h4", "vae-h4"):
        one, two = (json.loads((tmp_path / d / cell / "metrics.json").read_text()) for d in ("one", "two"))
        assert two["torch_threads"] == 1 and one["torch_threads"] == 2
        assert abs(one["auprc"] - two["auprc"]) < 0.05 and one["iterations"] == two["iterations"] == 6


def test_jobs_train_the_seeds_of_one_cell_in_parallel_then_summarise_them(tmp_path, capsys, monkeypatch):
    """A table of one cell and three seeds (the paper-budget cells) fills two cores too: the seeds
    train two at a time, each the run it would be alone, the cell's summary covers all three, and
    called again nothing trains."""
    import json

    monkeypatch.setenv("GENFLOWS_THREADS", "2")
    args = ["table", "anomaly", "--models", "abp", "--holdouts", "4", "--set", "train.epochs=2", "--set", "train.max_iters=4",
            "--set", "anomaly.score_steps=5", "--set", "anomaly.score_checkpoints=[]", "--out", str(tmp_path)]
    with pytest.raises(SystemExit) as e:
        main([*args, "--seeds", "1"])
    assert e.value.code == 0
    first = json.loads((tmp_path / "abp-h4" / "metrics.json").read_text())
    # The one-seed run's folder is not a three-seed run's: a new folder for the three seeds.
    args[-1] = str(tmp_path / "three")
    with pytest.raises(SystemExit) as e:
        main([*args, "--seeds", "3", "--jobs", "2"])
    assert e.value.code == 0
    assert "3 seed runs in 1 cell, 2 at a time, 1 thread each" in capsys.readouterr().err
    cell = tmp_path / "three" / "abp-h4"
    summary = json.loads((cell / "summary.json").read_text())
    assert summary["seeds"] == [1, 2, 3] and summary["auprc"]["n"] == 3
    per_seed = [json.loads((cell / f"seed{s}" / "metrics.json").read_text()) for s in (1, 2, 3)]
    assert [m["torch_threads"] for m in per_seed] == [1, 1, 1] and [m["seed"] for m in per_seed] == [1, 2, 3]
    assert abs(per_seed[0]["auprc"] - first["auprc"]) < 0.05  # seed 1 alone and seed 1 among three: one run
    assert summary["auprc"]["values"] == [m["auprc"] for m in per_seed]
    mtimes = [(cell / f"seed{s}" / "metrics.json").stat().st_mtime_ns for s in (1, 2, 3)]
    with pytest.raises(SystemExit) as e:
        main([*args, "--seeds", "3", "--jobs", "2"])
    assert e.value.code == 0
    assert "seed runs" not in capsys.readouterr().err
    assert [(cell / f"seed{s}" / "metrics.json").stat().st_mtime_ns for s in (1, 2, 3)] == mtimes


def test_jobs_with_missing_data_write_nothing(tmp_path, capsys):
    """--jobs 2 checks the data before any folder gets a config: a corrected rerun is not refused
    as 'another config'."""
    code, err = _table(["--budget", "full", "--models", "abp,vae", "--holdouts", "4", "--seeds", "1", "--jobs", "2",
                        "--data-root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "table")], capsys)
    assert code == 2 and "nowhere" in err and "Traceback" not in err
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_jobs_a_failing_seed_lets_the_others_finish_then_fails_the_table(tmp_path, capsys, monkeypatch):
    """One cell's folder is being trained by another process: the other cell still trains and is
    kept, the refused one is named as it fails, and the table exits 2."""
    from genflows._runtime.lock import training_lock

    monkeypatch.setenv("GENFLOWS_THREADS", "2")
    out = tmp_path / "table"
    with training_lock(out / "abp-h4"):
        code, err = _table(["--models", "abp,vae", "--holdouts", "4", "--seeds", "1", "--jobs", "2", "--set", "train.epochs=1",
                            "--set", "train.max_iters=3", "--set", "anomaly.score_steps=3", "--set", "anomaly.score_checkpoints=[]",
                            "--out", str(out)], capsys)
    assert code == 2 and "[abp-h4] failed:" in err and err.strip().splitlines()[-1].startswith("genflows: error:")
    assert (out / "vae-h4" / "metrics.json").is_file() and not (out / "abp-h4" / "metrics.json").exists()


def _table(args, capsys):
    with pytest.raises(SystemExit) as e:
        main(["table", "anomaly", *args])
    return e.value.code, capsys.readouterr().err


def test_the_paper_budget_trains_table_4s_vae_row_as_a_plain_vae_and_lfbm_vae_with_its_iaf(tmp_path):
    """Table 4's VAE row is Kingma and Welling's VAE: the paper budget drops our VAE's IAF for that
    cell alone; LFBM-VAE keeps the IAF the paper gives it, and a user's own override still wins."""
    from genflows.table import anomaly_cfgs

    cfgs = anomaly_cfgs(tmp_path, "paper", ["vae", "lfbm-vae", "lfbm-mcmc"], [4])
    assert cfgs[("vae", 4)].inference.iaf_depth == 0 and cfgs[("lfbm-vae", 4)].inference.iaf_depth == 2
    assert cfgs[("vae", 4)].train.epochs == cfgs[("lfbm-vae", 4)].train.epochs == cfgs[("lfbm-mcmc", 4)].train.epochs == 21
    assert anomaly_cfgs(tmp_path, "quick", ["vae"], [4])[("vae", 4)].inference.iaf_depth == 2  # the other budgets keep VAE-IAF
    mine = anomaly_cfgs(tmp_path, "paper", ["vae"], [4], extra_overrides=["inference.iaf_depth=1"])
    assert mine[("vae", 4)].inference.iaf_depth == 1


def test_the_paper_budget_asked_for_without_models_or_holdouts_is_exactly_the_papers_cells(tmp_path, monkeypatch):
    """LFBM-MCMC at Table 4's five digits and the four baselines at digit 4, no more (each seed is
    hours); the table marks the cells it does not run, and --models/--holdouts still ask for a grid."""
    import genflows.table as table

    cfgs = table.anomaly_cfgs(tmp_path, "paper")
    assert list(cfgs) == [("lfbm-mcmc", h) for h in (1, 4, 5, 7, 9)] + [(m, 4) for m in ("abp", "lebm", "vae", "lfbm-vae")]
    assert len(table.anomaly_cfgs(tmp_path, "paper", holdouts=[4, 5])) == 10 and len(table.anomaly_cfgs(tmp_path, "quick")) == 25
    cell = {"auprc": {"mean": 0.5, "sd": 0.1, "n": 3}, "train_seconds": {"mean": 1.0}, "score_seconds": {"mean": 1.0}, "run_dir": "r",
            "anomaly_fraction": {"mean": 0.35}}
    monkeypatch.setattr(table, "run_cells", lambda cfgs, jobs, log: {k: cell for k in cfgs})  # the table, not the training
    md = table.anomaly_table(tmp_path, "paper")
    assert "| lfbm-mcmc (ours, mnist) | " + " | ".join(["0.500 ± 0.100"] * 5) + " |" in md
    assert "| abp (ours, mnist) | – | 0.500 ± 0.100 | – | – | – |" in md and "–: a cell this budget does not run by default" in md
    assert "–: a cell" not in table.anomaly_table(tmp_path, "paper", holdouts=[4])
