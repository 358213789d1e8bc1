"""genflows score: re-evaluating a trained run leaves what it wrote untouched and writes its own file."""

import json
import shutil

import numpy as np
import pytest

from genflows.cli import main

from .cli_helpers import run_cli
from genflows.data import anomaly_split, load_dataset
from genflows.metrics import auprc
from genflows.runner import load_model
from genflows.tasks.anomaly import anomaly_scores

TRAIN = ["run", "lfbm-mcmc", "--task", "anomaly", "--holdout", "4", "--epochs", "2", "--threads", "1",
         "--set", "inference.n_steps=3", "--set", "train.batch_size=200", "--set", "prior.depth=2",
         "--set", "train.keep_checkpoints=true", "--set", "anomaly.score_steps=6", "--set", "anomaly.score_checkpoints=[3]",
         "--set", "anomaly.track_every=1", "--set", "anomaly.track_subset=100", "--set", "anomaly.track_steps=2"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("score") / "run"
    with pytest.raises(SystemExit) as e:
        main([*TRAIN, "--out", str(root)])
    assert e.value.code == 0
    return root


def _snapshot(root):
    return {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_scoring_with_the_run_settings_reproduces_its_metrics_and_touches_nothing(trained, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    before = _snapshot(run)
    code, out, err = run_cli(["score", run, "--threads", "1"], capsys)
    assert code == 0, err
    after = _snapshot(run)
    assert {k: v for k, v in after.items() if k in before} == before  # metrics.json, checkpoints, events: byte-identical
    new = sorted(str(k) for k in set(after) - set(before))
    assert "score-default.json" in new and all(n == "score-default.json" or n.startswith("score-default/") for n in new)
    assert {"score-default/scores.json", "score-default/pr_curve.png", "score-default/config.yaml"} <= set(new)
    assert not list(run.glob(".score-*"))  # no scratch left
    m, s = (json.loads((run / f).read_text()) for f in ("metrics.json", "score-default.json"))
    assert s["auprc"] == m["auprc"] and s["auprc_at_steps"] == m["auprc_at_steps"]  # the same evaluation, exactly
    assert s["scored"]["checkpoint"] == "checkpoint.pt" and s["scored"]["epoch"] == 2 and "history" not in s
    assert "score-default.json" in out


def test_other_settings_on_an_earlier_checkpoint_score_that_model(trained, capsys):
    code, _, err = run_cli(["score", trained, "--checkpoint", "epoch", "1", "--threads", "1",
                            "--set", "anomaly.score_steps=3", "--set", "anomaly.score_subset=150", "--set", "anomaly.score_checkpoints=[]"], capsys)
    assert code == 0, err
    s = json.loads((trained / "score-epoch1-score_steps3-score_subset150-score_checkpoints-none.json").read_text())
    assert s["n_test"] == 150 and s["epochs"] == 1 and s["iterations"] == 6
    assert s["scored"]["checkpoint"] == "checkpoint-epoch1.pt" and s["scored"]["settings"]["anomaly.score_steps"] == "3"
    # The same number by hand: the epoch-1 model, the same 150 images, 3 scoring steps.
    cfg, model = load_model(trained, "checkpoint-epoch1.pt")
    x, y = load_dataset(cfg.data.name)
    split = anomaly_split(x, y, cfg.data.holdout)
    keep = np.random.RandomState(0).permutation(len(split.test))[:150]
    scores, _ = anomaly_scores(model, split.test[keep], 3, cfg.anomaly.score_step_size, cfg.anomaly.score_batch_size, seed=cfg.train.seed)
    assert s["auprc"] == pytest.approx(auprc(split.test_is_anomaly.numpy()[keep], scores.numpy())["auprc"], abs=1e-9)


def test_another_scoring_seed_scores_the_same_model_from_other_starts(trained, capsys):
    code, _, err = run_cli(["score", trained, "--threads", "1", "--name", "seed7", "--set", "anomaly.score_seed=7", "--set", "anomaly.score_subset=150",
                            "--set", "anomaly.score_checkpoints=[]"], capsys)
    assert code == 0, err
    s = json.loads((trained / "score-seed7.json").read_text())
    assert s["score_seed"] == 7 and s["seed"] == 1
    cfg, model = load_model(trained)
    x, y = load_dataset(cfg.data.name)
    split = anomaly_split(x, y, cfg.data.holdout)
    keep = np.random.RandomState(0).permutation(len(split.test))[:150]
    by_seed = {k: anomaly_scores(model, split.test[keep], cfg.anomaly.score_steps, cfg.anomaly.score_step_size, 500, seed=k)[0] for k in (1, 7)}
    assert s["auprc"] == pytest.approx(auprc(split.test_is_anomaly.numpy()[keep], by_seed[7].numpy())["auprc"], abs=1e-9)
    assert not np.allclose(by_seed[1].numpy(), by_seed[7].numpy())  # other starts, other scores


BAD = [
    ["score", "{tmp}/nope"],
    ["score", "{tmp}/empty"],
    ["score", "{run}", "--set", "data.holdout=7"],
    ["score", "{run}", "--set", "train.lr=0.1"],
    ["score", "{run}", "--set", "eval.val_fid_every=1"],
    ["score", "{run}", "--set", "anomaly.score_steps=0"],
    ["score", "{run}", "--set", "anomaly.score_stepz=5"],
    ["score", "{run}", "--checkpoint", "epoch", "9"],
    ["score", "{run}", "--checkpoint", "epoch"],
    ["score", "{run}", "--checkpoint", "latest"],
    ["score", "{run}", "--name", "../escape"],
    ["score", "{run}", "--name", "taken"],
    ["score", "{run}", "{run}"],
    ["score"],
]


@pytest.mark.parametrize("argv", BAD, ids=[" ".join(a[1:]) or "no-run" for a in BAD])
def test_bad_inputs_are_one_line_exit_2_and_write_nothing(argv, trained, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (trained / "score-taken.json").write_text("{}")
    before = _snapshot(trained)
    code, out, err = run_cli([a.format(tmp=tmp_path, run=trained) for a in argv], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genflows: error:") and "Traceback" not in err + out
    assert _snapshot(trained) == before


def test_test_time_sampling_settings_are_evaluation_settings_and_training_ones_are_not():
    from genflows.errors import GenflowsError
    from genflows.score import check_overrides

    check_overrides(["coop.test_noise=true", "coop.test_step_ratio=1"], "toy")  # how p_theta is sampled after training
    with pytest.raises(GenflowsError, match="coop.noise"):
        check_overrides(["coop.noise=true"], "toy")  # how the chains ran in training
