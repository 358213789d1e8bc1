"""Typed, validated run configuration: one dataclass per section (pythae style), the sections of
one model family per run (:mod:`.run`), YAML files and ``--set section.key=value`` overrides."""

from __future__ import annotations

from .coop import CoopConfig
from .ebflow import EBFlowConfig
from .vapo import VAPOConfig
from .base import apply_overrides, from_dict, read_yaml
from .latent import GeneratorConfig, InferenceConfig, PriorConfig
from .run import CONFIG_VERSION, RunConfig, family, load_config, migrate, parse, to_dict
from .sections import AnomalyConfig, DataConfig, EvalConfig, MaskConfig, TrainConfig, WatchConfig

__all__ = [
    "DataConfig", "GeneratorConfig", "PriorConfig", "InferenceConfig", "TrainConfig", "AnomalyConfig", "CoopConfig", "EBFlowConfig", "VAPOConfig",
    "EvalConfig", "MaskConfig", "WatchConfig", "RunConfig", "CONFIG_VERSION", "from_dict", "to_dict", "parse", "migrate",
    "family", "load_config", "apply_overrides", "read_yaml",
]
