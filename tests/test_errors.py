import subprocess
import sys
from pathlib import Path

import pytest

from genflows.errors import DivergenceError, GenflowsError, guarded

from .cli_helpers import run_script

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


@pytest.mark.parametrize("exc, status", [(GenflowsError("no such file: x.pt"), 2), (DivergenceError("loss is NaN"), 3), (KeyboardInterrupt(), 130)])
def test_guarded_turns_user_errors_into_one_line_and_a_status(exc, status, capsys):
    def fail():
        raise exc

    with pytest.raises(SystemExit) as info:
        guarded(fail, "prog")
    assert info.value.code == status
    err = capsys.readouterr().err
    assert err.startswith("prog: ") and err.count("\n") == 1


def test_guarded_passes_on_a_failed_child_commands_status_without_a_second_report(capsys):
    with pytest.raises(SystemExit) as info:
        guarded(lambda: subprocess.run([sys.executable, "-c", "import sys; sys.exit(2)"], check=True), "prog")
    assert info.value.code == 2 and capsys.readouterr().err == ""


def test_guarded_returns_the_value_and_keeps_tracebacks_of_bugs():
    assert guarded(lambda: 7, "prog") == 7
    with pytest.raises(ZeroDivisionError):
        guarded(lambda: 1 / 0, "prog")


@pytest.mark.parametrize("script, args", [
    ("lfbm_table4_reference_protocol.py", ["{run}"]),
    ("coopflow_table6_joint_phase_probe.py", ["--tag", "t", "--flow-run", "{run}"]),
    ("coopflow_table7_reconstruction_diagnosis.py", ["{run}"]),
])
def test_experiment_scripts_report_a_missing_run_folder_in_one_line(script, args, tmp_path, capsys, monkeypatch):
    argv = [a.format(run=tmp_path / "no-run") for a in args]
    code, err = run_script(EXPERIMENTS / script, argv, capsys, monkeypatch)
    assert code == 2, err
    assert err.count("\n") == 1 and "no-run" in err and "Traceback" not in err


def test_coopflow_ablation_rejects_a_bad_learning_rate_grid_before_any_training(capsys, monkeypatch):
    code, err = run_script(EXPERIMENTS / "coopflow_table6_ablation.py", ["--invert-lr", "0.01,0"], capsys, monkeypatch)
    assert code == 2 and "Traceback" not in err
    assert "--invert-lr" in err.strip().splitlines()[-1] and "> 0" in err


@pytest.mark.parametrize("script, args, names", [
    ("lfbm_table4_digit_seeds.py", ["--schedule", "forever"], "--schedule"),
    ("lfbm_table4_digit_seeds.py", ["--models", "vae,gan"], "--models"),
    ("lfbm_table4_val_selected.py", ["--epochs", "0"], "--epochs"),
    ("lfbm_table4_default_change.py", ["--tag", "x"], "--set"),
    ("lfbm_table4_default_change.py", ["--tag", "a/b", "--set", "train.lr=1"], "--tag"),
    ("lfbm_table4_epoch_choice.py", ["run", "--full-epochs", "four"], "--full-epochs"),
    ("lfbm_table4_epoch_choice.py", ["run", "--subset", "0"], "--subset"),
    ("lfbm_table4_reference_protocol.py", ["run", "--leak", "2"], "--leak"),
    ("lfbm_table4_reference_protocol.py", ["run", "--scoring-seed", "-1"], "--scoring-seed"),
])
def test_table4_scripts_reject_bad_options_before_any_training(script, args, names, capsys, monkeypatch):
    code, err = run_script(EXPERIMENTS / script, args, capsys, monkeypatch)
    assert code == 2 and "Traceback" not in err
    assert err.count("\n") == 1 and names in err
