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
        (["eval.invert_starts=2"], "config key 'eval.invert_starts' applies to the CoopFlow family"),
        (["coop.n_steps=3"], "config section 'coop' applies to the CoopFlow family (coopflow,"),
        (["inference.step_size=0"], "must be > 0"),
        (["data.holdout=11"], "0-9"),
        (["data.name=cifar"], "unknown dataset"),
        (["prior.kind=nosuch"], "unknown prior"),
        (["inference.kind=vae", "prior.kind=ebm"], "invalid pair"),
        (["train"], "key=value"),
        (["inference.autocast=sometimes"], "inference.autocast must be true, false or auto"),
        (["inference.bn_stats_from_chain=maybe"], "inference.bn_stats_from_chain' must be bool"),
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


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["prior.lr=1e-3"], "config section 'prior' applies to the latent-variable family (lfbm-mcmc,"),
        (["train.lr=1e-3"], "config key 'train.lr' applies to the latent-variable family"),
        (["eval.steps=5"], "config key 'eval.steps' applies to the latent-variable family"),
        (["inference.n_steps=5"], "whose settings are in section 'coop' (learning rates: coop.flow_lr, coop.ebm_lr)"),
        (["eval.invert_starts=0"], "eval.invert_starts must be >= 1"),
    ],
)
def test_a_key_of_the_other_family_is_a_one_line_error_naming_where_settings_go(overrides, message):
    with pytest.raises(GenflowsError) as e:
        load_config("coopflow", overrides=overrides, extra={"task": "generation"})
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_run_holds_only_its_familys_sections_and_keys():
    from genflows.config import to_dict

    latent = load_config("lfbm-mcmc")
    coop = load_config("coopflow", extra={"task": "generation"})
    assert latent.coop is None and latent.eval.invert_lr is None
    assert coop.prior is None and coop.generator is None and coop.inference is None
    assert coop.train.lr is None and coop.eval.steps is None
    d = to_dict(coop)
    assert {"generator", "prior", "inference"}.isdisjoint(d) and "anomaly" in d and "lr" not in d["train"] and "steps" not in d["eval"]
    assert "coop" not in to_dict(latent) and "invert_lr" not in to_dict(latent)["eval"]
    assert d["version"] == to_dict(latent)["version"] == 3


def test_a_version_1_config_is_migrated_by_dropping_what_its_family_never_read():
    from genflows.config import migrate, parse, to_dict

    old = to_dict(load_config("coopflow", extra={"task": "generation"}))
    del old["version"]
    old.update(generator={"nz": 7}, prior={"lr": 1.0}, inference={}, anomaly={})
    old["train"].update(lr=0.5, beta1=0.5, beta2=0.999, lr_decay=1.0)
    old["eval"].update(steps=200, step_size=0.1, refine_steps=0, track_every=10)
    cfg = parse(migrate(old))
    assert cfg.version == 3 and cfg.prior is None and cfg.train.lr is None
    # ... and gets the CPU-scale networks that an unset size meant before version 3
    then = ["coop.energy_width=32", "coop.flow_depth=4", "coop.flow_hidden=64", "coop.flow_levels=2"]
    assert to_dict(cfg) == to_dict(load_config("coopflow", overrides=then, extra={"task": "generation"}))
    with pytest.raises(GenflowsError, match="applies to the latent-variable family"):
        parse(old)  # unversioned = written by hand now: no silent dropping


def test_the_toy_task_brings_its_data_and_coopflows_toy_recipe():
    from genflows.registry import TOY_RECIPE

    cfg = load_config("coopflow", extra={"task": "toy"})
    assert cfg.data.name == "spiral" and cfg.train.epochs == TOY_RECIPE["train"]["epochs"]
    assert all(getattr(cfg.coop, k) == v for k, v in TOY_RECIPE["coop"].items())
    mine = load_config("coopflow", extra={"task": "toy", "data": {"name": "moons"}}, overrides=["coop.step_size=0.05"])
    assert (mine.data.name, mine.coop.step_size, mine.coop.energy_l2) == ("moons", 0.05, TOY_RECIPE["coop"]["energy_l2"])  # the user's keys win
    assert load_config("ebm-sr", extra={"task": "toy"}).coop.energy_l2 == 0  # the recipe is for the cooperative modes only
    assert load_config("coopflow", extra={"task": "generation"}).data.name == "digits"


def test_set_model_resolves_after_every_override():
    # A row labelled ABP must be ABP: the registry's defaults follow the model the overrides leave.
    cfg = load_config("lfbm-mcmc", overrides=["model=abp"], extra={"task": "anomaly"})
    assert (cfg.model, cfg.prior.kind, cfg.inference.kind) == ("abp", "gaussian", "langevin")
    cfg = load_config("lfbm-mcmc", overrides=["model=lebm"])
    assert (cfg.prior.kind, cfg.prior.lr) == ("ebm", 2e-5)
    cfg = load_config("abp", overrides=["model=coopflow", "task=toy"])
    assert cfg.coop is not None and cfg.prior is None and cfg.data.name == "spiral"
    assert load_config("lfbm-mcmc", overrides=["model=abp", "prior.kind=flow"]).prior.kind == "flow"  # an explicit key still wins


def test_mnist_anomaly_runs_the_latent_flow_papers_schedule_by_default():
    from genflows.data import dataset_info

    cfg = load_config("lfbm-mcmc", extra={"task": "anomaly", "data": {"name": "mnist"}})
    assert dataset_info("mnist").default_epochs == 21 and cfg.train.epochs is None
    assert (cfg.train.lr, cfg.train.lr_decay, cfg.anomaly.score_steps) == (4e-4, 0.998, 400)
    assert cfg.inference.autocast == "auto"  # bf16 chains only where they are fast
    # the recipe is MNIST's alone, and the user's settings win over it
    assert load_config("lfbm-mcmc", extra={"task": "anomaly"}).inference.autocast is False
    assert load_config("abp", overrides=["inference.autocast=false"], extra={"task": "anomaly", "data": {"name": "mnist"}}).inference.autocast is False
