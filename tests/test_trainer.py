import pytest
import torch

from genflows import Trainer, build_model, load_config
from genflows.errors import DivergenceError
from genflows._runtime.io import load_checkpoint
from genflows._runtime.output import RunDir
from genflows.tasks import anomaly

from .partials import clocked_partials, loaded

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


def test_the_recorded_lr_is_the_generators_beside_a_prior_with_its_own_rate():
    cfg = load_config("lebm", overrides=["inference.n_steps=2", "prior.sample_steps=2", "train.batch_size=50", "train.lr=4e-4", "train.lr_decay=0.5"])
    torch.manual_seed(0)
    tr = Trainer(build_model(cfg, (1, 8, 8)), cfg.train, progress=False)
    rates = {g["name"]: g["lr"] for g in tr.optimizer.param_groups}
    assert rates["prior"] != rates["generator"] == 4e-4
    history = tr.fit(X, epochs=2)
    assert [r["lr"] for r in history] == pytest.approx([4e-4, 2e-4])  # before each epoch's decay


def test_same_seed_same_metrics(tmp_path):
    cfg = load_config("lfbm-mcmc", overrides=["inference.n_steps=3", "train.epochs=2", "anomaly.score_steps=5", "anomaly.score_checkpoints=[]"])
    from genflows.runner import seed_everything

    seed_everything(1)
    m1 = anomaly.run(cfg, RunDir(tmp_path / "1"))
    seed_everything(1)
    m2 = anomaly.run(cfg, RunDir(tmp_path / "2"))
    strip = lambda h: [{k: v for k, v in r.items() if "seconds" not in k} for r in h]
    assert m1["auprc"] == m2["auprc"] and strip(m1["history"]) == strip(m2["history"])


def test_collapse_reference_spans_a_perfect_fit_to_the_mean_image():
    from genflows.data import load_split

    cfg = load_config("lfbm-mcmc")
    model = build_model(cfg, (1, 8, 8))
    x = load_split("digits")[0][:300]
    mean_loss, perfect = model.collapse_reference(x)
    g = model.generator
    assert perfect == pytest.approx(float(-g.gaussian_log_likelihood(x[:1], x[:1])[0]))
    assert mean_loss == pytest.approx(float(-g.gaussian_log_likelihood(x, x.mean(0, keepdim=True)).mean()), rel=1e-5)
    assert mean_loss > perfect


def test_collapse_is_recorded_and_warned_in_one_line():
    from genflows.collapse import check_collapse, collapse_warning

    early = {"epoch": 1, "gen_loss": 300.0}  # an untrained generator, worse than the mean image
    assert not check_collapse(early, (100.0, -20.0), iteration=12)
    assert early["gen_loss_vs_mean_image"] > 1 and "collapsed" not in early
    at_mean = {"epoch": 1, "gen_loss": 90.0}
    assert check_collapse(at_mean, (100.0, -20.0), iteration=505)  # one MNIST epoch
    assert at_mean["collapsed"] and at_mean["gen_loss_vs_mean_image"] == pytest.approx(110 / 120)
    line = collapse_warning(at_mean, (100.0, -20.0))
    assert "\n" not in line and "posterior collapse after epoch 1" in line
    fine = {"epoch": 2, "gen_loss": 0.0}
    assert not check_collapse(fine, (100.0, -20.0), iteration=1010) and "collapsed" not in fine


def test_training_records_displacement_and_loss_against_the_mean_image(tmp_path):
    from genflows.data import load_split

    cfg = load_config("lfbm-mcmc", overrides=["inference.n_steps=5", "train.batch_size=64"])
    torch.manual_seed(0)
    model = build_model(cfg, (1, 8, 8))
    history = Trainer(model, cfg.train, progress=False).fit(load_split("digits")[0][:640], epochs=3)
    shares = [h["gen_loss_vs_mean_image"] for h in history]
    assert all(h["posterior_displacement"] > 0 for h in history)
    # 30 iterations: still worse than the mean image (an untrained generator is), not yet judged
    assert shares[-1] < shares[0] and not any(h.get("collapsed") for h in history)


def test_a_wall_clock_budget_ends_training_at_the_iteration_that_spends_it(monkeypatch):
    import genflows.trainer as trainer_mod

    clock = iter(range(10_000))  # every perf_counter call is one "second" later
    monkeypatch.setattr(trainer_mod.time, "perf_counter", lambda: float(next(clock)))
    tr = _trainer(**{"train.max_seconds": 5.5})
    history = tr.fit(X, epochs=100)
    spent = sum(r["seconds"] for r in history)
    assert 1 <= tr.iteration < 4 * 100  # stopped long before the 100 epochs
    assert spent >= 5.5 and spent - history[-1]["seconds"] < 5.5  # the last epoch is the one that crossed it
    # a resumed run counts the finished epochs' seconds: no further iteration
    before = tr.iteration
    tr.fit(X, epochs=100)
    assert tr.iteration == before


def test_a_wall_clock_budget_must_be_positive():
    from genflows.errors import GenflowsError

    with pytest.raises(GenflowsError, match="train.max_seconds must be > 0"):
        load_config("abp", overrides=["train.max_seconds=0"])


