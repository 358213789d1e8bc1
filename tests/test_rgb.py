"""The RGB path (SVHN / CIFAR-10 / CelebA generators and data) on the 20 real CIFAR-10 test
images in shared/data/cifar10-samples."""

from pathlib import Path

import pytest
import torch

from genflows import build_model, load_config
from genflows.data import load_split
from genflows.generators import DCGANGenerator
from genflows._runtime.output import RunDir
from genflows.tasks import reconstruction

from .conftest import SHARED_DATA


def _root():
    for cand in (__import__("os").environ.get("GENFLOWS_DATA"), str(SHARED_DATA)):
        if cand and (Path(cand) / "cifar10-samples").is_dir():
            return cand
    pytest.skip("cifar10-samples not available (shared/data/cifar10-samples)")


@pytest.mark.parametrize("side", [32, 64])
def test_dcgan_generator_shapes(side):
    g = DCGANGenerator(100, (3, side, side), ngf=8)
    assert g(torch.randn(2, 100)).shape == (2, 3, side, side)


def test_cifar10_samples_load_as_real_rgb_images():
    x, _ = load_split("cifar10-samples", _root())
    assert x.shape == (20, 3, 32, 32) and x.min() >= -1 and x.max() <= 1
    assert x.std(dim=(2, 3)).mean() > 0.1  # real images, not constant
    assert not torch.allclose(x[:, 0], x[:, 1])  # colour channels differ


def test_rgb_model_trains_and_reconstructs_cifar_images(tmp_path):
    over = ["inference.n_steps=10", "generator.channels=16", "train.epochs=40", "train.lr=1e-3", "eval.steps=40", "eval.n_test=20"]
    cfg = load_config("lfbm-mcmc", overrides=over, extra={"data": {"name": "cifar10-samples", "root": _root()}})
    model = build_model(cfg, (3, 32, 32))
    assert model.nz == 100 and isinstance(model.generator, DCGANGenerator)
    metrics = reconstruction.run(cfg, RunDir(tmp_path))
    untrained = reconstruction.run(load_config("lfbm-mcmc", overrides=[*over[:2], "train.max_iters=1", *over[3:]],
                                               extra={"data": {"name": "cifar10-samples", "root": _root()}}), RunDir(tmp_path / "u"))
    assert metrics["mse"] < 0.7 * untrained["mse"], (metrics["mse"], untrained["mse"])
    assert (tmp_path / "reconstructions.png").is_file()
