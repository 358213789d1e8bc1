"""Every shipped config loads, validates and builds its model; the CoopFlow paper's Table 1
configs hold its Table 3 settings at the authors' EBM size and state their cost."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genflows import load_config
from genflows.data.datasets import DATASETS
from genflows.coopflow import build_energy
from genflows.registry import build_model

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
TABLE1 = [p for p in CONFIGS if p.stem.split("-")[-1] in ("cifar10", "svhn", "celeba32") and p.stem.startswith("coopflow")]
GPU_SCALE = [p for p in CONFIGS if p.stem.endswith("cifar10") and not p.stem.startswith("coopflow")]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_shipped_config_loads_and_builds_its_model(path):
    cfg = load_config(config_file=path)
    torch.manual_seed(0)
    model = build_model(cfg, DATASETS[cfg.data.name].shape)
    assert sum(p.numel() for p in model.parameters()) > 0


def test_table1_configs_cover_three_settings_on_three_datasets():
    assert sorted(p.stem for p in TABLE1) == sorted(f"{s}-{d}" for s in ("coopflow", "coopflow-t200", "coopflow-pre") for d in ("cifar10", "svhn", "celeba32"))


@pytest.mark.parametrize("path", GPU_SCALE, ids=lambda p: p.stem)
def test_the_other_families_gpu_configs_state_their_cost_and_paper_sizes(path):
    """EBFlow's CIFAR-10 FC flow has the paper's 18.9 M parameters; every such config states its
    estimated GPU-hours and the command that estimates them."""
    cfg = load_config(config_file=path)
    text = path.read_text()
    assert "Expected cost" in text and "GPU-hours" in text and "python bench/" in text
    if path.stem == "ebflow-fc-cifar10":
        model = build_model(cfg, DATASETS["cifar10"].shape)
        assert round(sum(p.numel() for p in model.net.parameters()) / 1e6, 1) == 18.9


@pytest.mark.parametrize("path", TABLE1, ids=lambda p: p.stem)
def test_table1_configs_follow_table3_at_the_authors_sizes(path):
    cfg = load_config(config_file=path)
    c = cfg.coop
    assert (c.n_steps, c.energy_width, c.energy_arch, cfg.eval.fid_n, cfg.eval.fid_ref) == (200 if "t200" in path.stem else 30, 128, "official", 50000, "train")
    assert cfg.train.batch_size == (32 if "t200" in path.stem else 28)  # A.2
    text = path.read_text()
    assert "Expected cost: about" in text and "GPU-hours" in text
    with torch.device("meta"):  # sizes without the initialisation cost
        ebm = build_energy(DATASETS[cfg.data.name].shape, cfg.coop.energy_width, cfg.coop.energy_arch)
    assert abs(sum(p.numel() for p in ebm.parameters()) - 17.1e6) < 0.05e6  # the authors' EBM_res at n_f = 128
