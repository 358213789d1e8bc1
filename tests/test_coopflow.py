import copy
import math

import pytest
import torch

from genflows import load_config
from genflows.coopflow import CoopFlow, noise_decay
from genflows.coopflow.flows import ImageFlow, VectorFlow
from genflows.coopflow.energies import ConvEnergy, MLPEnergy
from genflows.coopflow.inversion import InversionRecipe, recipe_for
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


def test_energy_l2_adds_the_squared_energies_to_the_ebm_loss_only():
    x = torch.randn(64, 2)
    out = {}
    for w in (0.0, 0.5):
        m = _toy_model(energy_l2=w)
        # The same flow samples and Langevin flow for both weights (before the loss's first
        # log_prob initialises the flow's ActNorm, which changes later samples).
        torch.manual_seed(3)
        x_tilde = m.langevin_flow(m.initial(64))
        with torch.no_grad():
            squares = m.energy(x_tilde).pow(2).mean() + m.energy(x).pow(2).mean()
        torch.manual_seed(3)
        loss, stats = m.training_loss(x)
        out[w] = (loss.item(), stats["ebm_loss"].item(), squares.item())
    assert out[0.5][1] == pytest.approx(out[0.0][1])  # the logged contrast is the paper's loss
    assert out[0.5][0] - out[0.0][0] == pytest.approx(0.5 * out[0.0][2], rel=1e-5)
    assert out[0.0][2] > 0


def test_flow_data_weight_mixes_the_data_likelihood_into_the_flow_loss_only():
    x = torch.randn(64, 2)
    m = _toy_model()
    with torch.no_grad():
        m.flow.log_prob(x)  # initialise ActNorm once, so that copies stay identical
    grads = {}
    for w in (0.0, 0.5, 1.0):
        mw = copy.deepcopy(m)
        mw.flow_data_weight = w
        torch.manual_seed(3)
        loss, stats = mw.training_loss(x)
        loss.backward()
        grads[w] = {n: p.grad.clone() for n, p in mw.named_parameters()}
        if w:
            assert stats["flow_data_loss"] == pytest.approx(-m.flow.log_prob(x).mean().item(), rel=1e-5)
    mle = copy.deepcopy(m)
    (-mle.flow.log_prob(x).mean()).backward()
    for n, p in mle.named_parameters():
        if n.startswith("flow."):  # w = 1: MLE on the data; w = 0.5: half of each
            assert torch.allclose(grads[1.0][n], p.grad, atol=1e-5)
            assert torch.allclose(grads[0.5][n], (grads[0.0][n] + p.grad) / 2, atol=1e-5)
        else:  # the EBM's gradient does not depend on the weight
            assert torch.equal(grads[1.0][n], grads[0.0][n])
    assert any(not torch.allclose(grads[0.0][n], grads[1.0][n]) for n in grads[0.0] if n.startswith("flow."))
    with pytest.raises(Exception, match="coop.flow_data_weight must be in"):
        load_config("coopflow-pre", extra={"task": "toy", "data": {"name": "moons"}}, overrides=["coop.flow_data_weight=1.5"])


def test_the_flow_learns_langevin_samples_as_dequantised_images():
    # x_tilde sits on the data clamp (pixels exactly -1 or 1); without dequantisation those point
    # masses let the flow's likelihood grow without bound.
    m = _image_model()
    m.train()
    seen = []
    log_prob = m.flow.log_prob
    m.flow.log_prob = lambda x, dequantize=False: seen.append(dequantize) or log_prob(x, dequantize=dequantize)
    loss, stats = m.training_loss(torch.rand(6, 1, 8, 8) * 2 - 1)
    assert seen == [True] and torch.isfinite(loss) and stats["flow_loss"] > 0


def test_phases_of_coopflow_pre_and_noise_decay():
    m = _toy_model(pretrain_epochs=2, warmup_epochs=1)
    phases = []
    for e in range(4):
        m.schedule(e)
        phases.append(m.phase)
        _, stats = m.training_loss(torch.randn(16, 2))
        assert set(stats) == {"flow": {"flow_loss"}, "warmup": {"ebm_loss"}, "joint": {"ebm_loss", "flow_loss"}}[m.phase]
    assert phases == ["flow", "flow", "warmup", "joint"]
    assert noise_decay(0, 10) == 1.0 and noise_decay(5, 10) == pytest.approx(0.5**20) and noise_decay(12, 10) == 0.0


