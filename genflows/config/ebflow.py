"""The EBFlow family's config section: a flow read as an energy-based model and trained by score
matching (Chao et al., NeurIPS 2023). Defaults are the authors' MNIST FC settings
(``configs/mnist/fc/*.txt`` in chen-hao-chao/ebflow)."""

from __future__ import annotations

from dataclasses import dataclass

from .base import check as _check

__all__ = ["EBFlowConfig"]


@dataclass
class EBFlowConfig:
    loss: str = "ssm"  # ml | sml | ssm | dsm | fdssm
    # fc: Linear D x D -> smooth leaky ReLU -> ...; cnn: C -> C convolutions, squeezes between blocks;
    # coupling (2-D data): [Linear D x D -> affine coupling] x num_blocks -> Linear (the authors' toys)
    arch: str = "fc"
    num_layers: int = 2  # linear layers (the authors' CNN: 6)
    num_blocks: int = 3  # cnn: blocks of num_layers / num_blocks convolutions, a squeeze between two; coupling: blocks
    kernel_size: int = 7  # cnn
    hidden: int = 64  # coupling: width of the s and t networks
    optimizer: str = "rmsprop"  # rmsprop (no momentum: the authors' image runs) | adam (their toy runs)
    alpha: float = 0.3  # smooth leaky ReLU's left slope
    neg_init: bool = True  # weights start at -identity (else +identity); biases at 1
    map: bool = True  # MaP: score matching after the dequantise / scale / logit preprocessing
    logit_smoothness: float = 0.5  # lambda of the logit: w = (log y - log(1 - y)) / lambda
    shift: float = 1e-6  # y = shift + (1 - 2 shift) p / 256 keeps the logit finite
    lr: float = 1e-4  # RMSprop (the authors' optimiser)
    lr_gamma: float = 0.95  # lr x gamma after each of the first lr_decay_epochs epochs
    lr_decay_epochs: int = 49
    ema_decay: float | None = 0.999  # evaluation and sampling with an EMA of the weights; None: off
    slices: int = 1  # ssm: Rademacher slices per example
    dsm_std: float = 1.0  # dsm: noise std (in the space score matching runs in)
    fdssm_eps: float = 1.0  # fdssm: finite-difference step length
    newton_iters: int = 100  # inverse of the smooth leaky ReLU when sampling
    # inpainting: Langevin on the hidden pixels (in the space score matching runs in) from N(0, I),
    # the last step without noise. The authors' script adds a noise/score-norm step scaling and a
    # blur term, not used here.
    inpaint_steps: int = 500
    inpaint_step_size: float = 0.1

    def validate(self) -> None:
        from ..ebflow.objectives import OBJECTIVES

        _check(self.loss in OBJECTIVES, f"unknown ebflow.loss '{self.loss}' (choose from: {', '.join(OBJECTIVES)})")
        _check(self.arch in ("fc", "cnn", "coupling"), f"unknown ebflow.arch '{self.arch}' (choose from: fc, cnn, coupling)")
        _check(self.optimizer in ("rmsprop", "adam"), f"unknown ebflow.optimizer '{self.optimizer}' (choose from: rmsprop, adam)")
        _check(self.num_layers >= 1, f"ebflow.num_layers must be >= 1, got {self.num_layers}")
        _check(0 < self.alpha < 1, f"ebflow.alpha must be in (0, 1), got {self.alpha}")
        _check(self.logit_smoothness > 0, f"ebflow.logit_smoothness must be > 0, got {self.logit_smoothness}")
        _check(0 <= self.shift < 0.5, f"ebflow.shift must be in [0, 0.5), got {self.shift}")
        _check(self.lr > 0, f"ebflow.lr must be > 0, got {self.lr}")
        _check(self.ema_decay is None or 0 <= self.ema_decay < 1, f"ebflow.ema_decay must be in [0, 1) or null, got {self.ema_decay}")
        _check(self.kernel_size >= 1 and self.kernel_size % 2 == 1, f"ebflow.kernel_size must be odd and >= 1, got {self.kernel_size}")
        for k in ("slices", "newton_iters", "num_blocks", "hidden", "inpaint_steps"):
            _check(getattr(self, k) >= 1, f"ebflow.{k} must be >= 1, got {getattr(self, k)}")
        for k in ("dsm_std", "fdssm_eps", "lr_gamma", "inpaint_step_size"):
            _check(getattr(self, k) > 0, f"ebflow.{k} must be > 0, got {getattr(self, k)}")
