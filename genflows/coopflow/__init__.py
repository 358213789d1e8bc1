"""CoopFlow (CoopFlow paper): a data-space normalizing flow initialises a short-run Langevin flow
toward an energy-based model; both are trained cooperatively (Algorithm 1)."""

from __future__ import annotations

from .energies import ConvEnergy, MLPEnergy, build_energy
from .flows import ImageFlow, VectorFlow, build_data_flow
from .model import MODES, TEST_STEPS, CoopFlow
from .schedule import noise_decay

__all__ = ["CoopFlow", "MODES", "TEST_STEPS", "noise_decay", "VectorFlow", "ImageFlow", "build_data_flow", "MLPEnergy", "ConvEnergy", "build_energy"]
