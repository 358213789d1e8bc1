"""Latent priors p_alpha(z): one module each, registered by name."""

from __future__ import annotations

from .base import Prior
from .flow import FlowPrior
from .gaussian import GaussianPrior

__all__ = ["Prior", "FlowPrior", "GaussianPrior", "PRIORS", "build_prior"]

PRIORS = {
    "gaussian": GaussianPrior,
    "flow": FlowPrior,
}


def build_prior(cfg, nz: int) -> Prior:
    """A prior from a :class:`~genflows.config.PriorConfig`."""
    if cfg.kind == "flow":
        return FlowPrior(nz, transform=cfg.transform, depth=cfg.depth, hidden=cfg.hidden)
    return PRIORS[cfg.kind](nz)
