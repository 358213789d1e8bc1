"""Watching a run: TensorBoard event files, curves.png, and that watching changes no number."""

import json

import pytest
import torch

from genflows.cli import main
from genflows.trainer import Trainer
from genflows.watch import EVENT_GLOB, chain_tag, read_scalars

# Digits anomaly, holdout 4: 1293 training images at batch 200 = 6 iterations per epoch.
ARGS = [
    "run", "lfbm-mcmc", "--task", "anomaly", "--holdout", "4", "--threads", "1",
    "--set", "inference.n_steps=3", "--set", "train.batch_size=200", "--set", "prior.depth=2",
    "--set", "anomaly.score_steps=4", "--set", "anomaly.score_checkpoints=[2]",
    "--set", "anomaly.track_every=1", "--set", "anomaly.track_subset=100", "--set", "anomaly.track_steps=2",
    "--set", "watch.every=2",
]
ITERS = 6


def _run(argv):
    with pytest.raises(SystemExit) as e:
        main(argv)
    return e.value.code


def _accumulator(path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "images": 0, "histograms": 0, "tensors": 0})
    acc.Reload()
    return acc


def test_a_tiny_run_writes_the_expected_tags(tmp_path):
    out = tmp_path / "run"
    assert _run([*ARGS, "--epochs", "2", "--out", str(out)]) == 0
    assert len(list(out.glob(EVENT_GLOB))) == 1
    acc = _accumulator(out)
    tags = acc.Tags()
    scalars = set(tags["scalars"])
    expected = {
        "train/loss", "train/gen_loss", "train/prior_loss",
        "langevin/posterior_z/energy_first", "langevin/posterior_z/energy_last", "langevin/posterior_z/displacement",
        "epoch/loss", "epoch/gen_loss", "epoch/prior_loss", "epoch/track_auprc", "epoch/seconds",
        "lr/prior", "lr/generator",
        "final/auprc", "final/average_precision", "final/train_seconds", "final/score_seconds",
    }
    assert expected <= scalars, expected - scalars
    steps = lambda tag: [e.step for e in acc.Scalars(tag)]  # noqa: E731
    assert steps("train/loss") == list(range(2, 2 * ITERS + 1, 2))  # every watch.every iterations
    assert steps("epoch/loss") == [ITERS, 2 * ITERS]  # the global iteration at each epoch's end
    assert "samples" in tags["images"] and len(acc.Images("samples")) == 2
    assert {"anomaly/score_normal", "anomaly/score_anomalous"} <= set(tags["histograms"])
    assert "anomaly/pr_curve" in tags["tensors"]

    metrics = json.loads((out / "metrics.json").read_text())
    assert acc.Scalars("final/auprc")[0].value == pytest.approx(metrics["auprc"], rel=1e-6)
    assert [e.value for e in acc.Scalars("epoch/loss")] == pytest.approx([h["loss"] for h in metrics["history"]], rel=1e-6)
    assert [e.value for e in acc.Scalars("epoch/track_auprc")] == pytest.approx([h["track_auprc"] for h in metrics["history"]], rel=1e-6)
    # The chain descends its energy: noise-free it could not go up, with noise it still should on average.
    first, last = (acc.Scalars(f"langevin/posterior_z/energy_{w}") for w in ("first", "last"))
    assert all(b.value < a.value for a, b in zip(first, last))
    assert all(e.value > 0 for e in acc.Scalars("langevin/posterior_z/displacement"))
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_resume_appends_without_repeating_steps(tmp_path, monkeypatch):
    out = tmp_path / "run"
    save = Trainer._save

    def crash_at_epoch_2(self, path, record):
        if self.epoch == 2:  # epoch 2's events are written, its checkpoint never is
            raise KeyboardInterrupt
        save(self, path, record)

    monkeypatch.setattr(Trainer, "_save", crash_at_epoch_2)
    assert _run([*ARGS, "--epochs", "3", "--out", str(out)]) == 130
    monkeypatch.setattr(Trainer, "_save", save)
    assert not (out / "metrics.json").exists()
    assert _run([*ARGS, "--epochs", "3", "--out", str(out)]) == 0
    assert len(list(out.glob(EVENT_GLOB))) == 2  # the interrupted run's file and the resumed one

    scalars = read_scalars(out)
    for tag, pts in scalars.items():
        s = [step for step, _ in pts]
        assert s == sorted(set(s)), f"{tag} repeats steps: {s}"
    assert [s for s, _ in scalars["train/loss"]] == list(range(2, 3 * ITERS + 1, 2))
    assert [s for s, _ in scalars["epoch/loss"]] == [ITERS, 2 * ITERS, 3 * ITERS]
    # What TensorBoard shows for epoch 2 is the resumed run's epoch 2, the one in metrics.json.
    history = json.loads((out / "metrics.json").read_text())["history"]
    assert [v for _, v in scalars["epoch/loss"]] == pytest.approx([h["loss"] for h in history], rel=1e-6)


