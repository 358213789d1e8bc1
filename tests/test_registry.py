import dataclasses
import inspect
import json

import pytest

from genflows import MODELS, GenerativeModel, build_model, load_config
from genflows.config import CoopConfig, RunConfig
from genflows.coopflow import CoopFlow
from genflows.errors import GenflowsError
from genflows.registry import FAMILIES
from genflows.tasks import TASKS, tasks_of
from genflows._runtime.output import RunDir
from genflows.tasks import anomaly


# Per family: the smallest networks and chains the models build with.
TINY = {
    "latent": ["inference.n_steps=3", "prior.sample_steps=5", "anomaly.score_steps=4", "anomaly.score_checkpoints=[2]"],
    "coopflow": ["coop.n_steps=2", "coop.flow_depth=1", "coop.flow_hidden=8", "coop.flow_levels=1", "coop.energy_width=4",
                 "coop.pretrain_epochs=0", "coop.warmup_epochs=0", "coop.lr_warmup_iters=0"],
    "ebflow": ["ebflow.newton_iters=20"],
    "vapo": ["vapo.base=8", "vapo.mults=[1]", "vapo.blocks=1", "vapo.groups=4", "vapo.hidden=16", "vapo.layers=1", "vapo.solver=euler", "vapo.euler_steps=3"],
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_registered_model_trains_and_runs_the_anomaly_task(name, tmp_path):
    """The anomaly task keeps no family branch: every model scores the held-out digit through
    anomaly_scores, every score it has is recorded, and the headline is the config's."""
    cfg = load_config(name, overrides=[*TINY[MODELS[name].family], "train.epochs=1", "train.max_iters=4"])
    m = anomaly.run(cfg, RunDir(tmp_path))
    kinds = build_model(cfg, (1, 8, 8)).anomaly_kinds(MODELS[name].mode)
    assert 0.0 < m["auprc"] <= 1.0 and m["iterations"] == 4 and m["score"] == kinds[0]
    assert set(m["auprc_by_score"]) == set(kinds) and m["auprc_by_score"][kinds[0]] == m["auprc"]
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["auprc"] == m["auprc"] and 0.3 < saved["anomaly_fraction"] < 0.4
    columns = json.loads((tmp_path / "scores.json").read_text())["columns"]
    assert columns == ["score", "is_anomaly", *kinds]


def test_the_config_names_the_headline_score(tmp_path):
    cfg = load_config("coopflow", overrides=[*TINY["coopflow"], "train.epochs=1", "train.max_iters=2", "anomaly.score=flow"])
    m = anomaly.run(cfg, RunDir(tmp_path))
    assert m["score"] == "flow" and m["auprc"] == m["auprc_by_score"]["flow"] != m["auprc_by_score"]["energy"]
    with pytest.raises(GenflowsError, match="anomaly.score 'energy' is not one of model 'flow''s scores \\(flow\\)"):
        load_config("flow", overrides=["anomaly.score=energy"])


def test_tasks_follow_from_what_the_model_class_implements():
    assert tasks_of("lfbm-mcmc") == ("anomaly", "generation", "reconstruction", "inpainting", "recovery", "interpolation")
    assert tasks_of("coopflow") == ("anomaly", "generation", "reconstruction", "inpainting", "interpolation", "toy", "nll")
    assert tasks_of("flow") == ("anomaly", "generation", "toy", "nll")  # invertible: reconstruction would be exact
    assert tasks_of("ebm-sr") == ("anomaly", "generation", "reconstruction", "inpainting", "toy")  # no flow codes to interpolate
    # The mode a config asks for, not the registry's, decides.
    with pytest.raises(GenflowsError, match="model 'coopflow' does not do task 'interpolation'"):
        load_config("coopflow", overrides=["coop.mode=ebm-sr", "task=interpolation"])

    class NoSampler(GenerativeModel):
        def anomaly_scores(self, x, n_steps, step_size, batch_size=500, seed=0, record=(), progress=False, kind=None):
            return x.flatten(1).sum(1), {}

    assert NoSampler.capabilities() == {"anomaly_scores", "lossy_reconstruction"}
    assert tasks_of("vapo") == ("anomaly", "generation", "interpolation", "toy")  # no normalised density: no nll
    assert {n for n, t in TASKS.items() if set(t.NEEDS) <= NoSampler.capabilities()} == {"anomaly"}


def test_family_records_name_the_sections_the_config_gives_them():
    from genflows.config.base import family_of

    for fam in FAMILIES.values():
        mine = {f.name for f in dataclasses.fields(RunConfig) if family_of(f) == fam.name}
        assert set(fam.sections) == mine, fam.name
        common = {f.name for f in dataclasses.fields(RunConfig) if family_of(f) is None}
        assert all(MODELS[n].defaults.keys() <= set(fam.sections) | common for n in MODELS if MODELS[n].family == fam.name)


def test_coopflow_from_config_passes_every_constructor_key():
    """No hand-kept keyword list: a key of the coop section that names a constructor argument
    reaches the model."""
    params = set(inspect.signature(CoopFlow).parameters)
    keys = [f.name for f in dataclasses.fields(CoopConfig) if f.name in params and f.name != "mode"]
    assert len(keys) >= 20
    cfg = load_config("coopflow", overrides=[*TINY["coopflow"], "coop.noise=true", "coop.energy_l2=0.5", "coop.joint_ebm_lr=3e-5",
                                             "coop.flow_betas=[0.8,0.9]", "coop.noise_decay_epochs=7"])
    model = build_model(cfg, (1, 8, 8))
    assert (model.noise, model.energy_l2, model.joint_ebm_lr, model.optim["flow"][1], model.noise_decay_epochs) == (True, 0.5, 3e-5, (0.8, 0.9), 7)
    assert model.test_step_size == cfg.coop.step_size * cfg.coop.test_step_ratio and model.clamp_data == 1.0


def test_components_compose_with_cli_overrides():
    cfg = load_config("abp", extra={"prior": {"kind": "flow"}})
    model = build_model(cfg, (1, 8, 8))
    assert type(model.prior).__name__ == "FlowPrior"
