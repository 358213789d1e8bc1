"""Typed, validated run configuration.

One dataclass per component (pythae style). YAML files in ``configs/`` mirror these classes
section by section; ``--set section.key=value`` overrides any field. Every load goes through
:func:`from_dict`, which rejects unknown keys (suggesting the closest valid one), checks types
and ranges, and raises :class:`~genflows.errors.GenflowsError` with a one-line message.

Example::

    >>> cfg = load_config("lfbm-mcmc", overrides=["inference.n_steps=30", "data.holdout=7"])
    >>> cfg.inference.n_steps, cfg.data.holdout
    (30, 7)
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import GenflowsError

__all__ = [
    "DataConfig",
    "GeneratorConfig",
    "PriorConfig",
    "InferenceConfig",
    "TrainConfig",
    "AnomalyConfig",
    "CoopConfig",
    "EvalConfig",
    "MaskConfig",
    "WatchConfig",
    "RunConfig",
    "from_dict",
    "to_dict",
    "load_config",
    "apply_overrides",
]


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise GenflowsError(msg)


@dataclass
class DataConfig:
    name: str = "digits"  # embedded default: sklearn's 8x8 digits, needs no download
    root: str | None = None  # None: $GENFLOWS_DATA, else ~/.cache/genflows/data
    download: bool = False  # torchvision download=True (needs internet)
    holdout: int = 4  # anomaly digit; latent-flow paper Table 4 reports 1, 4, 5, 7, 9
    train_size: int | None = None  # use only the first N training images (CPU budgets); None: all
    # Anomaly split: meg (the paper's text: 80/20 of normals + every anomaly, MNIST 35 % anomalies)
    # or mnist-test (the reference README's: official train without the digit / official test).
    protocol: str = "meg"

    def validate(self) -> None:
        from .data import DATASETS, PROTOCOLS

        _check(self.protocol in PROTOCOLS, f"unknown data.protocol '{self.protocol}' (choose from: {', '.join(PROTOCOLS)})")
        _check(self.name in DATASETS, f"unknown dataset '{self.name}' (choose from: {', '.join(DATASETS)})")
        _check(0 <= self.holdout <= 9, f"data.holdout must be a digit 0-9, got {self.holdout}")
        _check(self.train_size is None or self.train_size >= 2, f"data.train_size must be >= 2, got {self.train_size}")


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
        from .generators import INITS

        _check(self.nz is None or self.nz >= 1, f"generator.nz must be >= 1, got {self.nz}")
        _check(self.init in INITS, f"unknown generator.init '{self.init}' (choose from: {', '.join(INITS)})")
        _check(self.arch in ("auto", "conv", "dcgan"), f"generator.arch must be auto, conv or dcgan, got '{self.arch}'")
        _check(self.sigma > 0, f"generator.sigma must be > 0, got {self.sigma}")
        for k in ("hidden", "channels"):
            v = getattr(self, k)
            _check(v is None or v >= 1, f"generator.{k} must be >= 1, got {v}")


@dataclass
class PriorConfig:
    kind: str = "flow"  # set by the registry name (lfbm-mcmc: flow, abp: gaussian)
    transform: str = "coupling"  # coupling = actnorm -> LU linear -> affine coupling (RealNVP/Glow)
    depth: int = 5  # flow steps; issue default following the reference latent flow
    hidden: int = 64  # coupling-MLP width
    lr: float | None = None  # None: train.lr (lebm: 2e-5, LEBM reference code)
    ebm_hidden: int = 200  # EBM prior MLP nz -> 200 -> 200 -> 1 (LEBM reference code)
    sigma_p: float = 1.0  # EBM base N(0, sigma_p^2 I) (LEBM reference code)
    sample_steps: int = 60  # EBM prior short-run Langevin steps (LEBM reference code)
    sample_step_size: float = 0.4  # EBM prior Langevin s (LEBM reference code)

    def validate(self) -> None:
        from .flows import TRANSFORMS
        from .priors import PRIORS

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
    encoder_hidden: int = 512  # VAE-IAF: MLP encoder width
    iaf_depth: int = 2  # VAE-IAF: autoregressive steps after the Gaussian (Kingma et al. 2016)
    iaf_hidden: int = 64  # VAE-IAF: MADE width

    def validate(self) -> None:
        from .inference import INFERENCES

        _check(self.kind in INFERENCES, f"unknown inference '{self.kind}' (choose from: {', '.join(INFERENCES)})")
        _check(self.n_steps >= 1, f"inference.n_steps must be >= 1, got {self.n_steps}")
        _check(self.step_size > 0, f"inference.step_size must be > 0, got {self.step_size}")
        for k in ("clamp_update", "clamp_state"):
            v = getattr(self, k)
            _check(v is None or v > 0, f"inference.{k} must be > 0, got {v}")
        _check(self.autocast in (True, False, "auto"), f"inference.autocast must be true, false or auto, got {self.autocast!r}")
        _check(self.encoder_hidden >= 1 and self.iaf_hidden >= 1, "inference.encoder_hidden/iaf_hidden must be >= 1")
        _check(self.iaf_depth >= 0, f"inference.iaf_depth must be >= 0, got {self.iaf_depth}")


@dataclass
class TrainConfig:
    epochs: int | None = None  # None: the dataset's default schedule (see genflows.data.DATASETS)
    batch_size: int = 100  # latent-flow reference code
    lr: float = 4e-4  # Adam, latent-flow reference code
    beta1: float = 0.5  # Adam betas (0.5, 0.999), reference code
    beta2: float = 0.999
    lr_decay: float = 0.998  # exponential decay per epoch, reference code
    seed: int = 1
    threads: int | None = None  # torch intra-op threads; None: torch's default
    max_iters: int | None = None  # stop after this many iterations (quick checks)
    grad_clip: float | None = None  # clip the global gradient norm (CoopFlow); None: off
    keep_checkpoints: bool = False  # also keep checkpoint-epoch<E>.pt for every epoch (benchmarks)
    amp: bool = False  # CUDA only: training loss under bfloat16 autocast (z and its Langevin updates stay float32)

    def validate(self) -> None:
        _check(self.epochs is None or self.epochs >= 1, f"train.epochs must be >= 1, got {self.epochs}")
        _check(self.batch_size >= 1, f"train.batch_size must be >= 1, got {self.batch_size}")
        _check(self.lr > 0, f"train.lr must be > 0, got {self.lr}")
        _check(0 <= self.beta1 < 1 and 0 <= self.beta2 < 1, "train.beta1/beta2 must be in [0, 1)")
        _check(0 < self.lr_decay <= 1, f"train.lr_decay must be in (0, 1], got {self.lr_decay}")
        _check(self.threads is None or self.threads >= 1, f"train.threads must be >= 1, got {self.threads}")
        _check(self.max_iters is None or self.max_iters >= 1, f"train.max_iters must be >= 1, got {self.max_iters}")
        _check(self.grad_clip is None or self.grad_clip > 0, f"train.grad_clip must be > 0, got {self.grad_clip}")


@dataclass
class AnomalyConfig:
    score_steps: int = 400  # noise-free Langevin steps for z* (reference code: 400 at s = 0.1)
    score_step_size: float = 0.1  # reference code
    score_batch_size: int = 500  # images per scoring batch; scores do not depend on it (eval mode)
    score_checkpoints: list[int] = field(default_factory=lambda: [50, 100, 200])  # also report AUPRC at these steps (same chains)
    score_subset: int = 0  # score a fixed random subset of N test images (the tracking subset's order); 0: all
    track_every: int = 0  # every N epochs, AUPRC on a fixed test subset (0: off)
    track_subset: int = 2000  # size of that subset
    track_steps: int = 100  # scoring steps for tracking

    def validate(self) -> None:
        _check(self.score_steps >= 1, f"anomaly.score_steps must be >= 1, got {self.score_steps}")
        _check(self.score_step_size > 0, f"anomaly.score_step_size must be > 0, got {self.score_step_size}")
        _check(self.score_batch_size >= 1, f"anomaly.score_batch_size must be >= 1, got {self.score_batch_size}")
        _check(all(c >= 1 for c in self.score_checkpoints), "anomaly.score_checkpoints must be >= 1")
        _check(self.score_subset >= 0, f"anomaly.score_subset must be >= 0, got {self.score_subset}")
        _check(self.track_every >= 0, f"anomaly.track_every must be >= 0, got {self.track_every}")
        _check(self.track_subset >= 1, f"anomaly.track_subset must be >= 1, got {self.track_subset}")
        _check(self.track_steps >= 1, f"anomaly.track_steps must be >= 1, got {self.track_steps}")


@dataclass
class CoopConfig:
    """Data-space models (CoopFlow paper): flow q_alpha, EBM f_theta, Langevin flow (Eq. 3)."""

    mode: str = "coopflow"  # coopflow | flow (the flow alone) | ebm-sr (short-run EBM from noise)
    n_steps: int = 30  # T (Table 3)
    step_size: float = 0.03  # delta in training (Table 3)
    test_step_ratio: float = 1.3333333333333333  # test-time step = delta x this (A.3: 4/3)
    noise: bool = False  # A.2: noise off
    noise_decay_epochs: int = 0  # K of Eq. (10) when noise is on (0: constant noise)
    clamp_update: float | None = 0.1  # per-step update clamp (reference code)
    clamp_data: float | None = None  # None: [-1, 1] for images, off for 2-D data
    flow_transform: str = "coupling"  # 2-D data: coupling | maf | spline
    flow_depth: int = 4  # coupling steps (per level for images)
    flow_hidden: int = 64
    flow_levels: int = 2  # image flow: multi-scale levels
    energy_width: int | None = None  # ConvNet EBM: channels of its first conv (paper 128; None: 32); MLP EBM: hidden units (None: 128)
    flow_lr: float = 1e-4
    joint_flow_lr: float | None = None  # flow lr once joint training starts (None: flow_lr); CoopFlow(Pre) only
    joint_ebm_lr: float | None = None  # EBM lr once joint training starts (None: ebm_lr); CoopFlow(Pre) only
    ebm_lr: float = 1e-4
    flow_betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    ebm_betas: list[float] = field(default_factory=lambda: [0.5, 0.5])
    flow_data_weight: float = 0.0  # joint phase: flow loss = (1 - w) (-log q(x_tilde)) + w (-log q(x)); 0 = Algorithm 1
    energy_l2: float = 0.0  # weight of mean f(x)^2 + mean f(x_tilde)^2 in the EBM loss (Du & Mordatch 2019; 0 = the paper)
    pretrain_epochs: int = 0  # CoopFlow(Pre): flow MLE epochs first
    warmup_epochs: int = 0  # then epochs in which only the EBM learns

    def validate(self) -> None:
        from .coopflow import MODES

        _check(self.mode in MODES, f"coop.mode must be one of {', '.join(MODES)}, got '{self.mode}'")
        _check(self.n_steps >= 0, f"coop.n_steps must be >= 0, got {self.n_steps}")
        _check(self.energy_l2 >= 0, f"coop.energy_l2 must be >= 0, got {self.energy_l2}")
        _check(0 <= self.flow_data_weight <= 1, f"coop.flow_data_weight must be in [0, 1], got {self.flow_data_weight}")
        for k in ("step_size", "test_step_ratio", "flow_lr", "ebm_lr"):
            _check(getattr(self, k) > 0, f"coop.{k} must be > 0, got {getattr(self, k)}")
        for k in ("joint_flow_lr", "joint_ebm_lr"):
            _check(getattr(self, k) is None or getattr(self, k) > 0, f"coop.{k} must be > 0, got {getattr(self, k)}")
        _check(self.energy_width is None or self.energy_width >= 1, f"coop.energy_width must be >= 1, got {self.energy_width}")
        for k in ("flow_depth", "flow_hidden", "flow_levels"):
            _check(getattr(self, k) >= 1, f"coop.{k} must be >= 1, got {getattr(self, k)}")
        for k in ("noise_decay_epochs", "pretrain_epochs", "warmup_epochs"):
            _check(getattr(self, k) >= 0, f"coop.{k} must be >= 0, got {getattr(self, k)}")
        for k in ("flow_betas", "ebm_betas"):
            b = getattr(self, k)
            _check(len(b) == 2 and all(0 <= v < 1 for v in b), f"coop.{k} must be two numbers in [0, 1), got {b}")
        _check(self.flow_transform in ("coupling", "maf", "spline"), f"coop.flow_transform must be coupling, maf or spline, got '{self.flow_transform}'")


@dataclass
class EvalConfig:
    """Evaluation settings shared by the generation, reconstruction, inpainting, recovery and
    interpolation tasks (latent-flow paper Sections 4.2, 4.3, 4.6)."""

    n_test: int = 1000  # test images evaluated (0: all)
    steps: int = 200  # noise-free Langevin steps for z* (reconstruction, inpainting, recovery)
    step_size: float = 0.1
    refine_steps: int = 0  # amortised (VAE) inference: Langevin refinement after the encoder mean
    batch_size: int = 500
    fid_n: int = 1000  # images per side for FID (paper: 50 000); 0: no FID
    completions: int = 4  # inpainting: completions per image from different z0 (Figure 2)
    interp_pairs: int = 8  # interpolation: image pairs
    interp_points: int = 10  # interpolation: points on each line, ends included
    # Recovery: the hidden pixels' MSE every N epochs during training (always after the last). One
    # evaluation of 1000 digits cost about 2.5x a training epoch, so N = 10 keeps it near 20 % of
    # training; 1 draws a per-epoch curve; 0 evaluates after the last epoch only.
    track_every: int = 10
    invert_iters: int = 200  # data-space models: Adam steps on x_hat (CoopFlow Sec. 5.3 / A.8: 200)
    invert_lr: float = 0.01  # their learning rate (pixels in [-1, 1])
    invert_starts: int = 1  # starting points drawn per image, the best by F_theta's error kept (paper: 1)
    # Model selection by validation FID: from epoch val_fid_from on, every val_fid_every epochs (and
    # at the last), FID of val_fid_n samples against the last val_fid_n *training* images (never
    # trained on, never the test set); the run's model is then the epoch with the lowest (0: off).
    val_fid_every: int = 0
    val_fid_n: int = 500
    val_fid_from: int = 1

    def validate(self) -> None:
        for k in ("n_test", "refine_steps", "fid_n", "val_fid_every", "track_every"):
            _check(getattr(self, k) >= 0, f"eval.{k} must be >= 0, got {getattr(self, k)}")
        for k in ("steps", "batch_size", "completions", "interp_pairs", "invert_iters", "invert_starts", "val_fid_from"):
            _check(getattr(self, k) >= 1, f"eval.{k} must be >= 1, got {getattr(self, k)}")
        _check(self.interp_points >= 2, f"eval.interp_points must be >= 2, got {self.interp_points}")
        _check(self.step_size > 0, f"eval.step_size must be > 0, got {self.step_size}")
        _check(self.invert_lr > 0, f"eval.invert_lr must be > 0, got {self.invert_lr}")
        _check(self.fid_n != 1, "eval.fid_n must be 0 (off) or >= 2")
        _check(self.val_fid_n >= 2, f"eval.val_fid_n must be >= 2, got {self.val_fid_n}")


@dataclass
class MaskConfig:
    """Which pixels are hidden (inpainting, recovery). Visible = 1 in the mask tensors."""

    kind: str = "center"  # center (centre square) | square (one square at a random place) | pepper (each pixel)
    size: int | None = None  # square side; None: half the image side (14 on 28x28)
    fraction: float = 0.5  # pepper: fraction of hidden pixels (paper: 0.3, 0.5, 0.7)
    seed: int = 0  # masks are a fixed function of (image index, seed)

    def validate(self) -> None:
        _check(self.kind in ("center", "square", "pepper"), f"mask.kind must be center, square or pepper, got '{self.kind}'")
        _check(self.size is None or self.size >= 1, f"mask.size must be >= 1, got {self.size}")
        _check(0 < self.fraction < 1, f"mask.fraction must be in (0, 1), got {self.fraction}")


@dataclass
class WatchConfig:
    """What a run records for watching it (TensorBoard event files, ``curves.png``). Never changes
    the run's numbers: a run may be resumed with other values."""

    tensorboard: bool = True  # event files in the run folder (rank 0 only under torchrun); --no-tensorboard
    every: int = 10  # per-iteration scalars (losses, Langevin chain health) every N iterations; 0: per epoch only
    images_every: int = 1  # a sample grid in the event files every N epochs; 0: none

    def validate(self) -> None:
        _check(self.every >= 0, f"watch.every must be >= 0, got {self.every}")
        _check(self.images_every >= 0, f"watch.images_every must be >= 0, got {self.images_every}")


