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

NZ = 4
SMALL = {  # per family: the smallest networks the models build with
    "latent": ["generator.nz=4", "generator.hidden=16", "generator.channels=8", "prior.depth=1", "prior.hidden=8", "prior.ebm_hidden=8",
               "prior.sample_steps=2", "inference.n_steps=2", "inference.encoder_hidden=16", "inference.iaf_hidden=8", "train.batch_size=8"],
    "coopflow": ["coop.n_steps=2", "coop.flow_depth=1", "coop.flow_hidden=8", "coop.flow_levels=1", "coop.energy_width=4", "train.batch_size=8"],
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
    data = "digits" if "generation" in spec.tasks or "anomaly" in spec.tasks else "moons"
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
