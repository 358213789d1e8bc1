"""One contract for every registered component: each prior, inference method and model goes
through the same checks (shapes, one finite training step, a save/load round trip)."""

import io

import pytest
import torch

from genflows import GenerativeModel, Trainer, build_model, load_config
from genflows.config import PriorConfig
from genflows.data import DATASETS
from genflows.inference import INFERENCES
from genflows.priors import PRIORS, build_prior
from genflows.registry import MODELS
from genflows.tasks import tasks_of

NZ = 4
SMALL = {  # per family: the smallest networks the models build with
    "latent": ["generator.nz=4", "generator.hidden=16", "generator.channels=8", "prior.depth=1", "prior.hidden=8", "prior.ebm_hidden=8",
               "prior.sample_steps=2", "inference.n_steps=2", "inference.encoder_hidden=16", "inference.iaf_hidden=8", "train.batch_size=8"],
    "coopflow": ["coop.n_steps=2", "coop.flow_depth=1", "coop.flow_hidden=8", "coop.flow_levels=1", "coop.energy_width=4", "train.batch_size=8"],
    "ebflow": ["ebflow.newton_iters=20", "train.batch_size=8"],
    "vapo": ["vapo.base=8", "vapo.mults=[1]", "vapo.blocks=1", "vapo.groups=4", "vapo.hidden=16", "vapo.layers=1", "vapo.solver=euler", "vapo.euler_steps=3", "train.batch_size=8"],
}


@pytest.mark.parametrize("name", list(PRIORS))
def test_every_prior_has_a_log_density_per_example_and_samples_of_its_dimension(name):
    torch.manual_seed(0)
    prior = build_prior(PriorConfig(kind=name, depth=1, hidden=8, ebm_hidden=8, sample_steps=2), NZ)
    z = torch.randn(5, NZ)
    assert prior.log_prob(z).shape == (5,) and torch.isfinite(prior.log_prob(z)).all()
    assert prior.sample(3).shape == (3, NZ)
    assert prior.nz == NZ


@pytest.mark.parametrize("name", list(INFERENCES))
def test_every_inference_method_returns_one_latent_per_image(name):
    cfg = load_config("lfbm-mcmc", overrides=SMALL["latent"] + [f"inference.kind={name}"])
    model = build_model(cfg, DATASETS["digits"].shape)
    x = torch.rand(6, *DATASETS["digits"].shape) * 2 - 1
    assert model.infer(x).shape == (6, 4)


def _model(name: str):
    spec = MODELS[name]
    data = "digits" if "generation" in tasks_of(name) else "moons"
    task = "anomaly" if spec.family == "latent" else "generation"
    cfg = load_config(name, overrides=SMALL[spec.family], extra={"task": task, "data": {"name": data}})
    torch.manual_seed(0)
    return cfg, build_model(cfg, DATASETS[data].shape), DATASETS[data].shape


@pytest.mark.parametrize("name", list(MODELS))
def test_every_model_samples_trains_one_finite_step_and_round_trips(name):
    cfg, model, shape = _model(name)
    assert isinstance(model, GenerativeModel)
    model.eval()
    torch.manual_seed(1)
    assert model.sample(3).shape == (3, *shape)
    model.train()
    trainer = Trainer(model, cfg.train, progress=False)
    stats = trainer.train_step(torch.rand(8, *shape) * 2 - 1)
    assert stats and all(torch.isfinite(torch.as_tensor(v)).all() for v in stats.values())
    assert all(torch.isfinite(p).all() for p in model.parameters())
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    _, again, _ = _model(name)
    again.load_state_dict(torch.load(buf))
    model.eval(), again.eval()
    torch.manual_seed(2)
    a = model.sample(3)
    torch.manual_seed(2)
    b = again.sample(3)
    torch.testing.assert_close(a, b)


# ---------------------------------------------------------------------------- written-out gradients
# Every chain term's value_and_grad (written out, or autograd on that term alone) against autograd
# through the module; the term called is the module's own computation (gradients in z, x and the
# weights). Data-space models (CoopFlow family) step -f_theta(x) through autograd: nothing to check.


