import pytest
import torch
from torch import nn

from genflows.written_out.generator import written_out_log_likelihood
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
    with frozen(g):
        ll = written_out_log_likelihood(g)
        assert ll is not None
        want = g.log_likelihood(x, z, mask)
        (gw,) = torch.autograd.grad(want.sum(), z)
        stats = [b.clone() for b in g.buffers()]
        z_before = z.detach().clone()
        got, gg = ll.value_and_grad(x, z.detach(), mask)
    assert torch.equal(z.detach(), z_before)  # inputs untouched
    assert not got.requires_grad and not gg.requires_grad
    assert torch.allclose(got, want, rtol=1e-5, atol=1e-4)
    assert torch.allclose(gg, gw, rtol=1e-6, atol=1e-6 * gw.abs().max().item())
    assert all(torch.equal(a, b) for a, b in zip(stats, g.buffers()))  # running statistics untouched


@pytest.mark.parametrize("masked", [False, True])
def test_called_chain_term_gives_the_modules_gradients_in_x_z_and_weights(masked):
    # A trap of the one-node autograd.Function this path once had: x.grad came back None.
    g = _generator(False)
    x = (torch.rand(8, 1, 8, 8) * 2 - 1).requires_grad_(True)
    z = torch.randn(8, 6, requires_grad=True)
    mask = (torch.rand(8, 1, 8, 8) > 0.3).float() if masked else None
    want = torch.autograd.grad(g.log_likelihood(x, z, mask).sum(), (x, z))
    with frozen(g):
        term = g.chain_log_likelihood()
        assert term.value_and_grad.__qualname__.startswith("written_out_log_likelihood")  # the fast path was taken
        got = torch.autograd.grad(term(x, z, mask).sum(), (x, z))
    assert float(want[0].abs().max()) > 0
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b)


def test_falls_back_where_it_does_not_apply():
    g = _generator(True)
    assert written_out_log_likelihood(g) is None  # weights still learning: autograd must see them
    dc = DCGANGenerator(8, (1, 8, 8), ngf=4).requires_grad_(False)
    assert written_out_log_likelihood(dc) is None  # a layer it does not know

    class Reshaping(ConvGenerator):  # forward is no longer net(z): the module must run
        def forward(self, z):
            return super().forward(z).flip(-1)

    written = lambda gen: gen.chain_log_likelihood().value_and_grad.__qualname__.startswith("written_out")  # noqa: E731
    r = Reshaping(6, (1, 8, 8), hidden=32, channels=8).requires_grad_(False)
    assert not written(r) and not written(dc) and not written(g)
    x, z = torch.rand(4, 1, 8, 8), torch.randn(4, 6)
    zr = z.clone().requires_grad_(True)
    (want,) = torch.autograd.grad(r.log_likelihood(x, zr).sum(), zr)
    torch.testing.assert_close(r.chain_log_likelihood().value_and_grad(x, z)[1], want)  # the flip is seen
    plain = ConvGenerator(6, (1, 8, 8), hidden=32, channels=8).requires_grad_(False)
    assert written(plain) and not plain.chain_log_likelihood(written_out=False).value_and_grad.__qualname__.startswith("written_out")

    class Mine(type(plain).__mro__[1]):  # a new generator made of supported layers: the fast path without code
        def __init__(self):
            super().__init__(3, (1, 4, 4), sigma=0.3)
            self.net = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 16), nn.Unflatten(1, (1, 4, 4)))

    mine = Mine().requires_grad_(False)
    assert written(mine)
    xm, zm = torch.rand(5, 1, 4, 4), torch.randn(5, 3, requires_grad=True)
    (want,) = torch.autograd.grad(mine.log_likelihood(xm, zm).sum(), zm)
    torch.testing.assert_close(mine.chain_log_likelihood().value_and_grad(xm, zm.detach())[1], want)
    with frozen(g):
        ll = written_out_log_likelihood(g)
        with torch.autocast("cpu", dtype=torch.bfloat16):  # under autocast: the module, in bf16
            v, grad = ll.value_and_grad(x, z)
            zz = z.clone().requires_grad_(True)
            want_v = g.log_likelihood(x, zz)
            (want_g,) = torch.autograd.grad(want_v.sum(), zz)
        assert torch.allclose(v, want_v.detach()) and torch.allclose(grad, want_g)


def test_posterior_chain_unchanged_by_the_written_out_generator():
    from genflows.inference import LangevinInference
    from genflows.priors import GaussianPrior

    g = _generator(True)
    x, z0 = torch.rand(20, 1, 8, 8) * 2 - 1, torch.randn(20, 6)
    inf = LangevinInference(n_steps=30, noise=False)
    fast = inf(GaussianPrior(6), g, x, z0=z0)
    slow = LangevinInference(n_steps=30, noise=False, written_out=False)(GaussianPrior(6), g, x, z0=z0)
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
        before = [b.clone() for b in g.buffers()]
        z = LangevinInference(n_steps=7, noise=False, bn_stats_from_chain=updates, written_out=written_out)(GaussianPrior(6), g, x, z0=z0)
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
