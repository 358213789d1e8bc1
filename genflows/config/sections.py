"""Sections every model family reads: data, training loop, evaluation, masks, watching; and the
anomaly task's (latent models). Keys only one family reads are marked with :func:`family_field`."""

from __future__ import annotations

from dataclasses import dataclass, field

from .base import check as _check
from .base import family_field

__all__ = ["DataConfig", "TrainConfig", "AnomalyConfig", "EvalConfig", "MaskConfig", "WatchConfig"]


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
    hflip: bool | None = None  # random horizontal flips in training; None: the dataset's default (CIFAR-10: on)
    # name folder:PATH, a user's images: resized to image_size x image_size (None: their own size,
    # which they must share); the anomaly task scores test_folder's normal/ and anomalous/ images.
    image_size: int | None = None
    test_folder: str | None = None

    def validate(self) -> None:
        from ..data import DATASETS, PROTOCOLS
        from ..data.folder import is_folder

        _check(self.protocol in PROTOCOLS, f"unknown data.protocol '{self.protocol}' (choose from: {', '.join(PROTOCOLS)})")
        _check(self.name in DATASETS or is_folder(self.name), f"unknown dataset '{self.name}' (choose from: {', '.join(DATASETS)}, or folder:PATH)")
        _check(self.image_size is None or self.image_size >= 4, f"data.image_size must be >= 4, got {self.image_size}")
        _check(0 <= self.holdout <= 9, f"data.holdout must be a digit 0-9, got {self.holdout}")
        _check(self.train_size is None or self.train_size >= 2, f"data.train_size must be >= 2, got {self.train_size}")


@dataclass
class TrainConfig:
    epochs: int | None = None  # None: the dataset's default schedule (see genflows.data.DATASETS)
    batch_size: int = 100  # latent-flow reference code
    lr: float = family_field("latent", 4e-4)  # Adam, latent-flow reference code
    beta1: float = family_field("latent", 0.5)  # Adam betas (0.5, 0.999), reference code
    beta2: float = family_field("latent", 0.999)
    lr_decay: float = family_field("latent", 0.998)  # exponential decay per epoch, reference code
    seed: int = 1
    threads: int | None = None  # torch intra-op threads; None: torch's default
    max_iters: int | None = None  # stop after this many iterations (quick checks)
    # stop at the first iteration that ends after this many training seconds in all (epochs'
    # evaluations excluded): comparisons at equal wall time; None: off
    max_seconds: float | None = None
    grad_clip: float | None = None  # clip the global gradient norm (CoopFlow); None: off
    keep_checkpoints: bool = False  # also keep checkpoint-epoch<E>.pt for every epoch (benchmarks)
    # Within an epoch, save checkpoint-partial.pt every N training seconds, so a killed run loses
    # at most N seconds of it (one process; the numbers do not depend on it); None: epoch ends only.
    save_every_seconds: float | None = 600.0
    amp: bool = False  # CUDA only: training loss under bfloat16 autocast (z and its Langevin updates stay float32)

    def validate(self) -> None:
        _check(self.epochs is None or self.epochs >= 1, f"train.epochs must be >= 1, got {self.epochs}")
        _check(self.batch_size >= 1, f"train.batch_size must be >= 1, got {self.batch_size}")
        if self.lr is not None:  # None: a CoopFlow run (its optimisers are coop.*)
            _check(self.lr > 0, f"train.lr must be > 0, got {self.lr}")
            _check(0 <= self.beta1 < 1 and 0 <= self.beta2 < 1, "train.beta1/beta2 must be in [0, 1)")
            _check(0 < self.lr_decay <= 1, f"train.lr_decay must be in (0, 1], got {self.lr_decay}")
        _check(self.threads is None or self.threads >= 1, f"train.threads must be >= 1, got {self.threads}")
        _check(self.max_iters is None or self.max_iters >= 1, f"train.max_iters must be >= 1, got {self.max_iters}")
        _check(self.max_seconds is None or self.max_seconds > 0, f"train.max_seconds must be > 0, got {self.max_seconds}")
        _check(self.save_every_seconds is None or self.save_every_seconds > 0, f"train.save_every_seconds must be > 0, got {self.save_every_seconds}")
        _check(self.grad_clip is None or self.grad_clip > 0, f"train.grad_clip must be > 0, got {self.grad_clip}")


