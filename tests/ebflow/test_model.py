"""EBFlow: the energy is the flow's log-density up to the linear layers' log-determinants, the
density is normalised, sampling inverts the flow exactly, and every objective trains."""

import math

import pytest
import torch

from genflows import build_model, load_config
from genflows.ebflow import EBFlow
from genflows.ebflow import objectives as obj
from genflows.ebflow.layers import smooth_leaky_relu, smooth_leaky_relu_inverse, smooth_leaky_relu_log_slope


def _perturbed(model: EBFlow, scale: float = 0.3) -> EBFlow:
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn_like(p))
    return model


@pytest.mark.parametrize("map_", [True, False])
def test_energy_plus_log_density_is_the_same_number_for_every_x(map_):
    """E(v) + log p(v) = sum_i log|det W_i| = -log Z, whatever v."""
    m = _perturbed(EBFlow(dim=6, num_layers=3, map=map_)).double()
    v = (torch.randn(20, 6) * 2 if map_ else torch.rand(20, 6) * 250 + 3).double()
    gap = m.energy(v) + m.log_prob_v(v)
    torch.testing.assert_close(gap, m.log_det_linear().expand(20), rtol=0, atol=1e-9)


def test_the_density_integrates_to_one():
    """A 1-D EBFlow: exp(log p(v)) integrated on a fine grid is 1 (the change of variables)."""
    m = _perturbed(EBFlow(dim=1, num_layers=3), 0.5).double()
    v = torch.linspace(-60, 60, 400001, dtype=torch.float64).unsqueeze(1)
    with torch.no_grad():
        mass = torch.trapezoid(m.log_prob_v(v).exp(), v[:, 0])
    assert abs(float(mass) - 1) < 1e-4


def test_pixel_log_likelihood_counts_the_preprocessing_once():
    """log p of 8-bit images: the logit-space density plus the preprocessing's log-determinants,
    the same with and without MaP for the same flow (only where score matching runs differs)."""
    a = _perturbed(EBFlow(dim=4, num_layers=2, map=True))
    b = EBFlow(dim=4, num_layers=2, map=False)
    b.load_state_dict(a.state_dict())
    x = torch.randint(0, 256, (7, 1, 2, 2)).float() / 127.5 - 1
    torch.testing.assert_close(a.log_prob(x, dequantize=False), b.log_prob(x, dequantize=False), rtol=1e-5, atol=1e-3)


def test_smooth_leaky_relu_slope_and_inverse():
    h = torch.linspace(-8, 8, 101, dtype=torch.float64).requires_grad_(True)
    (slope,) = torch.autograd.grad(smooth_leaky_relu(h, 0.3).sum(), h)
    torch.testing.assert_close(smooth_leaky_relu_log_slope(h, 0.3), slope.log())
    torch.testing.assert_close(smooth_leaky_relu_inverse(smooth_leaky_relu(h.detach(), 0.3), 0.3), h.detach())


def test_sampling_inverts_the_flow_exactly():
    m = _perturbed(EBFlow(dim=5, num_layers=3)).eval()
    torch.manual_seed(3)
    v = m._sample_v(6)
    torch.manual_seed(3)
    u = torch.randn(6, 5)
    torch.testing.assert_close(m._net()(v)[0], u, rtol=1e-4, atol=1e-4)


def test_score_matching_objectives_match_their_closed_forms_on_a_gaussian():
    """E = |v|^2 / 2 (N(0, I), score -v). SSM: E[|v|^2 / 2 - tr I] / D = -1/2. DSM at sigma 1:
    E|-(v + e) + e|^2 / (2 D) = 1/2. FDSSM along a unit direction d: E[(v.d)^2] / 2 - 1 = -1/2."""
    torch.manual_seed(0)
    energy = lambda v: 0.5 * (v ** 2).sum(1)  # noqa: E731
    v = torch.randn(20000, 3)
    assert abs(float(obj.ssm(energy, v).detach()) + 0.5) < 0.03
    assert abs(float(obj.dsm(energy, v, 1.0).detach()) - 0.5) < 0.03
    assert abs(float(obj.fdssm(energy, v, 0.1)) + 0.5) < 0.03
    data, samples = torch.randn(50, 3), torch.randn(50, 3)
    assert float(obj.sml(energy, data, samples)) == pytest.approx(float((energy(data) - energy(samples)).mean()))


def test_sml_gradient_is_the_ml_gradient_without_determinants_in_expectation():
    """d/dtheta NLL = E_data[dE] - E_model[dE] (Eq. 11): with many exact samples, SML's gradient
    in the biases matches ML's (the biases do not enter log|det W|)."""
    torch.manual_seed(0)
    m = _perturbed(EBFlow(dim=3, num_layers=2, loss="ml"), 0.2).double()
    data = m._sample_v(40000).detach() * 1.1 + 0.2  # data off the model: a real gradient
    ml = torch.autograd.grad(obj.ml(m.energy, data, m.log_det_linear()), [l.bias for l in m.net.linears])
    sml = torch.autograd.grad(obj.sml(m.energy, data, m._sample_v(40000).detach()), [l.bias for l in m.net.linears])
    for a, b in zip(ml, sml):
        torch.testing.assert_close(a, b, rtol=0.1, atol=0.05)


