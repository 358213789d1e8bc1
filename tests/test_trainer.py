import pytest
import torch

from genflows import Trainer, build_model, load_config
from genflows.errors import DivergenceError
from genflows.io import load_checkpoint
from genflows.output import RunDir
from genflows.tasks import anomaly

X = torch.rand(200, 1, 8, 8) * 2 - 1


def _trainer(**over):
    cfg = load_config("lfbm-mcmc", overrides=["inference.n_steps=3", "train.batch_size=50", *[f"{k}={v}" for k, v in over.items()]])
    torch.manual_seed(0)
    return Trainer(build_model(cfg, (1, 8, 8)), cfg.train, progress=False)


def test_divergence_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    tr = _trainer()
    ckpt = tmp_path / "checkpoint.pt"
    tr.fit(X, epochs=1, checkpoint=ckpt)
    good = load_checkpoint(ckpt)["model"]
    for g in tr.optimizer.param_groups:
        g["lr"] = 1e30  # blow the parameters up
    with pytest.raises(DivergenceError, match="NaN/inf"):
        tr.fit(X, epochs=3, checkpoint=ckpt)
    kept = load_checkpoint(ckpt)
    assert kept["epoch"] == 1
    assert all(torch.equal(kept["model"][k], good[k]) for k in good)
    assert all(torch.isfinite(v).all() for v in kept["model"].values() if v.is_floating_point())


def test_checkpoint_round_trip_continues_identically(tmp_path):
    a = _trainer()
    a.fit(X, epochs=1, checkpoint=tmp_path / "a.pt")
    a.fit(X, epochs=2)
    b = _trainer()
    b.load_state_dict(load_checkpoint(tmp_path / "a.pt"))  # also restores the global RNGs
    b.fit(X, epochs=2)
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_same_seed_same_metrics(tmp_path):
    cfg = load_config("lfbm-mcmc", overrides=["inference.n_steps=3", "train.epochs=2", "anomaly.score_steps=5", "anomaly.score_checkpoints=[]"])
    from genflows.runner import seed_everything

    seed_everything(1)
    m1 = anomaly.run(cfg, RunDir(tmp_path / "1"))
    seed_everything(1)
    m2 = anomaly.run(cfg, RunDir(tmp_path / "2"))
    strip = lambda h: [{k: v for k, v in r.items() if "seconds" not in k} for r in h]
    assert m1["auprc"] == m2["auprc"] and strip(m1["history"]) == strip(m2["history"])
