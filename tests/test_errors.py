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
    ("lfbm_table4.py", ["reference_protocol", "{run}"]),
    ("coopflow_table6.py", ["joint_phase_probe", "--tag", "t", "--flow-run", "{run}"]),
    ("coopflow_table7_reconstruction_diagnosis.py", ["{run}"]),
])
def test_experiment_scripts_report_a_missing_run_folder_in_one_line(script, args, tmp_path, capsys, monkeypatch):
    argv = [a.format(run=tmp_path / "no-run") for a in args]
    code, err = run_script(EXPERIMENTS / script, argv, capsys, monkeypatch)
    assert code == 2, err
    assert err.count("\n") == 1 and "no-run" in err and "Traceback" not in err


def test_coopflow_ablation_rejects_a_bad_learning_rate_grid_before_any_training(capsys, monkeypatch):
    code, err = run_script(EXPERIMENTS / "coopflow_table6.py", ["ablation", "--invert-lr", "0.01,0"], capsys, monkeypatch)
    assert code == 2 and "Traceback" not in err
    assert "--invert-lr" in err.strip().splitlines()[-1] and "> 0" in err


@pytest.mark.parametrize("sub, args, names", [
    ("digit_seeds", ["--schedule", "forever"], "--schedule"),
    ("digit_seeds", ["--models", "vae,gan"], "--models"),
    ("val_selected", ["--epochs", "0"], "--epochs"),
    ("default_change", ["--tag", "x"], "--set"),
    ("default_change", ["--tag", "a/b", "--set", "train.lr=1"], "--tag"),
    ("epoch_choice", ["run", "--full-epochs", "four"], "--full-epochs"),
    ("epoch_choice", ["run", "--subset", "0"], "--subset"),
    ("reference_protocol", ["run", "--leak", "2"], "--leak"),
    ("reference_protocol", ["run", "--scoring-seed", "-1"], "--scoring-seed"),
])
def test_table4_scripts_reject_bad_options_before_any_training(sub, args, names, capsys, monkeypatch):
    code, err = run_script(EXPERIMENTS / "lfbm_table4.py", [sub, *args], capsys, monkeypatch)
    assert code == 2 and "Traceback" not in err
    assert err.count("\n") == 1 and names in err


@pytest.mark.parametrize("entry", ["lfbm_table4.py", "coopflow_table6.py"])
@pytest.mark.parametrize("argv", [[], ["nosuch"]])
def test_table_entry_points_name_their_subcommands_in_one_line(entry, argv, capsys, monkeypatch):
    code, err = run_script(EXPERIMENTS / entry, argv, capsys, monkeypatch)
    assert code == 2 and "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith(f"{entry}: ") and "choose from: " in err
