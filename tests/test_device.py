"""Device selection: every model, sampler and chain on the chosen device (CUDA checks run where
a GPU is present), and clear errors for devices or AMP that are not available."""

from __future__ import annotations

import pytest
import torch

from genflows import load_config
from genflows.cli import main
from genflows.registry import MODELS, build_model

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@cuda
@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_trains_and_samples_on_cuda(name):
    family = MODELS[name].family
    small = {"latent": ["inference.n_steps=2"], "coopflow": ["coop.n_steps=2", "coop.flow_depth=1", "coop.energy_width=8"],
             "ebflow": ["ebflow.newton_iters=5"], "vapo": ["vapo.base=8", "vapo.mults=[1]", "vapo.blocks=1", "vapo.groups=4", "vapo.hidden=16", "vapo.layers=1", "vapo.solver=euler", "vapo.euler_steps=3"]}
    cfg = load_config(name, overrides=small[family], extra={"task": "generation"} if family != "latent" else None)
    dev = torch.device("cuda")
    model = build_model(cfg, (1, 8, 8)).to(dev)
    x = (torch.rand(8, 1, 8, 8, device=dev) * 2 - 1)
    loss, _ = model.training_loss(x)
    loss.backward()
    assert loss.device.type == "cuda"
    model.eval()
    assert model.sample(4).device.type == "cuda"  # nflows base samples, EBM prior chains, Langevin flows
    if family == "latent":
        assert model.infer(x, n_steps=2, noise=True).device.type == "cuda"


def _exit_code(args, capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as e:
        main(args)
    return e.value.code, capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without CUDA")
def test_cuda_without_a_gpu_is_a_one_line_error(capsys, tmp_path):
    code, err = _exit_code(["run", "abp", "--device", "cuda", "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and "no CUDA device" in err and err.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_amp_needs_cuda(capsys, tmp_path):
    code, err = _exit_code(["run", "abp", "--device", "cpu", "--amp", "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and "--amp" in err and err.count("\n") == 1
    assert not (tmp_path / "r").exists()
