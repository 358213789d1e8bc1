"""genflows: latent-variable generative models trained with short-run Langevin flows.

Three model families behind one interface (:class:`GenerativeModel`): latent models (a prior, a
top-down generator and an inference method: :class:`LatentModel`), CoopFlow (:class:`CoopFlow`)
and EBFlow (:class:`EBFlow`). Compose one in code, train it with :class:`Trainer`, or run a registered
model and task with :func:`run`; :func:`load_model` reads a trained run folder back::

    >>> from genflows import build_model, load_config
    >>> model = build_model(load_config("lfbm-mcmc"), (1, 8, 8))
    >>> type(model).__name__, type(model.prior).__name__
    ('LatentModel', 'FlowPrior')
"""

from __future__ import annotations

from .config import RunConfig, load_config
from .coopflow import CoopFlow
from .ebflow import EBFlow
from .errors import DivergenceError, GenflowsError
from .generators import ConvGenerator, DCGANGenerator, Generator
from .inference import Inference, LangevinInference, VAEInference
from .interface import GenerativeModel, Schedule
from .langevin import langevin
from .model import LatentModel
from .priors import EBMPrior, FlowPrior, GaussianPrior, Prior
from .registry import MODELS, build_model
from .runner import load_model, run
from .trainer import Trainer

__version__ = "0.2.0"

__all__ = [
    "RunConfig",
    "load_config",
    "GenflowsError",
    "DivergenceError",
    "GenerativeModel",
    "Schedule",
    "Generator",
    "ConvGenerator",
    "DCGANGenerator",
    "Inference",
    "LangevinInference",
    "VAEInference",
    "langevin",
    "LatentModel",
    "EBFlow",
    "CoopFlow",
    "Prior",
    "FlowPrior",
    "GaussianPrior",
    "EBMPrior",
    "MODELS",
    "build_model",
    "Trainer",
    "run",
    "load_model",
]