@pytest.mark.parametrize("loss", ["ml", "sml", "ssm", "dsm", "fdssm"])
def test_every_objective_trains_and_the_ema_follows(loss, tmp_path):
    from genflows._runtime.output import RunDir
    from genflows.tasks import generation

    cfg = load_config(f"ebflow-{loss}", overrides=["train.epochs=2", "eval.fid_n=0", "ebflow.ema_decay=0.5", "ebflow.lr=1e-3"],
                      extra={"task": "generation"})
    m = generation.run(cfg, RunDir(tmp_path))
    hist = [h[f"{loss}_loss"] for h in m["history"]]
    assert all(math.isfinite(h) for h in hist) and hist[-1] < hist[0], hist
    model = build_model(cfg, (1, 8, 8))
    model.load_state_dict(torch.load(tmp_path / "checkpoint.pt", weights_only=False)["model"])
    assert not torch.equal(model.ema_net.linears[0].weight, model.net.linears[0].weight)  # the shadow lags the live weights
    model.eval()
    x = torch.rand(4, 1, 8, 8) * 2 - 1
    live = EBFlow(dim=64, ema_decay=None)
    live.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("ema_net.")})
    assert not torch.allclose(model.log_prob(x, dequantize=False), live.eval().log_prob(x, dequantize=False))  # eval uses the EMA


def test_rmsprop_and_the_authors_lr_decay():
    cfg = load_config("ebflow-ssm", extra={"task": "generation"})
    m = build_model(cfg, (1, 8, 8))
    opt = m.make_optimizer(m.parameter_groups())
    assert isinstance(opt, torch.optim.RMSprop) and opt.param_groups[0]["lr"] == 1e-4
    assert m.schedule(0).lrs["flow"] == 1e-4 and m.schedule(60).lrs["flow"] == pytest.approx(1e-4 * 0.95 ** 49)
    assert load_config("ebflow-fdssm", extra={"task": "generation"}).train.grad_clip == 5.0


def test_inpainting_samples_the_conditional_of_the_visible_pixels(tmp_path):
    """Langevin on the hidden pixels through genflows' sampler. A one-layer EBFlow is a Gaussian
    in logit space (u = W w + b), so the hidden pixels' conditional is known: the completions'
    mean matches its mean. Visible pixels come back as they were, the same seed gives the same
    completions, and reconstruction (the identity for an invertible model) is not offered."""
    from genflows.config import EvalConfig
    from genflows.errors import GenflowsError
    from genflows.tasks import tasks_of

    assert "inpainting" in tasks_of("ebflow-dsm") and "reconstruction" not in tasks_of("ebflow-dsm")
    torch.manual_seed(0)
    m = EBFlow(dim=4, data_shape=(1, 2, 2), num_layers=1, ema_decay=None, inpaint_steps=400, inpaint_step_size=0.3)
    with torch.no_grad():
        m.net.linears[0].weight.copy_(torch.tensor([[1.2, 0.4, 0.0, 0.1], [0.0, 0.9, 0.3, 0.0], [0.2, 0.0, 1.1, 0.5], [0.0, 0.3, 0.0, 1.0]]))
        m.net.linears[0].bias.copy_(torch.tensor([0.3, -0.2, 0.1, 0.4]))
    x = (torch.tensor([100.0, 0, 0, 180]) / 127.5 - 1).view(1, 1, 2, 2).repeat(3000, 1, 1, 1)
    mask = torch.tensor([1.0, 0, 0, 1]).view(1, 1, 2, 2).repeat(3000, 1, 1, 1)
    e = EvalConfig(batch_size=1000)
    a, _, how = m.reconstruct_batched(x, mask, e, seed=3)
    again = [m.reconstruct_batched(x[:50], mask[:50], e, seed=3)[0] for _ in range(2)]
    assert torch.equal(*again) and "400 steps" in how
    pixels = (a.flatten(1) + 1) * 127.5
    torch.testing.assert_close(pixels[:, [0, 3]], torch.tensor([100.5, 180.5]).expand(3000, 2), atol=1e-2, rtol=0)
    w = m.pre.logit(m.pre.unit(pixels)).double()
    W, b = m.net.linears[0].weight.detach().double(), m.net.linears[0].bias.detach().double()
    prec, mu = W.T @ W, -torch.linalg.solve(W, b)
    h, v = [1, 2], [0, 3]
    want = mu[h] - torch.linalg.solve(prec[h][:, h], prec[h][:, v] @ (w[0, v] - mu[v]))
    torch.testing.assert_close(w[:, h].mean(0), want, atol=0.08, rtol=0)
    with pytest.raises(GenflowsError, match="invertible"):
        m.reconstruct_batched(x, None, e, seed=0)


def test_an_example_outside_the_domain_counts_as_zero_as_in_the_authors_code():
    """Without MaP, DSM noise can push pixels below 0, where the logit is NaN: that example's loss
    is 0 (the batch size still divides), the other's counts, and the gradient stays finite."""
    torch.manual_seed(0)
    m = EBFlow(dim=4, data_shape=(1, 2, 2), map=False, ema_decay=None)
    v = torch.tensor([[1.0, 2.0, 1.5, 3.0], [120.0, 130.0, 125.0, 128.0]])
    sigma = 5.0
    torch.manual_seed(0)
    noise = torch.randn(2, 4)
    assert (v[0] + sigma * noise[0]).min() < 0 and (v[1] + sigma * noise[1]).min() > 0
    torch.manual_seed(0)
    loss = obj.dsm(m.energy, v, sigma, m._valid)
    x = (v[1:] + sigma * noise[1:]).requires_grad_(True)
    (grad,) = torch.autograd.grad(m.energy(x).sum(), x)
    second = 0.5 * ((-grad + noise[1:] / sigma) ** 2).sum() / 4
    torch.testing.assert_close(loss.detach(), second / 2)
    (g,) = torch.autograd.grad(loss, [m.net.linears[0].bias])
    assert torch.isfinite(g).all()
