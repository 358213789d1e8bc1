import pytest
import torch
from torch import nn

from genflows.errors import DivergenceError
from genflows.langevin import WithGradient, cast_weights, frozen, langevin


def test_noise_free_chain_descends_a_quadratic():
    x = langevin(lambda x: 0.5 * (x * x).sum(1), torch.full((8, 3), 4.0), n_steps=300, step_size=0.3, noise=False)
    assert x.abs().max() < 1e-2


def test_noisy_chain_samples_the_target_gaussian():
    # U(x) = x^2 / (2 * 0.25): stationary distribution N(0, 0.5^2); small step => small bias.
    torch.manual_seed(0)
    x = langevin(lambda x: (x * x).sum(1) / (2 * 0.25), torch.zeros(4000, 1), n_steps=400, step_size=0.1)
    assert abs(x.std().item() - 0.5) < 0.03
    assert abs(x.mean().item()) < 0.03


def test_record_returns_intermediate_states_of_the_same_chain():
    energy = lambda x: 0.5 * (x * x).sum(1)
    x0 = torch.ones(2, 2)
    final, snaps = langevin(energy, x0, n_steps=10, step_size=0.5, noise=False, record=(3, 10))
    three = langevin(energy, x0, n_steps=3, step_size=0.5, noise=False)
    assert torch.allclose(snaps[3], three)
    assert torch.allclose(snaps[10], final)


def test_clamps_bound_the_update_and_the_state():
    energy = lambda x: -(x * 100).sum(1)  # pushes x up hard
    x = langevin(energy, torch.zeros(3, 2), n_steps=5, step_size=1.0, noise=False, clamp_update=0.1)
    assert torch.allclose(x, torch.full((3, 2), 0.5))
    x = langevin(energy, torch.zeros(3, 2), n_steps=5, step_size=1.0, noise=False, clamp_state=1.0)
    assert x.max() <= 1.0


def test_divergence_is_reported_with_its_step():
    # s = sqrt(2): each step moves x by exactly +1, so x_k = k and the energy at x_3 is NaN.
    energy = lambda x: torch.where(x.sum(1) > 2.5, torch.full_like(x[:, 0], float("nan")), -x.sum(1))
    with pytest.raises(DivergenceError, match="step 4 of 10"):
        langevin(energy, torch.zeros(2, 1), n_steps=10, step_size=2**0.5, noise=False)


def test_frozen_stops_param_grads_and_batchnorm_updates_then_restores():
    net = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4)).train()
    before = net[1].running_mean.clone()
    with frozen(net):
        assert not any(p.requires_grad for p in net.parameters())
        net(torch.randn(16, 2) + 3)
        assert torch.equal(net[1].running_mean, before)
    assert all(p.requires_grad for p in net.parameters())
    net(torch.randn(16, 2) + 3)
    assert not torch.equal(net[1].running_mean, before)


def test_watch_chains_reports_first_and_last_energy_and_displacement():
    from genflows.langevin import watch_chains

    energy = lambda x: 0.5 * (x * x).sum(1)  # noqa: E731
    x0 = torch.tensor([[3.0, 4.0], [0.0, 2.0]])
    with watch_chains() as chains:
        x = langevin(energy, x0, n_steps=5, step_size=0.5, noise=False, what="test chain")
    (c,) = chains
    assert c.what == "test chain" and c.n_steps == 5
    assert c.energy_first.item() == pytest.approx(energy(x0).mean().item())  # 0.5 * (25 + 4) / 2
    # Noise-free on a quadratic: each step scales x by (1 - s^2 / 2); step K's energy is at x_{K-1}.
    x4 = x0 * (1 - 0.125) ** 4
    assert c.energy_last.item() == pytest.approx(energy(x4).mean().item(), rel=1e-5)
    assert c.displacement.item() == pytest.approx((x - x0).norm(dim=1).mean().item(), rel=1e-6)
    assert c.energy_first.device == x0.device and not c.energy_first.requires_grad


def test_chains_outside_a_watch_block_or_in_a_disabled_one_report_nothing():
    from genflows.langevin import _WATCHERS, watch_chains

    energy = lambda x: 0.5 * (x * x).sum(1)  # noqa: E731
    with watch_chains(enabled=False) as off:
        langevin(energy, torch.ones(3, 2), n_steps=2, step_size=0.1)
    with watch_chains() as outer:
        langevin(energy, torch.ones(3, 2), n_steps=2, step_size=0.1)
        with watch_chains() as inner:
            langevin(energy, torch.ones(3, 2), n_steps=3, step_size=0.1)
    langevin(energy, torch.ones(3, 2), n_steps=2, step_size=0.1)
    assert off == [] and [c.n_steps for c in outer] == [2, 3] and [c.n_steps for c in inner] == [3]
    assert _WATCHERS == []


