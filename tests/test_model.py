import torch

from genflows import Trainer, build_model, load_config
from genflows.data import anomaly_split, load_dataset


def _digits_train():
    x, y = load_dataset("digits")
    return anomaly_split(x, y, holdout=4).train


def _recon_mse(model, x):
    model.eval()
    torch.manual_seed(123)
    rec = model.reconstruct(x, n_steps=30)
    model.train()
    return ((rec - x) ** 2).mean().item()


def test_training_lowers_reconstruction_error():
    train = _digits_train()
    cfg = load_config("lfbm-mcmc", overrides=["inference.n_steps=10", "train.batch_size=64"])
    torch.manual_seed(0)
    model = build_model(cfg, (1, 8, 8))
    probe = train[:128]
    before = _recon_mse(model, probe)
    Trainer(model, cfg.train, progress=False).fit(train, epochs=3)
    after = _recon_mse(model, probe)
    assert after < 0.6 * before


def test_prior_learns_the_aggregate_posterior():
    # After training, the flow prior must assign the inferred z a higher likelihood than
    # its untrained copy does (Eq. 6 is actually being optimised).
    train = _digits_train()
    cfg = load_config("lfbm-mcmc", overrides=["inference.n_steps=10", "train.batch_size=64"])
    torch.manual_seed(0)
    model = build_model(cfg, (1, 8, 8))
    untrained = build_model(cfg, (1, 8, 8))
    Trainer(model, cfg.train, progress=False).fit(train, epochs=3)
    model.eval()
    untrained.eval()
    z = model.infer(train[:256], noise=False)
    with torch.no_grad():
        assert model.prior.log_prob(z).mean() > untrained.prior.log_prob(z).mean()


def test_sample_shapes_and_range():
    cfg = load_config("lfbm-mcmc")
    model = build_model(cfg, (1, 28, 28)).eval()
    s = model.sample(5)
    assert s.shape == (5, 1, 28, 28)
    assert s.min() >= -1 and s.max() <= 1