@dataclass
class AnomalyConfig:
    # Which of the model's scores is the headline (None: its first; CoopFlow: energy, beside flow);
    # every score the model has is recorded.
    score: str | None = None
    # A score from a chain (latent models' -log p(x, z*)); scores without one ignore the chain keys.
    score_steps: int = 400  # noise-free Langevin steps for z* (reference code: 400 at s = 0.1)
    score_step_size: float = 0.1  # reference code
    score_batch_size: int = 500  # images per scoring batch; scores do not depend on it (eval mode)
    score_checkpoints: list[int] = field(default_factory=lambda: [50, 100, 200])  # also report AUPRC at these steps (same chains)
    score_subset: int = 0  # score a fixed random subset of N test images (the tracking subset's order); 0: all
    score_seed: int | None = None  # seed of the scoring chains' starts z0 (None: train.seed); rescoring with others measures scoring variance
    track_every: int = 0  # every N epochs, AUPRC on a fixed test subset (0: off)
    track_subset: int = 2000  # size of that subset
    track_steps: int = 100  # scoring steps for tracking (and for the validation score)
    # Training normals held out of training (a fixed random N); every epoch records their mean
    # score, and the epoch with the lowest becomes checkpoint-best.pt: an epoch chosen without
    # the test set (0: off; checkpoint-best.pt is then the lowest training loss).
    val_size: int = 0

    def validate(self) -> None:
        _check(self.score_steps >= 1, f"anomaly.score_steps must be >= 1, got {self.score_steps}")
        _check(self.score_step_size > 0, f"anomaly.score_step_size must be > 0, got {self.score_step_size}")
        _check(self.score_batch_size >= 1, f"anomaly.score_batch_size must be >= 1, got {self.score_batch_size}")
        _check(all(c >= 1 for c in self.score_checkpoints), "anomaly.score_checkpoints must be >= 1")
        _check(self.score_subset >= 0, f"anomaly.score_subset must be >= 0, got {self.score_subset}")
        _check(self.track_every >= 0, f"anomaly.track_every must be >= 0, got {self.track_every}")
        _check(self.track_subset >= 1, f"anomaly.track_subset must be >= 1, got {self.track_subset}")
        _check(self.track_steps >= 1, f"anomaly.track_steps must be >= 1, got {self.track_steps}")
        _check(self.val_size >= 0, f"anomaly.val_size must be >= 0, got {self.val_size}")