@dataclass
class RunConfig:
    model: str = "lfbm-mcmc"
    task: str = "anomaly"
    out: str | None = None  # run folder; None: runs/<model>-<task>-<data>-h<holdout>-<time>
    seeds: int = 1  # repeat the whole run with seeds train.seed, train.seed + 1, ...
    data: DataConfig = field(default_factory=DataConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    prior: PriorConfig = field(default_factory=PriorConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    anomaly: AnomalyConfig = field(default_factory=AnomalyConfig)
    coop: CoopConfig = field(default_factory=CoopConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    mask: MaskConfig = field(default_factory=MaskConfig)
    watch: WatchConfig = field(default_factory=WatchConfig)

    def validate(self) -> None:
        from .registry import MODELS
        from .tasks import TASKS

        _check(self.model in MODELS, f"unknown model '{self.model}' (choose from: {', '.join(MODELS)})")
        _check(self.task in TASKS, f"unknown task '{self.task}' (choose from: {', '.join(TASKS)})")
        _check(self.seeds >= 1, f"seeds must be >= 1, got {self.seeds}")
        for f in dataclasses.fields(self):
            sub = getattr(self, f.name)
            if dataclasses.is_dataclass(sub):
                sub.validate()
        from .data import DATASETS
        from .registry import check_pair

        spec = MODELS[self.model]
        if spec.family == "latent":
            check_pair(self.prior.kind, self.inference.kind)
        _check(self.task in spec.tasks, f"model '{self.model}' does not do task '{self.task}' (it does: {', '.join(spec.tasks)})")
        shape = DATASETS[self.data.name].shape
        is_toy = len(shape) == 1
        _check(not is_toy or self.task == "toy", f"dataset '{self.data.name}' is 2-D toy data: use --task toy")
        _check(is_toy or self.task != "toy", f"task 'toy' needs 2-D toy data (--data spiral, moons, 8gaussians, checkerboard), not '{self.data.name}'")
        _check(not self.eval.val_fid_every or self.task in ("generation", "reconstruction", "inpainting", "interpolation"),
               f"eval.val_fid_every (model selection by validation FID) applies to the generation, reconstruction, inpainting "
               f"and interpolation tasks, not '{self.task}'")
        if not is_toy:
            side = min(shape[1:])
            _check(self.mask.size is None or self.mask.size < side,
                   f"mask.size must be smaller than the {self.data.name} image side {side}, got {self.mask.size}")


# --------------------------------------------------------------------------- generic machinery


def _closest(key: str, valid: list[str], prefix: str = "") -> str:
    near = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    return f"; did you mean '{prefix}{near[0]}'?" if near else f" (valid: {', '.join(valid)})"


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp)).replace("NoneType", "null")


_FLOAT_RE = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp``; allow int -> float, nothing else implicit."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, key)
            except GenflowsError as e:
                errors.append(e)
        raise errors[0]
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise GenflowsError(f"config key '{key}' must be a list, got {value!r}")
        return [_coerce(v, item, key) for v in value]
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and _FLOAT_RE.fullmatch(value.strip()):
            return float(value)  # PyYAML reads '1e-3' (no dot) as a string
    elif tp is str:
        if isinstance(value, str):
            return value
    raise GenflowsError(f"config key '{key}' must be {_type_name(tp)}, got {value!r}")


def from_dict(cls: type, data: dict, prefix: str = "") -> Any:
    """Build dataclass ``cls`` from a nested dict, rejecting unknown keys and wrong types."""
    if not isinstance(data, dict):
        raise GenflowsError(f"config section '{prefix or 'top level'}' must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        full = f"{prefix}{key}"
        if key not in names:
            raise GenflowsError(f"unknown config key '{full}'{_closest(str(key), names, prefix)}")
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            kwargs[key] = from_dict(tp, value if value is not None else {}, prefix=f"{full}.")
        else:
            kwargs[key] = _coerce(value, tp, full)
    return cls(**kwargs)


def to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)


def _merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply ``section.key=value`` strings (values parsed as YAML scalars) to a config dict."""
    for item in overrides:
        if "=" not in item:
            raise GenflowsError(f"--set expects key=value, got '{item}'")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            raise GenflowsError(f"--set {key}: cannot parse value '{raw}'") from None
        node: dict = {}
        cur = node
        parts = key.strip().split(".")
        for p in parts[:-1]:
            cur[p] = {}
            cur = cur[p]
        cur[parts[-1]] = value
        data = _merge(data, node)
    return data


def read_yaml(path: str | Path) -> dict:
    p = Path(path)
    if not p.is_file():
        raise GenflowsError(f"config file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise GenflowsError(f"malformed YAML in {p}{where}") from None
    except UnicodeDecodeError:
        raise GenflowsError(f"config file {p} is not UTF-8 text") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise GenflowsError(f"config file {p} must hold a mapping at top level")
    return data


def load_config(
    model: str | None = None,
    config_file: str | Path | None = None,
    overrides: list[str] | None = None,
    extra: dict | None = None,
) -> RunConfig:
    """Merge dataclass defaults <- registry spec <- YAML file <- ``extra`` <- ``--set`` overrides."""
    from .registry import MODELS

    data: dict = {}
    if config_file is not None:
        data = read_yaml(config_file)
    if model is not None:
        data = _merge(data, {"model": model})
    name = data.get("model", RunConfig.model)
    if isinstance(name, str) and name in MODELS:
        # The registry fixes the components; the file and flags may still override them.
        data = _merge(MODELS[name].config_defaults(), data)
    if extra:
        data = _merge(data, extra)
    data = apply_overrides(data, overrides or [])
    cfg = from_dict(RunConfig, data)
    cfg.validate()
    return cfg
