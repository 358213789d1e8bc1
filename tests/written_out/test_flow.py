import pytest
import torch

from genflows.priors import FlowPrior
from genflows.written_out.flow import written_out_flow


def _prior(nz=4, transform="coupling"):
    torch.manual_seed(0)
    prior = FlowPrior(nz, transform=transform, depth=3, hidden=16)
    with torch.no_grad():
        for p in prior.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return prior.double().eval()


def _float_prior():
    prior = _prior(nz=20).float()
    prior.train()
    prior.transform(torch.randn(100, 20) * 2 + 1)  # data-dependent actnorm, as the first chain does
    return prior.requires_grad_(False)


def _written(term) -> bool:
    return term.value_and_grad.__qualname__.startswith("FlowPrior.written_out_log_prob")


def test_chain_log_prob_equals_log_prob_in_float32():
    prior = _float_prior()
    fast = prior.chain_log_prob()
    assert _written(fast)  # the cached path is taken for the coupling flow
    z = (torch.randn(200, 20) * 1.5).requires_grad_(True)
    a = prior.log_prob(z)
    (ga,) = torch.autograd.grad(a.sum(), z)
    b, gb = fast.value_and_grad(z.detach())
    assert torch.allclose(b, a, rtol=1e-6, atol=1e-6 * a.abs().max().item())
    assert torch.allclose(gb, ga, rtol=1e-6, atol=1e-6 * ga.abs().max().item())


def test_written_out_gradient_is_the_transforms_vector_jacobian_product():
    prior = _float_prior()
    for p in prior.parameters():  # couplings away from their zero initialisation
        p.add_(0.1 * torch.randn_like(p))
    fast = written_out_flow(prior.transform)
    z = (torch.randn(64, 20) * 1.5).requires_grad_(True)
    gu, gld = torch.randn(64, 20), torch.randn(64)
    u, ld = prior.transform(z)
    (want,) = torch.autograd.grad((u * gu).sum() + (ld * gld).sum(), z)
    (u2, ld2), pullback = fast(z.detach())
    # u2 is u with its features permuted: match them by value, then pull the same gradient back.
    order = torch.stack([(u2[:, j : j + 1] - u).abs().amax(0).argmin() for j in range(20)])
    assert sorted(order.tolist()) == list(range(20))
    assert torch.allclose(u2, u[:, order], atol=1e-5) and torch.allclose(ld2, ld, atol=1e-5)
    got = pullback(gu[:, order], gld)
    assert torch.allclose(got, want, rtol=1e-6, atol=1e-6 * want.abs().max().item())


def test_learning_flow_is_never_written_out():
    # A trap of the earlier fast path: it never checked that the weights were frozen, so a flow
    # still learning gave its parameters no gradient through chain_log_prob().
    prior = _float_prior().requires_grad_(True)
    assert written_out_flow(prior.transform) is None
    term = prior.chain_log_prob()
    assert not _written(term)
    z = torch.randn(16, 20, requires_grad=True)
    term(z).sum().backward()
    assert all(p.grad is not None for p in prior.parameters())
    want = {n: p.grad.clone() for n, p in prior.named_parameters()}
    prior.zero_grad()
    prior.log_prob(z).sum().backward()
    for n, p in prior.named_parameters():
        torch.testing.assert_close(p.grad, want[n])


def test_called_chain_term_is_log_prob_itself():
    prior = _float_prior()
    z = torch.randn(8, 20, requires_grad=True)
    (a,) = torch.autograd.grad(prior.chain_log_prob()(z).sum(), z)
    (b,) = torch.autograd.grad(prior.log_prob(z).sum(), z)
    torch.testing.assert_close(a, b)


def test_chain_log_prob_falls_back_where_no_shortcut_applies():
    for transform in ("maf", "spline"):
        prior = _prior(transform=transform).requires_grad_(False)
        assert not _written(prior.chain_log_prob())
    fresh = FlowPrior(4, depth=2, hidden=8).requires_grad_(False)  # actnorm not initialised yet: it must see the batch
    assert not _written(fresh.chain_log_prob())
    assert not _written(_float_prior().chain_log_prob(written_out=False))

    class Tempered(FlowPrior):  # another density on the same flow: the shortcut would be wrong
        def log_prob(self, z):
            return 0.5 * super().log_prob(z)

    tempered = Tempered(4, depth=2, hidden=8)
    tempered.transform(torch.randn(16, 4))  # actnorm initialised: only the override stops the shortcut
    tempered.requires_grad_(False)
    term = tempered.chain_log_prob()
    assert not _written(term)
    z = torch.randn(5, 4)
    zz = z.clone().requires_grad_(True)
    (want,) = torch.autograd.grad(tempered.log_prob(zz).sum(), zz)
    torch.testing.assert_close(term.value_and_grad(z)[1], want)


def test_posterior_chain_unchanged_by_the_cached_prior():
    from genflows.generators import ConvGenerator
    from genflows.inference import LangevinInference

    prior = _float_prior()
    torch.manual_seed(1)
    gen = ConvGenerator(20, (1, 8, 8), hidden=32, channels=8).eval()
    x, z0 = torch.rand(50, 1, 8, 8) * 2 - 1, torch.randn(50, 20)
    fast = LangevinInference(n_steps=100, noise=False)(prior, gen, x, z0=z0)
    slow = LangevinInference(n_steps=100, noise=False, written_out=False)(prior, gen, x, z0=z0)
    assert torch.allclose(fast, slow, rtol=1e-6, atol=1e-6 * slow.abs().max().item())
