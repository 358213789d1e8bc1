"""Short-run Langevin posterior inference, latent-flow paper Eq. (8).

z_{k+1} = z_k + xi grad_z log p(z_k | x) + sqrt(2 xi) eps_k,  z_0 ~ N(0, I),
grad_z log p(z | x) = grad_z log p_alpha(z) + grad_z log p_beta(x | z),

with xi = s^2 / 2 for the reference code's step size s. With a mask (visible = 1) the
likelihood runs over visible pixels only (Section 4.3).
"""

from __future__ import annotations

import torch

from ..hardware import bf16_helps
from ..langevin import WithGradient, cast_weights, frozen, langevin
from .base import Inference

__all__ = ["LangevinInference"]


class LangevinInference(Inference):
    """K-step Langevin flow from N(0, I) toward p(z | x); works with any prior.

    >>> from genflows.priors import GaussianPrior
    >>> from genflows.generators import ConvGenerator
    >>> g = ConvGenerator(4, (1, 8, 8), hidden=16, channels=8).eval()
    >>> z = LangevinInference(n_steps=5)(GaussianPrior(4), g, torch.zeros(3, 1, 8, 8))
    >>> z.shape
    torch.Size([3, 4])
    """

    def __init__(
        self,
        n_steps: int = 20,
        step_size: float = 0.1,
        noise: bool = True,
        clamp_update: float | None = None,
        clamp_state: float | None = None,
        autocast: bool | str = False,
        bn_stats_from_chain: bool = False,
        written_out: bool = True,
    ):
        super().__init__()
        # False: every chain term through autograd (see InferenceConfig.written_out).
        self.written_out = written_out
        # True: a train-mode generator's BatchNorm running statistics also average every chain
        # step's batch, as in the latent-flow reference code; False: only the learning step's (at z_K).
        self.bn_stats_from_chain = bn_stats_from_chain
        if autocast not in (True, False, "auto"):
            raise ValueError(f"autocast must be true, false or 'auto', got {autocast!r}")
        self.autocast = autocast
        self.n_steps = n_steps
        self.step_size = step_size
        self.noise = noise
        self.clamp_update = clamp_update
        self.clamp_state = clamp_state

    def energy(self, prior, generator, x: torch.Tensor, mask: torch.Tensor | None = None) -> WithGradient:
        """U(z) = -log p_alpha(z) - log p_beta(x | z, mask): the posterior's negative log-density
        up to a constant, per example. Build it with prior and generator frozen (as
        :meth:`forward` does). Its ``value_and_grad`` adds the two terms' own: each written out
        where the prior or generator provides it (:meth:`~genflows.priors.Prior.chain_log_prob`,
        :meth:`~genflows.generators.Generator.chain_log_likelihood`), else autograd on that
        term alone, so one term without a written-out gradient (LEBM's EBM prior) leaves the
        other's in place. Called, it is the modules' own computation (autograd end to end).

        Under bf16 (:meth:`uses_bf16`) the generator's forward/backward run in bfloat16; z, the
        prior, the residual and the update stay float32. :meth:`forward` also holds the generator's
        weights in bf16 for the chain (:func:`~genflows.langevin.cast_weights`).
        """
        device_type = x.device.type
        bf16 = self.uses_bf16(x.device)
        log_prior = prior.chain_log_prob(self.written_out)
        log_lik = generator.chain_log_likelihood(self.written_out)

        def U(z: torch.Tensor) -> torch.Tensor:
            with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16):
                ll = log_lik(x, z, mask)
            # float32 even inside --amp's autocast: bf16 would round the flow's log-determinants
            with torch.autocast(device_type, enabled=False):
                lp = log_prior(z)
            return -(lp + ll.float())

        def value_and_grad(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            # Under bf16 the generator term takes autograd through the module in bfloat16.
            with torch.autocast(device_type, dtype=torch.bfloat16, enabled=bf16):
                ll, g_ll = log_lik.value_and_grad(x, z, mask)
            with torch.autocast(device_type, enabled=False):
                lp, g_lp = log_prior.value_and_grad(z)
            return -(lp + ll.float()), -(g_lp + g_ll.float())

        return WithGradient(U, value_and_grad)

    def uses_bf16(self, device: torch.device | str) -> bool:
        """Whether chains on ``device`` run the generator in bfloat16: ``autocast=True`` always,
        ``"auto"`` only where bf16 is fast (CUDA, or a CPU with native bf16: 2.5x faster there,
        20x slower on a CPU without it)."""
        return self.autocast is True or (self.autocast == "auto" and bf16_helps(device))

    def forward(
        self,
        prior,
        generator,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        z0: torch.Tensor | None = None,
        n_steps: int | None = None,
        step_size: float | None = None,
        noise: bool | None = None,
        record=(),
    ):
        if z0 is None:
            z0 = torch.randn(x.shape[0], generator.nz, device=x.device)
        # The generator's matrix-product weights are cast to bf16 once per chain, not per step.
        bf16 = torch.bfloat16 if self.uses_bf16(x.device) else None
        with frozen(prior, generator, bn_updates=self.bn_stats_from_chain), cast_weights(generator, bf16):
            return langevin(
                self.energy(prior, generator, x, mask),
                z0,
                n_steps=self.n_steps if n_steps is None else n_steps,
                step_size=self.step_size if step_size is None else step_size,
                noise=self.noise if noise is None else noise,
                clamp_update=self.clamp_update,
                clamp_state=self.clamp_state,
                record=record,
                what="posterior z",
            )
