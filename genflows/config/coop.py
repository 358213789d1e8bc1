"""The CoopFlow family's one config section: flow q_alpha, EBM f_theta, Langevin flow and their
optimisers (CoopFlow paper, Table 3 and A.2)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .base import check as _check

__all__ = ["CoopConfig", "PAPER_SIZES"]

# The sizes a None in CoopConfig stands for, per kind of data (see CoopConfig).
PAPER_SIZES = {
    "image": {"flow_depth": 16, "flow_hidden": 512, "flow_levels": 3, "energy_width": 128},
    "vector": {"flow_depth": 4, "flow_hidden": 64, "flow_levels": 1, "energy_width": 128},
}


@dataclass
class CoopConfig:
    """Data-space models (CoopFlow paper): flow q_alpha, EBM f_theta, Langevin flow (Eq. 3)."""

    mode: str = "coopflow"  # coopflow | flow (the flow alone) | ebm-sr (short-run EBM from noise)
    n_steps: int = 30  # T (Table 3)
    step_size: float = 0.03  # delta in training (Table 3)
    test_step_ratio: float = 1.3333333333333333  # test-time step = delta x this (A.3: 4/3)
    test_step_size: float | None = None  # the test-time step itself; None: genflows.coopflow.TEST_STEPS for the dataset, else delta x test_step_ratio
    noise: bool = False  # A.2: noise off
    noise_decay_epochs: int = 0  # K of Eq. (10) when noise is on (0: constant noise)
    test_noise: bool = False  # A.3: test-time chains noise-free; true samples a noise-trained p_theta as it was trained
    clamp_update: float | None = 0.1  # per-step update clamp (reference code)
    clamp_data: float | None = None  # None: [-1, 1] for images, off for 2-D data
    flow_transform: str = "coupling"  # 2-D data: coupling | maf | spline
    # Sizes: None is the paper's scale. Images: a Glow-style flow of 3 levels x 16 steps x 512
    # channels (the paper's Flow++ is about as large) and the authors' width-128 EBM (17.1 M
    # parameters on 32 x 32); 2-D data: 4 steps x 64 units and a 128-unit MLP. CPU-scale runs set
    # smaller sizes in their configs (configs/coopflow-mnist.yaml).
    flow_depth: int | None = None  # coupling steps (per level for images)
    flow_hidden: int | None = None
    flow_levels: int | None = None  # image flow: multi-scale levels
    energy_width: int | None = None  # ConvNet EBM: channels of its first conv; MLP EBM: hidden units
    energy_arch: str = "official"  # ConvNet residual block: official (the authors' code) | compact (genflows' first; see energies)
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
    # The authors' recipe (main_cifar.py): the flow's gradient norm clipped at 1 and the EBM's never;
    # both learning rates ramped up linearly over the first 200 iterations (the first update at 0);
    # the flow's data-dependent initialisation done on data batches before cooperative training.
    flow_grad_clip: float | None = 1.0
    ebm_grad_clip: float | None = None
    lr_warmup_iters: int = 200
    flow_data_init: bool = True

    def size(self, key: str, shape: tuple[int, ...]) -> int:
        """The network size ``key`` as set, or the paper's for data of ``shape`` (images: at most
        as many flow levels as the side halves evenly, e.g. 2 on 28 x 28).

        >>> CoopConfig().size("flow_levels", (1, 28, 28)), CoopConfig().size("energy_width", (3, 32, 32))
        (2, 128)
        """
        v = getattr(self, key)
        if v is not None:
            return v
        image = len(shape) == 3
        v = PAPER_SIZES["image" if image else "vector"][key]
        if key == "flow_levels" and image:
            side, halvings = min(shape[1:]), 0
            while side % 2 == 0 and halvings < v:
                side, halvings = side // 2, halvings + 1
            v = max(1, halvings)
        return v

    def validate(self) -> None:
        from ..flows import TRANSFORMS
        from ..coopflow.model import MODES

        _check(self.mode in MODES, f"coop.mode must be one of {', '.join(MODES)}, got '{self.mode}'")
        _check(self.n_steps >= 0, f"coop.n_steps must be >= 0, got {self.n_steps}")
        _check(self.energy_l2 >= 0, f"coop.energy_l2 must be >= 0, got {self.energy_l2}")
        _check(0 <= self.flow_data_weight <= 1, f"coop.flow_data_weight must be in [0, 1], got {self.flow_data_weight}")
        for k in ("step_size", "test_step_ratio", "flow_lr", "ebm_lr"):
            _check(getattr(self, k) > 0, f"coop.{k} must be > 0, got {getattr(self, k)}")
        for k in ("joint_flow_lr", "joint_ebm_lr", "test_step_size"):
            _check(getattr(self, k) is None or getattr(self, k) > 0, f"coop.{k} must be > 0, got {getattr(self, k)}")
        for k in ("energy_width", "flow_depth", "flow_hidden", "flow_levels"):
            _check(getattr(self, k) is None or getattr(self, k) >= 1, f"coop.{k} must be >= 1, got {getattr(self, k)}")
        for k in ("flow_grad_clip", "ebm_grad_clip"):
            _check(getattr(self, k) is None or getattr(self, k) > 0, f"coop.{k} must be > 0 (or null: off), got {getattr(self, k)}")
        from ..coopflow.energies import ENERGY_ARCHS

        _check(self.energy_arch in ENERGY_ARCHS, f"coop.energy_arch must be one of {', '.join(ENERGY_ARCHS)}, got '{self.energy_arch}'")
        for k in ("noise_decay_epochs", "pretrain_epochs", "warmup_epochs", "lr_warmup_iters"):
            _check(getattr(self, k) >= 0, f"coop.{k} must be >= 0, got {getattr(self, k)}")
        for k in ("flow_betas", "ebm_betas"):
            b = getattr(self, k)
            _check(len(b) == 2 and all(0 <= v < 1 for v in b), f"coop.{k} must be two numbers in [0, 1), got {b}")
        _check(self.flow_transform in TRANSFORMS, f"coop.flow_transform must be one of {', '.join(TRANSFORMS)}, got '{self.flow_transform}'")
