"""The latent-variable model p_theta(x, z) = p_alpha(z) p_beta(x | z) with a pluggable prior,
generator and inference method (latent-flow paper Section 3).

Example: compose your own model and train it with the same trainer and tasks::

    >>> from genflows import LatentModel, FlowPrior, LangevinInference, ConvGenerator
    >>> model = LatentModel(FlowPrior(nz=8, depth=2, hidden=32),
    ...                     ConvGenerator(8, (1, 8, 8), hidden=64, channels=16),
    ...                     LangevinInference(n_steps=10))
    >>> loss, stats = model.training_loss(torch.rand(16, 1, 8, 8) * 2 - 1)
    >>> loss.backward()
"""

from __future__ import annotations

import time

import torch
from tqdm.auto import tqdm

from ._runtime import distributed as dist
from .generators import Generator, mean_image_losses
from .inference.base import Inference
from .inference.batched import decode, describe_inference, infer_batched
from .interface import GenerativeModel
from .priors.base import Prior

__all__ = ["LatentModel"]


class LatentModel(GenerativeModel):
    """``prior_lr``: the prior's own Adam learning rate (None: the run's ``train.lr``; LEBM's
    reference code trains its EBM prior at 2e-5)."""

    divergence_hint = "lower train.lr or inference.step_size, or set inference.clamp_update"

    masked_training = True  # log p(x | z) over the visible pixels alone
    anomaly_chain = True  # z* from a Langevin chain

    @classmethod
    def from_config(cls, cfg, image_shape: tuple[int, ...]) -> "LatentModel":
        """The model of a :class:`~genflows.config.RunConfig`'s ``generator``, ``prior`` and
        ``inference`` sections, for images of ``image_shape``."""
        from .generators import build_generator
        from .inference import build_inference
        from .priors import build_prior

        generator = build_generator(cfg.generator, image_shape)
        return cls(build_prior(cfg.prior, generator.nz), generator, build_inference(cfg.inference, generator.nz, image_shape),
                   prior_lr=cfg.prior.lr)

    @classmethod
    def anomaly_kinds(cls, mode: str | None = None) -> tuple[str, ...]:
        return ("joint",)  # -log p(x, z*)

    def __init__(self, prior: Prior, generator: Generator, inference: Inference, prior_lr: float | None = None):
        super().__init__()
        if prior.nz != generator.nz:
            raise ValueError(f"prior has nz={prior.nz} but generator has nz={generator.nz}")
        self.prior = prior
        self.generator = generator
        self.inference = inference
        self.prior_lr = prior_lr

    @property
    def nz(self) -> int:
        return self.generator.nz

    def log_joint(self, x: torch.Tensor, z: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """log p_alpha(z) + log p_beta(x | z) per example; unnormalised if the prior is."""
        return self.prior.log_prob(z) + self.generator.log_likelihood(x, z, mask)

    def infer(self, x: torch.Tensor, mask: torch.Tensor | None = None, **kwargs) -> torch.Tensor:
        """Posterior samples z ~ p(z | x) (visible pixels only when ``mask`` is given)."""
        return self.inference(self.prior, self.generator, x, mask, **kwargs)

    def training_loss(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
        """Algorithm 1, lines 4-6, as one loss: infer z, then the prior's own learning loss
        (Eq. 6) plus the generator's -log p_beta(x | z) (Eq. 7).

        Prior and generator parameters are disjoint, so one backward of the sum gives each its
        own gradient; one Adam step over both equals the paper's two Adam steps.
        Returned stats are detached tensors (no host sync here).

        With amortised inference (VAE-IAF) the loss is the negative ELBO instead, which trains
        encoder, generator and prior together through the reparameterised sample.
        """
        if self.inference.amortized and mask is None:
            return self._elbo_loss(x)
        z = self.infer(x, mask)
        gen_loss = -self.generator.log_likelihood(x, z, mask).mean()
        prior_loss = self.prior.learning_loss(z)
        loss = gen_loss if prior_loss is None else gen_loss + prior_loss
        stats = {"gen_loss": gen_loss.detach()}
        if prior_loss is not None:
            stats["prior_loss"] = prior_loss.detach()
        return loss, stats

    def _elbo_loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
        if not self.prior.normalized:
            raise ValueError(f"the ELBO needs a normalised prior; {type(self.prior).__name__}.log_prob is unnormalised")
        z, log_q = self.inference.sample_with_log_q(x)
        log_px = self.generator.log_likelihood(x, z)
        log_pz = self.prior.log_prob(z)
        elbo = log_px + log_pz - log_q
        return -elbo.mean(), {"gen_loss": -log_px.mean().detach(), "kl": (log_q - log_pz).mean().detach()}

    def parameter_groups(self, lr: float | None = None) -> list[dict]:
        groups = []
        prior_params = [p for p in self.prior.parameters() if p.requires_grad]
        if prior_params:
            groups.append({"params": prior_params, "lr": self.prior_lr or lr, "name": "prior"})
        groups.append({"params": list(self.generator.parameters()), "lr": lr, "name": "generator"})
        inf_params = [p for p in self.inference.parameters() if p.requires_grad]
        if inf_params:
            groups.append({"params": inf_params, "lr": lr, "name": "inference"})
        return groups

    def chain_dtype(self, device: torch.device | str) -> str:
        """The generator's dtype inside this model's Langevin chains on ``device``."""
        inf = getattr(self.inference, "langevin", self.inference)  # VAE models run Langevin on masked data
        return "bfloat16" if inf.uses_bf16(device) else "float32"

    @torch.no_grad()
    def collapse_reference(self, data: torch.Tensor) -> tuple[float, float]:
        """(generator loss of the mean image, of a perfect fit) on ``data``: see
        :func:`~genflows.generators.mean_image_losses`."""
        return mean_image_losses(self.generator, data)

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        """Ancestral samples g_beta(z), z ~ p_alpha (call in eval mode for BatchNorm)."""
        return self.generator(self.prior.sample(n))

    def reconstruct(self, x: torch.Tensor, mask: torch.Tensor | None = None, **infer_kwargs) -> torch.Tensor:
        """g_beta(z*) for z* inferred from x (noise-free unless told otherwise)."""
        infer_kwargs.setdefault("noise", False)
        z = self.infer(x, mask, **infer_kwargs)
        with torch.no_grad():
            return self.generator(z)

    def chain_summary(self, chains: list) -> dict[str, torch.Tensor]:
        """The posterior chains' mean displacement ||z_K - z_0|| (a chain that barely moves is
        not mixing; one that collapses to the prior moves as far as the prior's samples)."""
        moved = [c.displacement for c in chains if c.what == "posterior z"]
        return {"posterior_displacement": sum(moved) / len(moved)} if moved else {}

    # ------------------------------------------------------------------ evaluation (GenerativeModel)
    def anomaly_scores(self, x, n_steps, step_size, batch_size=500, seed=0, record=(), progress=False, kind=None, store=None):
        """-log p(x, z*) = -log p_alpha(z*) + ||x - g_beta(z*)||^2 / (2 sigma^2) + const per image,
        z* from a noise-free Langevin run of ``n_steps`` started at N(0, I) (latent-flow paper
        Section 4.4). Every image's start is drawn from one seeded stream over all of ``x``, so
        scores depend neither on the batch size nor, under torchrun, on the number of ranks.
        ``store``: a file keeping finished batches (:class:`~genflows._runtime.batch_store.BatchStore`),
        so an interrupted call resumes with the same scores; left complete for the caller to remove
        once it has saved the scores."""
        self.anomaly_kind(kind)
        was_training = self.training
        self.eval()
        g = torch.Generator().manual_seed(seed)
        n = x.shape[0]
        z0_all = torch.randn(n, self.nz, generator=g)
        # Each rank scores a contiguous shard with the starts a single process would use, and the
        # shards are gathered in order.
        a, b = dist.shard_bounds(n)
        x, z0_all = x[a:b], z0_all[a:b]
        record = tuple(k for k in record if k < n_steps)
        finals, partial = [], {k: [] for k in record}
        device = next(self.parameters()).device
        kept = None
        show = progress and dist.is_main()
        try:
            if store is not None:
                kept = self._score_store(store, x, n_steps, step_size, batch_size, seed, record, (a, b), device)
            for j, i in enumerate(tqdm(range(0, x.shape[0], batch_size), desc="scoring", disable=not show, leave=False)):
                done = kept.get(j) if kept is not None else None
                if done is None:
                    t0 = time.perf_counter()
                    xb = x[i : i + batch_size].to(device)
                    z0 = z0_all[i : i + batch_size].to(device)
                    out = self.infer(xb, z0=z0, n_steps=n_steps, step_size=step_size, noise=False, record=record)
                    z, snaps = out if record else (out, {})
                    with torch.no_grad():
                        done = {"final": -self.log_joint(xb, z).cpu(), **{str(k): -self.log_joint(xb, snaps[k]).cpu() for k in record}}
                    if kept is not None:
                        kept.put(j, {**done, "seconds": torch.tensor(time.perf_counter() - t0)})
                finals.append(done["final"])
                for k in record:
                    partial[k].append(done[str(k)])
        finally:  # interrupted (Ctrl-C, an error) or not, every finished batch is kept
            if kept is not None:
                kept.flush()
            self.train(was_training)
        return dist.gather_rows(finals, n), {k: dist.gather_rows(v, n) for k, v in partial.items()}

    def _score_store(self, path, x, n_steps, step_size, batch_size, seed, record, shard, device):
        """The :class:`BatchStore` of one scoring call, fingerprinted by all its scores depend on:
        images, weights and buffers, chain settings, device and dtype, BatchNorm mode, the shard.
        Two CPUs running one dtype round alike to float32 precision, so a pass may resume on another."""
        from ._runtime.batch_store import BatchStore, digest

        batch_stats = any(m.training for m in self.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm))
        # the chain's own switches (clamps, written-out gradients); n_steps and step_size are the call's
        settings = {k: v for k, v in vars(self.inference).items()
                    if not k.startswith("_") and k != "training" and isinstance(v, (int, float, str, bool, type(None)))}
        return BatchStore(path, {"images": digest(x), "weights": digest(*self.state_dict().values()), "n_steps": n_steps,
                                 "step_size": step_size, "batch_size": batch_size, "seed": seed, "record": list(record),
                                 "shard": list(shard), "device": device.type, "chain_dtype": self.chain_dtype(device),
                                 "bn_batch_stats": batch_stats, "inference": settings},
                          machine=torch.cuda.get_device_name(device) if device.type == "cuda" else None)

    def reconstruct_batched(self, x, mask, e, seed: int, progress: bool = False):
        """g_beta(z*) with z* from :func:`~genflows.inference.batched.infer_batched`: ``e.steps``
        noise-free Langevin steps (or the encoder mean and ``e.refine_steps`` Langevin steps)."""
        z = infer_batched(self, x, mask, steps=e.steps, step_size=e.step_size, refine_steps=e.refine_steps, batch_size=e.batch_size, seed=seed)
        return decode(self, z, e.batch_size), [], describe_inference(self, mask is not None, e.steps, e.refine_steps)

    def encode_batched(self, x, e, seed: int, progress: bool = False):
        """z* of every image (latent-flow paper Figure 5 interpolates between them)."""
        z = infer_batched(self, x, steps=e.steps, step_size=e.step_size, refine_steps=e.refine_steps, batch_size=e.batch_size, seed=seed)
        return z, describe_inference(self, False, e.steps, e.refine_steps)

    def decode_batched(self, codes: torch.Tensor, e) -> torch.Tensor:
        return decode(self, codes, e.batch_size)
