import torch

from genflows import build_model, load_config
from genflows.data import load_split
from genflows.data.masks import make_masks
from genflows._runtime.output import RunDir
from genflows.tasks import inpainting

QUICK = ["inference.n_steps=10", "train.epochs=10", "train.lr=1e-3", "eval.steps=60", "eval.n_test=100", "eval.completions=2", "mask.size=4"]


def test_inpainting_keeps_visible_pixels_and_beats_an_untrained_model(tmp_path):
    cfg = load_config("lfbm-mcmc", overrides=QUICK)
    metrics = inpainting.run(cfg, RunDir(tmp_path))
    assert (tmp_path / "inpainting.png").is_file()
    assert metrics["mask"]["hidden_fraction"] == 16 / 64
    assert metrics["mse_best_completion"] <= metrics["mse"]

    _, test = load_split("digits")
    x = test[:100]
    mask = make_masks(100, (1, 8, 8), "center", size=4)
    torch.manual_seed(0)
    untrained = build_model(cfg, (1, 8, 8))
    filled, _ = inpainting.complete(untrained, x, mask, cfg.eval, seed=1)
    assert filled.shape == (2, 100, 1, 8, 8)
    assert torch.equal(filled[:, mask.expand_as(x).bool()], x[mask.expand_as(x).bool()].expand(2, -1))  # visible pixels untouched
    err = ((filled - x) ** 2 * (1 - mask)).sum() / ((1 - mask).expand_as(x).sum() * 2)
    assert metrics["mse"] < 0.85 * err.item(), (metrics["mse"], err.item())


def test_different_starts_give_different_completions():
    cfg = load_config("lfbm-mcmc", overrides=QUICK)
    torch.manual_seed(0)
    model = build_model(cfg, (1, 8, 8))
    x = load_split("digits")[1][:10]
    mask = make_masks(10, (1, 8, 8), "center", size=4)
    filled, _ = inpainting.complete(model, x, mask, cfg.eval, seed=1)
    assert not torch.allclose(filled[0], filled[1])


def test_lfbm_vae_inpaints_by_langevin_and_says_so(tmp_path):
    cfg = load_config("lfbm-vae", overrides=[*QUICK, "train.epochs=1"])
    metrics = inpainting.run(cfg, RunDir(tmp_path))
    assert "encoder cannot read masked images" in metrics["inference"]
