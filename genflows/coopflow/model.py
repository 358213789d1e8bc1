"""CoopFlow: a normalizing flow q_alpha initialises a short-run Langevin flow toward an EBM
p_theta(x) ∝ exp f_theta(x); both are trained cooperatively (CoopFlow paper, Algorithm 1).

One iteration (Algorithm 1, lines 4-8):

    z ~ N(0, I);  x_hat = g_alpha(z)                                   (flow sample)
    x_tilde = T steps of  x <- x + (delta^2 / 2) grad_x f_theta(x) + delta eps      (Eq. 3)
    alpha:  ascend  mean log q_alpha(x_tilde)                          (Eq. 6)
    theta:  ascend  mean f_theta(x_obs) - mean f_theta(x_tilde)        (Eq. 2)

The same class runs the paper's ablations: ``mode="flow"`` (the flow alone, MLE on data) and
``mode="ebm-sr"`` (short-run EBM from N(0, I) noise, Nijkamp et al. 2019). ``pretrain_epochs`` and
``warmup_epochs`` give CoopFlow(Pre): flow MLE first, then the EBM alone, then both (A.2).

>>> from genflows.coopflow.flows import VectorFlow
>>> from genflows.coopflow.energies import MLPEnergy
>>> m = CoopFlow(VectorFlow(2, depth=2, hidden=16), MLPEnergy(2, 32), n_steps=5, step_size=0.1)
>>> loss, stats = m.training_loss(torch.randn(8, 2))
>>> sorted(stats)
['ebm_loss', 'flow_loss']
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Callable

import torch
from torch import nn

from .._runtime.distributed import has_lazy_init
from ..interface import GenerativeModel
from ..langevin import frozen, langevin
from .inversion import Inversion
from .schedule import PhasedSchedule, noise_decay

__all__ = ["CoopFlow", "MODES", "TEST_STEPS"]

MODES = ("coopflow", "flow", "ebm-sr")

# Test-time Langevin step per dataset where the authors' code sets one (main_svhn.py, main_celeba.py).
TEST_STEPS = {"svhn": 0.035, "celeba": 0.035, "celeba32": 0.035}

# What each mode leaves out: the flow alone is invertible (a reconstruction would be exact), and
# the short-run EBM has no flow whose codes could be interpolated.
_WITHOUT = {"coopflow": (), "flow": ("reconstruct_batched", "encode_batched", "decode_batched"),
            "ebm-sr": ("encode_batched", "decode_batched", "log_likelihood")}
# Anomaly scores per mode, the headline first: the EBM's energy -f_theta(x), the flow's -log q_alpha(x).
_ANOMALY = {"coopflow": ("energy", "flow"), "flow": ("flow",), "ebm-sr": ("energy",)}


class CoopFlow(Inversion, PhasedSchedule, GenerativeModel):
    phased = True  # some epochs train only one of the two flows (DDP must expect unused parameters)
    likelihood_of = "q_alpha, the flow alone"
    vector_data = True
    interp_points = 21  # the authors' test_interp.py: 21 frames per line
    divergence_hint = "lower coop.flow_lr / coop.ebm_lr or coop.step_size, or set coop.clamp_update"

    def __init__(
        self,
        flow: nn.Module | None,
        energy: nn.Module | None,
        mode: str = "coopflow",
        n_steps: int = 30,
        step_size: float = 0.03,
        test_step_ratio: float = 4 / 3,
        test_step_size: float | None = None,
        noise: bool = False,
        noise_decay_epochs: int = 0,
        test_noise: bool = False,
        clamp_update: float | None = 0.1,
        clamp_data: float | None = 1.0,
        energy_l2: float = 0.0,
        flow_data_weight: float = 0.0,
        pretrain_epochs: int = 0,
        warmup_epochs: int = 0,
        data_shape: tuple[int, ...] | None = None,
        flow_lr: float = 1e-4,
        ebm_lr: float = 1e-4,
        joint_flow_lr: float | None = None,
        joint_ebm_lr: float | None = None,
        flow_betas: tuple[float, float] = (0.9, 0.999),
        ebm_betas: tuple[float, float] = (0.5, 0.5),
        flow_grad_clip: float | None = None,
        ebm_grad_clip: float | None = None,
        lr_warmup_iters: int = 0,
        flow_data_init: bool = False,
    ):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"unknown CoopFlow mode '{mode}' (choose from: {', '.join(MODES)})")
        if mode != "ebm-sr" and flow is None or mode != "flow" and energy is None:
            raise ValueError(f"mode '{mode}' needs {'a flow' if flow is None else 'an energy'}")
        self.flow, self.energy, self.mode = flow, energy, mode
        self.n_steps, self.step_size, self.test_step_ratio = n_steps, step_size, test_step_ratio
        self.test_step_size = step_size * test_step_ratio if test_step_size is None else test_step_size
        self.noise, self.noise_decay_epochs, self.test_noise = noise, noise_decay_epochs, test_noise
        self.clamp_update, self.clamp_data = clamp_update, clamp_data
        self.energy_l2 = energy_l2
        self.flow_data_weight = flow_data_weight
        self.pretrain_epochs, self.warmup_epochs = pretrain_epochs, warmup_epochs
        self.data_shape = tuple(data_shape) if data_shape is not None else None
        self.optim = {"flow": (flow_lr, tuple(flow_betas)), "ebm": (ebm_lr, tuple(ebm_betas))}
        self.joint_flow_lr = flow_lr if joint_flow_lr is None else joint_flow_lr
        self.joint_ebm_lr = ebm_lr if joint_ebm_lr is None else joint_ebm_lr
        self.grad_clips = {"flow": flow_grad_clip, "ebm": ebm_grad_clip}
        self.lr_warmup_iters, self.flow_data_init = lr_warmup_iters, flow_data_init
        self.epoch = 0
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)

    @classmethod
    def from_config(cls, cfg, shape: tuple[int, ...]) -> "CoopFlow":
        """The model of a :class:`~genflows.config.RunConfig`'s ``coop`` section
        (:class:`~genflows.config.CoopConfig`) for data of ``shape``: every key that names a
        constructor argument is passed as is; the network sizes build the two networks."""
        from .energies import build_energy
        from .flows import build_data_flow

        c = cfg.coop
        flow = None if c.mode == "ebm-sr" else build_data_flow(shape, c.flow_transform, c.size("flow_depth", shape), c.size("flow_hidden", shape),
                                                                c.size("flow_levels", shape))
        energy = None if c.mode == "flow" else build_energy(shape, c.size("energy_width", shape), c.energy_arch)
        params = inspect.signature(cls).parameters
        settings = {f.name: getattr(c, f.name) for f in dataclasses.fields(c) if f.name in params}
        settings.update(
            test_step_size=c.test_step_size if c.test_step_size is not None else TEST_STEPS.get(cfg.data.name),
            clamp_data=c.clamp_data if c.clamp_data is not None else (1.0 if len(shape) == 3 else None),
            flow_betas=tuple(c.flow_betas), ebm_betas=tuple(c.ebm_betas), data_shape=shape,
        )
        return cls(flow, energy, **settings)

    @classmethod
    def capabilities(cls, mode: str | None = None) -> frozenset[str]:
        return super().capabilities() - set(_WITHOUT[mode or "coopflow"])

    @classmethod
    def anomaly_kinds(cls, mode: str | None = None) -> tuple[str, ...]:
        return _ANOMALY[mode or "coopflow"]

    @torch.no_grad()
    def anomaly_scores(self, x, n_steps=0, step_size=0.0, batch_size=500, seed=0, record=(), progress=False, kind=None,
                       store=None):
        """``energy``: -f_theta(x), the EBM's energy (its normaliser is the same for every image);
        ``flow``: -log q_alpha(x), exact, each pixel's bin counted once
        (:meth:`~genflows.coopflow.ImageFlow.log_mass`). No chain runs, so ``n_steps``,
        ``step_size``, ``seed`` and ``record`` do not apply; in float32 and eval mode."""
        kind = self.anomaly_kind(kind)
        fn = (lambda b: -self.energy(b)) if kind == "energy" else (lambda b: -self.flow.log_mass(b))
        return self.score_rows(x, fn, batch_size), {}

    def log_likelihood(self, x: torch.Tensor) -> torch.Tensor:
        """log q_alpha(x), the flow's exact density (images: one uniform dequantisation draw of
        the 8-bit pixels on [0, 256)^D). CoopFlow's own samples, the flow's after Langevin toward
        p_theta, have no tractable density: this is the flow's likelihood alone."""
        return self.flow.log_prob(x, dequantize=True)

    def log_densities(self) -> dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], bool]]:
        """log q_alpha (normalised) and f_theta (log p_theta up to log Z), where the mode has them."""
        out = {}
        if self.flow is not None:
            out["q_alpha"] = (self.flow.log_prob, True)
        if self.energy is not None:
            out["p_theta"] = (self.energy, False)
        return out

    def sampling_steps(self) -> int:
        return 0 if self.mode == "flow" else self.n_steps

    # ------------------------------------------------------------------ the two flows
    def initial(self, n: int) -> torch.Tensor:
        """Langevin starting points: flow samples x_hat = g_alpha(z), or N(0, I) noise (ebm-sr)."""
        if self.mode == "ebm-sr":
            x = torch.randn(n, *self.data_shape, device=self._anchor.device)
            return x.clamp_(-self.clamp_data, self.clamp_data) if self.clamp_data else x
        with torch.no_grad():
            return self.flow.sample(n)

    def langevin_flow(self, x0: torch.Tensor, n_steps: int | None = None, step_size: float | None = None, noise_scale: float = 0.0,
                      clamps: bool = True) -> torch.Tensor:
        """Eq. (3) toward f_theta: x <- x + (delta^2/2) grad f(x) + noise_scale * delta * eps, with the
        reference code's per-step update clamp and data-range clamp (unless ``clamps`` is false, as
        in the authors' test scripts)."""
        with frozen(self.energy):
            return langevin(
                lambda x: -self.energy(x),
                x0,
                self.n_steps if n_steps is None else n_steps,
                self.step_size if step_size is None else step_size,
                noise=noise_scale > 0,
                noise_scale=noise_scale,
                clamp_update=self.clamp_update if clamps else None,
                clamp_state=self.clamp_data if clamps else None,
                what="Langevin-flow x",
            )

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        """Test-time samples of the two-flow generator: flow init, Langevin flow with the step
        size x ``test_step_ratio`` (or ``test_step_size``) and no noise (A.2-A.3), or with unit
        noise if ``test_noise`` (a p_theta trained with noisy chains is sampled the way its chains
        ran; noise-free, those chains contract onto f_theta's ridges). The flow alone for mode 'flow'."""
        if self.mode == "flow":
            return self.flow.sample(n)
        return self.langevin_flow(self.initial(n), step_size=self.test_step_size, noise_scale=1.0 if self.test_noise else 0.0)

    @torch.no_grad()
    def sample_flow(self, n: int) -> torch.Tensor:
        """x_hat = g_alpha(z) only (Figure 10 vs Figure 8)."""
        return self.flow.sample(n)

    def component_samplers(self) -> dict[str, Callable[[int], torch.Tensor]]:
        """The flow q_alpha alone, where it feeds a Langevin flow: what cooperation adds is the
        difference between its samples and the model's."""
        return {"flow": self.sample_flow} if self.flow is not None and self.mode != "flow" else {}

    # ------------------------------------------------------------------ CoopFlow as a latent-variable model
    @torch.no_grad()
    def decode(self, xhat: torch.Tensor, clamps: bool = True) -> torch.Tensor:
        """F_theta(x_hat): the Langevin flow at its training step size with e = 0, with or without its clamps."""
        return self.langevin_flow(xhat, clamps=clamps) if self.mode != "flow" else xhat

    def encode_flow(self, xhat: torch.Tensor) -> torch.Tensor:
        """z = g_alpha^{-1}(x_hat) (Section 5.4)."""
        return self.flow.encode(xhat)

    def decode_flow(self, z: torch.Tensor) -> torch.Tensor:
        """x_hat = g_alpha(z)."""
        return self.flow.decode(z)

    # ------------------------------------------------------------------ learning
    def training_loss(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
        """Algorithm 1 as one loss over disjoint parameter sets (flow: -mean log q(x_tilde);
        EBM: mean f(x_tilde) - mean f(x)); one backward gives each its own gradient."""
        if mask is not None:
            raise ValueError("CoopFlow trains on complete data only")
        if self.flow_data_init and self.flow is not None and self.training and has_lazy_init(self.flow):
            # data-dependent initialisation (ActNorm) on data, not on x_tilde; in float32 (under
            # --amp's autocast nflows would store bf16 statistics as the parameters)
            with torch.no_grad(), torch.autocast(x.device.type, enabled=False):
                self.flow.log_prob(x.float(), dequantize=True)
        phase = self.phase
        if phase == "flow":  # MLE of the flow on the observed (dequantised) data
            loss = self.flow_nll(x)
            return loss, {"flow_loss": loss.detach()}
        scale = 0.0
        if self.noise:
            # Eq. (10) counts the epochs of cooperative training (after CoopFlow(Pre)'s pretraining).
            scale = noise_decay(self.epoch - self.pretrain_epochs, self.noise_decay_epochs) if self.noise_decay_epochs else 1.0
        x_tilde = self.langevin_flow(self.initial(x.shape[0]), noise_scale=scale)
        f_tilde, f_data = self.energy(x_tilde), self.energy(x)
        ebm_loss = f_tilde.mean() - f_data.mean()
        stats = {"ebm_loss": ebm_loss.detach()}
        if self.energy_l2:  # keeps f bounded where the Langevin flow cannot yet follow the data
            ebm_loss = ebm_loss + self.energy_l2 * (f_tilde.pow(2).mean() + f_data.pow(2).mean())
        if phase == "joint":  # the flow learns from the Langevin-revised samples
            # ... as images, dequantised like the data: the data clamp puts pixels of x_tilde exactly
            # on -1 / 1, point masses on which a continuous density grows without bound (measured on
            # MNIST: the flow's loss fell from 2600 to -550 nats within two joint epochs and its
            # samples turned grey). 2-D flows ignore ``dequantize``.
            flow_loss = self.flow_nll(x_tilde)
            stats["flow_loss"] = flow_loss.detach()
            if self.flow_data_weight:
                flow_loss = (1 - self.flow_data_weight) * flow_loss + self.flow_data_weight * self.flow_data_loss(x, stats)
            return ebm_loss + flow_loss, stats
        return ebm_loss, stats

    def watch(self, stats: dict) -> dict:
        """What a run should plot beside the losses (the trainer calls this on each step's stats and
        on each epoch's means): the contrast f(x) - f(x_tilde) that the EBM ascends (Eq. 2). A runaway
        contrast is the first sign of a Langevin flow that no longer follows the EBM; the trainer
        must not add it to the loss, so it is not a training statistic."""
        return {"contrast": -stats["ebm_loss"]} if "ebm_loss" in stats else {}

    def flow_data_loss(self, x: torch.Tensor, stats: dict) -> torch.Tensor:
        """-mean log q_alpha(x) on the observed batch, the anchor that ``flow_data_weight`` mixes into
        the joint phase (not in Algorithm 1). Why: when x_tilde barely differs from x_hat, the flow
        trains on its own samples; at CPU scale on MNIST they are far less likely than data under
        the flow itself (10 800 vs 2 400 nats; two fifths of their pixels background, against four fifths of
        MNIST's), and in 200 joint iterations the flow's NLL of the data doubled (docs/log.md)."""
        loss = self.flow_nll(x)
        stats["flow_data_loss"] = loss.detach()
        return loss

    def flow_nll(self, x: torch.Tensor) -> torch.Tensor:
        """-mean log q_alpha(x) of dequantised x, in float32 even under ``--amp``: the flow's
        log-likelihood sums one log-determinant per pixel, which bfloat16's 8-bit mantissa would
        round by whole nats; only the EBM runs in bfloat16."""
        with torch.autocast(x.device.type, enabled=False):
            return -self.flow.log_prob(x.float(), dequantize=True).mean()

    def lr_factor(self, iteration: int) -> float:
        """The authors' linear warm-up: iteration / ``lr_warmup_iters``, capped at 1 (the first update at 0)."""
        return min(1.0, iteration / self.lr_warmup_iters) if self.lr_warmup_iters else 1.0

    def clip_gradients(self) -> None:
        """Each network's gradient norm clipped on its own (the authors' code: the flow at 1, the EBM
        never), so a large EBM gradient never shrinks the flow's step."""
        for name, module in (("flow", self.flow), ("ebm", self.energy)):
            if module is not None and self.grad_clips[name]:
                torch.nn.utils.clip_grad_norm_([p for p in module.parameters() if p.grad is not None], self.grad_clips[name])

    def parameter_groups(self, lr: float | None = None) -> list[dict]:
        """Adam groups with each flow's own learning rate and betas (A.2: flow 1e-4, (0.9, 0.999);
        EBM 1e-4, (0.5, 0.5)); the trainer's single ``lr`` does not apply."""
        groups = []
        for name, module in (("flow", self.flow), ("ebm", self.energy)):
            if module is not None:
                group_lr, betas = self.optim[name]
                groups.append({"params": list(module.parameters()), "lr": group_lr, "betas": betas, "name": name})
        return groups
