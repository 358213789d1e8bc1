"""VAPO (Loo et al. 2024): a potential trained without MCMC along a noise-to-data homotopy, whose
gradient field carries Gaussian samples to the data by an ODE."""

from __future__ import annotations

from .model import VAPO

__all__ = ["VAPO"]
