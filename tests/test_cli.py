import subprocess
import sys

import pytest

from .cli_helpers import run_cli


BAD = [
    ["run", "nosuchmodel"],
    ["run", "lfbm-mcmc", "--task", "nosuchtask"],
    ["run", "lfbm-mcmc", "--holdout", "12"],
    ["run", "lfbm-mcmc", "--holdout", "-1"],
    ["run", "lfbm-mcmc", "--holdout", "four"],
    ["run", "lfbm-mcmc", "--set", "inference.n_steps=-5"],
    ["run", "lfbm-mcmc", "--set", "inference.step_size=0"],
    ["run", "lfbm-mcmc", "--set", "inference.nsteps=5"],
    ["run", "lfbm-mcmc", "--set", "train.batch_size=ten"],
    ["run", "lfbm-mcmc", "--epochs", "0"],
    ["run", "lfbm-mcmc", "--prior", "nosuchprior"],
    ["run", "lfbm-mcmc", "--data", "cifar99"],
    ["run", "lfbm-mcmc", "--data", "mnist", "--data-root", "{tmp}/empty"],
    ["run", "lfbm-mcmc", "--config", "{tmp}/missing.yaml"],
    ["run", "lfbm-mcmc", "--config", "{tmp}/bad.yaml"],
    ["run", "lfbm-mcmc", "--config", "{tmp}/unknown_key.yaml"],
    ["run", "lfbm-mcmc", "--out", "{tmp}/existing"],
    ["run", "lfbm-mcmc", "--nosuchflag"],
    ["run"],
    ["run", "lfbm-mcmc", "--set", "train.batch_size=0"],
    ["run", "lfbm-mcmc", "--set", "train.lr=-1e-3"],
    ["run", "lfbm-mcmc", "--set", "anomaly.score_steps=0"],
    ["run", "lfbm-mcmc", "--seeds", "0"],
    ["run", "lfbm-mcmc", "--threads", "0"],
    ["run", "lfbm-mcmc", "--config", "{tmp}"],
    ["run", "lfbm-mcmc", "--config", "{tmp}/list.yaml"],
    ["run", "lfbm-mcmc", "--out", "{tmp}/afile/run"],
    ["run", "lfbm-mcmc", "--resume", "{tmp}/nosuchrun"],
    ["run", "lfbm-mcmc", "--resume", "{tmp}/abprun"],
    ["run", "lfbm-mcmc", "--resume", "{tmp}/abprun", "--epochs", "3"],
    ["run", "abp", "--out", "{tmp}/abprun", "--holdout", "7"],
    ["run", "abp", "--out", "{tmp}/abprun"],
    # task inputs
    ["run", "lfbm-mcmc", "--task", "reconstruction", "--data", "cifar10", "--data-root", "{tmp}/empty"],
    ["run", "lfbm-mcmc", "--task", "recovery", "--set", "mask.kind=triangle"],
    ["run", "lfbm-mcmc", "--task", "recovery", "--set", "mask.fraction=1.5"],
    ["run", "lfbm-mcmc", "--task", "inpainting", "--set", "mask.size=8"],
    ["run", "lfbm-mcmc", "--task", "inpainting", "--set", "eval.completions=0"],
    ["run", "lfbm-mcmc", "--task", "generation", "--set", "eval.fid_n=-3"],
    ["run", "lfbm-mcmc", "--task", "generation"],
    ["run", "lfbm-mcmc", "--task", "generation", "--set", "generator.arch=resnet"],
    ["table", "recovery", "--holdouts", "4"],
    # data-space models
    ["run", "flow", "--task", "reconstruction"],
    ["run", "lfbm-mcmc", "--task", "toy"],
    ["run", "coopflow", "--task", "toy", "--data", "mnist"],
    ["run", "lfbm-mcmc", "--data", "spiral"],
    ["run", "coopflow", "--task", "toy", "--data", "moons", "--set", "coop.mode=gan"],
    ["run", "coopflow", "--task", "toy", "--data", "moons", "--set", "coop.ebm_betas=[0.5]"],
    # refused only when the model is built
    ["run", "ebflow-ssm", "--set", "ebflow.arch=cnn"],
    ["run", "ebflow-ssm", "--set", "ebflow.arch=cnn", "--seeds", "2", "--out", "{tmp}/deep/new"],
    ["run", "ebflow-ssm", "--set", "ebflow.arch=cnn", "--seeds", "2", "--out", "{tmp}/emptyout"],
]


