"""Model registry: a name fixes a model's family and its defaults (a latent model's prior and
inference method, a data-space model's CoopFlow mode and settings); everything else is config.

A family is one :class:`Family` record in :data:`FAMILIES`: its name, the config sections it
reads, and its model class, which builds itself ``from_config`` (pythae style). A model that
composes existing components is one :class:`ModelSpec` in :data:`MODELS`. The tasks a model runs
follow from what its class implements (:func:`genflows.tasks.tasks_of`).

    >>> MODELS["abp"].defaults["prior"], FAMILIES["coopflow"].sections
    ({'kind': 'gaussian'}, ('coop',))
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from .coopflow import CoopFlow
from .ebflow import EBFlow
from .vapo import VAPO
from .model import LatentModel

__all__ = ["Family", "FAMILIES", "ModelSpec", "MODELS", "check_pair", "build_model", "TOY_RECIPE"]


@dataclass(frozen=True)
class Family:
    """A model family: ``sections`` are the config sections only it reads; ``settings`` says
    where its settings live (for the one-line error when another family's key is set);
    ``model_class`` builds the model with ``from_config(cfg, shape)``; ``mode_key`` names the
    key of its variant (which may leave some capabilities out)."""

    name: str
    label: str
    sections: tuple[str, ...]
    settings: str
    model_class: type
    mode_key: str | None = None

    def mode(self, cfg) -> str | None:
        """The variant a config (a :class:`~genflows.config.RunConfig` or a nested dict) asks for."""
        if self.mode_key is None:
            return None
        section, key = self.mode_key.split(".")
        sub = cfg.get(section, {}) if isinstance(cfg, dict) else getattr(cfg, section)
        return sub.get(key) if isinstance(sub, dict) else getattr(sub, key)


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in [
        Family("latent", "latent-variable family", ("generator", "prior", "inference"),
               "sections 'generator', 'prior', 'inference' (learning rate: train.lr)", LatentModel),
        Family("coopflow", "CoopFlow family", ("coop",), "section 'coop' (learning rates: coop.flow_lr, coop.ebm_lr)", CoopFlow, "coop.mode"),
        Family("ebflow", "EBFlow family", ("ebflow",), "section 'ebflow' (learning rate: ebflow.lr)", EBFlow),
        Family("vapo", "VAPO family", ("vapo",), "section 'vapo' (learning rate: vapo.lr)", VAPO),
    ]
}

# The toy task's defaults for the cooperative modes (the paper gives no 2-D settings): chosen on
# the spiral with the authors' training recipe (docs/results.md, toy study). Noise-free chains with
# an update clamp gave the best samples but an EBM whose density is a broad bump (correlation with
# the truth 0.17-0.25 at T = 10-500); noisy chains at delta 0.1 without the update clamp let
# p_theta learn the spiral (0.77 at T = 100, 0.80 at T = 500), and a noise-trained p_theta is
# sampled with noise at its training step (sample MMD 0.0015 at T = 100).
TOY_RECIPE: dict = {
    "train": {"epochs": 20},
    "coop": {"n_steps": 100, "step_size": 0.1, "noise": True, "clamp_update": None, "test_noise": True, "test_step_ratio": 1.0,
             "energy_l2": 0.01, "flow_transform": "spline", "flow_lr": 1e-3, "ebm_lr": 1e-3},
}


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: its family, and its config defaults by section."""

    name: str
    family: str
    description: str
    defaults: dict = field(default_factory=dict)  # section -> {key: value}, merged first
    # "task" or "task@data" -> config: this model's own defaults for a task (on one data set)
    recipes: dict = field(default_factory=dict)

    def recipe(self, task: str) -> dict:
        """This model's defaults for ``task`` (merged after the task's own, before the user's);
        ``"task@data"``: those for the task on one data set, merged after."""
        return copy.deepcopy(self.recipes.get(task, {}))

    def config_defaults(self) -> dict:
        return copy.deepcopy(self.defaults)

    @property
    def mode(self) -> str | None:
        return FAMILIES[self.family].mode(self.defaults)


# The toy task's defaults for EBFlow: the authors' 2-D flow and settings (toy_examples/ebflow
# configs), at a CPU budget named here: Adam 1e-3 for 1000 iterations (the paper: 1e-4 for 50 000).
EBFLOW_TOY_RECIPE: dict = {
    "train": {"batch_size": 2048, "grad_clip": 10.0, "epochs": 250},
    "ebflow": {"arch": "coupling", "num_blocks": 10, "hidden": 64, "optimizer": "adam", "lr": 1e-3, "lr_gamma": 1.0,
               "dsm_std": 0.375, "fdssm_eps": 0.1},
}
# VAPO's (the released code has no 2-D model): Adam 1e-3 with a 100-iteration warm-up, batch 500,
# 6000 iterations (configs/vapo-toy.yaml says why).
VAPO_TOY_RECIPE: dict = {"train": {"batch_size": 500, "epochs": 300}, "vapo": {"lr": 1e-3, "warmup": 100}}


def _ebflow(loss: str, description: str, **train) -> ModelSpec:
    return ModelSpec(f"ebflow-{loss}", "ebflow", description, {"ebflow": {"loss": loss}, **({"train": train} if train else {})},
                     {"toy": EBFLOW_TOY_RECIPE})


# The latent-flow paper's MNIST anomaly schedule is the default there (21 epochs from the data
# set's default, lr 4e-4 decayed 0.998 per epoch, 400 scoring steps), with the generator in
# bfloat16 inside the chains only where that is fast (CUDA, or a CPU with native bf16: 2.5x
# there; scores within the seed spread of float32, docs/results.md). The log names the dtype.
LATENT_MNIST_ANOMALY_RECIPE: dict = {"inference": {"autocast": "auto"}}


def _latent(name: str, prior: str, inference: str, description: str, **prior_defaults) -> ModelSpec:
    return ModelSpec(name, "latent", description, {"prior": {"kind": prior, **prior_defaults}, "inference": {"kind": inference}},
                     {"anomaly@mnist": LATENT_MNIST_ANOMALY_RECIPE})


def _coop(name: str, description: str, **defaults) -> ModelSpec:
    # CoopFlow's Adam settings and gradient clipping live in the coop section (A.2: no lr decay).
    # The cooperative modes learn the toy densities with TOY_RECIPE (the paper gives no 2-D settings).
    recipes = {"toy": TOY_RECIPE} if defaults.get("mode") == "coopflow" else {}
    return ModelSpec(name, "coopflow", description, {"coop": defaults}, recipes)


MODELS: dict[str, ModelSpec] = {
    s.name: s
    for s in [
        _latent("lfbm-mcmc", "flow", "langevin", "latent normalizing-flow prior + short-run Langevin inference (latent-flow paper)"),
        _latent("abp", "gaussian", "langevin", "Gaussian prior + Langevin inference, alternating back-propagation (Han et al. 2017)"),
        _latent("vae", "gaussian", "vae", "Gaussian prior + VAE-IAF amortised inference, ELBO training (Kingma et al. 2016)"),
        _latent("lfbm-vae", "flow", "vae", "latent flow prior + VAE-IAF amortised inference (the latent-flow paper's LFBM-VAE)"),
        _latent("lebm", "ebm", "langevin", "latent EBM prior + Langevin inference and prior sampling (Pang et al. 2020)", lr=2e-5),
        # Data space (CoopFlow paper, Table 3 settings; Table 6/9 ablations).
        _coop("coopflow", "data-space flow initialising a 30-step Langevin flow toward an EBM, trained cooperatively (CoopFlow, T = 30)",
              mode="coopflow", n_steps=30, step_size=0.03),
        _coop("coopflow-t200", "CoopFlow with a 200-step Langevin flow and a smaller step (T = 200, delta 0.01, test 0.012)",
              mode="coopflow", n_steps=200, step_size=0.01, test_step_ratio=1.2),
        _coop("coopflow-pre", "CoopFlow(Pre): flow MLE first, then EBM-only warm-up, then joint (epochs scaled for CPU)",
              mode="coopflow", n_steps=30, step_size=0.03, pretrain_epochs=2, warmup_epochs=1),
        _coop("flow", "the data-space normalizing flow alone, trained by MLE (CoopFlow Table 6 ablation)", mode="flow"),
        _coop("ebm-sr", "short-run EBM: Langevin flow from N(0, I) noise, no flow (Nijkamp et al. 2019; CoopFlow Table 7/9 baseline)",
              mode="ebm-sr", n_steps=100, step_size=0.03),
        # EBFlow (Chao et al. 2023): one flow, five objectives (the authors' MNIST FC settings).
        _ebflow("ml", "EBFlow trained by maximum likelihood (every linear layer's determinant: the baseline)"),
        _ebflow("sml", "EBFlow, score-matching-free: energy of data minus energy of exact flow samples"),
        _ebflow("ssm", "EBFlow trained by sliced score matching (Rademacher slices), no determinant"),
        _ebflow("dsm", "EBFlow trained by denoising score matching (sigma 1), no determinant"),
        _ebflow("fdssm", "EBFlow trained by finite-difference sliced score matching (eps 1, gradient norm clipped at 5)", grad_clip=5.0),
        # VAPO (Loo et al. 2024): a potential trained along a noise-to-data homotopy, sampled by an ODE.
        ModelSpec("vapo", "vapo", "VAPO: a potential whose gradient flow carries N(0, I) to the data (no MCMC; ODE sampling)", {},
                  {"toy": VAPO_TOY_RECIPE}),
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


def build_model(cfg, shape: tuple[int, ...]):
    """The model of a :class:`~genflows.config.RunConfig` for data of ``shape``, built by its
    family's model class (``from_config``)."""
    return FAMILIES[MODELS[cfg.model].family].model_class.from_config(cfg, shape)
