import math

import pytest
import torch

from genflows import load_config
from genflows.coopflow import CoopFlow, noise_decay
from genflows.dataflow import ImageFlow, VectorFlow
from genflows.energies import ConvEnergy, MLPEnergy
from genflows.registry import MODELS, build_model
from genflows.trainer import Trainer


def _toy_model(**kw):
    torch.manual_seed(0)
    return CoopFlow(VectorFlow(2, depth=2, hidden=16), MLPEnergy(2, 32), n_steps=10, step_size=0.1, clamp_data=None, **kw)


def test_langevin_flow_raises_f_on_average():
    m = _toy_model()
    x0 = torch.randn(256, 2) * 2
    x = m.langevin_flow(x0)
    with torch.no_grad():
        assert m.energy(x).mean() > m.energy(x0).mean()
    img = CoopFlow(ImageFlow((1, 8, 8), levels=1, depth=1, hidden=4), ConvEnergy((1, 8, 8), width=4), n_steps=10, step_size=0.05)
    x0 = torch.rand(16, 1, 8, 8) * 2 - 1
    x = img.langevin_flow(x0)
    assert x.abs().max() <= 1.0  # data-range clamp
    assert ((x - x0).abs() <= 10 * 0.1 + 1e-6).all()  # per-step update clamp 0.1
    with torch.no_grad():
        assert img.energy(x).mean() > img.energy(x0).mean()


def test_flow_log_likelihood_is_the_change_of_variables_of_a_known_affine_map():
    from nflows.transforms import PointwiseAffineTransform

    shift, scale = torch.tensor([0.5, -1.0]), torch.tensor([2.0, 0.25])
    q = VectorFlow(2, transform=PointwiseAffineTransform(shift, scale))  # u = scale * x + shift
    x = torch.randn(7, 2)
    ref = torch.distributions.Normal(-shift / scale, 1 / scale).log_prob(x).sum(1)
    assert torch.allclose(q.log_prob(x), ref, atol=1e-5)


def test_image_flow_densities_are_consistent():
    torch.manual_seed(0)
    q = ImageFlow((1, 8, 8), levels=2, depth=2, hidden=8)
    x = q.sample(5)
    assert x.shape == (5, 1, 8, 8) and torch.isfinite(q.log_prob(x)).all()
    # 8-bit data: the dequantised log-probability of a bin is at most log(1) = 0 on average, and the
    # continuous density at the bin differs from it by the bin volume D log(2/256) (up to the noise draw).
    u8 = torch.randint(0, 256, (4, 1, 8, 8)).float() / 127.5 - 1
    torch.manual_seed(1)
    bpd = q.bits_per_dim(u8)
    assert (bpd > 0).all()
    dens = q.log_prob(u8)
    disc = -bpd * 64 * math.log(2)
    assert torch.allclose(disc - dens, torch.full((4,), 64 * math.log(2 / 256)), atol=64 * 0.5)


def test_one_cooperative_step_moves_both_losses_down():
    m = _toy_model()
    x = torch.randn(128, 2) * 0.5 + 1.0
    torch.manual_seed(1)
    x_tilde = m.langevin_flow(m.initial(128))
    opt = torch.optim.SGD([{"params": m.flow.parameters(), "lr": 1e-2}, {"params": m.energy.parameters(), "lr": 1e-2}])

    def losses():
        with torch.no_grad():
            return -m.flow.log_prob(x_tilde).mean().item(), (m.energy(x_tilde).mean() - m.energy(x).mean()).item()

    flow0, ebm0 = losses()
    (-m.flow.log_prob(x_tilde).mean() + m.energy(x_tilde).mean() - m.energy(x).mean()).backward()
    opt.step()
    flow1, ebm1 = losses()
    assert flow1 < flow0 and ebm1 < ebm0


def test_phases_of_coopflow_pre_and_noise_decay():
    m = _toy_model(pretrain_epochs=2, warmup_epochs=1)
    phases = []
    for e in range(4):
        m.set_epoch(e)
        phases.append(m.phase)
        _, stats = m.training_loss(torch.randn(16, 2))
        assert set(stats) == {"flow": {"flow_loss"}, "warmup": {"ebm_loss"}, "joint": {"ebm_loss", "flow_loss"}}[m.phase]
    assert phases == ["flow", "flow", "warmup", "joint"]
    assert noise_decay(0, 10) == 1.0 and noise_decay(5, 10) == pytest.approx(0.5**20) and noise_decay(12, 10) == 0.0


def test_per_flow_adam_settings_reach_the_optimizer():
    cfg = load_config("coopflow", extra={"task": "toy", "data": {"name": "moons"}})
    model = build_model(cfg, (2,))
    groups = Trainer(model, cfg.train, progress=False).optimizer.param_groups
    assert [(g["name"], g["lr"], g["betas"]) for g in groups] == [("flow", 1e-4, (0.9, 0.999)), ("ebm", 1e-4, (0.5, 0.5))]


@pytest.mark.parametrize("name", [n for n, s in MODELS.items() if s.family == "coopflow"])
def test_every_data_space_model_runs_end_to_end(name, tmp_path):
    from genflows.output import RunDir
    from genflows.tasks import generation, toy

    over = ["train.epochs=1", "train.max_iters=3", "coop.n_steps=3", "coop.flow_depth=1", "coop.flow_hidden=8", "coop.energy_width=8",
            "coop.pretrain_epochs=0", "eval.fid_n=0"]
    m = toy.run(load_config(name, overrides=over, extra={"task": "toy", "data": {"name": "moons"}}), RunDir(tmp_path / "toy"))
    assert math.isfinite(m["mmd"]) and (tmp_path / "toy" / "toy.png").is_file()
    g = generation.run(load_config(name, overrides=over, extra={"task": "generation"}), RunDir(tmp_path / "gen"))
    assert (tmp_path / "gen" / "samples.png").is_file() and g["fid"] is None