def _grads(fn, *inputs):
    return torch.autograd.grad(fn(*inputs).sum(), inputs)


@pytest.mark.parametrize("written_out", [True, False])
@pytest.mark.parametrize("name", list(PRIORS))
def test_every_prior_chain_term_matches_autograd(name, written_out):
    from genflows.langevin import frozen

    torch.manual_seed(0)
    prior = build_prior(PriorConfig(kind=name, depth=2, hidden=8, ebm_hidden=8, sample_steps=2), NZ)
    prior.log_prob(torch.randn(32, NZ))  # data-dependent initialisation (actnorm), as a first chain does
    with torch.no_grad():
        for p in prior.parameters():
            p.add_(0.1 * torch.randn_like(p))
    z = torch.randn(7, NZ) * 1.5
    zz = z.clone().requires_grad_(True)
    want = prior.log_prob(zz)
    (gz,) = torch.autograd.grad(want.sum(), zz)
    with frozen(prior):
        term = prior.chain_log_prob(written_out)
        value, grad = term.value_and_grad(z)
        (called,) = _grads(term, z.clone().requires_grad_(True))
    torch.testing.assert_close(value, want.detach(), rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(grad, gz, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(called, gz, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("arch", ["conv", "dcgan"])
def test_every_generator_chain_term_matches_autograd(arch, train):
    from genflows.config import GeneratorConfig
    from genflows.generators import build_generator
    from genflows.langevin import frozen

    torch.manual_seed(0)
    shape = (1, 8, 8)
    g = build_generator(GeneratorConfig(nz=NZ, arch=arch, hidden=16, channels=8), shape).train(train)
    x, z = torch.rand(6, *shape) * 2 - 1, torch.randn(6, NZ)
    mask = (torch.rand(6, *shape) > 0.3).float()
    xx, zz = x.clone().requires_grad_(True), z.clone().requires_grad_(True)
    with frozen(g):
        want = g.log_likelihood(xx, zz, mask)
        gx, gz = torch.autograd.grad(want.sum(), (xx, zz))
        for written_out in (True, False):
            term = g.chain_log_likelihood(written_out)
            value, grad = term.value_and_grad(x, z, mask)
            torch.testing.assert_close(value, want.detach(), rtol=1e-5, atol=1e-4)
            torch.testing.assert_close(grad, gz, rtol=1e-5, atol=1e-5 * float(gz.abs().max()))
            cx, cz = _grads(lambda a, b: term(a, b, mask), x.clone().requires_grad_(True), z.clone().requires_grad_(True))
            torch.testing.assert_close(cx, gx), torch.testing.assert_close(cz, gz)


@pytest.mark.parametrize("name", [n for n, s in MODELS.items() if s.family == "latent"])
def test_every_latent_models_posterior_energy_matches_autograd(name):
    """The posterior chain's energy U(z) = -log p(z) - log p(x | z) of every registered latent
    model: its value and z-gradient (written out where it can be) against autograd through the
    modules, and, called, its gradient in x as well."""
    from genflows.langevin import frozen

    _, model, shape = _model(name)
    x, z = torch.rand(6, *shape) * 2 - 1, torch.randn(6, NZ)
    model.prior.log_prob(torch.randn(32, NZ))  # actnorm initialised, as by the first chain
    inf = model.inference.langevin if model.inference.amortized else model.inference
    xx, zz = x.clone().requires_grad_(True), z.clone().requires_grad_(True)
    with frozen(model.prior, model.generator):
        want = -(model.prior.log_prob(zz) + model.generator.log_likelihood(xx, zz))
        gx, gz = torch.autograd.grad(want.sum(), (xx, zz))
        energy = inf.energy(model.prior, model.generator, x)
        value, grad = energy.value_and_grad(z)
        (cz,) = _grads(energy, z.clone().requires_grad_(True))
        (cx,) = _grads(lambda a: inf.energy(model.prior, model.generator, a)(z), x.clone().requires_grad_(True))
    torch.testing.assert_close(value, want.detach(), rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(grad, gz, rtol=1e-5, atol=1e-5 * float(gz.abs().max()))
    torch.testing.assert_close(cz, gz), torch.testing.assert_close(cx, gx)
