"""Run folders written before per-family configs (config version 1: every section for every
model, no ``version`` key) keep resuming, and ``genflows run --resume RUN_DIR --epochs N``
extends a finished run. The fixtures were written by genflows 0.1.0 (tiny networks, digits and
moons)."""

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.cli_helpers import run_cli

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "v1-runs"


@pytest.mark.parametrize("name, other", [("lfbm-mcmc-anomaly", "coop"), ("coopflow-toy", "prior")])
def test_a_version_1_run_folder_is_extended_with_its_config_migrated(name, other, tmp_path, capsys):
    run = tmp_path / name
    shutil.copytree(FIXTURES / name, run)
    old_cfg = yaml.safe_load((run / "config.yaml").read_text())
    old_metrics = json.loads((run / "metrics.json").read_text())
    assert "version" not in old_cfg and other in old_cfg  # what version 1 looked like
    code, out, err = run_cli(["run", "--resume", run, "--epochs", "2", "--no-progress", "--no-tensorboard", "--threads", "1"], capsys)
    assert code == 0, err
    assert "extending" in out and "from 1 to 2 epochs" in out
    assert json.loads((run / "metrics-epoch1.json").read_text()) == old_metrics  # the first result is kept
    new = json.loads((run / "metrics.json").read_text())
    assert new["epochs"] == 2 and len(new["history"]) == 2
    assert new["history"][0] == old_metrics["history"][0]  # epoch 1 was not retrained
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["version"] == 3 and cfg["train"]["epochs"] == 2 and other not in cfg
    # Fewer epochs than done is refused in one line; a resume without --epochs reads the run back.
    code, _, err = run_cli(["run", "--resume", run, "--epochs", "1"], capsys)
    assert code == 2 and err.count("\n") == 1 and "fewer than the 2 epochs" in err
    code, out, _ = run_cli(["run", "--resume", run, "--no-progress"], capsys)
    assert code == 0 and "already finished" in out


def test_a_version_2_coopflow_image_run_keeps_its_cpu_scale_networks():
    from genflows.config.run import migrate, parse

    old = {"version": 2, "model": "coopflow", "task": "generation", "data": {"name": "digits"},
           "coop": {"energy_width": None, "flow_depth": 4, "flow_hidden": 64, "flow_levels": 2}}
    cfg = parse(migrate(old))
    assert cfg.version == 3 and (cfg.coop.energy_width, cfg.coop.flow_depth, cfg.coop.flow_hidden, cfg.coop.flow_levels) == (32, 4, 64, 2)
    toy = parse(migrate({"version": 2, "model": "coopflow", "task": "toy", "data": {"name": "moons"}, "coop": {"energy_width": None}}))
    assert toy.coop.energy_width is None  # 2-D: null meant 128 before and after


def test_coopflow_defaults_are_the_papers_sizes():
    from genflows.config import CoopConfig

    c = CoopConfig()
    assert [c.size(k, (3, 32, 32)) for k in ("energy_width", "flow_levels", "flow_depth", "flow_hidden")] == [128, 3, 16, 512]
    assert c.size("flow_levels", (1, 28, 28)) == 2  # 28 -> 14 -> 7 halves evenly twice
