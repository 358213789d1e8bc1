"""Experiment scripts whose numbers the results document reports (experiments/ is not a package: it goes on
sys.path, and the table4/ and table6/ packages of its entry points are imported from there)."""

import json
import sys
from pathlib import Path

import pytest

from genflows.cli import main
from genflows.errors import GenflowsError

from .cli_helpers import run_script

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
sys.path.insert(0, str(EXPERIMENTS))


@pytest.fixture(scope="module")
def kept_run(tmp_path_factory):
    """A tiny digits anomaly run folder that kept a checkpoint per epoch."""
    run = tmp_path_factory.mktemp("kept") / "run"
    with pytest.raises(SystemExit) as e:
        main(["run", "lfbm-mcmc", "--task", "anomaly", "--holdout", "4", "--epochs", "3", "--threads", "1",
              "--set", "inference.n_steps=3", "--set", "train.batch_size=200", "--set", "prior.depth=2",
              "--set", "train.keep_checkpoints=true", "--set", "anomaly.score_steps=4",
              "--set", "anomaly.score_checkpoints=[]", "--out", str(run)])
    assert e.value.code == 0
    return run


@pytest.mark.parametrize("entry, package", [("lfbm_table4", "table4"), ("coopflow_table6", "table6")])
def test_every_study_of_a_table_is_a_subcommand_of_its_entry_point(entry, package):
    import importlib

    main_script = importlib.import_module(entry)
    studies = {f.stem for f in (EXPERIMENTS / package).iterdir() if f.suffix in (".py", ".sh") and f.stem != "__init__"}
    assert set(main_script.SUBCOMMANDS) == studies
    assert all(f"\n  {s} " in main_script.__doc__ for s in main_script.SUBCOMMANDS)  # each listed with its line


def test_reference_rescoring_labels_one_set_of_eval_mode_scores_two_ways(kept_run):
    from table4.reference_protocol import rescore

    plain = rescore(kept_run, leak=0.0, steps=[4], threads=1)
    leaky = rescore(kept_run, leak=0.37, steps=[4], threads=1)
    # eval mode: an image's score does not depend on what else is scored, so the clean AUPRC stays
    # (up to the chain starts of the last few test images: torch draws the final partial block of
    # 16 normals differently when more images follow them)
    assert leaky["n_leaked"] > 0
    assert leaky["clean"]["4"] == pytest.approx(plain["clean"]["4"], abs=0.01)
    assert plain["clean"]["4"] == plain["leaky"]["4"]


def test_reference_rescoring_in_train_mode_scores_only_the_leaky_set(kept_run):
    from table4.reference_protocol import rescore

    kw = dict(steps=[4], threads=1, bn_train=True, shuffle=True, batch=10)
    both = rescore(kept_run, leak=0.37, **kw)
    assert both["clean"] == {} and 0 <= both["leaky"]["4"] <= 1
    # the replaced test normals are left out, so the set is as large as the test split
    assert both["n_leaked"] > 0 and both["n_scored"] == both["n_test"]
    eval_mode = rescore(kept_run, leak=0.37, steps=[4], threads=1)
    assert eval_mode["n_scored"] == eval_mode["n_test"] + eval_mode["n_leaked"]
    # train-mode BatchNorm makes a score depend on its batch
    other_batches = rescore(kept_run, leak=0.37, **{**kw, "batch": 11})
    assert other_batches["leaky"]["4"] != both["leaky"]["4"]
    assert both["n_scored"] % 8 == 1
    with pytest.raises(GenflowsError, match="last batch of one"):
        rescore(kept_run, leak=0.37, **{**kw, "batch": 8})


