"""The one interface the trainer and every task use, whatever the model family.

A model is trained through :meth:`~GenerativeModel.training_loss` and
:meth:`~GenerativeModel.parameter_groups` under the learning rates of
:meth:`~GenerativeModel.schedule`, reports its chains through
:meth:`~GenerativeModel.chain_summary`, and is evaluated through
:meth:`~GenerativeModel.sample`, :meth:`~GenerativeModel.anomaly_scores`,
:meth:`~GenerativeModel.reconstruct_batched`, :meth:`~GenerativeModel.encode_batched` and
:meth:`~GenerativeModel.decode_batched`. The latent family (:class:`~genflows.model.LatentModel`)
and the CoopFlow family (:class:`~genflows.coopflow.CoopFlow`) implement it; neither the trainer
nor a task asks which one it holds. The evaluation methods are optional: the tasks a model runs
are those whose needs (a task module's ``NEEDS``) are among its :meth:`~GenerativeModel.capabilities`,
the optional methods its class overrides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from ._runtime import distributed as dist
from .errors import GenflowsError

__all__ = ["GenerativeModel", "Schedule", "OPTIONAL"]

# The methods a model may leave out; a task needs some of them (its NEEDS).
OPTIONAL = ("sample", "anomaly_scores", "reconstruct_batched", "encode_batched", "decode_batched", "log_densities", "log_likelihood")


@dataclass(frozen=True)
class Schedule:
    """What an epoch changes in the optimiser: the base learning rate of named parameter groups
    (others keep theirs) and the groups whose Adam state starts afresh."""

    lrs: dict[str, float] = field(default_factory=dict)
    restart: tuple[str, ...] = ()


class GenerativeModel(nn.Module):
    """Base class of every trainable model; the defaults are those of a model without phases,
    chain diagnostics or extra samplers."""

    # Some epochs leave parameters out of the loss (DDP must then look for unused parameters).
    phased: bool = False
    # Frames per interpolation line, ends included, where eval.interp_points is not set.
    interp_points: int = 10
    # training_loss(x, mask) learns from the visible pixels alone (unsupervised recovery).
    masked_training: bool = False
    # An exact inverse makes reconstruction the identity: such a model does inpainting, never reconstruction.
    invertible: bool = False
    # The model also learns vectors (2-D toy densities), not only images.
    vector_data: bool = False
    # anomaly_scores runs a chain of anomaly.score_steps steps (its AUPRC is reported per step count).
    anomaly_chain: bool = False
    # The family's variant where it has several (CoopFlow: coopflow | flow | ebm-sr).
    mode: str | None = None
    # Whose density log_likelihood is (CoopFlow: its flow's alone).
    likelihood_of: str = "the model"
    # What a user can change when training diverges (the settings are the family's).
    divergence_hint: str = "lower the learning rate"
    @classmethod
    def capabilities(cls, mode: str | None = None) -> frozenset[str]:
        """The optional methods (:data:`OPTIONAL`) this class implements, plus
        ``masked_training``, ``vector_data`` and, unless it is ``invertible``, ``lossy_reconstruction``; ``mode``: a family's variant (CoopFlow's ``coop.mode``), which may
        leave some out."""
        can = {m for m in OPTIONAL if getattr(cls, m) is not getattr(GenerativeModel, m)}
        flags = ({"masked_training"} if cls.masked_training else set()) | ({"vector_data"} if cls.vector_data else set())
        return frozenset(can | flags | (set() if cls.invertible else {"lossy_reconstruction"}))

    @classmethod
    def anomaly_kinds(cls, mode: str | None = None) -> tuple[str, ...]:
        """Names of the scores :meth:`anomaly_scores` computes (``kind``), the default headline first."""
        return ()

    def training_loss(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
        """(loss to minimise, detached statistics) for one batch; ``mask``: visible pixels = 1."""
        raise NotImplementedError

    def parameter_groups(self, lr: float | None = None) -> list[dict]:
        """Adam parameter groups, each with a ``name``; ``lr`` is the run's ``train.lr`` where the
        family has one."""
        raise NotImplementedError

    def make_optimizer(self, groups: list[dict], **defaults) -> torch.optim.Optimizer:
        """The optimiser over :meth:`parameter_groups` (``defaults``: the run's Adam settings);
        Adam unless the family's authors used another."""
        return torch.optim.Adam(groups, foreach=True, **defaults)

    def after_step(self) -> None:
        """Called after every optimiser update (an EMA of the weights)."""

    def schedule(self, epoch: int) -> Schedule:
        """Called at the start of every (0-based) epoch; a function of ``epoch`` alone, so a
        resumed run gets what an uninterrupted one would."""
        return Schedule()

    def lr_factor(self, iteration: int) -> float:
        """Multiplies every learning rate for the update after ``iteration`` updates (a warm-up)."""
        return 1.0

    def clip_gradients(self) -> None:
        """Called between the backward pass and the update: the model's own gradient clipping."""

    def watch(self, stats: dict) -> dict:
        """Quantities worth a curve that are not loss terms, from a step's or an epoch's stats."""
        return {}

    def collapse_reference(self, data: torch.Tensor) -> tuple[float, float] | None:
        """(loss of a model that ignores its latent variable, loss of a perfect fit) on ``data``,
        for posterior-collapse detection; None where it does not apply."""
        return None

    def chain_summary(self, chains: list) -> dict[str, torch.Tensor]:
        """What one training step's chains (:class:`~genflows.langevin.ChainStats`, in order) say
        worth an epoch mean, as detached device tensors (the trainer syncs once per epoch): the
        latent family's posterior displacement; an ODE sampler would report its evaluations."""
        return {}

    def anomaly_scores(
        self, x: torch.Tensor, n_steps: int, step_size: float, batch_size: int = 500, seed: int = 0,
        record: tuple[int, ...] = (), progress: bool = False, kind: str | None = None, store: str | Path | None = None,
    ) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """One score per image of ``x``, higher = more anomalous (a CPU float tensor), computed in
        eval mode so that no image's score depends on its batch, in batches of ``batch_size``,
        seeded by ``seed`` and sharded under torchrun; plus, where the score comes from a chain of
        ``n_steps`` steps of ``step_size`` (scores without a chain ignore both), the same score
        after each step count in ``record``. ``kind``: one of :meth:`anomaly_kinds` (None: the first).
        ``store``: a file where a chain's finished batches are kept, so that an interrupted call
        resumes with the same scores (scores without a chain are quick and ignore it)."""
        raise NotImplementedError

    def anomaly_kind(self, kind: str | None) -> str:
        """``kind`` checked against :meth:`anomaly_kinds` (None: the headline), for implementations
        of :meth:`anomaly_scores`."""
        kinds = self.anomaly_kinds(self.mode)
        if kind is None:
            return kinds[0]
        if kind not in kinds:
            raise GenflowsError(f"{type(self).__name__} has no anomaly score '{kind}' (it has: {', '.join(kinds)})")
        return kind

    @torch.no_grad()
    def score_rows(self, x: torch.Tensor, fn: Callable[[torch.Tensor], torch.Tensor], batch_size: int) -> torch.Tensor:
        """``fn`` (one number per image) over this rank's share of ``x``, in batches, in eval mode
        and float32, gathered in order on CPU: the loop of every score that runs no chain."""
        was_training = self.training
        self.eval()
        a, b = dist.shard_bounds(x.shape[0])
        mine, device = x[a:b], next(self.parameters()).device
        try:
            with torch.autocast(device.type, enabled=False):
                parts = [fn(mine[i : i + batch_size].to(device).float()).float().cpu() for i in range(0, len(mine), batch_size)]
        finally:
            self.train(was_training)
        return dist.gather_rows(parts, x.shape[0])

    def log_densities(self) -> dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], bool]]:
        """The model's log-densities on data space by name, each (function of x, normalised?):
        CoopFlow's log q_alpha(x) (normalised) and f_theta(x) (up to log Z)."""
        raise NotImplementedError

    def log_likelihood(self, x: torch.Tensor) -> torch.Tensor:
        """The exact log-density in nats of each example of ``x`` (call in eval mode, seeded): for
        8-bit images in [-1, 1], of their pixel values dequantised by one uniform draw, u8 + U[0, 1)
        on [0, 256)^D (so bits/dim = -value / (D ln 2), the convention of the flow papers); for
        vectors, of the vectors. Only a model with a normalised density implements it."""
        raise NotImplementedError

    def sample_stats(self) -> dict:
        """How the last :meth:`sample` call drew its samples, worth recording beside them (an
        ODE sampler: its solver and number of function evaluations)."""
        return {}

    def sampling_steps(self) -> int:
        """Langevin steps in one draw of :meth:`sample` (0: none)."""
        return 0

    def chain_dtype(self, device: torch.device | str) -> str:
        """The dtype of the networks inside this model's Langevin chains on ``device``."""
        return "float32"

    def sample(self, n: int) -> torch.Tensor:
        """n samples of the model (call in eval mode)."""
        raise NotImplementedError

    def component_samplers(self) -> dict[str, Callable[[int], torch.Tensor]]:
        """Samplers of parts of the model worth scoring on their own, by name (CoopFlow: its flow)."""
        return {}

    def reconstruct_batched(self, x: torch.Tensor, mask: torch.Tensor | None, e, seed: int, progress: bool = False) -> tuple[torch.Tensor, list, str]:
        """(reconstructions, error curve along the inference, how they were obtained) for every
        image of ``x`` under the evaluation settings ``e`` (:class:`~genflows.config.EvalConfig`);
        with a mask, from the visible pixels only. Seeded by ``seed``; sharded under torchrun."""
        raise NotImplementedError

    def encode_batched(self, x: torch.Tensor, e, seed: int, progress: bool = False) -> tuple[torch.Tensor, str]:
        """(latent codes, how) of every image, in a space where straight lines interpolate."""
        raise NotImplementedError

    def decode_batched(self, codes: torch.Tensor, e) -> torch.Tensor:
        """Images of latent codes from :meth:`encode_batched`, in eval mode, in batches of
        ``e.batch_size`` under the evaluation settings ``e``."""
        raise NotImplementedError