def test_per_flow_adam_settings_reach_the_optimizer():
    tiny = ["coop.flow_depth=1", "coop.flow_hidden=8", "coop.flow_levels=1", "coop.energy_width=4"]
    cfg = load_config("coopflow", overrides=tiny, extra={"task": "generation"})
    model = build_model(cfg, (1, 8, 8))
    groups = Trainer(model, cfg.train, progress=False).optimizer.param_groups
    assert [(g["name"], g["lr"], g["betas"]) for g in groups] == [("flow", 1e-4, (0.9, 0.999)), ("ebm", 1e-4, (0.5, 0.5))]


def test_joint_lrs_and_a_fresh_flow_adam_state_when_joint_training_starts_survive_resume():
    cfg = load_config(
        "coopflow-pre",
        extra={"task": "toy", "data": {"name": "moons"}},
        overrides=["coop.pretrain_epochs=1", "coop.warmup_epochs=1", "coop.joint_flow_lr=1e-5", "coop.joint_ebm_lr=2e-5", "coop.n_steps=2", "train.batch_size=16"],
    )
    data = torch.randn(32, 2)
    trainer = Trainer(build_model(cfg, (2,)), cfg.train, progress=False)
    trainer.fit(data, epochs=2)
    state = copy.deepcopy(trainer.state_dict())  # tensors and history are live references
    history = trainer.fit(data, epochs=4)
    flow_lrs = [r["lr"] for r in history]  # the flow's group comes first
    lr0 = cfg.coop.flow_lr  # the toy task's recipe: 1e-3
    assert flow_lrs == pytest.approx([lr0, lr0, 1e-5, 1e-5])
    assert [g["lr"] for g in trainer.optimizer.param_groups] == pytest.approx([1e-5, 2e-5])
    resumed = Trainer(build_model(cfg, (2,)), cfg.train, progress=False)
    resumed.load_state_dict(state)
    assert [r["lr"] for r in resumed.fit(data, epochs=4)] == pytest.approx(flow_lrs)
    assert [g["lr"] for g in resumed.optimizer.param_groups] == pytest.approx([1e-5, 2e-5])
    # 2 iterations per epoch: the flow's Adam restarts with joint training (epochs 3-4), the EBM's
    # starts with the warm-up (epochs 2-4)
    for t in (trainer, resumed):
        steps = {g["name"]: int(t.optimizer.state[g["params"][0]]["step"]) for g in t.optimizer.param_groups}
        assert steps == {"flow": 4, "ebm": 6}


def test_an_epoch_resumed_after_its_phase_started_keeps_the_fresh_adam_state_it_has_built(tmp_path, monkeypatch):
    """Joint training restarts the flow's Adam at the start of epoch 3; a resume inside epoch 3
    must not restart it again."""
    from genflows.trainer import partial_path

    from .partials import clocked_partials, loaded

    written = clocked_partials(monkeypatch)
    cfg = load_config(
        "coopflow-pre",
        extra={"task": "toy", "data": {"name": "moons"}},
        overrides=["coop.pretrain_epochs=1", "coop.warmup_epochs=1", "coop.n_steps=2", "train.batch_size=16", "train.save_every_seconds=1",
                   "train.keep_checkpoints=true"],
    )
    data = torch.randn(32, 2)
    torch.manual_seed(0)
    full = Trainer(build_model(cfg, (2,)), cfg.train, progress=False)
    full.fit(data, epochs=4, checkpoint=tmp_path / "checkpoint.pt")
    partial = next(p for p in map(loaded, written) if p["epoch"] == 2)  # epoch 3 after 1 of its 2 batches
    (tmp_path / "checkpoint-epoch2.pt").replace(tmp_path / "checkpoint.pt")  # the kill: epoch 2's checkpoint beside it
    torch.save(partial, partial_path(tmp_path / "checkpoint.pt"))
    resumed = Trainer(build_model(cfg, (2,)), cfg.train, progress=False)
    assert resumed.restore(tmp_path / "checkpoint.pt") == "in epoch 3 after 1 of 2 batches"
    resumed.fit(data, epochs=4)
    steps = {g["name"]: int(resumed.optimizer.state[g["params"][0]]["step"]) for g in resumed.optimizer.param_groups}
    assert steps == {"flow": 4, "ebm": 6}
    sa, sb = full.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("key", ["joint_flow_lr", "joint_ebm_lr"])
def test_joint_lrs_are_validated(key):
    with pytest.raises(Exception, match=f"coop.{key} must be > 0"):
        load_config("coopflow-pre", extra={"task": "toy", "data": {"name": "moons"}}, overrides=[f"coop.{key}=0"])


