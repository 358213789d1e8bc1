"""Sections of the latent-variable family (prior + generator + inference): the models of the
latent-flow paper and its baselines."""

from __future__ import annotations

from dataclasses import dataclass

from .base import check as _check

__all__ = ["GeneratorConfig", "PriorConfig", "InferenceConfig"]


@dataclass
class GeneratorConfig:
    nz: int | None = None  # None: 20 for grayscale (MNIST reference code), 100 for RGB
    sigma: float = 0.3  # observation noise sd of p(x|z), latent-flow reference code
    arch: str = "auto"  # conv (MLP + ConvT, MNIST) | dcgan (ConvT 1->4->...->32, RGB) | auto: by channels
    hidden: int | None = None  # None: per image size (28x28: 1024, 8x8: 256)
    channels: int | None = None  # None: per image size (28x28: 128, 8x8: 64); dcgan: ngf (64)
    # reference: the latent-flow code's (Xavier-normal ConvT weights, N(1, 0.02) BatchNorm scales);
    # torch: PyTorch's defaults, as in results recorded before the reference initialisation.
    init: str = "reference"

    def validate(self) -> None:
        from ..generators import ARCHS, INITS

        _check(self.nz is None or self.nz >= 1, f"generator.nz must be >= 1, got {self.nz}")
        _check(self.init in INITS, f"unknown generator.init '{self.init}' (choose from: {', '.join(INITS)})")
        _check(self.arch in ARCHS, f"generator.arch must be one of {', '.join(ARCHS)}, got '{self.arch}'")
        _check(self.sigma > 0, f"generator.sigma must be > 0, got {self.sigma}")
        for k in ("hidden", "channels"):
            v = getattr(self, k)
            _check(v is None or v >= 1, f"generator.{k} must be >= 1, got {v}")


@dataclass
class PriorConfig:
    kind: str = "flow"  # set by the registry name (lfbm-mcmc: flow, abp: gaussian)
    # coupling: actnorm -> LU linear -> affine coupling (RealNVP/Glow, identity start); reference: the
    # latent-flow reference code's (random actnorm, orthogonal linear, half coupling; genflows.flows.reference)
    transform: str = "coupling"
    depth: int = 5  # flow steps, as the reference latent flow
    hidden: int = 64  # coupling-MLP width
    lr: float | None = None  # None: train.lr (lebm: 2e-5, LEBM reference code)
    ebm_hidden: int = 200  # EBM prior MLP nz -> 200 -> 200 -> 1 (LEBM reference code)
    sigma_p: float = 1.0  # EBM base N(0, sigma_p^2 I) (LEBM reference code)
    sample_steps: int = 60  # EBM prior short-run Langevin steps (LEBM reference code)
    sample_step_size: float = 0.4  # EBM prior Langevin s (LEBM reference code)

    def validate(self) -> None:
        from ..flows import TRANSFORMS
        from ..priors import PRIORS

        _check(self.kind in PRIORS, f"unknown prior '{self.kind}' (choose from: {', '.join(PRIORS)})")
        _check(self.transform in TRANSFORMS, f"unknown prior.transform '{self.transform}' (choose from: {', '.join(TRANSFORMS)})")
        _check(self.depth >= 1, f"prior.depth must be >= 1, got {self.depth}")
        _check(self.hidden >= 1, f"prior.hidden must be >= 1, got {self.hidden}")
        _check(self.lr is None or self.lr > 0, f"prior.lr must be > 0, got {self.lr}")
        _check(self.ebm_hidden >= 1, f"prior.ebm_hidden must be >= 1, got {self.ebm_hidden}")
        _check(self.sigma_p > 0, f"prior.sigma_p must be > 0, got {self.sigma_p}")
        _check(self.sample_steps >= 1, f"prior.sample_steps must be >= 1, got {self.sample_steps}")
        _check(self.sample_step_size > 0, f"prior.sample_step_size must be > 0, got {self.sample_step_size}")


@dataclass
class InferenceConfig:
    kind: str = "langevin"
    n_steps: int = 20  # K, latent-flow paper Alg. 1 / reference code
    step_size: float = 0.1  # s in z <- z - s^2/2 grad U + s eps (reference code); xi = s^2/2 in Eq. (8)
    noise: bool = True  # Langevin noise on in training (reference code)
    clamp_update: float | None = None  # optional per-step |delta z| bound (divergence guard)
    clamp_state: float | None = None  # optional |z| bound
    # Generator in bfloat16 inside the chains (z and updates stay float32): true, false, or auto =
    # only on CUDA or a CPU with native bf16 (2.5x faster there, 20x slower on an AVX2-only CPU).
    autocast: bool | str = False
    # BatchNorm running statistics (what eval-mode scoring uses) averaged over every train-mode
    # chain step's batch, as the latent-flow reference code's chains do, instead of the learning step's only.
    bn_stats_from_chain: bool = False
    # Chain terms step with their gradient written out where prior and generator provide one (the
    # same numbers, no autograd graph per step); false: autograd for every term (a check, or a
    # generator of one's own whose layers the written-out path would misread).
    written_out: bool = True
    encoder_hidden: int = 512  # VAE-IAF: MLP encoder width
    iaf_depth: int = 2  # VAE-IAF: autoregressive steps after the Gaussian (Kingma et al. 2016)
    iaf_hidden: int = 64  # VAE-IAF: MADE width

    def validate(self) -> None:
        from ..inference import INFERENCES

        _check(self.kind in INFERENCES, f"unknown inference '{self.kind}' (choose from: {', '.join(INFERENCES)})")
        _check(self.n_steps >= 1, f"inference.n_steps must be >= 1, got {self.n_steps}")
        _check(self.step_size > 0, f"inference.step_size must be > 0, got {self.step_size}")
        for k in ("clamp_update", "clamp_state"):
            v = getattr(self, k)
            _check(v is None or v > 0, f"inference.{k} must be > 0, got {v}")
        _check(self.autocast in (True, False, "auto"), f"inference.autocast must be true, false or auto, got {self.autocast!r}")
        for k in ("bn_stats_from_chain", "written_out"):
            _check(isinstance(getattr(self, k), bool), f"inference.{k} must be true or false, got {getattr(self, k)!r}")
        _check(self.encoder_hidden >= 1 and self.iaf_hidden >= 1, "inference.encoder_hidden/iaf_hidden must be >= 1")
        _check(self.iaf_depth >= 0, f"inference.iaf_depth must be >= 0, got {self.iaf_depth}")
