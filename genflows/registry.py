"""Model registry: a name fixes a model's family and components (a latent model's prior and
inference method, a data-space model's CoopFlow mode and settings); everything else is config.

A model that composes existing components is one :class:`ModelSpec` in :data:`MODELS`; a new
family also needs its config section and a branch in :func:`build_model`. ``build_model`` turns
a :class:`~genflows.config.RunConfig` into a :class:`~genflows.model.LatentModel` or a
:class:`~genflows.coopflow.CoopFlow`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .generators import build_generator
from .inference import build_inference
from .model import LatentModel
from .priors import build_prior

__all__ = ["ModelSpec", "MODELS", "check_pair", "build_model", "build_coopflow", "LATENT_TASKS", "DATA_TASKS", "TEST_STEPS", "TOY_RECIPE"]


# Test-time Langevin step per dataset where the authors' code sets one (main_svhn.py, main_celeba.py).
TEST_STEPS = {"svhn": 0.035, "celeba": 0.035, "celeba32": 0.035}

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


LATENT_TASKS = ("anomaly", "generation", "reconstruction", "inpainting", "recovery", "interpolation")
DATA_TASKS = ("toy", "generation", "reconstruction", "inpainting", "interpolation")  # CoopFlow Sections 5.1-5.4


@dataclass(frozen=True)
class ModelSpec:
    name: str
    prior: str
    inference: str
    description: str
    prior_defaults: tuple = ()  # (key, value) pairs for the prior section
    family: str = "latent"  # latent (LatentModel: prior + generator + inference) | coopflow (data space)
    coop_defaults: tuple = ()  # (key, value) pairs for the coop section
    tasks: tuple = field(default=LATENT_TASKS)
    recipes: tuple = ()  # (task, config dict) pairs: this model's own defaults for a task

    def recipe(self, task: str) -> dict:
        """This model's defaults for ``task`` (merged after the task's own, before the user's)."""
        return dict(self.recipes).get(task, {})

    def config_defaults(self) -> dict:
        if self.family == "coopflow":
            # CoopFlow's Adam settings and gradient clipping live in the coop section (A.2: no lr decay).
            return {"coop": dict(self.coop_defaults)}
        return {"prior": {"kind": self.prior, **dict(self.prior_defaults)}, "inference": {"kind": self.inference}}


def _coop(name: str, description: str, tasks: tuple = DATA_TASKS, **defaults) -> ModelSpec:
    # The cooperative modes learn the toy densities with TOY_RECIPE (the paper gives no 2-D settings).
    recipes = (("toy", TOY_RECIPE),) if defaults.get("mode") == "coopflow" else ()
    return ModelSpec(name, "-", "-", description, family="coopflow", coop_defaults=tuple(defaults.items()), tasks=tasks, recipes=recipes)


MODELS: dict[str, ModelSpec] = {
    s.name: s
    for s in [
        ModelSpec("lfbm-mcmc", "flow", "langevin", "latent normalizing-flow prior + short-run Langevin inference (latent-flow paper)"),
        ModelSpec("abp", "gaussian", "langevin", "Gaussian prior + Langevin inference, alternating back-propagation (Han et al. 2017)"),
        ModelSpec("vae", "gaussian", "vae", "Gaussian prior + VAE-IAF amortised inference, ELBO training (Kingma et al. 2016)"),
        ModelSpec("lfbm-vae", "flow", "vae", "latent flow prior + VAE-IAF amortised inference (the latent-flow paper's LFBM-VAE)"),
        ModelSpec("lebm", "ebm", "langevin", "latent EBM prior + Langevin inference and prior sampling (Pang et al. 2020)",
                  prior_defaults=(("lr", 2e-5),)),
        # Data space (CoopFlow paper, Table 3 settings; Table 6/9 ablations).
        _coop("coopflow", "data-space flow initialising a 30-step Langevin flow toward an EBM, trained cooperatively (CoopFlow, T = 30)",
              mode="coopflow", n_steps=30, step_size=0.03),
        _coop("coopflow-t200", "CoopFlow with a 200-step Langevin flow and a smaller step (T = 200, delta 0.01, test 0.012)",
              mode="coopflow", n_steps=200, step_size=0.01, test_step_ratio=1.2),
        _coop("coopflow-pre", "CoopFlow(Pre): flow MLE first, then EBM-only warm-up, then joint (epochs scaled for CPU)",
              mode="coopflow", n_steps=30, step_size=0.03, pretrain_epochs=2, warmup_epochs=1),
        # The flow alone is invertible (reconstruction would be exact); ebm-sr has no flow to interpolate in.
        _coop("flow", "the data-space normalizing flow alone, trained by MLE (CoopFlow Table 6 ablation)", tasks=("toy", "generation"), mode="flow"),
        _coop("ebm-sr", "short-run EBM: Langevin flow from N(0, I) noise, no flow (Nijkamp et al. 2019; CoopFlow Table 7/9 baseline)",
              tasks=("toy", "generation", "reconstruction", "inpainting"), mode="ebm-sr", n_steps=100, step_size=0.03),
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


def build_model(cfg, image_shape: tuple[int, ...]):
    """A model for data of ``image_shape`` from a :class:`~genflows.config.RunConfig`: a
    :class:`~genflows.model.LatentModel`, or a :class:`~genflows.coopflow.CoopFlow` for the
    data-space family."""
    if MODELS[cfg.model].family == "coopflow":
        return build_coopflow(cfg.coop, image_shape, cfg.data.name)
    generator = build_generator(cfg.generator, image_shape)
    return LatentModel(
        build_prior(cfg.prior, generator.nz),
        generator,
        build_inference(cfg.inference, generator.nz, image_shape),
        prior_lr=cfg.prior.lr,
    )


def build_coopflow(c, shape: tuple[int, ...], data: str | None = None):
    """A :class:`~genflows.coopflow.CoopFlow` from a :class:`~genflows.config.CoopConfig`."""
    from .coopflow import CoopFlow, build_data_flow, build_energy

    is_image = len(shape) == 3
    flow = None if c.mode == "ebm-sr" else build_data_flow(shape, c.flow_transform, c.size("flow_depth", shape), c.size("flow_hidden", shape),
                                                            c.size("flow_levels", shape))
    energy = None if c.mode == "flow" else build_energy(shape, c.size("energy_width", shape), c.energy_arch)
    return CoopFlow(
        flow, energy, mode=c.mode, n_steps=c.n_steps, step_size=c.step_size, test_step_ratio=c.test_step_ratio,
        test_step_size=c.test_step_size if c.test_step_size is not None else TEST_STEPS.get(data),
        noise=c.noise, noise_decay_epochs=c.noise_decay_epochs, test_noise=c.test_noise, clamp_update=c.clamp_update, energy_l2=c.energy_l2, flow_data_weight=c.flow_data_weight,
        clamp_data=c.clamp_data if c.clamp_data is not None else (1.0 if is_image else None),
        pretrain_epochs=c.pretrain_epochs, warmup_epochs=c.warmup_epochs, data_shape=shape,
        flow_grad_clip=c.flow_grad_clip, ebm_grad_clip=c.ebm_grad_clip, lr_warmup_iters=c.lr_warmup_iters, flow_data_init=c.flow_data_init,
        flow_lr=c.flow_lr, joint_flow_lr=c.joint_flow_lr, joint_ebm_lr=c.joint_ebm_lr, ebm_lr=c.ebm_lr, flow_betas=tuple(c.flow_betas), ebm_betas=tuple(c.ebm_betas),
    )
