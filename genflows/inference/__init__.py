"""Posterior inference methods, registered by name."""

from __future__ import annotations

from .base import Inference
from .langevin import LangevinInference
from .vae import VAEInference

__all__ = ["Inference", "LangevinInference", "VAEInference", "INFERENCES", "build_inference"]

INFERENCES = {
    "langevin": LangevinInference,
    "vae": VAEInference,
}


def build_inference(cfg, nz: int, image_shape: tuple[int, int, int]) -> Inference:
    """An inference method from an :class:`~genflows.config.InferenceConfig`."""
    langevin = LangevinInference(
        n_steps=cfg.n_steps,
        step_size=cfg.step_size,
        noise=cfg.noise,
        clamp_update=cfg.clamp_update,
        clamp_state=cfg.clamp_state,
        autocast=cfg.autocast,
        bn_stats_from_chain=cfg.bn_stats_from_chain,
        written_out=cfg.written_out,
    )
    if cfg.kind == "vae":
        return VAEInference(nz, image_shape, hidden=cfg.encoder_hidden, iaf_depth=cfg.iaf_depth, iaf_hidden=cfg.iaf_hidden, langevin=langevin)
    return langevin