def test_reference_rescoring_scoring_seed_redraws_only_what_scoring_draws(kept_run):
    from table4.reference_protocol import rescore

    kw = dict(leak=0.37, steps=[4], threads=1, bn_train=True, shuffle=True, batch=10)
    fixed = rescore(kept_run, **kw)
    again = rescore(kept_run, **kw)
    assert again["leaky"] == fixed["leaky"] and fixed["scoring_seed"] is None  # the recorded draws stay reproducible
    other = rescore(kept_run, scoring_seed=101, **kw)
    assert other["scoring_seed"] == 101 and other["n_leaked"] == fixed["n_leaked"]
    assert other["leaky"]["4"] != fixed["leaky"]["4"]
    assert rescore(kept_run, scoring_seed=101, **kw)["leaky"] == other["leaky"]


def test_epoch_choice_scores_every_kept_epoch_and_picks_the_best_on_the_test_set(kept_run, tmp_path, capsys, monkeypatch):
    out = tmp_path / "choice.json"
    code, err = run_script(EXPERIMENTS / "lfbm_table4.py",
                           ["epoch_choice", kept_run, "--subset", "100", "--steps", "4", "--full-epochs", "1", "--threads", "1", "--out", out],
                           capsys, monkeypatch)
    assert code == 0, err
    got = json.loads(out.read_text())
    per = got["per_epoch"]
    assert sorted(per) == ["1", "2", "3"]
    assert got["chosen_on_test"] == max((1, 2, 3), key=lambda e: per[str(e)]["reference"])
    assert set(got["full_test"]) == {"1", str(got["chosen_on_test"])}
    assert all(0 <= v[k] <= 1 for v in got["full_test"].values() for k in ("clean", "reference"))


def test_epoch_choice_needs_kept_checkpoints(kept_run, tmp_path):
    from table4.epoch_choice import kept_epochs

    assert kept_epochs(kept_run) == {e: f"checkpoint-epoch{e}.pt" for e in (1, 2, 3)}
    with pytest.raises(GenflowsError, match="keep_checkpoints"):
        kept_epochs(tmp_path)


def test_changes_table_is_rebuilt_from_the_record_alone(tmp_path, monkeypatch, capsys):
    import shutil

    from table4 import changes

    record = EXPERIMENTS / "results"
    for f in record.glob("*.json"):
        if f.name.startswith(("collapse-", "refprotocol-collapse-", "score-collapse-")):
            shutil.copy(f, tmp_path / f.name)
    monkeypatch.setattr(changes, "RESULTS", tmp_path)
    monkeypatch.setattr(sys, "argv", ["lfbm_table4.py changes", "--seeds", "1-3"])
    changes.main()
    rows = {r["change"]: r for r in json.loads((tmp_path / "changes-lfbm-mcmc-mnist-h4.json").read_text())["rows"]}
    retrained = [r for name, r in rows.items() if name.endswith("retrained with the current chain code")]
    assert len(retrained) == 3 and all(r["seeds"] == [1, 2, 3] and len(r["auprc_400"]) == 3 for r in retrained)
    leak = json.loads((record / "refprotocol-collapse-seed3-leak-s400.json").read_text())["leaky"]
    assert retrained[1]["auprc_30"][2] == leak["30"] and retrained[1]["auprc_400"][2] == leak["400"]
    refflow = rows["the reference code's flow prior, retrained with the current chain code (against the rescoring baseline above)"]
    clean = json.loads((record / "refprotocol-collapse-refflow-retrained-seed2-s400.json").read_text())["clean"]
    assert refflow["seeds"] == [1, 2, 3] and refflow["auprc_400"][1] == clean["400"]
    assert "| 1,2,3 |" in capsys.readouterr().out


def test_paper_table4_records_clean_and_reference_scores_of_every_finished_seed(kept_run, tmp_path, monkeypatch):
    import shutil

    from table4 import paper
    from table4.reference_protocol import rescore

    out = tmp_path / "table"
    shutil.copytree(kept_run, out / "lfbm-mcmc-h4" / "seed1")
    (out / "lfbm-mcmc-h4" / "seed2").mkdir()  # a seed still training: no metrics.json, left out
    rec = paper.collect(out, threads=1, steps=4)
    (cell,) = rec["cells"]
    metrics = json.loads((kept_run / "metrics.json").read_text())
    assert (cell["model"], cell["holdout"], cell["paper"]) == ("lfbm-mcmc", 4, "0.812 ± 0.007")
    assert cell["clean"] == {"mean": metrics["auprc"], "sd": None, "n": 1}
    direct = rescore(kept_run, leak=0.37, steps=[4], bn_train=True, shuffle=True, batch=100, threads=1)
    assert cell["reference"]["mean"] == pytest.approx(direct["leaky"]["4"])
    # the reference scoring is stored beside the seed and read back, not recomputed
    monkeypatch.setattr("table4.reference_protocol.rescore", lambda *a, **k: pytest.fail("rescored twice"))
    assert paper.collect(out, threads=1, steps=4)["cells"][0]["reference"] == cell["reference"]