@pytest.mark.parametrize("name", [n for n, s in MODELS.items() if s.family == "coopflow"])
def test_every_data_space_model_runs_end_to_end(name, tmp_path):
    from genflows._runtime.output import RunDir
    from genflows.tasks import generation, toy

    over = ["train.epochs=1", "train.max_iters=3", "coop.n_steps=3", "coop.flow_depth=1", "coop.flow_hidden=8", "coop.energy_width=8",
            "coop.pretrain_epochs=0", "eval.fid_n=0"]
    m = toy.run(load_config(name, overrides=over, extra={"task": "toy", "data": {"name": "moons"}}), RunDir(tmp_path / "toy"))
    assert math.isfinite(m["mmd"]) and (tmp_path / "toy" / "toy.png").is_file()
    g = generation.run(load_config(name, overrides=over, extra={"task": "generation"}), RunDir(tmp_path / "gen"))
    assert (tmp_path / "gen" / "samples.png").is_file() and g["fid"] is None


def _image_model(mode="coopflow"):
    torch.manual_seed(0)
    flow = None if mode == "ebm-sr" else ImageFlow((1, 8, 8), levels=1, depth=1, hidden=8)
    return CoopFlow(flow, ConvEnergy((1, 8, 8), width=8), mode=mode, n_steps=4, step_size=0.1, clamp_data=1.0, data_shape=(1, 8, 8)).eval()


def test_flow_likelihood_stays_float32_under_bf16_autocast():
    m = _image_model()
    x = torch.rand(4, 1, 8, 8) * 2 - 1
    torch.manual_seed(5)  # dequantisation noise
    want = m.flow_nll(x)
    torch.manual_seed(5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = m.flow_nll(x)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, want)


def test_flow_data_initialisation_stays_float32_under_bf16_autocast():
    torch.manual_seed(0)
    flow = ImageFlow((1, 8, 8), levels=1, depth=2, hidden=8)
    m = CoopFlow(flow, ConvEnergy((1, 8, 8), width=8), n_steps=2, step_size=0.1, clamp_data=1.0, data_shape=(1, 8, 8))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        m.training_loss(torch.rand(4, 1, 8, 8) * 2 - 1)
    assert {p.dtype for p in m.parameters()} == {torch.float32}


def test_flow_map_is_the_noise_free_langevin_flow_and_differentiable():
    m = _image_model()
    xhat = (torch.rand(3, 1, 8, 8) * 2 - 1).requires_grad_(True)
    out = m.flow_map(xhat)
    torch.testing.assert_close(out.detach(), m.decode(xhat.detach()), atol=1e-5, rtol=1e-5)
    (g,) = torch.autograd.grad(out.sum(), xhat)
    assert torch.isfinite(g).all() and g.abs().sum() > 0


@pytest.mark.parametrize("mode", ["coopflow", "ebm-sr"])
def test_x_hat_optimisation_reconstructs_and_ignores_hidden_pixels(mode):
    m = _image_model(mode)
    x = torch.rand(4, 1, 8, 8) * 2 - 1
    torch.manual_seed(1)
    xhat, curve = m.invert(x, recipe=InversionRecipe("adam", 0.05, 60))
    assert curve[-1][1] < 0.5 * curve[0][1]  # the MSE falls along the optimisation (Figure 13)
    assert ((m.decode(xhat) - x) ** 2).mean() < curve[0][1]
    mask = torch.ones(4, 1, 8, 8)
    mask[..., 2:6, 2:6] = 0
    garbage = torch.where(mask.bool(), x, torch.randn_like(x) * 5)
    torch.manual_seed(2)
    a, _ = m.invert(x, mask, InversionRecipe("adam", 0.01, 5))
    torch.manual_seed(2)
    b, _ = m.invert(garbage, mask, InversionRecipe("adam", 0.01, 5))
    assert torch.equal(a, b)


@pytest.mark.parametrize("mode", ["coopflow", "ebm-sr"])
def test_x_hat_optimisation_stays_in_the_data_range_where_f_theta_has_a_gradient(mode):
    m = _image_model(mode)
    x = torch.where(torch.rand(4, 1, 8, 8) < 0.5, -1.0, 1.0)  # binary targets on the clamp: Adam overshoots them
    torch.manual_seed(3)
    xhat, curve = m.invert(x, recipe=InversionRecipe("adam", 0.3, 40))
    assert xhat.abs().max() <= m.clamp_data
    assert curve[-1][1] < curve[0][1]


