"""genflows._runtime.lock: one process at a time trains into a run folder."""

import pytest

from genflows._runtime.lock import training_lock
from genflows.errors import GenflowsError



def test_a_second_holder_is_refused_and_the_lock_is_released_on_exit(tmp_path):
    with training_lock(tmp_path / "run"):
        with pytest.raises(GenflowsError, match="being trained by another process"):
            with training_lock(tmp_path / "run"):
                pass
    with training_lock(tmp_path / "run"):  # released: taken again
        pass


def test_a_seed_another_process_trains_is_refused_and_nothing_of_it_is_written(tmp_path):
    from genflows.config import load_config
    from genflows.runner import prepare, run

    tiny = ["train.epochs=1", "train.max_iters=3", "train.threads=1", "inference.n_steps=2", "anomaly.score_steps=2", "anomaly.score_checkpoints=[]"]
    cfg = prepare(load_config("abp", overrides=tiny, extra={"task": "anomaly", "seeds": 2, "out": str(tmp_path / "run"), "data": {"holdout": 4}}))
    seed1 = tmp_path / "run" / "seed1"
    with training_lock(seed1):  # as a table's other worker holds it
        with pytest.raises(GenflowsError, match="seed1 is being trained by another process"):
            run(cfg, log=lambda m: None)
        assert not any(seed1.iterdir()) and not (tmp_path / "run" / "seed2").exists()
    assert run(cfg, log=lambda m: None)["seeds"] == [1, 2]  # the other process gone: both seeds train


def test_extending_a_run_that_another_process_trains_is_refused_and_renames_nothing(tmp_path, capsys):
    from .cli_helpers import run_cli

    run = tmp_path / "run"
    tiny = ["--set", "train.max_iters=3", "--set", "inference.n_steps=2", "--set", "anomaly.score_steps=2", "--set", "anomaly.score_checkpoints=[]"]
    code, _, _ = run_cli(["run", "abp", "--task", "anomaly", "--holdout", "4", "--epochs", "1", "--threads", "1", *tiny, "--out", run], capsys)
    assert code == 0
    with training_lock(run):
        code, _, err = run_cli(["run", "abp", "--resume", run, "--epochs", "2"], capsys)
    assert code == 2 and "being trained by another process" in err
    assert (run / "metrics.json").is_file() and not (run / "metrics-epoch1.json").exists()


def test_taking_the_lock_removes_what_a_killed_holder_was_writing_and_nothing_else(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    leftovers = [run / ".checkpoint-partial.pt.k2j8x0aq.tmp", run / ".checkpoint.pt.abc123de.tmp",
                 run / ".scoring-joint.partial.pt.q1w2e3r4.tmp", run / ".refscore-s400.partial.pt.5t6y7u8i.tmp"]
    kept = [run / ".score-best.json.z9y8x7w6.tmp", run / "checkpoint.pt", run / "scoring-joint.partial.pt"]
    for f in leftovers + kept:
        f.write_bytes(b"x")
    with training_lock(run):
        assert not any(f.exists() for f in leftovers)
        assert all(f.exists() for f in kept)
    with training_lock(run):
        for f in leftovers:  # the holder's writes in progress: a refused second taker leaves them
            f.write_bytes(b"x")
        with pytest.raises(GenflowsError):
            with training_lock(run):
                pass
        assert all(f.exists() for f in leftovers)
