import pytest
import torch
from torch import nn

from genflows.frozen_generator import frozen_log_likelihood
from genflows.generators import ConvGenerator, DCGANGenerator
from genflows.langevin import frozen


def _generator(train: bool, act=None):
    torch.manual_seed(0)
    g = ConvGenerator(6, (1, 8, 8), hidden=32, channels=8)
    if act is not None:  # the same layers with another activation the written-out path supports
        g.net = nn.Sequential(*[act() if isinstance(m, nn.ReLU) else m for m in g.net])
    with torch.no_grad():  # BatchNorm away from its identity start, running statistics not trivial
        for m in g.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.weight.normal_(1.0, 0.3), m.bias.normal_(0.0, 0.3)
                m.running_mean.normal_(0.0, 0.5), m.running_var.uniform_(0.5, 2.0)
    return g.train(train)


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("act", [None, lambda: nn.LeakyReLU(0.2)])
def test_written_out_gradient_equals_autograd_through_the_module(train, masked, act):
    g = _generator(train, act)
    x = torch.rand(16, 1, 8, 8) * 2 - 1
    mask = (torch.rand(16, 1, 8, 8) > 0.3).float() if masked else None
    z = torch.randn(16, 6, requires_grad=True)
    upstream = torch.randn(16)  # any weighting of the examples, not just a sum
    with frozen(g):
        ll = frozen_log_likelihood(g)
        assert ll is not None
        want = g.log_likelihood(x, z, mask)
        (gw,) = torch.autograd.grad((want * upstream).sum(), z)
        stats = [b.clone() for b in g.buffers()]
        got = ll(x, z, mask)
        (gg,) = torch.autograd.grad((got * upstream).sum(), z)
    assert torch.allclose(got, want, rtol=1e-5, atol=1e-4)
    assert torch.allclose(gg, gw, rtol=1e-6, atol=1e-6 * gw.abs().max().item())
    assert all(torch.equal(a, b) for a, b in zip(stats, g.buffers()))  # running statistics untouched


def test_falls_back_where_it_does_not_apply():
    g = _generator(True)
    assert frozen_log_likelihood(g) is None  # weights still learning: autograd must see them
    assert g.chain_log_likelihood() == g.log_likelihood
    dc = DCGANGenerator(8, (1, 8, 8), ngf=4).requires_grad_(False)
    assert frozen_log_likelihood(dc) is None  # a layer it does not know

    class Reshaping(ConvGenerator):  # forward is no longer net(z): the module must run
        def forward(self, z):
            return super().forward(z).flip(-1)

    r = Reshaping(6, (1, 8, 8), hidden=32, channels=8).requires_grad_(False)
    assert r.chain_log_likelihood() == r.log_likelihood
    plain = ConvGenerator(6, (1, 8, 8), hidden=32, channels=8).requires_grad_(False)
    assert plain.chain_log_likelihood() != plain.log_likelihood
    with frozen(g):
        ll = frozen_log_likelihood(g)
        x, z = torch.rand(4, 1, 8, 8), torch.randn(4, 6)
        with torch.autocast("cpu", dtype=torch.bfloat16):  # under autocast: the module, in bf16
            assert torch.allclose(ll(x, z), g.log_likelihood(x, z))
        with pytest.raises(RuntimeError):  # once differentiable: a second derivative is refused
            zz = z.clone().requires_grad_(True)
            (d,) = torch.autograd.grad(ll(x, zz).sum(), zz, create_graph=True)
            torch.autograd.grad(d.sum(), zz)


def test_posterior_chain_unchanged_by_the_written_out_generator():
    from genflows.inference import LangevinInference
    from genflows.priors import GaussianPrior

    g = _generator(True)
    x, z0 = torch.rand(20, 1, 8, 8) * 2 - 1, torch.randn(20, 6)
    inf = LangevinInference(n_steps=30, noise=False)
    fast = inf(GaussianPrior(6), g, x, z0=z0)
    g.chain_log_likelihood = lambda: g.log_likelihood  # autograd through the module
    slow = inf(GaussianPrior(6), g, x, z0=z0)
    assert torch.allclose(fast, slow, rtol=1e-6, atol=1e-6 * slow.abs().max().item())


@pytest.mark.parametrize("written_out", [True, False])
def test_chain_moves_batchnorm_statistics_only_when_asked(written_out):
    # The latent-flow reference code's chains run a train-mode generator, so every step's batch enters the
    # running averages eval-mode scoring uses; the default keeps them to the learning step's.
    from genflows.inference import LangevinInference
    from genflows.priors import GaussianPrior

    x, z0 = torch.rand(20, 1, 8, 8) * 2 - 1, torch.randn(20, 6)
    after = {}
    for updates in (False, True):
        g = _generator(True)
        if not written_out:
            g.chain_log_likelihood = lambda g=g: g.log_likelihood
        before = [b.clone() for b in g.buffers()]
        z = LangevinInference(n_steps=7, noise=False, bn_stats_from_chain=updates)(GaussianPrior(6), g, x, z0=z0)
        stats = [b for b in g.buffers() if b.dtype.is_floating_point]
        if not updates:
            assert all(torch.equal(a, b) for a, b in zip([b for b in before if b.dtype.is_floating_point], stats))
            continue
        # The same chain by hand through the module, momentum on: every step updates once.
        ref = _generator(True)
        zz = z0.clone()
        for _ in range(7):
            zz.requires_grad_(True)
            ll = ref.log_likelihood(x, zz) - 0.5 * (zz**2).sum(1)
            (grad,) = torch.autograd.grad(ll.sum(), zz)
            zz = (zz + 0.5 * 0.1**2 * grad).detach()
        want = [b for b in ref.buffers() if b.dtype.is_floating_point]
        assert not all(torch.equal(a, b) for a, b in zip([b for b in before if b.dtype.is_floating_point], stats))
        assert all(torch.allclose(a, b, rtol=1e-5, atol=1e-6) for a, b in zip(stats, want))
        assert [int(b) for b in g.buffers() if not b.dtype.is_floating_point] == [7] * 3
        assert torch.allclose(z, zz, rtol=1e-5, atol=1e-5)
        assert all(p.requires_grad for p in g.parameters())  # thawed again after the chain