def test_paper_recipe_is_plain_gradient_descent_on_f_theta_without_clamps():
    """One step of the authors' protocol by hand: x_hat - lr * grad ||x - F(x_hat)||^2, F without
    its update clamp, then projected onto [-1, 1]; the curve in their unit (summed over channels)."""
    m = _image_model("coopflow")
    m.clamp_update = 1e-6  # would all but freeze F_theta if the recipe kept the clamps
    x = torch.rand(3, 1, 8, 8) * 2 - 1
    torch.manual_seed(4)
    start = m.best_start(x, torch.ones_like(x)).requires_grad_(True)
    err = ((x - m.flow_map(start, clamps=False)) ** 2).flatten(1).sum(1)
    (g,) = torch.autograd.grad(err.sum(), start)
    torch.manual_seed(4)
    got, curve = m.invert(x, recipe=InversionRecipe("gd", 0.05, 1, clamps=False), per_channel_sum=True)
    torch.testing.assert_close(got, (start - 0.05 * g).clamp(-1, 1).detach())
    assert curve[0][1] == pytest.approx(float((err.detach() / 64).mean()), rel=1e-5)  # one channel: sum over C = the value
    assert not torch.allclose(m.flow_map(start, clamps=False), m.flow_map(start))
    torch.testing.assert_close(m.decode(start.detach(), clamps=False), m.flow_map(start, clamps=False).detach(), atol=1e-5, rtol=1e-5)


def test_recipes_follow_the_authors_test_scripts_and_config_overrides():
    from types import SimpleNamespace as NS

    paper = NS(recon_protocol="paper", invert_lr=None, invert_iters=None)
    assert recipe_for(paper, "reconstruct") == InversionRecipe("gd", 0.05, 200, 1.0, clamps=False)  # test_recons.py
    assert recipe_for(paper, "interpolate") == InversionRecipe("gd", 0.03, 201, 0.99, clamps=False)  # test_interp.py
    adam = NS(recon_protocol="adam", invert_lr=0.03, invert_iters=7)
    assert recipe_for(adam, "inpaint") == InversionRecipe("adam", 0.03, 7, 1.0, clamps=True)


class _TwoWells(torch.nn.Module):
    """f(x) = -5 min_c ||x - c||^2 over c = (+-1, 0): two basins the Langevin flow cannot leave."""

    def forward(self, x):
        c = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
        return -5 * ((x[:, None] - c) ** 2).sum(-1).min(1).values


def test_best_start_keeps_each_images_closest_draw_and_finds_the_right_basin():
    torch.manual_seed(0)
    m = CoopFlow(VectorFlow(2, depth=2, hidden=16), _TwoWells(), n_steps=10, step_size=0.1, clamp_data=None).eval()
    x = torch.tensor([[-1.0, 0.0]]).repeat(64, 1)  # every target sits in the left well
    ones = torch.ones_like(x)
    torch.manual_seed(1)
    one = m.best_start(x, ones, n_starts=1)
    torch.manual_seed(1)
    best = m.best_start(x, ones, n_starts=16)
    torch.manual_seed(1)
    draws = m.initial(64 * 16).view(64, 16, 2)  # the same candidates, image i owning draws i*16 .. i*16+15
    err = ((x[:, None] - m.langevin_flow(draws.view(-1, 2)).view(64, 16, 2)) ** 2).sum(-1)
    torch.testing.assert_close(best, draws[torch.arange(64), err.argmin(1)])
    assert (m.decode(one)[:, 0] > 0).sum() >= 10  # one flow sample often starts in the wrong basin...
    assert (m.decode(best)[:, 0] < 0).all()  # ...the best of 16 never does
    with pytest.raises(ValueError, match="n_starts"):
        m.best_start(x, ones, n_starts=0)


