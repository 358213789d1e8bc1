import json

import pytest

import torch

from genflows import build_model, load_config
from genflows.data import anomaly_split, load_dataset
from genflows.metrics import auprc
from genflows._runtime.output import RunDir
from genflows.tasks import anomaly

QUICK = [
    "inference.n_steps=10",
    "train.epochs=12",
    "anomaly.score_steps=60",
    "anomaly.score_checkpoints=[20]",
]


def test_end_to_end_on_digits_beats_chance_and_an_untrained_model(tmp_path):
    cfg = load_config("lfbm-mcmc", overrides=QUICK)
    metrics = anomaly.run(cfg, RunDir(tmp_path))
    frac = metrics["anomaly_fraction"]
    assert metrics["auprc"] > frac + 0.2, metrics["auprc"]
    for name in ("metrics.json", "pr_curve.png", "samples.png", "checkpoint.pt", "scores.json"):
        assert (tmp_path / name).is_file()
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["auprc"] == metrics["auprc"] and set(saved["auprc_at_steps"]) == {"20", "60"}
    assert saved["n_train"] + saved["n_test"] == 1797

    # The same scoring on an untrained model of the same architecture is clearly worse.
    x, y = load_dataset("digits")
    split = anomaly_split(x, y, holdout=4)
    torch.manual_seed(0)
    untrained = build_model(cfg, (1, 8, 8))
    s, _ = anomaly.anomaly_scores(untrained, split.test, 60, 0.1)
    assert auprc(split.test_is_anomaly.numpy(), s.numpy())["auprc"] < metrics["auprc"] - 0.1


def test_scores_do_not_depend_on_the_batch_and_are_detached():
    cfg = load_config("lfbm-mcmc", overrides=["inference.n_steps=5"])
    torch.manual_seed(0)
    model = build_model(cfg, (1, 8, 8))
    x = load_dataset("digits")[0][:24]
    # Move BatchNorm running stats away from their init so train/eval mode would differ.
    model.train()
    with torch.no_grad():
        for _ in range(5):
            model.generator(torch.randn(32, model.nz) * 3)
    model.train()  # scoring must switch to eval by itself
    a, _ = anomaly.anomaly_scores(model, x, 30, 0.1, batch_size=24)
    b, _ = anomaly.anomaly_scores(model, x, 30, 0.1, batch_size=5)
    assert not a.requires_grad
    assert torch.allclose(a, b, rtol=1e-4, atol=1e-3)
    assert model.training  # mode restored


def test_validation_split_selects_an_epoch_without_the_test_set(tmp_path):
    from genflows.errors import GenflowsError

    quick = ["inference.n_steps=3", "train.epochs=4", "anomaly.score_steps=5", "anomaly.score_checkpoints=[]",
             "anomaly.val_size=60", "anomaly.track_steps=4", "anomaly.track_every=1", "anomaly.track_subset=50"]
    cfg = load_config("lfbm-mcmc", overrides=quick)
    m = anomaly.run(cfg, RunDir(tmp_path))
    x, y = load_dataset("digits")
    normals = anomaly_split(x, y, holdout=4).train
    n_normal = len(normals)
    assert m["n_val"] == 60 and m["n_train"] == n_normal - 60
    vals = [h["val_score"] for h in m["history"]]
    assert len(vals) == 4 and all("track_auprc" in h for h in m["history"])
    assert m["val_best_epoch"] == 1 + vals.index(min(vals))  # the lowest validation score, whatever the tracked AUPRC says
    best = torch.load(tmp_path / "checkpoint-best.pt", weights_only=True)
    assert best["epoch"] == m["val_best_epoch"]

    # The selected checkpoint, scored again on the held-out normals, gives the recorded score.
    train_x, val_x = anomaly._hold_out(normals, 60)
    assert train_x.shape[0] + val_x.shape[0] == n_normal
    assert not (val_x[:, None] == train_x[None]).flatten(2).all(-1).any()  # no held-out image is trained on
    model = build_model(cfg, (1, 8, 8))
    model.load_state_dict(best["model"])
    s, _ = anomaly.anomaly_scores(model, val_x, 4, cfg.anomaly.score_step_size, cfg.anomaly.score_batch_size, seed=cfg.train.seed)
    assert float(s.mean()) == pytest.approx(min(vals), rel=1e-5)

    with pytest.raises(GenflowsError, match="anomaly.val_size"):
        anomaly._hold_out(train_x, train_x.shape[0])
