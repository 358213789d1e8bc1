"""The EBFlow paper's 2-D densities and the KL that scores them: exact densities against
histograms of their samples, KL(data || model) on the grid against Monte Carlo, and a trained
EBFlow scored by both."""

import copy

import pytest
import torch

from genflows import load_config
from genflows._runtime.output import RunDir
from genflows.data.toy import EXTENT, TOYS, sample_toy, toy_log_density
from genflows.tasks import toy


@pytest.mark.parametrize("name", sorted(TOYS))
def test_exact_density_matches_the_samples(name):
    """Cell masses of the exact density against a 400 000-sample histogram on a 20 x 20 grid:
    total variation within sampling noise (about 0.005 here); a wrong scale or shape gives > 0.1."""
    lim, n = EXTENT[name], 20
    k = 30 if name == "checkerboard" else 6  # its density jumps inside cells: finer quadrature
    x = sample_toy(name, 400_000, seed=0)
    idx = ((x + lim) / (2 * lim) * n).floor().long()
    inside = ((idx >= 0) & (idx < n)).all(1)
    hist = torch.bincount(idx[inside, 1] * n + idx[inside, 0], minlength=n * n).double() / len(x)
    t = torch.linspace(-lim, lim, n * k + 1)[:-1] + lim / (n * k)
    g = torch.stack(torch.meshgrid(t, t, indexing="xy"), -1).view(-1, 2)
    cells = (toy_log_density(name, g).exp().view(n * k, n * k) * (2 * lim / (n * k)) ** 2).view(n, k, n, k).sum((1, 3))
    assert 0.5 * float((cells.flatten() - hist).abs().sum()) < 0.02


def test_grid_kl_is_zero_for_the_data_itself_and_agrees_with_monte_carlo():
    exact = lambda x: toy_log_density("sine", x)  # noqa: E731
    assert abs(toy.grid_kl("sine", exact, n=200)["kl"]) < 1e-3
    wider = lambda x: toy_log_density("sine", x / 1.2) - 2 * torch.log(torch.tensor(1.2, dtype=torch.float64))  # noqa: E731
    g = toy.grid_kl("sine", wider, n=200)
    mc = toy.sample_kl("sine", wider, sample_toy("sine", 5000, seed=4))
    assert g["kl"] > 0.05 and abs(g["kl"] - mc["kl"]) < 4 * mc["se"] + 0.01, (g, mc)


def test_ebflow_on_a_paper_density_reports_kl_and_learns(tmp_path):
    cfg = load_config("ebflow-ml", "configs/ebflow-toy.yaml", overrides=["train.epochs=30", "ebflow.lr=1e-3", "ebflow.num_blocks=4", "ebflow.hidden=16"])
    m = toy.run(cfg, RunDir(tmp_path))
    kl = m["kl_by_density"]["p"]
    assert m["data"] == "sine" and kl["nonfinite"] == 0 and kl["data_mass"] > 0.999
    assert 0 < m["kl"] < 2.0 and abs(m["kl"] - m["kl_mc"]) < 0.15, (m["kl"], m["kl_mc"])
