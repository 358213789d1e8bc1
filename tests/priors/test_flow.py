import math

import pytest
import torch

from genflows.flows import TRANSFORMS
from genflows.priors import FlowPrior


def _prior(nz=4, transform="coupling"):
    torch.manual_seed(0)
    prior = FlowPrior(nz, transform=transform, depth=3, hidden=16)
    # Give every layer non-trivial parameters so the checks are not about the identity map. The
    # reference flow's log-scales enter as exp(3 s): 0.3 there would saturate its sigmoid scales.
    noise = 0.1 if transform == "reference" else 0.3
    with torch.no_grad():
        for p in prior.parameters():
            p.add_(noise * torch.randn_like(p))
    return prior.double().eval()


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_log_prob_matches_change_of_variables(transform):
    prior = _prior(transform=transform)
    z = torch.randn(5, 4, dtype=torch.float64)
    lp = prior.log_prob(z)
    for i in range(5):
        jac = torch.autograd.functional.jacobian(lambda v: prior.transform(v[None])[0][0], z[i])
        u = prior.transform(z[i : i + 1])[0][0]
        expected = -0.5 * (u @ u) - 2 * math.log(2 * math.pi) + torch.linalg.slogdet(jac)[1]
        assert torch.allclose(lp[i], expected, atol=1e-8)


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_samples_invert(transform):
    prior = _prior(transform=transform)
    z = prior.sample(64)
    u, logdet = prior.transform(z)
    z_back, logdet_inv = prior.transform.inverse(u)
    assert torch.allclose(z_back, z, atol=1e-8)
    assert torch.allclose(logdet, -logdet_inv, atol=1e-8)


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_grad_log_prob_matches_finite_differences(transform):
    prior = _prior(transform=transform)
    z = torch.randn(3, 4, dtype=torch.float64)
    g = prior.grad_log_prob(z)
    eps = 1e-6
    for j in range(4):
        dz = torch.zeros_like(z)
        dz[:, j] = eps
        fd = (prior.log_prob(z + dz) - prior.log_prob(z - dz)) / (2 * eps)
        assert torch.allclose(g[:, j], fd, atol=1e-6)


def test_density_integrates_to_one_in_2d():
    torch.manual_seed(1)
    prior = FlowPrior(2, depth=2, hidden=8).double().eval()
    with torch.no_grad():
        for p in prior.parameters():
            p.add_(0.2 * torch.randn_like(p))
    t = torch.linspace(-10, 10, 801, dtype=torch.float64)
    grid = torch.cartesian_prod(t, t)
    dens = prior.log_prob(grid).exp().reshape(801, 801)
    mass = torch.trapezoid(torch.trapezoid(dens, t, dim=1), t)
    assert abs(mass.item() - 1.0) < 1e-3


def test_learning_raises_likelihood_of_posterior_samples():
    torch.manual_seed(0)
    prior = FlowPrior(2, depth=3, hidden=32)
    # A banana: not Gaussian, so the data-dependent ActNorm initialisation cannot fit it alone.
    a = torch.randn(512)
    data = torch.stack([a, a * a + 0.2 * torch.randn(512)], 1)
    before = prior.log_prob(data).mean().item()
    opt = torch.optim.Adam(prior.parameters(), lr=1e-2)
    for _ in range(150):
        opt.zero_grad()
        prior.learning_loss(data).backward()
        opt.step()
    assert prior.log_prob(data).mean().item() > before + 0.5


def test_reference_flow_starts_as_the_reference_code_initialises_it():
    from genflows.flows.reference import HalfAffineCoupling, OrthogonalLinear, RandomActNorm

    torch.manual_seed(0)
    prior = FlowPrior(20, transform="reference", depth=5, hidden=64)
    steps = list(prior.transform._transforms)
    assert [type(s) for s in steps[:3]] == [RandomActNorm, OrthogonalLinear, HalfAffineCoupling] and len(steps) == 15
    norms = torch.cat([torch.cat([s.shift, s.log_scale]) for s in steps if isinstance(s, RandomActNorm)]).detach()
    assert 0.04 < float(norms.std()) < 0.06  # random N(0, 0.05^2), no data-dependent initialisation
    for w in (s.weight for s in steps if isinstance(s, OrthogonalLinear)):
        torch.testing.assert_close(w @ w.T, torch.eye(20), atol=1e-5, rtol=0)
    z = torch.randn(7, 20)
    coupling = steps[2]
    out, logdet = coupling(z)
    torch.testing.assert_close(out[:, :10], z[:, :10])  # the first half conditions the second
    torch.testing.assert_close(out[:, 10:], z[:, 10:] * torch.sigmoid(torch.tensor(2.0)))  # zero output layer
    torch.testing.assert_close(logdet, torch.full((7,), 10 * math.log(torch.sigmoid(torch.tensor(2.0)).item())))


def test_actnorm_initialises_in_float32_under_bf16_autocast():
    # Under --amp the first log-density (inside the first posterior chain) initialises nflows'
    # ActNorm from a batch; in bf16 that would turn its parameters into bf16 tensors.
    torch.manual_seed(0)
    prior = FlowPrior(6, depth=3, hidden=16)
    z = torch.randn(32, 6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        lp = prior.log_prob(z)
    assert lp.dtype == torch.float32
    assert {p.dtype for p in prior.parameters()} == {torch.float32}
    torch.testing.assert_close(prior.log_prob(z), lp)
