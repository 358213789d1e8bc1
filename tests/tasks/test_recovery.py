import torch

from genflows import build_model, load_config
from genflows.data import load_split
from genflows.data.masks import make_masks
from genflows._runtime.output import RunDir
from genflows.tasks import recovery
from genflows.trainer import Trainer

QUICK = ["inference.n_steps=10", "train.epochs=10", "train.lr=1e-3", "eval.steps=40", "eval.n_test=200", "eval.fid_n=0"]


def test_hidden_pixels_never_reach_training():
    """Two data sets that differ only in hidden pixels train to bitwise the same model."""
    cfg = load_config("lfbm-mcmc", overrides=["inference.n_steps=3", "train.max_iters=4", "train.batch_size=16"])
    x = load_split("digits")[0][:64]
    masks = make_masks(64, (1, 8, 8), "pepper", fraction=0.5, seed=0)
    garbage = x.clone()
    garbage[masks.expand_as(x) == 0] = torch.rand(int((masks == 0).sum())) * 2 - 1
    params = []
    for data in (x, garbage):
        torch.manual_seed(0)
        model = build_model(cfg, (1, 8, 8))
        Trainer(model, cfg.train, progress=False).fit(data, epochs=1, masks=masks)
        params.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(params[0], params[1])


def test_recovery_error_falls_as_training_proceeds(tmp_path):
    cfg = load_config("lfbm-mcmc", overrides=[*QUICK, "mask.kind=pepper", "mask.fraction=0.5", "eval.track_every=1"])
    metrics = recovery.run(cfg, RunDir(tmp_path))
    curve = [h["recovery_mse"] for h in metrics["history"]]
    assert len(curve) == 10 and curve[-1] < 0.8 * curve[0], curve
    assert curve[-1] == metrics["mse"]
    assert abs(metrics["mask"]["hidden_fraction"] - 0.5) < 0.02 and metrics["mask"]["label"] == "pepper 50%"
    for name in ("recovery.png", "samples.png", "metrics.json"):
        assert (tmp_path / name).is_file()
    # Recovered pixels beat the trivial fill (the mean visible pixel value).
    x = load_split("digits")[0][:200]
    m = make_masks(200, (1, 8, 8), "pepper", fraction=0.5)
    fill = (x * m).sum() / m.expand_as(x).sum()
    trivial = (((x - fill) ** 2) * (1 - m)).sum() / (1 - m).expand_as(x).sum()
    assert metrics["mse"] < 0.8 * trivial.item()


def test_square_masks_run_for_the_ebm_prior(tmp_path):
    cfg = load_config("lebm", overrides=[*QUICK, "train.epochs=1", "mask.kind=square", "mask.size=3"])
    metrics = recovery.run(cfg, RunDir(tmp_path))
    assert metrics["mask"]["label"] == "square 3"
    assert metrics["mask"]["hidden_fraction"] == 9 / 64


def test_recovery_is_evaluated_every_n_epochs_and_after_the_last(tmp_path):
    cfg = load_config("lfbm-mcmc", overrides=[*QUICK, "train.epochs=5", "eval.track_every=2", "eval.n_test=50", "eval.steps=5"])
    metrics = recovery.run(cfg, RunDir(tmp_path))
    assert [h["epoch"] for h in metrics["history"] if "recovery_mse" in h] == [2, 4, 5]
    assert metrics["history"][-1]["recovery_mse"] == metrics["mse"]
