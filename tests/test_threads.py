"""The thread count a run takes when the user gives none: the cores no other process is using."""

import subprocess
import sys
import time

import pytest
import torch

from genflows._runtime import threads
from genflows._runtime.threads import available_cores, busy_elsewhere, choose_threads


def test_an_explicit_count_wins_then_the_environment(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.delenv("GENFLOWS_THREADS", raising=False)
    assert choose_threads(5) == (5, "--threads")
    assert choose_threads(None) == (3, "OMP_NUM_THREADS")
    monkeypatch.setenv("GENFLOWS_THREADS", "1")
    assert choose_threads(None) == (1, "GENFLOWS_THREADS")


def test_busy_cores_are_left_alone(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("GENFLOWS_THREADS", raising=False)
    monkeypatch.setattr(threads, "busy_elsewhere", lambda interval=0.2: 1.1)
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    assert choose_threads(None) == (1, "1 of 2 cores busy elsewhere")
    monkeypatch.setattr(threads, "busy_elsewhere", lambda interval=0.2: 0.3)
    assert choose_threads(None) == (None, "every core free")  # torch's own count
    monkeypatch.setattr(threads, "busy_elsewhere", lambda interval=0.2: 5.0)
    assert threads.default_threads() == 1  # never fewer than one


@pytest.mark.skipif(available_cores() < 2, reason="needs two cores")
def test_a_spinning_process_is_seen_as_one_busy_core():
    spin = subprocess.Popen([sys.executable, "-c", "import time\nt = time.time()\nwhile time.time() - t < 20: pass\n"])
    try:
        time.sleep(0.5)
        assert busy_elsewhere(0.5) >= 0.6
    finally:
        spin.kill()
        spin.wait()


def test_a_run_logs_the_count_it_chose(monkeypatch, tmp_path):
    from genflows import load_config
    from genflows.runner import run

    monkeypatch.delenv("GENFLOWS_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr("genflows.runner.choose_threads", lambda requested: (1, "1 of 2 cores busy elsewhere"))
    lines = []
    before = torch.get_num_threads()
    try:
        cfg = load_config("abp", overrides=["train.epochs=1", "train.max_iters=1", "inference.n_steps=2", "anomaly.score_steps=2",
                                            "anomaly.score_checkpoints=[]", f"out={tmp_path}"])
        run(cfg, log=lines.append)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert "1 torch thread (1 of 2 cores busy elsewhere; --threads N to choose)" in lines