def test_watching_changes_no_number_and_can_be_switched_off(tmp_path):
    a, b = tmp_path / "watched", tmp_path / "plain"
    assert _run([*ARGS, "--epochs", "1", "--set", "watch.every=1", "--out", str(a)]) == 0
    assert _run([*ARGS, "--epochs", "1", "--no-tensorboard", "--out", str(b)]) == 0
    ma, mb = (json.loads((p / "metrics.json").read_text()) for p in (a, b))
    assert ma["auprc"] == mb["auprc"] and ma["auprc_at_steps"] == mb["auprc_at_steps"]
    strip = lambda h: [{k: v for k, v in r.items() if "seconds" not in k} for r in h]  # noqa: E731
    assert strip(ma["history"]) == strip(mb["history"])
    sa = torch.load(a / "checkpoint.pt", weights_only=True)["model"]
    sb = torch.load(b / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not list(b.glob(EVENT_GLOB)) and (b / "curves.png").is_file()


def test_coopflow_logs_its_contrast_and_its_data_space_chain(tmp_path):
    out = tmp_path / "coop"
    assert _run(["run", "coopflow", "--task", "toy", "--data", "moons", "--threads", "1", "--epochs", "1", "--out", str(out),
                 "--set", "train.max_iters=4", "--set", "coop.n_steps=3", "--set", "coop.flow_depth=2", "--set", "watch.every=1"]) == 0
    s = read_scalars(out)
    contrast, ebm = dict(s["train/contrast"]), dict(s["train/ebm_loss"])
    assert sorted(contrast) == [1, 2, 3, 4]
    assert all(contrast[k] == pytest.approx(-ebm[k], rel=1e-6) for k in contrast)  # f(x) - f(x~) = -(EBM loss)
    assert {"langevin/langevin-flow_x/energy_first", "langevin/langevin-flow_x/displacement", "epoch/contrast"} <= set(s)
    history = json.loads((out / "metrics.json").read_text())["history"]
    assert history[0]["contrast"] == pytest.approx(-history[0]["ebm_loss"])
    assert history[0]["loss"] == pytest.approx(history[0]["ebm_loss"] + history[0]["flow_loss"])  # not a loss term


def test_chain_tags_are_tag_path_parts():
    assert chain_tag("posterior z") == "posterior_z"
    assert chain_tag("EBM prior z") == "ebm_prior_z"
    assert chain_tag("Langevin-flow x") == "langevin-flow_x"


@pytest.mark.parametrize("share, want", [(0.1, [1, 6, 7, 8, 10]), (0.02, [1, 7, 8, 10])])
def test_curves_are_redrawn_every_epoch_unless_drawing_would_take_more_than_its_share(tmp_path, monkeypatch, share, want):
    import genflows.watch as watch
    from genflows.config import WatchConfig
    from genflows._runtime.output import RunDir

    clock = [100.0]
    monkeypatch.setattr(watch.time, "perf_counter", lambda: clock[0])
    drawn = []

    def figure(history):
        clock[0] += 0.5  # drawing costs 0.5 s
        drawn.append(len(history))
        return watch.pyplot().figure()

    monkeypatch.setattr(watch, "curves_figure", figure)
    w = watch.Watcher(RunDir(tmp_path), WatchConfig(tensorboard=False, max_share=share))
    history = []
    for epoch, seconds in enumerate([1, 1, 1, 1, 1, 1, 60, 60, 1, 1], start=1):
        clock[0] += seconds
        history.append({"epoch": epoch, "loss": 1.0})
        w.epoch(epoch, history, last=epoch == 10)
    # First epoch; then once 0.5 s / share has passed; every long epoch; always the last.
    assert drawn == want
    assert (tmp_path / "curves.png").is_file()
