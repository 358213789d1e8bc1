"""An interrupted scoring pass resumes from its finished batches with the scores an uninterrupted
pass gives (genflows/_runtime/batch_store.py, LatentModel.anomaly_scores(store=...))."""

import pytest
import torch

from genflows import build_model, load_config
from genflows._runtime.batch_store import BatchStore


def _model(seed: int = 0):
    torch.manual_seed(seed)
    return build_model(load_config("lfbm-mcmc", overrides=["inference.n_steps=3"]), (1, 8, 8))


def _x():
    return torch.rand(23, 1, 8, 8, generator=torch.Generator().manual_seed(2)) * 2 - 1


def _score(model, store=None):
    return model.anomaly_scores(_x(), 6, 0.1, batch_size=5, seed=7, record=(3,), store=store)


def _interrupted_on_third_batch(model, path) -> None:
    """A pass with ``store=path`` stopped by Ctrl-C on its third batch; ``model.infer`` restored."""
    real, calls = model.infer, []

    def dies_on_third_batch(*a, **kw):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*a, **kw)

    model.infer = dies_on_third_batch
    try:
        with pytest.raises(KeyboardInterrupt):
            _score(model, path)
    finally:
        model.infer = real


def test_an_interrupted_scoring_resumes_with_the_uninterrupted_scores(tmp_path):
    model, path = _model(), tmp_path / "s.partial.pt"
    want, want_at = _score(model)
    _interrupted_on_third_batch(model, path)
    assert len(torch.load(path, weights_only=True)["batches"]) == 2  # kept as the pass stopped

    real, calls = model.infer, []
    model.infer = lambda *a, **kw: (calls.append(1), real(*a, **kw))[1]
    got, got_at = _score(model, path)
    assert len(calls) == 3  # 5 batches of 23 images: only the 3 unfinished ones ran
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    torch.testing.assert_close(got_at[3], want_at[3], rtol=0, atol=0)
    assert sum(BatchStore.machines(path).values()) > 0  # left for the caller, with every batch's time
    assert model.training  # the mode the model had before scoring


def test_a_store_from_other_weights_or_settings_is_never_reused(tmp_path):
    path = tmp_path / "s.partial.pt"
    _score(_model(seed=0), path)
    other = _model(seed=1)
    want, _ = _score(other)
    got, _ = _score(other, path)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    mixed, _ = other.anomaly_scores(_x(), 5, 0.1, batch_size=5, seed=7, record=(3,), store=path)  # fewer steps
    torch.testing.assert_close(mixed, other.anomaly_scores(_x(), 5, 0.1, batch_size=5, seed=7)[0], rtol=0, atol=0)


def test_an_unreadable_store_is_started_afresh(tmp_path):
    path = tmp_path / "s.partial.pt"
    path.write_bytes(b"truncated")
    model = _model()
    torch.testing.assert_close(_score(model, path)[0], _score(model)[0], rtol=0, atol=0)


def test_a_store_from_other_chain_settings_is_never_reused(tmp_path):
    path, model = tmp_path / "s.partial.pt", _model()
    first, _ = _score(model, path)
    model.inference.clamp_update = 0.01  # same weights, same call, another chain
    want, _ = _score(model)
    assert not torch.equal(want, first)  # the stored scores would be wrong here
    torch.testing.assert_close(_score(model, path)[0], want, rtol=0, atol=0)


def test_a_pass_resumed_on_another_machine_books_each_batch_to_its_own(tmp_path, monkeypatch):
    import genflows._runtime.batch_store as bs

    model, path = _model(), tmp_path / "s.partial.pt"
    monkeypatch.setattr(bs, "_this_cpu", lambda: "first CPU")
    _interrupted_on_third_batch(model, path)
    monkeypatch.setattr(bs, "_this_cpu", lambda: "second CPU")
    _score(model, path)
    where = torch.load(path, weights_only=True)["where"]
    assert sorted(where.values()) == ["first CPU"] * 2 + ["second CPU"] * 3
    by = BatchStore.machines(path)
    assert set(by) == {"first CPU", "second CPU"} and by["first CPU"] > 0 and by["second CPU"] > 0
    assert sum(by.values()) == pytest.approx(sum(float(b["seconds"]) for b in torch.load(path, weights_only=True)["batches"].values()))


def test_a_model_written_before_stores_still_scores_without_one():
    from genflows.tasks.anomaly import anomaly_scores

    model = _model()

    class Old:  # a third-party model's anomaly_scores from before ``store`` existed
        anomaly_chain = True

        def anomaly_scores(self, x, n_steps, step_size, batch_size=500, seed=0, record=(), progress=False, kind=None):
            return model.anomaly_scores(x, n_steps, step_size, batch_size=batch_size, seed=seed, record=record)

    got, _ = anomaly_scores(Old(), _x(), 6, 0.1, 5, seed=7, record=(3,), store="unused.partial.pt")
    torch.testing.assert_close(got, _score(model)[0], rtol=0, atol=0)


def test_the_time_left_is_the_batches_to_go_at_the_median_batch(tmp_path):
    """3 + 1 of 10 batches done in 2, 4, 9 and 3 s: 6 to go at the median 3.5 s; no estimate
    without a total or without any batch's seconds, or for a damaged file."""
    store = BatchStore(tmp_path / "a.partial.pt", {"shard": [0, 1000], "batch_size": 100}, every=0)
    for i, s in enumerate((2.0, 4.0, 9.0, 3.0)):
        store.put(i, {"score": torch.zeros(100), "seconds": torch.tensor(s)})
    assert BatchStore.progress(store.path) == "4 of 10 batches" and BatchStore.seconds_left(store.path) == pytest.approx(6 * 3.5)
    bare = BatchStore(tmp_path / "b.partial.pt", {"shard": [0, 1000], "batch_size": 100}, every=0)
    bare.put(0, {"score": torch.zeros(100)})
    untotalled = BatchStore(tmp_path / "c.partial.pt", {"weights": "w"}, every=0)
    untotalled.put(0, {"score": torch.zeros(100), "seconds": torch.tensor(1.0)})
    (tmp_path / "d.partial.pt").write_bytes(b"damaged")
    assert [BatchStore.seconds_left(tmp_path / f"{n}.partial.pt") for n in "bcd"] == [None, None, None]
