"""The likelihood task: exact densities checked by numerical integration, the dequantised NLL
against its integral, bits/dim, and the curve a run records."""

import math

import pytest
import torch

from genflows import load_config
from genflows._runtime.output import RunDir
from genflows.ebflow import EBFlow
from genflows.tasks import nll, tasks_of


def _perturbed(m, scale=0.3):
    torch.manual_seed(0)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(scale * torch.randn_like(p))
    return m.double().eval()


@pytest.mark.parametrize("shape,arch", [((1, 1, 1), "fc"), ((1, 1, 2), "fc"), ((1, 1, 2), "cnn")])
def test_pixel_density_integrates_to_one(shape, arch):
    """exp(log p) of continuous pixel values over [0, 256)^D, by the trapezoid rule, is 1."""
    d = math.prod(shape)
    m = _perturbed(EBFlow(dim=d, data_shape=shape, arch=arch, num_layers=2, num_blocks=1, kernel_size=3, ema_decay=None))
    n = 200001 if d == 1 else 2501
    t = torch.linspace(0, 256, n, dtype=torch.float64)
    with torch.no_grad():
        if d == 1:
            mass = torch.trapezoid(m.log_prob_pixels(t.unsqueeze(1)).exp(), t)
        else:
            g = torch.stack(torch.meshgrid(t, t, indexing="ij"), -1).view(-1, 2)
            dens = m.log_prob_pixels(g).exp().view(n, n)
            mass = torch.trapezoid(torch.trapezoid(dens, t, dim=1), t)
    assert abs(float(mass) - 1) < 2e-3


def test_dequantised_nll_is_the_integral_over_each_pixel_bin():
    """One uniform draw per pixel: over many copies of three 8-bit values the task's NLL is
    -E_u log p(u8 + u), i.e. minus the integral of log p over each bin, averaged; bits/dim = NLL / ln 2."""
    m = _perturbed(EBFlow(dim=1, data_shape=(1, 1, 1), num_layers=2, ema_decay=None))
    levels = torch.tensor([3.0, 128.0, 250.0], dtype=torch.float64)
    x = (levels / 127.5 - 1).repeat(20000).view(-1, 1, 1, 1)
    got = nll.test_nll(m.float(), x.float(), batch_size=10000, seed=1)  # the task scores in float32
    m.double()
    t = torch.linspace(0, 1, 20001, dtype=torch.float64)
    with torch.no_grad():
        want = -torch.stack([torch.trapezoid(m.log_prob_pixels((u8 + t).unsqueeze(1)), t) for u8 in levels]).mean()
    assert got["nll"] == pytest.approx(float(want), abs=0.02)
    assert got["bits_per_dim"] == pytest.approx(got["nll"] / math.log(2))
    assert nll.test_nll(m.float(), x.float(), batch_size=10000, seed=1) == got  # the same draws under the same seed


def test_nll_task_runs_where_a_density_is_normalised_and_learns(tmp_path):
    assert "nll" in tasks_of("ebflow-ml") and "nll" in tasks_of("flow") and "nll" in tasks_of("coopflow")
    assert "nll" not in tasks_of("ebm-sr") and "nll" not in tasks_of("lfbm-mcmc")  # no normalised density
    cfg = load_config("ebflow-ml", overrides=["train.epochs=3", "ebflow.lr=1e-3"], extra={"task": "nll"})
    m = nll.run(cfg, RunDir(tmp_path))
    curve = [h["test_nll"] for h in m["history"]]
    assert len(curve) == 3 and curve[-1] < curve[0], curve
    assert m["nll"] == pytest.approx(curve[-1]) and m["dim"] == 64 and m["n_test"] == 360
    assert (tmp_path / "nll.png").exists()