def test_flow_encode_decode_invert_each_other():
    m = _image_model()
    x = m.flow.sample(3)
    torch.testing.assert_close(m.decode_flow(m.encode_flow(x)), x, atol=1e-4, rtol=1e-4)
    v = VectorFlow(2, depth=2, hidden=8).eval()  # train mode would initialise ActNorm on the first encode
    z = torch.randn(5, 2)
    torch.testing.assert_close(v.encode(v.decode(z)), z, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name,tasks", [("coopflow", ["reconstruction", "inpainting", "interpolation"]), ("ebm-sr", ["reconstruction"])])
def test_data_space_reconstruction_tasks_run_end_to_end(name, tasks, tmp_path):
    from genflows._runtime.output import RunDir
    from genflows.tasks import TASKS

    over = ["train.epochs=1", "train.max_iters=2", "coop.n_steps=3", "coop.flow_depth=1", "coop.flow_hidden=8", "coop.energy_width=8",
            "eval.n_test=6", "eval.invert_iters=4", "eval.completions=2", "eval.interp_pairs=2", "eval.interp_points=3", "eval.fid_n=0", "eval.invert_starts=2"]
    for task in tasks:
        m = TASKS[task].run(load_config(name, overrides=over, extra={"task": task}), RunDir(tmp_path / task))
        assert "x_hat optimised" in m["inference"] and "best of 2" in m["inference"] and "paper protocol" in m["inference"]
        assert math.isfinite(m["mse"] if task != "interpolation" else m["end_mse"])
        if task == "reconstruction":
            assert "summed over channels" in m["mse_unit"]
    if "reconstruction" in tasks:
        assert len(json_curve := m_curve(tmp_path)) >= 1 and all(math.isfinite(v) for _, v in json_curve)


def m_curve(tmp_path):
    import json

    return json.loads((tmp_path / "reconstruction" / "metrics.json").read_text())["mse_curve"]


def test_flow_alone_cannot_run_reconstruction():
    from genflows.errors import GenflowsError

    with pytest.raises(GenflowsError, match="does not do task 'reconstruction'"):
        load_config("flow", extra={"task": "reconstruction"}).validate()


def test_the_official_ebm_block_has_the_authors_parameter_count():
    # CoopFlow's CIFAR-10 EBM at width 128: conv1 keeps the width, conv2 widens, a 3x3 shortcut.
    count = {arch: sum(p.numel() for p in ConvEnergy((3, 32, 32), width=128, arch=arch).parameters()) for arch in ("official", "compact")}
    assert round(count["official"] / 1e6, 1) == 17.1 and round(count["compact"] / 1e6, 1) == 20.9


def test_each_network_is_clipped_on_its_own_and_the_lr_warms_up_for_the_update_only():
    m = _toy_model(flow_grad_clip=1.0, ebm_grad_clip=None, lr_warmup_iters=200)
    m.schedule(0)
    loss, _ = m.training_loss(torch.randn(64, 2) * 3)
    (1e3 * loss).backward()
    ebm_before = torch.cat([p.grad.flatten() for p in m.energy.parameters()]).norm()
    m.clip_gradients()
    assert torch.cat([p.grad.flatten() for p in m.flow.parameters() if p.grad is not None]).norm() <= 1.0 + 1e-5
    assert torch.cat([p.grad.flatten() for p in m.energy.parameters()]).norm() == ebm_before > 1.0
    assert [m.lr_factor(i) for i in (0, 100, 200, 5000)] == [0.0, 0.5, 1.0, 1.0]
    trainer = Trainer(m, load_config("coopflow", extra={"task": "toy", "data": {"name": "moons"}}).train, progress=False)
    before = [p.detach().clone() for p in m.parameters()]
    trainer.train_step(torch.randn(16, 2))  # iteration 0: lr x 0
    assert all(torch.equal(a, b) for a, b in zip(before, m.parameters()))
    assert [g["lr"] for g in trainer.optimizer.param_groups] == [1e-4, 1e-4]


def test_the_flow_is_initialised_on_data_before_it_sees_langevin_samples():
    x = torch.randn(64, 2) * 3 + 5
    m = _toy_model(flow_data_init=True)
    m.train()
    m.training_loss(x)
    ref = _toy_model()
    with torch.no_grad():
        ref.flow.log_prob(x)  # nflows' ActNorm initialises on the first batch it sees
    first = next(mod for mod in m.flow.modules() if hasattr(mod, "initialized"))
    first_ref = next(mod for mod in ref.flow.modules() if hasattr(mod, "initialized"))
    torch.testing.assert_close(first.shift, first_ref.shift)


def test_eq10_noise_decay_counts_the_cooperative_epochs():
    m = _toy_model(noise=True, noise_decay_epochs=4, pretrain_epochs=3)
    seen = []
    langevin_flow = m.langevin_flow
    m.langevin_flow = lambda x0, noise_scale=0.0, **kw: seen.append(noise_scale) or langevin_flow(x0, noise_scale=noise_scale, **kw)
    for epoch in (3, 4):
        m.schedule(epoch)
        m.training_loss(torch.randn(8, 2))
    assert seen == [1.0, noise_decay(1, 4)]


def test_the_test_step_follows_the_dataset_where_the_authors_set_one():
    small = ["coop.energy_width=4", "coop.flow_hidden=4", "coop.flow_depth=1", "coop.flow_levels=1"]
    step = {}
    for data in ("cifar10", "svhn", "celeba32"):
        cfg = load_config("coopflow", overrides=small, extra={"task": "generation", "data": {"name": data}})
        step[data] = build_model(cfg, (3, 32, 32)).test_step_size
    assert step["cifar10"] == pytest.approx(0.03 * 4 / 3) and step["svhn"] == step["celeba32"] == 0.035
    cfg = load_config("coopflow", overrides=[*small, "coop.test_step_size=0.05"], extra={"task": "generation", "data": {"name": "svhn"}})
    assert build_model(cfg, (3, 32, 32)).test_step_size == 0.05


class _StandardNormal(torch.nn.Module):
    def forward(self, x):
        return -0.5 * x.pow(2).sum(1)  # f of N(0, I)


@pytest.mark.parametrize("test_noise", [False, True])
def test_test_noise_samples_p_theta_instead_of_contracting_onto_its_mode(test_noise):
    # p_theta = N(0, I): unit-noise Langevin keeps unit variance, the noise-free test chain (A.3) shrinks toward the mode
    m = CoopFlow(VectorFlow(2, depth=1, hidden=8), _StandardNormal(), n_steps=400, step_size=0.1, test_step_ratio=1.0,
                 clamp_update=None, clamp_data=None, test_noise=test_noise)
    torch.manual_seed(0)
    var = m.sample(4000).var(0)
    if test_noise:
        torch.testing.assert_close(var, torch.ones(2), atol=0.08, rtol=0)
    else:
        assert (var < 0.05).all()
    cfg = load_config("coopflow", overrides=[f"coop.test_noise={str(test_noise).lower()}", "coop.flow_depth=1", "coop.flow_hidden=4"],
                      extra={"task": "toy", "data": {"name": "spiral"}})
    assert build_model(cfg, (2,)).test_noise is test_noise


def test_log_mass_is_the_bin_centre_density_times_the_bin_volume():
    """The flow's anomaly score counts the dequantisation once: every image in one 8-bit bin
    gets the same log P(x), the density at the bin centre times (2/256)^D."""
    torch.manual_seed(0)
    q = ImageFlow((1, 4, 4), levels=1, depth=2, hidden=8)
    u8 = torch.randint(0, 256, (3, 1, 4, 4)).float()
    x = u8 / 127.5 - 1
    centre = (u8 + 0.5) / 128 - 1
    want = q.log_prob(centre) + 16 * math.log(2 / 256)
    assert torch.allclose(q.log_mass(x), want, atol=1e-4)
    assert torch.allclose(q.log_mass(x + 0.002), q.log_mass(x), atol=1e-5)  # the same bin, the same score
    # ...and it is the mean of the dequantised likelihood's exponent only in expectation: dequantise draws noise
    torch.manual_seed(1)
    assert not torch.allclose(q.log_prob(x, dequantize=True), q.log_prob(x, dequantize=True))


@pytest.mark.parametrize("mode", ["coopflow", "ebm-sr", "flow"])
def test_data_space_anomaly_scores_are_the_models_energy_and_nll_in_eval_mode(mode):
    cfg = load_config(mode, overrides=["coop.flow_depth=1", "coop.flow_hidden=8", "coop.flow_levels=1", "coop.energy_width=4"],
                      extra={"task": "anomaly"})
    torch.manual_seed(0)
    model = build_model(cfg, (1, 8, 8)).train()
    x = torch.rand(10, 1, 8, 8) * 2 - 1
    kinds = model.anomaly_kinds(model.mode)
    assert kinds == {"coopflow": ("energy", "flow"), "ebm-sr": ("energy",), "flow": ("flow",)}[mode]
    for kind in kinds:
        a, partial = model.anomaly_scores(x, 0, 0.0, batch_size=10, kind=kind)
        b, _ = model.anomaly_scores(x, 0, 0.0, batch_size=3, kind=kind)
        assert partial == {} and not a.requires_grad and torch.allclose(a, b, atol=1e-4) and model.training
        with torch.no_grad():
            model.eval()
            want = -model.energy(x) if kind == "energy" else -model.flow.log_mass(x)
            model.train()
        assert torch.allclose(a, want, atol=1e-4)
    with pytest.raises(Exception, match="has no anomaly score 'joint'"):
        model.anomaly_scores(x, 0, 0.0, kind="joint")
