"""Latent priors p_alpha(z): one module each, registered by name."""

from __future__ import annotations

from .base import Prior
from .ebm import EBMPrior
from .flow import FlowPrior
from .gaussian import GaussianPrior

__all__ = ["Prior", "FlowPrior", "GaussianPrior", "EBMPrior", "PRIORS", "build_prior"]

PRIORS = {
    "gaussian": GaussianPrior,
    "flow": FlowPrior,
    "ebm": EBMPrior,
}


def build_prior(cfg, nz: int) -> Prior:
    """A prior from a :class:`~genflows.config.PriorConfig`."""
    if cfg.kind == "flow":
        return FlowPrior(nz, transform=cfg.transform, depth=cfg.depth, hidden=cfg.hidden)
    if cfg.kind == "ebm":
        return EBMPrior(nz, hidden=cfg.ebm_hidden, sigma_p=cfg.sigma_p, sample_steps=cfg.sample_steps, sample_step_size=cfg.sample_step_size)
    return PRIORS[cfg.kind](nz)