@dataclass
class EvalConfig:
    """Evaluation settings shared by the generation, reconstruction, inpainting, recovery and
    interpolation tasks (latent-flow paper Sections 4.2, 4.3, 4.6)."""

    n_test: int = 1000  # test images evaluated (0: all)
    steps: int = family_field("latent", 200)  # noise-free Langevin steps for z* (reconstruction, inpainting, recovery)
    step_size: float = family_field("latent", 0.1)
    refine_steps: int = family_field("latent", 0)  # amortised (VAE) inference: Langevin refinement after the encoder mean
    batch_size: int = 500
    fid_n: int = 1000  # images per side for FID (paper: 50 000); 0: no FID
    fid_ref: str = "train"  # the real side of FID: the first fid_n training images (the CoopFlow paper's) or test images
    completions: int = 4  # inpainting: completions per image from different z0 (Figure 2)
    interp_pairs: int = 8  # interpolation: image pairs
    interp_points: int | None = None  # interpolation: points on each line, ends included (None: the model's; CoopFlow 21 as test_interp.py, else 10)
    # Recovery: the hidden pixels' MSE every N epochs during training (always after the last). One
    # evaluation of 1000 digits cost about 2.5x a training epoch, so N = 10 keeps it near 20 % of
    # training; 1 draws a per-epoch curve; 0 evaluates after the last epoch only.
    track_every: int = family_field("latent", 10)
    # Data-space models: how x_hat is optimised (coopflow/inversion.py RECIPES). paper: the authors'
    # test scripts (gradient descent, F_theta without clamps; reconstruction MSE summed over channels
    # / (H W)); adam: genflows' variant (Adam, F_theta with clamps; MSE the mean over C H W).
    recon_protocol: str = family_field("coopflow", "paper")
    invert_iters: int | None = family_field("coopflow", None)  # steps on x_hat (None: the protocol's, 200; 201 for inpainting / interpolation under paper)
    invert_lr: float | None = family_field("coopflow", None)  # their learning rate, pixels in [-1, 1] (None: the protocol's)
    invert_starts: int = family_field("coopflow", 1)  # starting points drawn per image, the best by F_theta's error kept (paper: 1)
    # Model selection by validation FID: from epoch val_fid_from on, every val_fid_every epochs (and
    # at the last), FID of val_fid_n samples against the last val_fid_n *training* images (never
    # trained on, never the test set); the run's model is then the epoch with the lowest (0: off).
    val_fid_every: int = 0
    val_fid_n: int = 500
    val_fid_from: int = 1
    # nll: the exact test NLL every N epochs (a curve against epochs and training seconds; always
    # after the last; 0: after the last only) on the first nll_n test images (0: all, as the papers).
    nll_every: int = 1
    nll_n: int = 0

    def validate(self) -> None:
        # None: a key of the other model family (see family_field).
        for k in ("n_test", "refine_steps", "fid_n", "val_fid_every", "track_every", "nll_every", "nll_n"):
            _check(getattr(self, k) is None or getattr(self, k) >= 0, f"eval.{k} must be >= 0, got {getattr(self, k)}")
        for k in ("steps", "batch_size", "completions", "interp_pairs", "invert_iters", "invert_starts", "val_fid_from"):
            _check(getattr(self, k) is None or getattr(self, k) >= 1, f"eval.{k} must be >= 1, got {getattr(self, k)}")
        _check(self.interp_points is None or self.interp_points >= 2, f"eval.interp_points must be >= 2, got {self.interp_points}")
        _check(self.recon_protocol in (None, "paper", "adam"), f"eval.recon_protocol must be paper or adam, got '{self.recon_protocol}'")
        for k in ("step_size", "invert_lr"):
            _check(getattr(self, k) is None or getattr(self, k) > 0, f"eval.{k} must be > 0, got {getattr(self, k)}")
        _check(self.fid_n != 1, "eval.fid_n must be 0 (off) or >= 2")
        _check(self.fid_ref in ("train", "test"), f"eval.fid_ref must be train or test, got '{self.fid_ref}'")
        _check(self.val_fid_n >= 2, f"eval.val_fid_n must be >= 2, got {self.val_fid_n}")


@dataclass
class MaskConfig:
    """Which pixels are hidden (inpainting, recovery). Visible = 1 in the mask tensors."""

    kind: str = "center"  # center (centre square) | square (one square at a random place) | pepper (each pixel)
    size: int | None = None  # square side; None: half the image side (14 on 28x28)
    fraction: float = 0.5  # pepper: fraction of hidden pixels (paper: 0.3, 0.5, 0.7)
    seed: int = 0  # masks are a fixed function of (image index, seed)
    corner: int | None = None  # center: the square's top-left row = column (None: centred; CoopFlow's test_impaint.py: 7)

    def validate(self) -> None:
        from ..data import MASK_KINDS

        _check(self.kind in MASK_KINDS, f"mask.kind must be one of {', '.join(MASK_KINDS)}, got '{self.kind}'")
        _check(self.size is None or self.size >= 1, f"mask.size must be >= 1, got {self.size}")
        _check(0 < self.fraction < 1, f"mask.fraction must be in (0, 1), got {self.fraction}")
        _check(self.corner is None or (self.corner >= 0 and self.kind == "center"), f"mask.corner must be >= 0 and needs mask.kind center, got {self.corner} with {self.kind}")


@dataclass
class WatchConfig:
    """What a run records for watching it (TensorBoard event files, ``curves.png``). Never changes
    the run's numbers: a run may be resumed with other values."""

    tensorboard: bool = True  # event files in the run folder (rank 0 only under torchrun); --no-tensorboard
    every: int = 10  # per-iteration scalars (losses, Langevin chain health) every N iterations; 0: per epoch only
    images_every: int = 1  # a sample grid in the event files every N epochs; 0: none
    # The most of the run's time that drawing curves.png and the sample grids may take: on epochs
    # shorter than their drawing time / max_share they are drawn less often (always after the last).
    max_share: float = 0.02

    def validate(self) -> None:
        _check(self.every >= 0, f"watch.every must be >= 0, got {self.every}")
        _check(self.images_every >= 0, f"watch.images_every must be >= 0, got {self.images_every}")
        _check(0 < self.max_share <= 1, f"watch.max_share must be in (0, 1], got {self.max_share}")
