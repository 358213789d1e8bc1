"""EBFlow: a normalizing flow read as an energy-based model (Chao et al., "Training Energy-Based
Normalizing Flow with Score-Matching Objectives", NeurIPS 2023).

A flow g = g_L o ... o g_1 of linear layers W_i v + b_i and elementwise smooth leaky ReLUs s has

    log p(v) = log N(g(v); 0, I) + sum_nonlinear log|det J_s| + sum_i log|det W_i|      (Eq. 9)
    E(v)     = -log N(g(v); 0, I) - sum_nonlinear log|det J_s|                         (Eq. 10)

so p(v) = exp(-E(v)) / Z with log Z = -sum_i log|det W_i|, the one part that does not depend on v.
Score matching needs only grad_v E, so no training objective but ``ml`` computes a determinant.
With MaP (``map``) v is the logit-space image w (Section 4.2): score matching runs after the
preprocessing; without it v is the dequantised pixels and the logit's log-determinant joins E.
Sampling is exact: u ~ N(0, I) through the inverse layers (Newton's method for s).

>>> m = EBFlow(dim=4, num_layers=2)
>>> v = torch.randn(5, 4)
>>> gap = m.energy(v) + m.log_prob_v(v)                  # log Z: the same for every v
>>> torch.allclose(gap, gap[0].expand(5)) and torch.allclose(gap[0], -m.log_det_linear())
True
"""

from __future__ import annotations

import copy
import math

import torch

from .._runtime import distributed as dist
from .._runtime.distributed import has_lazy_init
from .._runtime.rng import seeded
from ..errors import GenflowsError
from ..interface import GenerativeModel, Schedule
from ..langevin import frozen, langevin
from . import architectures
from . import objectives as obj
from .layers import Preprocess

__all__ = ["EBFlow"]


