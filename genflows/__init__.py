"""genflows: latent-variable generative models trained with short-run Langevin flows.

Public API (compose a model in code and hand it to the trainer and tasks)::

    from genflows import LatentModel, FlowPrior, ConvGenerator, LangevinInference, Trainer
"""

from __future__ import annotations

from .config import RunConfig, load_config
from .errors import DivergenceError, GenflowsError
from .generators import ConvGenerator, Generator
from .inference import Inference, LangevinInference
from .langevin import langevin
from .model import LatentModel
from .priors import FlowPrior, GaussianPrior, Prior
from .registry import MODELS, build_model
from .trainer import Trainer

__version__ = "0.1.0"

__all__ = [
    "RunConfig",
    "load_config",
    "GenflowsError",
    "DivergenceError",
    "Generator",
    "ConvGenerator",
    "Inference",
    "LangevinInference",
    "langevin",
    "LatentModel",
    "Prior",
    "FlowPrior",
    "GaussianPrior",
    "MODELS",
    "build_model",
    "Trainer",
]