def test_paper_table4_jobs_train_and_score_seeds_in_parallel_and_record_each(tmp_path, monkeypatch):
    """--jobs 2: both seeds of a cell trained and scored both ways at once, one thread each, the
    record written; a second call finds nothing left to do."""
    from table4 import paper

    monkeypatch.setenv("GENFLOWS_THREADS", "2")
    monkeypatch.setattr("table4.paper.ROOT", tmp_path)  # as if tmp_path were the repository
    out, record = tmp_path / "table", tmp_path / "table4-paper.json"
    tiny = ["train.epochs=2", "train.max_iters=4", "inference.n_steps=3", "prior.depth=2", "anomaly.score_steps=4", "anomaly.score_checkpoints=[]"]
    paper.run_parallel(out, ["lfbm-mcmc"], [4], 2, None, jobs=2, threads=None, record=record, budget="quick", overrides=tiny, steps=4)
    rec = json.loads(record.read_text())
    (cell,) = rec["cells"]
    assert cell["clean"]["n"] == cell["reference"]["n"] == 2 and [s["seed"] for s in cell["seeds"]] == [1, 2]
    # a committed record names its run folders relative to the repository, not by this machine's paths
    assert rec["out"] == "table" and [s["run_dir"] for s in cell["seeds"]] == ["table/lfbm-mcmc-h4/seed1", "table/lfbm-mcmc-h4/seed2"]
    assert all(s["torch_threads"] == 1 and s["auprc_reference"] is not None for s in cell["seeds"])
    for s in cell["seeds"]:  # each scoring's seconds booked to the machine that computed them
        assert sum(s["score_machines"].values()) == pytest.approx(s["score_seconds"]) and len(s["score_machines"]) == 1
        assert sum(s["reference_machines"].values()) == pytest.approx(s["reference_seconds"])
    monkeypatch.setattr("table4.paper.collect", lambda *a, **k: pytest.fail("nothing left to run, nothing to record"))
    paper.run_parallel(out, ["lfbm-mcmc"], [4], 2, None, jobs=2, threads=None, record=record, budget="quick", overrides=tiny, steps=4)


def test_paper_table4_baselines_train_and_score_both_ways_under_their_paper_rows(tmp_path, monkeypatch):
    """The digit-4 baselines take the same path: an EBM prior (its own chains) and an encoder
    (no chain) both trained, scored clean and the reference way, recorded beside the paper's rows."""
    from table4 import paper

    from genflows.table import PAPER_TABLE4

    monkeypatch.setenv("GENFLOWS_THREADS", "2")
    out, record = tmp_path / "table", tmp_path / "table4-paper.json"
    tiny = ["train.epochs=1", "train.max_iters=3", "inference.n_steps=2", "prior.sample_steps=2", "anomaly.score_steps=3", "anomaly.score_checkpoints=[]",
            "inference.iaf_depth=0"]  # the VAE as the paper budget trains it (LEBM's chains ignore it)
    paper.run_parallel(out, ["lebm", "vae"], [4], 2, None, jobs=2, threads=None, record=record, budget="quick", overrides=tiny, steps=3)
    cells = {c["model"]: c for c in json.loads(record.read_text())["cells"]}
    assert list(cells) == ["lebm", "vae"]  # the record's model order (PAPER_ROW)
    assert cells["vae"]["model_overrides"] == []  # what the budget sets for the model alone: the quick budget, nothing
    assert "iaf_depth: 0\n" in (out / "vae-h4" / "seed1" / "config.yaml").read_text()  # the test's own override
    for m, c in cells.items():
        assert c["paper"] == PAPER_TABLE4[m.upper()][1] and c["clean"]["n"] == c["reference"]["n"] == 2
        assert all(0 < s["auprc_clean"] <= 1 and 0 < s["auprc_reference"] <= 1 for s in c["seeds"])


