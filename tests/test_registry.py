import pytest

from genflows import MODELS, build_model, load_config
from genflows._runtime.output import RunDir
from genflows.tasks import anomaly


@pytest.mark.parametrize("name", sorted(n for n, s in MODELS.items() if s.family == "latent"))
def test_every_registered_model_trains_and_runs_the_anomaly_task(name, tmp_path):
    cfg = load_config(name, overrides=["inference.n_steps=3", "train.epochs=1", "train.max_iters=4", "prior.sample_steps=5",
                                       "anomaly.score_steps=4", "anomaly.score_checkpoints=[2]"])
    model = build_model(cfg, (1, 8, 8))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    m = anomaly.run(cfg, RunDir(tmp_path))
    assert 0.0 < m["auprc"] <= 1.0 and m["iterations"] == 4
    assert (tmp_path / "metrics.json").is_file()
    assert before  # the model has parameters to train


def test_components_compose_with_cli_overrides():
    cfg = load_config("abp", extra={"prior": {"kind": "flow"}})
    model = build_model(cfg, (1, 8, 8))
    assert type(model.prior).__name__ == "FlowPrior"
