import torch

from genflows.priors import EBMPrior


def _prior():
    torch.manual_seed(0)
    prior = EBMPrior(3, hidden=32, sample_steps=60, sample_step_size=0.4)
    with torch.no_grad():
        for p in prior.parameters():
            p.mul_(3.0)  # a non-trivial energy landscape
    return prior


def test_log_prob_is_unnormalised_f_plus_gaussian_and_grad_matches_fd():
    prior = _prior().double()
    assert prior.normalized is False
    z = torch.randn(4, 3, dtype=torch.float64)
    assert torch.allclose(prior.log_prob(z), prior.f(z).squeeze(1) - 0.5 * (z * z).sum(1))
    g = prior.grad_log_prob(z)
    for j in range(3):
        dz = torch.zeros_like(z)
        dz[:, j] = 1e-6
        fd = (prior.log_prob(z + dz) - prior.log_prob(z - dz)) / 2e-6
        assert torch.allclose(g[:, j], fd, atol=1e-5)


def test_prior_langevin_moves_samples_toward_low_energy():
    prior = _prior()
    torch.manual_seed(1)
    z0 = torch.randn(2000, 3)
    torch.manual_seed(1)  # sample() draws the same z0
    z = prior.sample(2000)
    with torch.no_grad():
        assert (-prior.log_prob(z)).mean() < (-prior.log_prob(z0)).mean() - 0.5


def test_learning_step_raises_energy_gap_between_posterior_and_prior_samples():
    torch.manual_seed(0)
    prior = EBMPrior(2, hidden=32, sample_steps=30)
    posterior = torch.randn(256, 2) * 0.3 + torch.tensor([1.5, 0.0])  # where "data" sits
    opt = torch.optim.Adam(prior.parameters(), lr=1e-3)
    for _ in range(60):
        opt.zero_grad()
        prior.learning_loss(posterior).backward()
        opt.step()
    with torch.no_grad():
        assert prior.log_prob(posterior).mean() > prior.log_prob(-posterior).mean() + 0.5
