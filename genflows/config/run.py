"""The whole run's configuration: one section per component, each a validated dataclass
(pythae style), and the sections of one model family only.

A run is of the ``latent`` family (prior + generator + inference: sections ``generator``,
``prior``, ``inference``) or the ``coopflow`` family (section ``coop``), as its registered model
says (:data:`genflows.registry.FAMILIES`). A model holds ``None`` for the other family's sections and keys, its
``config.yaml`` leaves them out, and setting one is a one-line error naming what applies. Run
folders carry the schema's ``version``; :func:`migrate` brings older ones up to date.

    >>> cfg = load_config("lfbm-mcmc", overrides=["inference.n_steps=30", "data.holdout=7"])
    >>> cfg.inference.n_steps, cfg.data.holdout, cfg.coop
    (30, 7, None)
    >>> load_config("coopflow", overrides=["prior.lr=1e-3"])
    Traceback (most recent call last):
    genflows.errors.GenflowsError: config section 'prior' applies to the latent-variable family (lfbm-mcmc, abp, vae, lfbm-vae, lebm), not to model 'coopflow' of the CoopFlow family, whose settings are in section 'coop' (learning rates: coop.flow_lr, coop.ebm_lr)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from .coop import CoopConfig
from .ebflow import EBFlowConfig
from .vapo import VAPOConfig
from ..errors import GenflowsError
from .base import apply_overrides, check as _check, family_field, family_of, from_dict, merge, read_yaml
from .latent import GeneratorConfig, InferenceConfig, PriorConfig
from .sections import AnomalyConfig, DataConfig, EvalConfig, MaskConfig, TrainConfig, WatchConfig

__all__ = ["RunConfig", "CONFIG_VERSION", "load_config", "parse", "migrate", "to_dict", "family"]

# 1: every section for every model (before per-family sections); 2: one family's sections only;
# 3: CoopFlow's network sizes written in (an unset size now means the paper's, not CPU scale).
CONFIG_VERSION = 3


@dataclass
class RunConfig:
    model: str = "lfbm-mcmc"
    task: str = "anomaly"
    out: str | None = None  # run folder; None: runs/<model>-<task>-<data>-h<holdout>-<time>
    seeds: int = 1  # repeat the whole run with seeds train.seed, train.seed + 1, ...
    version: int = CONFIG_VERSION  # of this schema; run folders written by older versions are migrated
    data: DataConfig = field(default_factory=DataConfig)
    generator: GeneratorConfig | None = family_field("latent", default_factory=GeneratorConfig)
    prior: PriorConfig | None = family_field("latent", default_factory=PriorConfig)
    inference: InferenceConfig | None = family_field("latent", default_factory=InferenceConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    anomaly: AnomalyConfig = field(default_factory=AnomalyConfig)
    coop: CoopConfig | None = family_field("coopflow", default_factory=CoopConfig)
    ebflow: EBFlowConfig | None = family_field("ebflow", default_factory=EBFlowConfig)
    vapo: VAPOConfig | None = family_field("vapo", default_factory=VAPOConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    mask: MaskConfig = field(default_factory=MaskConfig)
    watch: WatchConfig = field(default_factory=WatchConfig)

    def validate(self) -> None:
        from ..registry import MODELS
        from ..tasks import TASKS

        _check(self.model in MODELS, f"unknown model '{self.model}' (choose from: {', '.join(MODELS)})")
        _check(self.task in TASKS, f"unknown task '{self.task}' (choose from: {', '.join(TASKS)})")
        _check(self.seeds >= 1, f"seeds must be >= 1, got {self.seeds}")
        _check(self.version == CONFIG_VERSION, f"config version {self.version} is not this genflows' {CONFIG_VERSION}")
        for f in dataclasses.fields(self):
            sub = getattr(self, f.name)
            if dataclasses.is_dataclass(sub):
                sub.validate()
        from ..data import dataset_info
        from ..registry import check_pair

        from ..registry import FAMILIES
        from ..tasks import tasks_of

        if self.prior is not None:
            check_pair(self.prior.kind, self.inference.kind)
        fam = FAMILIES[MODELS[self.model].family]
        able = tasks_of(self.model, fam.mode(self))
        _check(self.task in able, f"model '{self.model}' does not do task '{self.task}' (it does: {', '.join(able)})")
        kinds = fam.model_class.anomaly_kinds(fam.mode(self))
        _check(self.anomaly.score is None or self.anomaly.score in kinds,
               f"anomaly.score '{self.anomaly.score}' is not one of model '{self.model}''s scores ({', '.join(kinds) or 'none'})")
        shape = dataset_info(self.data.name, self.data.image_size).shape
        is_toy = len(shape) == 1
        _check(not is_toy or self.task == "toy", f"dataset '{self.data.name}' is 2-D toy data: use --task toy")
        from ..data import TOYS

        _check(is_toy or self.task != "toy", f"task 'toy' needs 2-D toy data (--data {', '.join(TOYS)}), not '{self.data.name}'")
        from ..tasks import VALIDATION_FID_TASKS

        _check(not self.eval.val_fid_every or self.task in VALIDATION_FID_TASKS,
               f"eval.val_fid_every (model selection by validation FID) applies to the tasks {', '.join(VALIDATION_FID_TASKS)}, not '{self.task}'")
        if not is_toy:
            side = min(shape[1:])
            _check(self.mask.size is None or self.mask.size < side,
                   f"mask.size must be smaller than the {self.data.name} image side {side}, got {self.mask.size}")


def family(model: str) -> str | None:
    """``latent`` or ``coopflow`` for a registered model; None for an unknown name."""
    from ..registry import MODELS

    return MODELS[model].family if model in MODELS else None


def _foreign(data: dict, fam: str):
    """(dotted key, its family, whether it is a whole section) for every key in ``data`` that only the
    other family reads."""
    sections = {f.name: f for f in dataclasses.fields(RunConfig)}
    for name, value in data.items():
        f = sections.get(name)
        if f is None:
            continue
        if family_of(f) not in (None, fam):
            yield name, family_of(f), True
        elif isinstance(value, dict) and dataclasses.is_dataclass(f.default_factory):
            for sub in dataclasses.fields(f.default_factory):
                if sub.name in value and family_of(sub) not in (None, fam):
                    yield f"{name}.{sub.name}", family_of(sub), False


def migrate(data: dict) -> dict:
    """A stored config brought to :data:`CONFIG_VERSION`. Version 1 held every family's sections;
    the other family's were never read, so dropping them changes nothing about the run. Before
    version 3 CoopFlow's network sizes defaulted to CPU scale (``coop.energy_width`` null meant 32
    for images; the flow 2 levels x 4 steps x 64 channels): those values are written in."""
    data = dict(data)
    version = data.pop("version", 1)
    fam = family(data.get("model", RunConfig.model))
    if version == 1 and fam is not None:
        for key, _, whole in list(_foreign(data, fam)):
            if whole:
                data.pop(key)
            else:
                section, sub = key.split(".")
                data[section] = {k: v for k, v in data[section].items() if k != sub}
    if version < 3 and fam == "coopflow":
        from ..data import DATASETS

        coop = dict(data.get("coop") or {})
        name = (data.get("data") or {}).get("name", "digits")
        if coop.get("energy_width") is None and name in DATASETS and len(DATASETS[name].shape) == 3:
            coop["energy_width"] = 32
        for key, old in (("flow_depth", 4), ("flow_hidden", 64), ("flow_levels", 2)):
            coop[key] = coop[key] if coop.get(key) is not None else old
        data["coop"] = coop
    data["version"] = CONFIG_VERSION
    return data


def parse(data: dict) -> RunConfig:
    """A validated :class:`RunConfig` from a nested dict; keys of the other family are refused."""
    from ..registry import FAMILIES

    fam = family(data.get("model", RunConfig.model)) if isinstance(data, dict) else None
    if fam is not None:
        for key, other, whole in _foreign(data, fam):
            what = f"config section '{key}'" if whole else f"config key '{key}'"
            raise GenflowsError(f"{what} applies to the {FAMILIES[other].label} ({', '.join(_members(other))}), not to model "
                         f"'{data.get('model', RunConfig.model)}' of the {FAMILIES[fam].label}, whose settings are in {FAMILIES[fam].settings}")
    cfg = from_dict(RunConfig, data)
    cfg.validate()
    if fam is not None:
        _prune(cfg, fam)
    return cfg


def _members(fam: str) -> list[str]:
    from ..registry import MODELS

    return [name for name, spec in MODELS.items() if spec.family == fam]


def _prune(obj, fam: str) -> None:
    """``None`` for every section and key of the other family (after validation)."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if family_of(f) not in (None, fam):
            setattr(obj, f.name, None)
        elif dataclasses.is_dataclass(value):
            _prune(value, fam)


