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

__all__ = ["ModelSpec", "MODELS", "check_pair", "build_model"]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    prior: str
    inference: str
    description: str
    prior_defaults: tuple = ()  # (key, value) pairs for the prior section

    def config_defaults(self) -> dict:
        return {"prior": {"kind": self.prior, **dict(self.prior_defaults)}, "inference": {"kind": self.inference}}


MODELS: dict[str, ModelSpec] = {
    s.name: s
    for s in [
        ModelSpec("lfbm-mcmc", "flow", "langevin", "latent normalizing-flow prior + short-run Langevin inference (latent-flow paper)"),
        ModelSpec("abp", "gaussian", "langevin", "Gaussian prior + Langevin inference, alternating back-propagation (Han et al. 2017)"),
        ModelSpec("vae", "gaussian", "vae", "Gaussian prior + VAE-IAF amortised inference, ELBO training (Kingma et al. 2016)"),
        ModelSpec("lfbm-vae", "flow", "vae", "latent flow prior + VAE-IAF amortised inference (the latent-flow paper's LFBM-VAE)"),
        ModelSpec("lebm", "ebm", "langevin", "latent EBM prior + Langevin inference and prior sampling (Pang et al. 2020)",
                  prior_defaults=(("lr", 2e-5),)),
    ]
}


def check_pair(prior: str, inference: str) -> None:
    """Reject prior x inference pairs that cannot be trained, saying why."""
    from .errors import GenflowsError
    from .priors import PRIORS

    if inference == "vae" and prior in PRIORS and not PRIORS[prior].normalized:
        raise GenflowsError(
            f"invalid pair prior={prior} + inference=vae: the VAE's ELBO needs a normalised log p(z), "
            f"and the {prior} prior's is unnormalised (use inference=langevin)"
        )


def build_model(cfg, image_shape: tuple[int, int, int]) -> LatentModel:
    """A model for images of ``image_shape`` from a :class:`~genflows.config.RunConfig`."""
    generator = build_generator(cfg.generator, image_shape)
    return LatentModel(
        build_prior(cfg.prior, generator.nz),
        generator,
        build_inference(cfg.inference, generator.nz, image_shape),
    )