def test_cast_weights_holds_bf16_for_the_block_and_restores_the_same_parameters():
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ConvTranspose2d(4, 2, 2, 2))
    before = {n: (p, p.detach().clone()) for n, p in net.named_parameters()}
    with pytest.raises(RuntimeError, match="mid-chain"):
        with cast_weights(net, torch.bfloat16):
            assert {n: p.dtype for n, p in net.named_parameters()} == {
                "0.weight": torch.bfloat16, "0.bias": torch.bfloat16, "1.weight": torch.float32,  # BatchNorm stays float32
                "1.bias": torch.float32, "2.weight": torch.bfloat16, "2.bias": torch.bfloat16}
            raise RuntimeError("mid-chain")
    for n, p in net.named_parameters():
        assert p is before[n][0] and p.dtype == torch.float32 and torch.equal(p, before[n][1])
    with cast_weights(net, None):
        assert {p.dtype for p in net.parameters()} == {torch.float32}


def test_bf16_chain_with_weights_cast_once_equals_casting_at_every_step():
    from genflows import ConvGenerator, FlowPrior, LangevinInference

    torch.manual_seed(0)
    prior, gen = FlowPrior(6, depth=2, hidden=16), ConvGenerator(6, (1, 8, 8), hidden=32, channels=16)
    inf = LangevinInference(n_steps=15, step_size=0.1, autocast=True)
    x, z0 = torch.rand(16, 1, 8, 8) * 2 - 1, torch.randn(16, 6)
    prior.log_prob(torch.randn(32, 6))  # initialises actnorm
    for mode in (True, False):  # training chains (batch statistics) and scoring chains
        gen.train(mode)
        once = inf(prior, gen, x, z0=z0, noise=False)
        with frozen(prior, gen):  # the energy alone: autocast casts the float32 weights at every step
            every = langevin(inf.energy(prior, gen, x), z0, n_steps=15, step_size=0.1, noise=False)
        torch.testing.assert_close(once, every, rtol=0, atol=1e-6)
        assert {p.dtype for p in gen.parameters()} == {torch.float32}


def test_an_energy_with_its_gradient_written_out_runs_the_same_chain_without_autograd():
    a = torch.tensor([1.0, 3.0])
    energy = lambda x: 0.5 * (a * x * x).sum(1)  # noqa: E731
    calls = []

    def value_and_grad(x):
        calls.append(torch.is_grad_enabled())
        return energy(x), a * x

    x0 = torch.randn(5, 2)
    torch.manual_seed(3)
    want = langevin(energy, x0, n_steps=30, step_size=0.2)
    torch.manual_seed(3)
    got = langevin(WithGradient(energy, value_and_grad), x0, n_steps=30, step_size=0.2)
    assert torch.allclose(got, want, atol=1e-6)
    assert len(calls) == 30 and not any(calls)  # every step, with no graph recorded


def test_a_gradient_that_aliases_the_state_moves_it_correctly():
    # A trap of the sampler's earlier in-place scaling: an energy whose written-out gradient is the
    # state itself (||z||^2 / 2) had z scaled in place, then moved again: -0.75 instead of 2.625.
    energy = WithGradient(lambda z: 0.5 * (z * z).sum(1), lambda z: (0.5 * (z * z).sum(1), z))
    z = langevin(energy, torch.full((1, 1), 3.0), n_steps=1, step_size=0.5, noise=False)
    assert z.item() == pytest.approx(3.0 - 0.125 * 3.0)
    z2 = langevin(energy, torch.full((1, 1), 3.0), n_steps=2, step_size=0.5, noise=False)
    assert z2.item() == pytest.approx(3.0 * 0.875**2)


def test_frozen_can_leave_batchnorm_statistics_moving():
    net = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4)).train()
    free = nn.Sequential(nn.Linear(2, 4), nn.BatchNorm1d(4)).train()
    free.load_state_dict(net.state_dict())
    x = torch.randn(16, 2) + 3
    with frozen(net, bn_updates=True):
        assert not any(p.requires_grad for p in net.parameters())
        net(x)
    free(x)
    assert not torch.equal(net[1].running_mean, torch.zeros(4))
    assert torch.equal(net[1].running_mean, free[1].running_mean)
    assert torch.equal(net[1].running_var, free[1].running_var)
