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

>>> from genflows.dataflow import VectorFlow
>>> from genflows.energies import MLPEnergy
>>> m = CoopFlow(VectorFlow(2, depth=2, hidden=16), MLPEnergy(2, 32), n_steps=5, step_size=0.1)
>>> loss, stats = m.training_loss(torch.randn(8, 2))
>>> sorted(stats)
['ebm_loss', 'flow_loss']
"""

from __future__ import annotations

import torch
from torch import nn

from .langevin import frozen, langevin

__all__ = ["CoopFlow", "MODES", "noise_decay"]

MODES = ("coopflow", "flow", "ebm-sr")


def noise_decay(epoch: int, k: int) -> float:
    """Eq. (10): max((1 - epoch / K)^20, 0); the Langevin noise multiplier in training."""
    return max((1.0 - epoch / k) ** 20, 0.0) if epoch < k else 0.0


def _visible_sq_error(x: torch.Tensor, out: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """||M (x - F_theta(x_hat))||^2 per image: the reconstruction loss of Section 5.3 / Figure 5,
    which both the choice of start and the descent on x_hat minimise."""
    return ((x - out) * m).pow(2).flatten(1).sum(1)


class CoopFlow(nn.Module):
    phased = True  # some epochs train only one of the two flows (DDP must expect unused parameters)

    def __init__(
        self,
        flow: nn.Module | None,
        energy: nn.Module | None,
        mode: str = "coopflow",
        n_steps: int = 30,
        step_size: float = 0.03,
        test_step_ratio: float = 4 / 3,
        noise: bool = False,
        noise_decay_epochs: int = 0,
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
    ):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"unknown CoopFlow mode '{mode}' (choose from: {', '.join(MODES)})")
        if mode != "ebm-sr" and flow is None or mode != "flow" and energy is None:
            raise ValueError(f"mode '{mode}' needs {'a flow' if flow is None else 'an energy'}")
        self.flow, self.energy, self.mode = flow, energy, mode
        self.n_steps, self.step_size, self.test_step_ratio = n_steps, step_size, test_step_ratio
        self.noise, self.noise_decay_epochs = noise, noise_decay_epochs
        self.clamp_update, self.clamp_data = clamp_update, clamp_data
        self.energy_l2 = energy_l2
        self.flow_data_weight = flow_data_weight
        self.pretrain_epochs, self.warmup_epochs = pretrain_epochs, warmup_epochs
        self.data_shape = tuple(data_shape) if data_shape is not None else None
        self.optim = {"flow": (flow_lr, tuple(flow_betas)), "ebm": (ebm_lr, tuple(ebm_betas))}
        self.joint_flow_lr = flow_lr if joint_flow_lr is None else joint_flow_lr
        self.joint_ebm_lr = ebm_lr if joint_ebm_lr is None else joint_ebm_lr
        self.epoch = 0
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)

    # ------------------------------------------------------------------ the two flows
    def set_epoch(self, epoch: int) -> None:
        """Called by the trainer at the start of each epoch (0-based): phases and noise decay."""
        self.epoch = epoch

    @property
    def phase(self) -> str:
        """'flow' (CoopFlow(Pre) flow pretraining), 'warmup' (EBM alone) or 'joint'."""
        if self.mode != "coopflow":
            return self.mode
        if self.epoch < self.pretrain_epochs:
            return "flow"
        if self.epoch < self.pretrain_epochs + self.warmup_epochs:
            return "warmup"
        return "joint"

    def initial(self, n: int) -> torch.Tensor:
        """Langevin starting points: flow samples x_hat = g_alpha(z), or N(0, I) noise (ebm-sr)."""
        if self.mode == "ebm-sr":
            x = torch.randn(n, *self.data_shape, device=self._anchor.device)
            return x.clamp_(-self.clamp_data, self.clamp_data) if self.clamp_data else x
        with torch.no_grad():
            return self.flow.sample(n)

    def langevin_flow(self, x0: torch.Tensor, n_steps: int | None = None, step_size: float | None = None, noise_scale: float = 0.0) -> torch.Tensor:
        """Eq. (3) toward f_theta: x <- x + (delta^2/2) grad f(x) + noise_scale * delta * eps, with the
        reference code's per-step update clamp and data-range clamp."""
        with frozen(self.energy):
            return langevin(
                lambda x: -self.energy(x),
                x0,
                self.n_steps if n_steps is None else n_steps,
                self.step_size if step_size is None else step_size,
                noise=noise_scale > 0,
                noise_scale=noise_scale,
                clamp_update=self.clamp_update,
                clamp_state=self.clamp_data,
                what="Langevin-flow x",
            )

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        """Test-time samples of the two-flow generator: flow init, Langevin flow with the step
        size x ``test_step_ratio`` and no noise (A.2-A.3). The flow alone for mode 'flow'."""
        if self.mode == "flow":
            return self.flow.sample(n)
        return self.langevin_flow(self.initial(n), step_size=self.step_size * self.test_step_ratio)

    @torch.no_grad()
    def sample_flow(self, n: int) -> torch.Tensor:
        """x_hat = g_alpha(z) only (Figure 10 vs Figure 8)."""
        return self.flow.sample(n)

    # ------------------------------------------------------------------ CoopFlow as a latent-variable model
    def flow_map(self, xhat: torch.Tensor) -> torch.Tensor:
        """F_theta(x_hat) with the noise e = 0 (Section 5.3), differentiable in x_hat: the T
        training-size steps of Eq. (3) with their clamps, as a T-layer residual network."""
        half = 0.5 * self.step_size**2
        x = xhat
        with frozen(self.energy), torch.enable_grad():
            for _ in range(self.n_steps):
                (g,) = torch.autograd.grad(self.energy(x).sum(), x, create_graph=True)
                d = half * g
                if self.clamp_update is not None:
                    d = d.clamp(-self.clamp_update, self.clamp_update)
                x = x + d
                if self.clamp_data is not None:
                    x = x.clamp(-self.clamp_data, self.clamp_data)
        return x

    def invert(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        n_iters: int = 200,
        lr: float = 0.01,
        curve_every: int = 10,
        n_starts: int = 1,
    ) -> tuple[torch.Tensor, list[float]]:
        """x_hat* = argmin ||M (x - F_theta(x_hat))||^2 by ``n_iters`` Adam steps from a flow sample
        (ebm-sr: N(0, I) noise), Section 5.3 / A.8 and, with a mask, Figure 5. Returns x_hat* and
        the mean per-pixel MSE over the visible pixels every ``curve_every`` iterations (Fig. 13).

        ``n_starts`` > 1 draws that many starting points per image and keeps the one whose
        F_theta(x_hat_0) is closest to the visible pixels (:meth:`best_start`); the paper uses one.

        Each step is projected back onto the data range [-clamp_data, clamp_data]: F_theta clamps its
        state there after every Langevin step, so a pixel of x_hat that Adam's momentum carries out
        of the box gets zero gradient from then on and is lost for good (measured on MNIST: the MSE
        froze at 0.259 after 40 steps at lr 0.1, 0.245 at lr 0.03; bench/README.md)."""
        if self.mode == "flow":
            raise ValueError("the flow alone is invertible: reconstruct with flow.encode/decode, not by x_hat optimisation")
        m = torch.ones_like(x) if mask is None else mask.expand_as(x).to(x.dtype)
        n_vis = m.flatten(1).sum(1).clamp_min(1)
        xhat = self.best_start(x, m, n_starts).requires_grad_(True)
        opt = torch.optim.Adam([xhat], lr=lr)
        curve = []
        for i in range(n_iters):
            err = _visible_sq_error(x, self.flow_map(xhat), m)
            opt.zero_grad(set_to_none=True)
            err.sum().backward()
            opt.step()
            if self.clamp_data is not None:
                with torch.no_grad():
                    xhat.clamp_(-self.clamp_data, self.clamp_data)
            if i % curve_every == 0 or i == n_iters - 1:
                curve.append((i, (err.detach() / n_vis).mean()))
        return xhat.detach(), [(i, float(v)) for i, v in curve]  # host syncs once, after the loop

    def best_start(self, x: torch.Tensor, m: torch.Tensor, n_starts: int = 1) -> torch.Tensor:
        """A starting x_hat_0 per image: the best of ``n_starts`` draws of :meth:`initial` by the
        visible-pixel error of F_theta(x_hat_0). Gradient descent on x_hat only moves within the
        basin F_theta maps its start into (on MNIST, 3 of 20 flow starts ended on another digit,
        MSE ~0.67 against a median of 0.008), and one forward pass of F_theta per candidate is
        cheap next to the 200 double-backward steps that follow."""
        b = x.shape[0]
        if n_starts < 1:
            raise ValueError(f"n_starts must be >= 1, got {n_starts}")
        if n_starts == 1:
            return self.initial(b).detach()
        cand = self.initial(b * n_starts).detach().view(b, n_starts, *x.shape[1:])
        err = torch.empty(b, n_starts, device=x.device, dtype=x.dtype)
        for k in range(n_starts):  # one batch of b per candidate index keeps memory as in invert
            err[:, k] = _visible_sq_error(x, self.langevin_flow(cand[:, k]), m)
        return cand[torch.arange(b, device=x.device), err.argmin(1)].clone()

    @torch.no_grad()
    def decode(self, xhat: torch.Tensor) -> torch.Tensor:
        """F_theta(x_hat): the Langevin flow at its training step size with e = 0."""
        return self.langevin_flow(xhat) if self.mode != "flow" else xhat

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
        phase = self.phase
        if phase == "flow":  # MLE of the flow on the observed (dequantised) data
            loss = -self.flow.log_prob(x, dequantize=True).mean()
            return loss, {"flow_loss": loss.detach()}
        scale = 0.0
        if self.noise:
            scale = noise_decay(self.epoch, self.noise_decay_epochs) if self.noise_decay_epochs else 1.0
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
            flow_loss = -self.flow.log_prob(x_tilde, dequantize=True).mean()
            stats["flow_loss"] = flow_loss.detach()
            if self.flow_data_weight:
                flow_loss = (1 - self.flow_data_weight) * flow_loss + self.flow_data_weight * self.flow_data_loss(x, stats)
            return ebm_loss + flow_loss, stats
        return ebm_loss, stats

    @staticmethod
    def watch(stats: dict) -> dict:
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
        MNIST's), and in 200 joint iterations the flow's NLL of the data doubled (bench/README.md)."""
        loss = -self.flow.log_prob(x, dequantize=True).mean()
        stats["flow_data_loss"] = loss.detach()
        return loss

    def phase_lrs(self) -> dict[str, float]:
        """Base learning rate of each parameter group in the current phase; the trainer applies it
        at the start of every epoch (times its decay), so a resumed run gets the same value.

        ``joint_flow_lr`` exists because a flow pretrained by MLE meets Langevin-revised samples
        far from the data in the joint phase; at the pretraining lr (1e-4) our small MNIST flow
        lost its pretraining within one joint epoch (bench/README.md, CoopFlow attempts 6-8).
        ``joint_ebm_lr`` slows the EBM once the flow follows it: with the flow frozen the contrast
        f(x) - f(x_tilde) stays bounded, in the joint phase it ran away (attempt 8)."""
        lrs = {name: lr for name, (lr, _) in self.optim.items()}
        if self.phase == "joint":
            lrs["flow"] = self.joint_flow_lr
            if "ebm" in lrs:
                lrs["ebm"] = self.joint_ebm_lr
        return lrs

    def restarted_groups(self) -> tuple[str, ...]:
        """Parameter groups whose optimiser state starts afresh at this epoch: the flow's, when
        CoopFlow(Pre) turns from MLE pretraining to Algorithm 1. The paper pretrains its flow as a
        separate run; Adam moments carried over from the MLE gradients would scale the first
        cooperative updates by the ratio of the new gradients to the old ones."""
        if self.mode == "coopflow" and self.pretrain_epochs > 0 and self.epoch == self.pretrain_epochs + self.warmup_epochs:
            return ("flow",)
        return ()

    def parameter_groups(self, lr: float | None = None, prior_lr: float | None = None) -> list[dict]:
        """Adam groups with each flow's own learning rate and betas (A.2: flow 1e-4, (0.9, 0.999);
        EBM 1e-4, (0.5, 0.5)); the trainer's single ``lr`` does not apply."""
        groups = []
        for name, module in (("flow", self.flow), ("ebm", self.energy)):
            if module is not None:
                group_lr, betas = self.optim[name]
                groups.append({"params": list(module.parameters()), "lr": group_lr, "betas": betas, "name": name})
        return groups