class EBFlow(GenerativeModel):
    invertible = True  # reconstruction would be exact: inpainting, not reconstruction
    vector_data = True
    divergence_hint = "lower ebflow.lr or set train.grad_clip"
    def __init__(self, dim: int, num_layers: int = 2, alpha: float = 0.3, neg_init: bool = True, loss: str = "ssm",
                 map: bool = True, logit_smoothness: float = 0.5, shift: float = 1e-6, lr: float = 1e-4, lr_gamma: float = 0.95,
                 lr_decay_epochs: int = 49, ema_decay: float | None = 0.999, slices: int = 1, dsm_std: float = 1.0,
                 fdssm_eps: float = 1.0, newton_iters: int = 100, data_shape: tuple[int, ...] | None = None, arch: str = "fc",
                 num_blocks: int = 3, kernel_size: int = 7, hidden: int = 64, optimizer: str = "rmsprop",
                 inpaint_steps: int = 500, inpaint_step_size: float = 0.1):
        super().__init__()
        self.data_shape = tuple(data_shape) if data_shape is not None else (dim,)
        # 8-bit images go through the dequantise / scale / logit preprocessing; vectors (2-D toys) are the data.
        self.images = len(self.data_shape) == 3
        if arch == "cnn":
            self.net = architectures.cnn(self.data_shape, num_layers, num_blocks, kernel_size, alpha, neg_init)
        elif arch == "coupling":
            self.net = architectures.coupling(dim, num_blocks, hidden)
        else:
            self.net = architectures.fc(dim, num_layers, alpha, neg_init)
        self.dim, self.alpha, self.loss, self.map = dim, alpha, loss, map
        self.pre = Preprocess(dim, logit_smoothness, shift)
        self.lr, self.lr_gamma, self.lr_decay_epochs = lr, lr_gamma, lr_decay_epochs
        self.slices, self.dsm_std, self.fdssm_eps, self.newton_iters = slices, dsm_std, fdssm_eps, newton_iters
        self.ema_decay, self.optimizer = ema_decay, optimizer
        self.inpaint_steps, self.inpaint_step_size = inpaint_steps, inpaint_step_size
        # The shadow is a frozen copy: in every checkpoint, restored on resume, never optimised.
        self.ema_net = copy.deepcopy(self.net).requires_grad_(False) if ema_decay is not None else None

    @classmethod
    def from_config(cls, cfg, shape: tuple[int, ...]) -> "EBFlow":
        """The model of a :class:`~genflows.config.RunConfig`'s ``ebflow`` section for data of ``shape``."""
        import dataclasses
        import inspect

        c = cfg.ebflow
        params = inspect.signature(cls).parameters
        return cls(dim=math.prod(shape), data_shape=shape, **{f.name: getattr(c, f.name) for f in dataclasses.fields(c) if f.name in params})

    @classmethod
    def anomaly_kinds(cls, mode: str | None = None) -> tuple[str, ...]:
        return ("energy",)

    # ------------------------------------------------------------------ the flow and its energy
    def _net(self) -> architectures.LinearLayerFlow:
        """The live flow in training, its EMA in eval mode (the authors evaluate and sample with the EMA)."""
        return self.net if self.training or self.ema_net is None else self.ema_net

    def _energy_w(self, w: torch.Tensor) -> torch.Tensor:
        u, logdet = self._net()(w)
        return 0.5 * (u * u).sum(1) + 0.5 * self.dim * math.log(2 * math.pi) - logdet  # Eq. (10)

    def energy(self, v: torch.Tensor) -> torch.Tensor:
        """E(v) per example, v in the space score matching runs in: logit space w with MaP, the
        dequantised pixels (in [0, 256)) without (the logit's log-determinant then joins E); the
        data themselves for vectors."""
        if self.map or not self.images:
            return self._energy_w(v)
        y = self.pre.unit(v)
        return self._energy_w(self.pre.logit(y)) - self.pre.logit_logdet(y)

    def _valid(self, v: torch.Tensor) -> torch.Tensor:
        """Which rows lie in the energy's domain: all in logit space (MaP, vectors); pixels whose
        unit-scaled values are inside (0, 1) otherwise (the logit of the rest is NaN)."""
        if self.map or not self.images:
            return torch.ones(len(v), dtype=torch.bool, device=v.device)
        y = self.pre.unit(v)
        return ((y > 0) & (y < 1)).all(1)

    def log_det_linear(self) -> torch.Tensor:
        """sum_i log|det W_i| = -log Z: the only O(D^3) term, computed by ``ml`` and for the NLL."""
        return self._net().log_det_linear()

    def log_prob_v(self, v: torch.Tensor) -> torch.Tensor:
        """log p(v), exact (Eq. 9)."""
        return -self.energy(v) + self.log_det_linear()

    def _pixels(self, x: torch.Tensor, dequantize: bool = True) -> torch.Tensor:
        """Images in [-1, 1] -> 8-bit pixel values, plus U[0, 1) (or the bin centre)."""
        p = ((x.flatten(1) + 1) * 127.5).round()
        return p + (torch.rand_like(p) if dequantize else 0.5)

    def _v(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.pre.logit(self.pre.unit(pixels)) if self.map else pixels

    def _data_v(self, x: torch.Tensor, dequantize: bool = True) -> torch.Tensor:
        """A batch of data in the space score matching runs in."""
        return self._v(self._pixels(x, dequantize)) if self.images else x.flatten(1)

    def pixel_energy(self, pixels: torch.Tensor) -> torch.Tensor:
        """E of continuous pixel values in [0, 256)^D (flat): -log p(pixels) - log|det W| minus the
        scalings' constant, every x-dependent preprocessing log-determinant included. No determinant."""
        e = self.energy(self._v(pixels))
        return e - self.pre.logit_logdet(self.pre.unit(pixels)) if self.map else e

    def log_prob_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        """log p of continuous pixel values in [0, 256)^D (flat), in nats."""
        return -self.pixel_energy(pixels) + self.log_det_linear() + self.pre.linear_logdet

    def log_prob(self, x: torch.Tensor, dequantize: bool = True) -> torch.Tensor:
        """log p(x) in nats per example: for 8-bit images in [-1, 1], the density of their pixels
        dequantised by one uniform draw (or at each bin's centre) on [0, 256)^D, the paper's
        convention; for vectors, the density itself."""
        if not self.images:
            return self.log_prob_v(x.flatten(1))
        return self.log_prob_pixels(self._pixels(x, dequantize))

    def log_likelihood(self, x: torch.Tensor) -> torch.Tensor:
        """The exact log-density (:meth:`log_prob`, one dequantisation draw for images)."""
        return self.log_prob(x, dequantize=True)

    # ------------------------------------------------------------------ learning
    def training_loss(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
        """The configured objective on a dequantised batch (the preprocessing has no parameters)."""
        with torch.no_grad():
            v = self._data_v(x)
            if self.training and has_lazy_init(self.net):
                self.net(v)  # ActNorm standardises the first batch; the EMA starts from there
                if self.ema_net is not None:
                    self.ema_net.load_state_dict(self.net.state_dict())
        if self.loss == "ml":
            loss = obj.ml(self.energy, v, self.log_det_linear())
        elif self.loss == "sml":
            with torch.no_grad():
                samples = self._sample_v(v.shape[0])
            loss = obj.sml(self.energy, v, samples)
        elif self.loss == "ssm":
            loss = obj.ssm(self.energy, v, self.slices)
        elif self.loss == "dsm":
            loss = obj.dsm(self.energy, v, self.dsm_std, self._valid)
        else:
            loss = obj.fdssm(self.energy, v, self.fdssm_eps, self._valid)
        return loss, {f"{self.loss}_loss": loss.detach()}

    def parameter_groups(self, lr: float | None = None) -> list[dict]:
        return [{"params": list(self.net.parameters()), "lr": self.lr, "name": "flow"}]

    def make_optimizer(self, groups: list[dict], **defaults) -> torch.optim.Optimizer:
        """RMSprop without momentum (the authors' image runs) or Adam (their toy runs)."""
        if self.optimizer == "adam":
            return torch.optim.Adam(groups, lr=self.lr)
        return torch.optim.RMSprop(groups, lr=self.lr)

    def schedule(self, epoch: int) -> Schedule:
        """lr x gamma^min(epoch, lr_decay_epochs): the authors' MultiStepLR(milestones 1..49, 0.95)."""
        return Schedule(lrs={"flow": self.lr * self.lr_gamma ** min(epoch, self.lr_decay_epochs)})

    @torch.no_grad()
    def after_step(self) -> None:
        """The EMA of the weights after every update."""
        if self.ema_decay is None:
            return
        torch._foreach_lerp_(list(self.ema_net.parameters()), [p.detach() for p in self.net.parameters()], 1 - self.ema_decay)

    # ------------------------------------------------------------------ sampling and scores
    def _sample_v(self, n: int) -> torch.Tensor:
        """Exact samples in the space score matching runs in: u ~ N(0, I) through the inverse layers."""
        net = self._net()
        w = net.inverse(torch.randn(n, self.dim, device=net.linears[0].weight.device), self.newton_iters)
        return w if self.map or not self.images else self.pre.inverse(w)

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        v = self._sample_v(n)
        if not self.images:
            return v.view(n, *self.data_shape)
        pixels = self.pre.inverse(v) if self.map else v
        return (pixels.floor().clamp(0, 255) / 127.5 - 1).view(n, *self.data_shape)

    def reconstruct_batched(self, x, mask, e, seed: int, progress: bool = False):
        """Inpainting as the authors do it, through genflows' one sampler: Langevin down E on the
        hidden pixels (in logit space with MaP), the visible ones held at their bins' centres, from
        N(0, I), ``inpaint_steps`` steps of ``inpaint_step_size``, the last without noise; in eval
        mode (the EMA), batches of ``e.batch_size``, seeded, sharded under torchrun."""
        if mask is None or not self.images:
            raise GenflowsError("EBFlow is invertible: it inpaints hidden pixels of images (task inpainting), it has nothing to reconstruct")
        was = self.training
        self.eval()
        a, b = dist.shard_bounds(x.shape[0])
        device = next(self.parameters()).device
        parts = []
        try:
            with frozen(self), seeded(seed, device):
                for i in range(a, b, e.batch_size):
                    xb, mb = x[i : min(i + e.batch_size, b)].to(device), mask[i : min(i + e.batch_size, b)].to(device).flatten(1)
                    visible = self._v(self._pixels(xb, dequantize=False))
                    energy = lambda w: self.energy(mb * visible + (1 - mb) * w)  # noqa: E731
                    w = torch.randn_like(visible)
                    if self.inpaint_steps > 1:
                        w = langevin(energy, w, self.inpaint_steps - 1, self.inpaint_step_size, what="inpainting pixels")
                    w = langevin(energy, w, 1, self.inpaint_step_size, noise=False, what="inpainting pixels")
                    w = mb * visible + (1 - mb) * w
                    pixels = self.pre.inverse(w) if self.map else w
                    parts.append((pixels.clamp(0, 256) / 127.5 - 1).clamp(-1, 1).view(-1, *self.data_shape).cpu())
        finally:
            self.train(was)
        how = f"Langevin on the hidden pixels: {self.inpaint_steps} steps of {self.inpaint_step_size} from N(0, I), the last without noise"
        return dist.gather_rows(parts, x.shape[0], tuple(self.data_shape)), [], how

    def log_densities(self) -> dict:
        """The flow's normalised density p (2-D data: the toy task draws it and scores its KL)."""
        return {"p": (self.log_prob_v if not self.images else self.log_likelihood, True)}

    @torch.no_grad()
    def anomaly_scores(self, x, n_steps=0, step_size=0.0, batch_size=500, seed=0, record=(), progress=False, kind=None,
                       store=None):
        """E(x) of the pixels at each 8-bit bin's centre, the preprocessing's x-dependent
        log-determinant included (:meth:`pixel_energy`): -log p(x) up to log Z, so it ranks as the
        NLL does; of the vectors themselves for 2-D data. No chain; eval mode (the EMA)."""
        self.anomaly_kind(kind)
        fn = (lambda b: self.pixel_energy(self._pixels(b, dequantize=False))) if self.images else (lambda b: self.energy(b.flatten(1)))
        return self.score_rows(x, fn, batch_size), {}