def test_paper_table4_keeps_recorded_seeds_whose_run_folders_are_gone(tmp_path, monkeypatch):
    """A fresh clone holds the record but not the run folders: its seeds are kept, not trained
    again, while a seed whose folder lacks a scoring gets it."""
    import shutil

    from table4 import paper

    monkeypatch.setenv("GENFLOWS_THREADS", "2")
    out, record = tmp_path / "table", tmp_path / "table4-paper.json"
    tiny = ["train.epochs=1", "train.max_iters=3", "inference.n_steps=3", "prior.depth=2", "anomaly.score_steps=4", "anomaly.score_checkpoints=[]"]
    paper.run_parallel(out, ["lfbm-mcmc"], [4], 2, None, jobs=2, threads=None, record=record, budget="quick", overrides=tiny, steps=4)
    before = json.loads(record.read_text())["cells"][0]["seeds"]
    shutil.rmtree(out / "lfbm-mcmc-h4" / "seed1")
    (out / "lfbm-mcmc-h4" / "seed2" / "refscore-s4.json").unlink()  # seed 2 still lacks its reference scoring
    paper.run_parallel(out, ["lfbm-mcmc"], [4], 2, None, jobs=2, threads=None, record=record, budget="quick", overrides=tiny, steps=4)
    assert not (out / "lfbm-mcmc-h4" / "seed1").exists()  # not trained again
    assert (out / "lfbm-mcmc-h4" / "seed2" / "refscore-s4.json").is_file()
    (cell,) = json.loads(record.read_text())["cells"]
    assert [s["seed"] for s in cell["seeds"]] == [1, 2] and cell["seeds"][0] == before[0]
    assert cell["seeds"][1]["auprc_reference"] == before[1]["auprc_reference"]  # scored again, the same scores
    assert cell["clean"]["n"] == cell["reference"]["n"] == 2
    assert paper.on_disk_cells(out, record, "lfbm-mcmc", [4, 7]) == [7]  # table.md would train seed 1 again: left out
    assert cell["setups"] and all(s["reference_chain_dtype"] == "float32" for s in cell["seeds"][1:])
    assert all(s["setups"] and set(s["setups"]) <= set(cell["setups"]) for s in cell["seeds"])

    # a partial folder of a recorded seed (left on another machine) neither replaces it nor trains it again
    (out / "lfbm-mcmc-h4" / "seed1").mkdir()
    (out / "lfbm-mcmc-h4" / "seed1" / "config.yaml").write_text("left over")
    paper.run_parallel(out, ["lfbm-mcmc"], [4], 2, None, jobs=2, threads=None, record=record, budget="quick", overrides=tiny, steps=4)
    assert not (out / "lfbm-mcmc-h4" / "seed1" / "metrics.json").exists()
    assert paper.collect(out, 1, rescore_missing=False, steps=4, previous=record)["cells"][0]["seeds"][0] == before[0]

    # a seed recorded under this machine's absolute path is named relative to the repository when rewritten
    monkeypatch.setattr("table4.paper.ROOT", tmp_path)
    kept = paper.collect(out, 1, rescore_missing=False, steps=4, previous=record)["cells"][0]["seeds"][0]
    assert Path(before[0]["run_dir"]).is_absolute() and kept["run_dir"] == "table/lfbm-mcmc-h4/seed1"


def test_paper_table4_refuses_a_model_outside_the_table(capsys, monkeypatch):
    code, err = run_script(EXPERIMENTS / "lfbm_table4.py", ["paper", "--models", "coopflow", "--collect"], capsys, monkeypatch)
    assert code == 2 and "not a latent model" in err


