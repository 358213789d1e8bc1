"""Model registry: a name fixes the prior and inference components; everything else is config.

Adding a model is one line in :data:`MODELS`. ``build_model`` turns a
:class:`~genflows.config.RunConfig` into a :class:`~genflows.model.LatentModel`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .generators import build_generator
from .inference import build_inference
from .model import LatentModel
from .priors import build_prior

__all__ = ["ModelSpec", "MODELS", "build_model"]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    prior: str
    inference: str
    description: str

    def config_defaults(self) -> dict:
        return {"prior": {"kind": self.prior}, "inference": {"kind": self.inference}}


MODELS: dict[str, ModelSpec] = {
    s.name: s
    for s in [
        ModelSpec("lfbm-mcmc", "flow", "langevin", "latent normalizing-flow prior + short-run Langevin inference (latent-flow paper)"),
        ModelSpec("abp", "gaussian", "langevin", "Gaussian prior + Langevin inference, alternating back-propagation (Han et al. 2017)"),
    ]
}


def build_model(cfg, image_shape: tuple[int, int, int]) -> LatentModel:
    """A model for images of ``image_shape`` from a :class:`~genflows.config.RunConfig`."""
    return LatentModel(
        build_prior(cfg.prior, cfg.generator.nz),
        build_generator(cfg.generator, image_shape),
        build_inference(cfg.inference),
    )
