import torch

from genflows import load_config
from genflows._runtime.output import RunDir
from genflows.tasks import toy
from genflows.data import TOYS, sample_toy
from genflows.metrics import mmd

CONFIG = ["coop.step_size=0.1", "coop.flow_lr=3e-4", "coop.ebm_lr=3e-4", "coop.noise=true", "coop.noise_decay_epochs=6",
          "train.epochs=6", "coop.flow_depth=3", "coop.energy_l2=0", "coop.flow_transform=coupling"]


def test_toy_samplers_and_mmd():
    for name in TOYS:
        a, b = sample_toy(name, 1000, seed=0), sample_toy(name, 1000, seed=1)
        assert abs(mmd(a, b)) < 0.003  # two samples of the same distribution
        assert mmd(a, torch.randn(1000, 2)) > 0.01  # vs a standard normal


def test_brief_coopflow_run_beats_the_untrained_flow_on_a_gaussian_mixture(tmp_path):
    cfg = load_config("coopflow", overrides=CONFIG, extra={"task": "toy", "data": {"name": "8gaussians"}})
    trained = toy.run(cfg, RunDir(tmp_path / "t"))
    untrained = toy.run(load_config("coopflow", overrides=[*CONFIG, "train.max_iters=1"],
                                    extra={"task": "toy", "data": {"name": "8gaussians"}}), RunDir(tmp_path / "u"))
    assert trained["mmd"] < 0.8 * untrained["mmd_flow"], (trained["mmd"], untrained["mmd_flow"])
    assert (tmp_path / "t" / "toy.png").is_file()
