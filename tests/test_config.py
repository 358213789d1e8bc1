import pytest

from genflows.config import load_config
from genflows.errors import GenflowsError


def test_registry_fixes_components_and_overrides_apply():
    cfg = load_config("lfbm-mcmc", overrides=["inference.n_steps=7", "train.lr=1e-3", "anomaly.score_checkpoints=[5, 10]"])
    assert cfg.prior.kind == "flow" and cfg.inference.kind == "langevin"
    assert cfg.inference.n_steps == 7 and cfg.train.lr == 1e-3
    assert cfg.anomaly.score_checkpoints == [5, 10]
    assert load_config("abp").prior.kind == "gaussian"


def test_yaml_file_then_flags(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("model: lfbm-mcmc\ndata:\n  holdout: 7\ntrain:\n  epochs: 3\n")
    cfg = load_config(None, f, overrides=["train.epochs=5"])
    assert cfg.data.holdout == 7 and cfg.train.epochs == 5


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["inference.n_step=3"], "did you mean 'inference.n_steps'"),
        (["trian.lr=1"], "did you mean 'train'"),
        (["inference.n_steps=abc"], "must be int"),
        (["inference.n_steps=2.5"], "must be int"),
        (["train.lr=true"], "must be float"),
        (["inference.n_steps=-3"], "must be >= 1"),
        (["eval.invert_starts=0"], "eval.invert_starts must be >= 1"),
        (["inference.step_size=0"], "must be > 0"),
        (["data.holdout=11"], "0-9"),
        (["data.name=cifar"], "unknown dataset"),
        (["prior.kind=nosuch"], "unknown prior"),
        (["inference.kind=vae", "prior.kind=ebm"], "invalid pair"),
        (["train"], "key=value"),
        (["inference.autocast=sometimes"], "inference.autocast must be true, false or auto"),
    ],
)
def test_bad_config_is_one_line_error(overrides, message):
    with pytest.raises(GenflowsError) as e:
        load_config("lfbm-mcmc", overrides=overrides)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_every_shipped_yaml_config_loads():
    from pathlib import Path

    files = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
    assert files
    for f in files:
        load_config(None, f)
