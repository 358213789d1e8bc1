"""Amortised inference: an encoder gives a diagonal Gaussian, followed by inverse autoregressive
flow steps (VAE-IAF, Kingma et al. 2016); the LFBM-VAE baseline of the latent-flow paper.

q_phi(z | x): eps = mu(x) + sigma(x) * n, n ~ N(0, I);  z = IAF(eps; h(x))
log q(z | x) = log N(eps; mu, sigma^2) - log|det dz / deps|

Training maximises the ELBO E_q[log p_beta(x|z) + log p_alpha(z) - log q(z|x)] (needs a
normalised prior). An encoder cannot read a partial image, so with a mask this method infers by
Langevin on the learned prior and generator, as the paper does for LFBM-VAE inpainting
(Section 4.3); ``last_method`` says which was used.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..flows import iaf_steps
from .base import Inference
from .langevin import LangevinInference

__all__ = ["VAEInference"]


class VAEInference(Inference):
    """>>> from genflows.priors import GaussianPrior
    >>> from genflows.generators import ConvGenerator
    >>> q = VAEInference(nz=4, image_shape=(1, 8, 8), hidden=32, iaf_depth=1)
    >>> z, log_q = q.sample_with_log_q(torch.zeros(3, 1, 8, 8))
    >>> z.shape, log_q.shape
    (torch.Size([3, 4]), torch.Size([3]))
    """

    amortized = True

    def __init__(self, nz: int, image_shape: tuple[int, int, int], hidden: int = 512, iaf_depth: int = 2, iaf_hidden: int = 64,
                 langevin: LangevinInference | None = None):
        super().__init__()
        d = int(torch.tensor(image_shape).prod())
        self.nz = nz
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(d, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, hidden), nn.LeakyReLU(0.2))
        self.head = nn.Linear(hidden, 2 * nz)
        self.iaf = iaf_steps(nz, iaf_depth, iaf_hidden, context=hidden) if iaf_depth > 0 else None
        # Used for masked inputs, where the encoder cannot be applied.
        self.langevin = langevin or LangevinInference()
        self.last_method = "encoder"

    def _gaussian(self, x: torch.Tensor):
        h = self.encoder(x)
        mu, log_sigma = self.head(h).chunk(2, dim=1)
        return h, mu, log_sigma.clamp(-8, 4)

    def sample_with_log_q(self, x: torch.Tensor, noise: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """A reparameterised z ~ q(z | x) (the mean path when ``noise`` is False) and log q(z | x)."""
        h, mu, log_sigma = self._gaussian(x)
        n = torch.randn_like(mu) if noise else torch.zeros_like(mu)
        eps = mu + log_sigma.exp() * n
        log_q = -0.5 * (n * n).sum(1) - log_sigma.sum(1) - 0.5 * self.nz * math.log(2 * math.pi)
        if self.iaf is None:
            return eps, log_q
        z, logdet = self.iaf(eps, context=h)
        return z, log_q - logdet

    def forward(self, prior, generator, x, mask=None, z0=None, n_steps=None, step_size=None, noise=None, record=()):
        if mask is not None:
            self.last_method = "langevin (encoder cannot read a masked image)"
            return self.langevin(prior, generator, x, mask, z0=z0, n_steps=n_steps, step_size=step_size, noise=noise, record=record)
        self.last_method = "encoder"
        with torch.no_grad():
            z, _ = self.sample_with_log_q(x, noise=bool(noise))
        return (z, {k: z for k in record}) if record else z