def to_dict(cfg) -> dict:
    """The config as a nested dict without the other family's sections and keys."""
    fam = family(cfg.model) if isinstance(cfg, RunConfig) else None

    def walk(obj) -> dict:
        out = {}
        for f in dataclasses.fields(obj):
            if fam is not None and family_of(f) not in (None, fam):
                continue
            v = getattr(obj, f.name)
            out[f.name] = walk(v) if dataclasses.is_dataclass(v) else (list(v) if isinstance(v, list) else v)
        return out

    return walk(cfg) if dataclasses.is_dataclass(cfg) else dataclasses.asdict(cfg)


def load_config(
    model: str | None = None,
    config_file: str | Path | None = None,
    overrides: list[str] | None = None,
    extra: dict | None = None,
) -> RunConfig:
    """Merge, later winning: dataclass defaults <- the registry's defaults for the model <- the
    task's defaults (a task module's ``DEFAULTS``: the toy task's data is the spiral) <- the
    model's own recipe for the task (:meth:`~genflows.registry.ModelSpec.recipe`) <- YAML file
    <- ``extra`` <- ``--set`` overrides. The model and the task are read after every override,
    so ``--set model=abp`` gets ABP's prior, never the first model's.

    >>> cfg = load_config("lfbm-mcmc", overrides=["model=abp"])
    >>> cfg.model, cfg.prior.kind
    ('abp', 'gaussian')
    """
    from ..registry import MODELS
    from ..tasks import TASKS

    user: dict = {}
    if config_file is not None:
        user = read_yaml(config_file)
    if model is not None:
        user = merge(user, {"model": model})
    if extra:
        user = merge(user, extra)
    overrides = overrides or []
    final = apply_overrides(user, overrides)
    name, task = final.get("model", RunConfig.model), final.get("task", RunConfig.task)
    spec = MODELS.get(name) if isinstance(name, str) else None
    base = spec.config_defaults() if spec else {}
    if isinstance(task, str) and task in TASKS:
        base = merge(base, getattr(TASKS[task], "DEFAULTS", {}))
        data = merge(base, user).get("data", {}).get("name", DataConfig.name)
        base = merge(base, spec.recipe(task) if spec else {})
        base = merge(base, spec.recipe(f"{task}@{data}") if spec else {})
    return parse(apply_overrides(merge(base, user), overrides))