def test_the_checkpoint_names_the_machine_of_every_stretch_of_epochs(monkeypatch):
    """A run resumed on another CPU (or at another thread count) records where each stretch of
    epochs trained, since its epochs' seconds depend on it; the same machine adds no entry."""
    import genflows.trainer as trainer_module

    cfg = load_config("lfbm-mcmc", overrides=["inference.n_steps=2"])
    data = torch.rand(32, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    t = Trainer(build_model(cfg, (1, 8, 8)), cfg.train, progress=False)
    t.fit(data, epochs=1)
    resumed = Trainer(build_model(cfg, (1, 8, 8)), cfg.train, progress=False)
    resumed.load_state_dict(t.state_dict())
    resumed.fit(data, epochs=2)  # same machine
    assert [m["first_epoch"] for m in resumed.machines] == [1]
    here = trainer_module.describe_cpu()
    monkeypatch.setattr(trainer_module, "describe_cpu", lambda: {**here, "cpu": "Other CPU", "capability": "AVX512"})
    resumed.fit(data, epochs=3)
    assert [(m["first_epoch"], m["cpu"]) for m in resumed.machines] == [(1, here["cpu"]), (3, "Other CPU")]
    assert resumed.machines[1]["chain_dtype"] in ("float32", "bfloat16")
    resumed.fit(data, epochs=3)  # nothing left to train: nothing recorded
    assert len(resumed.machines) == 2


def test_a_run_killed_inside_an_epoch_resumes_at_the_batch_it_saved(tmp_path, monkeypatch):
    from genflows.trainer import partial_path

    written = clocked_partials(monkeypatch)
    from genflows.data import random_hflip

    def flipping(**over):  # flips draw from the data-order generator inside the epoch
        t = _trainer(**over)
        t.augment = random_hflip
        return t

    full = flipping(**{"train.save_every_seconds": 1, "train.keep_checkpoints": True})
    history = full.fit(X, epochs=3, checkpoint=tmp_path / "checkpoint.pt")
    assert not partial_path(tmp_path / "checkpoint.pt").exists()  # each finished epoch removes its partial
    plain = flipping()
    plain.fit(X, epochs=3)  # no checkpoint, so no partials: saving them changes no number
    states = [loaded(b) for b in written]
    # the "kill": the run folder holds epoch 1's checkpoint and a partial of epoch 2 after 2 of its 4 batches
    partial = next(s for s in states if s["epoch"] == 1 and s["within_epoch"]["done"] == 2)
    partial["within_epoch"]["seconds"] = 1000.0  # the epoch's seconds before the kill count
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "checkpoint.pt").write_bytes((tmp_path / "checkpoint-epoch1.pt").read_bytes())
    torch.save(partial, partial_path(cut / "checkpoint.pt"))
    resumed = flipping()
    assert resumed.restore(cut / "checkpoint.pt") == "in epoch 2 after 2 of 4 batches"
    resumed.fit(X, epochs=3, checkpoint=cut / "checkpoint.pt")
    for other in (plain, resumed):
        sa, sb = full.model.state_dict(), other.model.state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
        assert [{k: v for k, v in r.items() if k != "seconds"} for r in other.history] == [
            {k: v for k, v in r.items() if k != "seconds"} for r in history]
    assert 1000 < resumed.history[1]["seconds"] < 1100 and resumed.history[2]["seconds"] < 100
    assert len(resumed.machines) == 1  # the same machine: no new stretch


def test_a_run_resumed_inside_an_epoch_on_another_cpu_says_where_the_epoch_split(tmp_path, monkeypatch):
    import genflows.trainer as trainer_module
    from genflows.trainer import partial_path

    written = clocked_partials(monkeypatch)
    _trainer(**{"train.save_every_seconds": 1}).fit(X, epochs=1, checkpoint=tmp_path / "checkpoint.pt")
    partial = loaded(written[1])  # epoch 1 after 2 of its 4 batches
    (tmp_path / "checkpoint.pt").unlink()
    torch.save(partial, partial_path(tmp_path / "checkpoint.pt"))
    here = trainer_module.describe_cpu()
    monkeypatch.setattr(trainer_module, "describe_cpu", lambda: {**here, "cpu": "Other CPU"})
    resumed = _trainer()
    resumed.restore(tmp_path / "checkpoint.pt")
    resumed.fit(X, epochs=1)
    first, second = resumed.machines
    assert first["cpu"] == here["cpu"] and second["cpu"] == "Other CPU"
    assert (second["first_epoch"], second["first_batch"], second["seconds_before"]) == (1, 3, partial["within_epoch"]["seconds"])


def test_a_partial_checkpoint_older_than_the_epoch_checkpoint_is_dropped(tmp_path, monkeypatch):
    from genflows.errors import GenflowsError
    from genflows.trainer import partial_path

    written = clocked_partials(monkeypatch)
    _trainer(**{"train.save_every_seconds": 1}).fit(X, epochs=1, checkpoint=tmp_path / "checkpoint.pt")
    part = partial_path(tmp_path / "checkpoint.pt")
    part.write_bytes(written[0])  # killed after the epoch's checkpoint, before its partial went
    assert _trainer().restore(tmp_path / "checkpoint.pt") == "after epoch 1" and not part.exists()
    (tmp_path / "checkpoint.pt").unlink()
    part.write_bytes(written[0])  # killed inside the first epoch
    assert _trainer().restore(tmp_path / "checkpoint.pt") == "in epoch 1 after 1 of 4 batches"
    other = _trainer(**{"train.batch_size": 40})
    other.restore(tmp_path / "checkpoint.pt")
    with pytest.raises(GenflowsError, match="saved with 4 batches per epoch; this run has 5"):
        other.fit(X, epochs=1)
    assert _trainer().restore(tmp_path / "nothing.pt") is None
    with pytest.raises(GenflowsError, match="train.save_every_seconds must be > 0"):
        load_config("abp", overrides=["train.save_every_seconds=0"])