@pytest.mark.parametrize("argv", BAD, ids=[" ".join(a[1:]) or "no-model" for a in BAD])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text("model: lfbm-mcmc\ntrain: [unclosed\n")
    (tmp_path / "unknown_key.yaml").write_text("inference:\n  step_sise: 0.1\n")
    (tmp_path / "existing").mkdir()
    (tmp_path / "existing" / "metrics.json").write_text("{}")
    (tmp_path / "list.yaml").write_text("- model\n- lfbm-mcmc\n")
    (tmp_path / "afile").write_text("not a folder")
    (tmp_path / "emptyout").mkdir()  # an --out made beforehand: kept, as it was
    monkeypatch.setenv("GENFLOWS_FID_WEIGHTS", str(tmp_path / "nothing.pt"))  # FID asked for, weights absent
    (tmp_path / "abprun").mkdir()  # a run folder of another model, with a corrupted checkpoint
    (tmp_path / "abprun" / "config.yaml").write_text("model: abp\nprior:\n  kind: gaussian\nout: abprun\n")
    (tmp_path / "abprun" / "checkpoint.pt").write_bytes(b"PK\x03\x04 truncated")
    before = {p.relative_to(tmp_path): p.read_bytes() if p.is_file() else None for p in tmp_path.rglob("*")}
    code, out, err = run_cli([a.format(tmp=tmp_path) for a in argv], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genflows: error:"), err
    assert "Traceback" not in err + out
    after = {p.relative_to(tmp_path): p.read_bytes() if p.is_file() else None for p in tmp_path.rglob("*")}
    assert after == before  # nothing created, nothing changed


def test_the_suite_has_at_least_25_distinct_bad_inputs():
    assert len({tuple(a) for a in BAD}) >= 25


def test_list_names_models_and_tasks(capsys):
    code, out, _ = run_cli(["list"], capsys)
    assert code == 0
    assert "lfbm-mcmc" in out and "anomaly" in out and "digits" in out


def test_console_script_exit_status():
    r = subprocess.run([sys.executable, "-m", "genflows", "run", "lfbm-mcmc", "--holdout", "12"], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "holdout" in r.stderr


def test_quick_run_writes_a_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, err = run_cli(
        ["run", "lfbm-mcmc", "--task", "anomaly", "--holdout", "4", "--epochs", "1", "--out", str(out), "--seeds", "2",
         "--set", "inference.n_steps=3", "--set", "anomaly.score_steps=5", "--set", "anomaly.score_checkpoints=[2]"],
        capsys,
    )
    assert code == 0, err
    assert "AUPRC over 2 seeds" in stdout
    for seed in (1, 2):
        assert (out / f"seed{seed}" / "metrics.json").is_file()
        assert (out / f"seed{seed}" / "config.yaml").is_file()
    assert (out / "summary.json").is_file()


def test_a_refused_run_keeps_a_new_folder_another_process_has_begun_training_in(tmp_path, capsys, monkeypatch):
    import contextlib

    import genflows.runner as runner
    from genflows._runtime.lock import training_lock

    held = contextlib.ExitStack()

    def refused(cfg, task, seed, root, *args):  # a second command started at the same moment as the first
        held.enter_context(training_lock(root))
        raise runner.GenflowsError(f"{root} is being trained by another process")

    monkeypatch.setattr(runner, "_run_seed", refused)
    with held:
        code, _, err = run_cli(["run", "abp", "--out", str(tmp_path / "race")], capsys)
        assert code == 2 and "another process" in err
        assert (tmp_path / "race" / "config.yaml").is_file()
