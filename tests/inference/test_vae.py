
import torch

from genflows import ConvGenerator, FlowPrior, GaussianPrior, LatentModel
from genflows.inference import VAEInference


def test_log_q_matches_direct_change_of_variables():
    torch.manual_seed(0)
    q = VAEInference(nz=3, image_shape=(1, 8, 8), hidden=16, iaf_depth=2, iaf_hidden=8).double()
    with torch.no_grad():
        for p in q.iaf.parameters():
            p.add_(0.3 * torch.randn_like(p))
    x = torch.rand(2, 1, 8, 8, dtype=torch.float64)
    torch.manual_seed(5)
    z, log_q = q.sample_with_log_q(x)
    # Direct: recover eps from the same noise, then log N(eps) - log|det dz/deps| by autograd.
    torch.manual_seed(5)
    h, mu, log_sigma = q._gaussian(x)
    n = torch.randn_like(mu)
    eps = mu + log_sigma.exp() * n
    for i in range(2):
        jac = torch.autograd.functional.jacobian(lambda e: q.iaf(e[None], context=h[i : i + 1])[0][0], eps[i])
        base = torch.distributions.Normal(mu[i], log_sigma[i].exp()).log_prob(eps[i]).sum()
        assert torch.allclose(log_q[i], base - torch.linalg.slogdet(jac)[1], atol=1e-8)
        assert torch.allclose(z[i], q.iaf(eps[i : i + 1], context=h[i : i + 1])[0][0])


def test_without_iaf_q_is_the_encoders_diagonal_gaussian():
    """iaf_depth=0, Table 4's plain VAE (Kingma and Welling 2014): z is the reparameterised
    Gaussian sample and log q its density; the mean path returns mu."""
    torch.manual_seed(0)
    q = VAEInference(nz=3, image_shape=(1, 8, 8), hidden=16, iaf_depth=0).double()
    assert q.iaf is None
    x = torch.rand(4, 1, 8, 8, dtype=torch.float64)
    z, log_q = q.sample_with_log_q(x)
    _, mu, log_sigma = q._gaussian(x)
    assert torch.allclose(log_q, torch.distributions.Normal(mu, log_sigma.exp()).log_prob(z).sum(1), atol=1e-10)
    assert torch.equal(q.sample_with_log_q(x, noise=False)[0], mu)


def test_elbo_rises_in_training():
    from genflows.data import load_dataset

    x = load_dataset("digits")[0][:512]
    for prior, iaf_depth in ((GaussianPrior(6), 1), (FlowPrior(6, depth=2, hidden=16), 1), (GaussianPrior(6), 0)):
        torch.manual_seed(0)
        model = LatentModel(prior, ConvGenerator(6, (1, 8, 8), hidden=64, channels=16), VAEInference(6, (1, 8, 8), hidden=64, iaf_depth=iaf_depth))
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        losses = []
        for step in range(80):
            b = x[(step * 64) % 512 : (step * 64) % 512 + 64]
            loss, _ = model.training_loss(b)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert sum(losses[-10:]) / 10 < sum(losses[:10]) / 10 - 100  # -ELBO falls by > 100 nats


def test_masked_input_falls_back_to_langevin_and_says_so():
    torch.manual_seed(0)
    model = LatentModel(GaussianPrior(4), ConvGenerator(4, (1, 8, 8), hidden=16, channels=8), VAEInference(4, (1, 8, 8), hidden=16)).eval()
    x = torch.rand(3, 1, 8, 8)
    model.infer(x)
    assert model.inference.last_method == "encoder"
    z = model.infer(x, mask=torch.ones(1, 1, 8, 8), n_steps=3)
    assert z.shape == (3, 4) and "langevin" in model.inference.last_method
