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


def test_brief_coopflow_run_beats_the_untrained_flow_on_a_gaussian_mixture(tmp_path, monkeypatch):
    monkeypatch.setattr(toy, "LONGRUN_STEPS", 20)  # the EBM's own metrics are tested below; here only that they are there
    chains = []  # the long-run chain must run the steps the metrics record
    real = toy.langevin
    monkeypatch.setattr(toy, "langevin", lambda f, x0, steps, *a, **k: chains.append(steps) or real(f, x0, steps, *a, **k))
    cfg = load_config("coopflow", overrides=CONFIG, extra={"task": "toy", "data": {"name": "8gaussians"}})
    trained = toy.run(cfg, RunDir(tmp_path / "t"))
    assert chains == [20]
    untrained = toy.run(load_config("coopflow", overrides=[*CONFIG, "train.max_iters=1"],
                                    extra={"task": "toy", "data": {"name": "8gaussians"}}), RunDir(tmp_path / "u"))
    assert trained["mmd"] < 0.8 * untrained["mmd_flow"], (trained["mmd"], untrained["mmd_flow"])
    assert (tmp_path / "t" / "toy.png").is_file()
    assert -1 <= trained["ebm_density_corr"] <= 1 and trained["mmd_ebm_longrun"] > 0 and trained["ebm_longrun"]["steps"] == 20


def test_ebm_metrics_see_a_density_that_is_the_truth_and_one_that_is_not():
    from genflows.tasks.toy import LIM, _grid_density, density_corr, longrun_samples, true_grid_density

    truth = true_grid_density("8gaussians")
    centres = 2.5 * torch.stack([torch.cos(torch.arange(8) * torch.pi / 4), torch.sin(torch.arange(8) * torch.pi / 4)], 1)

    def mixture(x):  # log density of the true mixture, up to a constant
        return torch.logsumexp(-((x[:, None] - centres) ** 2).sum(-1) / (2 * 0.2**2), 1)

    blob = lambda x: -0.5 * (x**2).sum(1)  # noqa: E731
    assert density_corr(_grid_density(mixture, LIM, torch.device("cpu")), truth) > 0.9
    assert density_corr(_grid_density(blob, LIM, torch.device("cpu")), truth) < 0.3
    torch.manual_seed(0)
    true = sample_toy("8gaussians", 1000, seed=5)
    good, bad = (longrun_samples(f, 1000, torch.device("cpu"), steps=300, step_size=0.05) for f in (mixture, blob))
    assert mmd(good, true) < 0.02 < mmd(bad, true)
