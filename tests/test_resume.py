"""Exact resume: a run killed with SIGKILL and re-run with the same --out ends where an
uninterrupted run ends (bitwise parameters, equal metrics)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from .cli_helpers import run_cli

ARGS = [
    "run", "lfbm-mcmc", "--task", "anomaly", "--holdout", "4", "--epochs", "4", "--seed", "3", "--threads", "1",
    "--set", "inference.n_steps=4", "--set", "train.batch_size=50",
    "--set", "anomaly.score_steps=8", "--set", "anomaly.score_checkpoints=[4]",
    "--set", "anomaly.track_every=1", "--set", "anomaly.track_subset=100", "--set", "anomaly.track_steps=4",
]


def _cmd(out):
    return [sys.executable, "-m", "genflows", *ARGS, "--out", str(out)]


def _strip(history):
    return [{k: v for k, v in h.items() if "seconds" not in k} for h in history]


def _in_process(out, capsys):
    """The same command in this process (no interpreter start)."""
    code, stdout, err = run_cli([*ARGS, "--out", out], capsys)
    assert code == 0, err
    return stdout


def _killed_once(cut, appears, *extra, poll=0.02):
    """The command with ``--out cut`` in its own process, SIGKILLed as soon as ``appears`` exists."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.Popen([*_cmd(cut), *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 120
    while not appears.exists():
        assert time.time() < deadline and p.poll() is None
        time.sleep(poll)
    p.send_signal(signal.SIGKILL)
    p.wait()


def _assert_same_run(full, cut):
    """Equal AUPRCs and history, bitwise equal final parameters."""
    a = json.loads((full / "metrics.json").read_text())
    b = json.loads((cut / "metrics.json").read_text())
    assert b["auprc"] == a["auprc"] and b["auprc_at_steps"] == a["auprc_at_steps"]
    assert _strip(b["history"]) == _strip(a["history"])
    sa = torch.load(full / "checkpoint.pt", weights_only=True)["model"]
    sb = torch.load(cut / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not list(cut.glob(".*.tmp"))  # nothing a killed write left behind


def test_sigkill_then_rerun_equals_uninterrupted(tmp_path, capsys):
    full = tmp_path / "full"
    _in_process(full, capsys)

    # Only the killed run needs its own process.
    cut = tmp_path / "cut"
    _killed_once(cut, cut / "checkpoint.pt")  # killed right after the first epoch's checkpoint
    assert not (cut / "metrics.json").exists()
    assert "resuming" in _in_process(cut, capsys)
    _assert_same_run(full, cut)
    assert (cut / "checkpoint-best.pt").is_file()


def test_rerun_of_a_finished_run_reads_it_back(tmp_path, capsys):
    out = tmp_path / "r"
    quick = list(ARGS)  # same tiny config
    quick[quick.index("--epochs") + 1] = "1"
    code, _, err = run_cli([*quick, "--out", out], capsys)
    assert code == 0, err
    mtime = (out / "metrics.json").stat().st_mtime_ns
    code, stdout, err = run_cli([*quick, "--out", out], capsys)
    assert code == 0, err
    assert "already finished" in stdout
    assert (out / "metrics.json").stat().st_mtime_ns == mtime


def test_a_run_carried_to_another_machine_continues_with_its_data_found_elsewhere(tmp_path, mnist_data_root):
    """Where the data lives changes no number: a folder made with one data root continues under
    another, while a key that does change the run is still refused."""
    import pytest

    from genflows.config import load_config
    from genflows.errors import GenflowsError
    from genflows.runner import prepare

    moved = tmp_path / "elsewhere"
    moved.mkdir()
    for entry in Path(mnist_data_root).iterdir():
        (moved / entry.name).symlink_to(entry)

    def cfg(root, *more):
        return load_config("abp", overrides=[f"data.root={root}", *more], extra={"task": "anomaly", "out": str(tmp_path / "run"), "data": {"holdout": 4}})

    prepare(cfg(mnist_data_root), log=lambda m: None)
    assert prepare(cfg(moved), log=lambda m: None).data.root == str(moved)
    with pytest.raises(GenflowsError, match="train.lr"):
        prepare(cfg(moved, "train.lr=0.01"), log=lambda m: None)


def test_sigkill_inside_an_epoch_then_rerun_equals_uninterrupted(tmp_path, capsys):
    """With partial checkpoints every 0.05 s the kill lands inside an epoch, and the re-run
    continues from the batch saved there."""
    from genflows.trainer import partial_path

    full = tmp_path / "full"
    _in_process(full, capsys)
    cut = tmp_path / "cut"
    part, ckpt = partial_path(cut / "checkpoint.pt"), cut / "checkpoint.pt"
    _killed_once(cut, part, "--set", "train.save_every_seconds=0.05", poll=0.01)
    # A kill between an epoch's checkpoint and its partial's removal leaves a stale partial.
    inside = part.exists() and torch.load(part, weights_only=True)["epoch"] == (torch.load(ckpt, weights_only=True)["epoch"] if ckpt.exists() else 0)
    out = _in_process(cut, capsys)
    assert ("resuming" in out) and (" batches" in out) == inside
    _assert_same_run(full, cut)
    assert not part.exists()


def test_a_resumed_run_takes_the_keys_its_numbers_do_not_depend_on_from_the_command_line(tmp_path):
    import dataclasses

    import yaml

    from genflows import load_config
    from genflows.config import to_dict
    from genflows.runner import _settle

    stored = load_config("abp", overrides=["train.threads=2", "train.save_every_seconds=600", "train.epochs=3"])
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(to_dict(stored), sort_keys=False))
    asked = load_config("abp", overrides=["train.threads=1", "train.save_every_seconds=60", "train.epochs=9"])
    cfg, _, existing = _settle(dataclasses.replace(asked, out=str(tmp_path)), True, False, None, print)
    assert existing and (cfg.train.threads, cfg.train.save_every_seconds, cfg.train.epochs) == (1, 60, 3)
