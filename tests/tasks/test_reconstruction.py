import json

import torch

from genflows import build_model, load_config
from genflows.data import load_split
from genflows._runtime.output import RunDir
from genflows.metrics import pixel_mse
from genflows.tasks import reconstruction
from genflows.inference.batched import decode, infer_batched

QUICK = ["inference.n_steps=10", "train.epochs=6", "eval.steps=60", "eval.n_test=120"]


def test_trained_model_reconstructs_better_than_an_untrained_one(tmp_path):
    cfg = load_config("lfbm-mcmc", overrides=QUICK)
    metrics = reconstruction.run(cfg, RunDir(tmp_path))
    assert json.loads((tmp_path / "metrics.json").read_text())["mse"] == metrics["mse"]
    assert (tmp_path / "reconstructions.png").is_file()
    assert metrics["n_test"] == 120 and metrics["inference"].startswith("Langevin")

    _, test = load_split("digits")
    torch.manual_seed(0)
    untrained = build_model(cfg, (1, 8, 8))
    z = infer_batched(untrained, test[:120], steps=60, seed=1)
    mse_untrained = pixel_mse(test[:120], decode(untrained, z)).mean().item()
    assert metrics["mse"] < 0.6 * mse_untrained, (metrics["mse"], mse_untrained)


def test_vae_reconstructs_from_the_encoder_mean_and_refinement_helps(tmp_path):
    cfg = load_config("vae", overrides=["train.epochs=6", "eval.n_test=120", "inference.n_steps=10"])
    plain = reconstruction.run(cfg, RunDir(tmp_path / "a"))
    assert plain["inference"] == "encoder mean"
    refined = reconstruction.run(load_config("vae", overrides=["train.epochs=6", "eval.n_test=120", "inference.n_steps=10",
                                                               "eval.refine_steps=40"]), RunDir(tmp_path / "b"))
    assert "40 Langevin refinement" in refined["inference"]
    assert refined["mse"] < plain["mse"]


def test_pixel_mse_over_hidden_pixels_only():
    x = torch.zeros(2, 1, 4, 4)
    y = x.clone()
    y[:, :, 0, 0] = 2.0
    hidden = torch.zeros(2, 1, 4, 4)
    hidden[:, :, :2, :2] = 1
    assert pixel_mse(x, y, hidden).tolist() == [1.0, 1.0]  # 4 / 4 hidden pixels
    assert pixel_mse(x, y).tolist() == [0.25, 0.25]
