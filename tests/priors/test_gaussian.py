import math

import torch

from genflows.priors import GaussianPrior


def test_gaussian_log_prob_and_grad():
    prior = GaussianPrior(3)
    z = torch.randn(4, 3)
    expected = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(1)
    assert torch.allclose(prior.log_prob(z), expected, atol=1e-6)
    assert torch.allclose(prior.grad_log_prob(z), -z)
    assert prior.learning_loss(z) is None
    assert prior.sample(7).shape == (7, 3)
    assert abs(prior.log_prob(torch.zeros(1, 3)).item() + 1.5 * math.log(2 * math.pi)) < 1e-6


def test_chain_gradient_is_written_out_only_for_its_own_density():
    z = torch.randn(4, 3)
    lp, g = GaussianPrior(3).chain_log_prob().value_and_grad(z)
    assert torch.equal(g, -z) and torch.allclose(lp, GaussianPrior(3).log_prob(z))

    class Wider(GaussianPrior):
        def log_prob(self, z):
            return -0.125 * (z * z).sum(1)

    wide = Wider(3)
    lp, g = wide.chain_log_prob().value_and_grad(z)
    torch.testing.assert_close(g, -0.25 * z)  # autograd on its own density, not -z
    assert wide.written_out_log_prob() is None
