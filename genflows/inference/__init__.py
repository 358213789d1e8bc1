"""Posterior inference methods, registered by name."""

from __future__ import annotations

from .base import Inference
from .langevin import LangevinInference

__all__ = ["Inference", "LangevinInference", "INFERENCES", "build_inference"]

INFERENCES = {
    "langevin": LangevinInference,
}


def build_inference(cfg) -> Inference:
    """An inference method from an :class:`~genflows.config.InferenceConfig`."""
    return LangevinInference(
        n_steps=cfg.n_steps,
        step_size=cfg.step_size,
        noise=cfg.noise,
        clamp_update=cfg.clamp_update,
        clamp_state=cfg.clamp_state,
        autocast=cfg.autocast,
    )