def test_equal_time_side_by_side_gives_every_model_the_same_training_seconds(tmp_path, capsys, monkeypatch):
    argv = ["--task", "toy", "--data", "spiral", "--models", "vapo,flow", "--seconds", "1", "--seeds", "1", "--threads", "1",
            "--runs", tmp_path / "runs", "--results", tmp_path / "results"]
    code, err = run_script(EXPERIMENTS / "equal_time_side_by_side.py", argv, capsys, monkeypatch)
    assert code == 0, err
    rec = json.loads((tmp_path / "results" / "equal-time-toy.json").read_text())
    assert [c["model"] for c in rec["cells"]] == ["vapo", "flow"] and rec["budget_seconds"] == 1
    for c in rec["cells"]:
        # the budget, not the schedule (100 000 epochs), ended training: at least 1 s, within one epoch more
        assert 1 <= c["train_seconds"]["mean"] < 10 and c["iterations"]["mean"] >= 1
        assert 0 < c["mmd"]["mean"] < 1
    assert rec["cells"][0]["sampler"]["nfe"] > 0  # VAPO's ODE cost is recorded with its samples
    assert (tmp_path / "results" / "equal-time-toy.png").is_file()


def test_sample_grids_of_a_table_folder_keep_one_panel_per_cell_and_refuse_a_missing_grid(tmp_path, capsys, monkeypatch):
    """The grids behind a table's FIDs: one panel per (model, setting), from seed1/ or the single-seed
    folder; a cell whose grid is gone is an error, never a figure that silently drops it."""
    import csv

    import numpy as np
    from genflows._runtime.output import pyplot

    from sample_grids import table_figure

    table = tmp_path / "recovery"
    rows = []
    for i, (model, setting) in enumerate([("abp", "pepper30"), ("abp", "square-s"), ("lebm", "pepper30"), ("lebm", "square-s")]):
        cell = table / f"{model}-{setting}" / ("seed1" if i % 2 else "")
        cell.mkdir(parents=True)
        pyplot().imsave(cell / "samples.png", np.full((8, 8), i / 4.0), cmap="gray")
        rows.append({"model": model, "setting": setting, "fid_mean": 100 + i, "run_dir": f"elsewhere/{model}-{setting}"})
    with (table / "table.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    out = table_figure(table, tmp_path / "figure.png")
    img = pyplot().imread(out)
    assert img.shape[:2] == (550, 462)  # 2 rows (models) x 2 columns (settings) of 2.1 x 2.35 in panels at 110 dpi
    (table / "lebm-square-s" / "seed1" / "samples.png").unlink()
    with pytest.raises(GenflowsError, match="lebm-square-s"):
        table_figure(table, tmp_path / "figure2.png")
    assert not (tmp_path / "figure2.png").exists()
    code, err = run_script(EXPERIMENTS / "sample_grids.py", ["table", tmp_path / "nothing"], capsys, monkeypatch)
    assert code == 2 and "table.csv is missing" in err and "Traceback" not in err


def test_paper_table4_counts_one_machine_once_in_a_cells_setups():
    """Epochs recorded before the CPU's family and model were kept name only its brand: beside the
    same brand with them (same capability and chain dtype) they are that machine, not a second
    setup; another capability, dtype or family is another setup."""
    from table4.paper import _setups

    older = {"cpu": "AMD EPYC", "capability": "AVX2", "chain_dtype": "float32"}
    later = {**older, "cpu": "AMD EPYC (family 25, model 1)"}
    assert _setups([older, later]) == ["AMD EPYC (family 25, model 1) (AVX2), float32 chains"]
    assert _setups([older]) == ["AMD EPYC (AVX2), float32 chains"]
    assert len(_setups([older, {**older, "capability": "AVX512"}, {**older, "chain_dtype": "bfloat16"}])) == 3
    assert len(_setups([later, {**later, "cpu": "AMD EPYC (family 23, model 49)"}])) == 2
