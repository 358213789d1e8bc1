"""Top-down generators g_beta(z) with a Gaussian observation model x = g(z) + eps, eps ~ N(0, sigma^2 I).

The masked log-likelihood (visible pixels only, mask = 1) is the one piece every task uses for
training on complete images, inpainting and learning from incomplete images.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .gaussian_likelihood import gaussian_terms
from .langevin import WithGradient, autograd_term
from .patch_conv import PatchConvTranspose2d
from .written_out.generator import written_out_log_likelihood

__all__ = ["Generator", "gaussian_terms", "mean_image_losses", "PatchConvTranspose2d", "ConvGenerator", "DCGANGenerator", "build_generator", "default_nz", "reference_init", "INITS", "ARCHS"]


class Generator(nn.Module):
    """Base class: a subclass sets ``self.net``, an ``nn.Sequential`` z -> image mean in [-1, 1]
    (or overrides :meth:`forward`).

    The chain contract (:meth:`chain_log_likelihood`): a generator whose forward is this class's
    ``net(z)`` and whose layers are all supported by
    :func:`~genflows.written_out.generator.written_out_log_likelihood` gets the written-out
    z-gradient without code; any other falls back to autograd on its own term. Either way the
    returned function, called, is :meth:`log_likelihood` itself.
    """

    def __init__(self, nz: int, image_shape: tuple[int, int, int], sigma: float):
        super().__init__()
        self.nz = nz
        self.image_shape = tuple(image_shape)
        self.sigma = float(sigma)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """log p_beta(x | z) over visible pixels, per example (B,).

        -||m * (x - g(z))||^2 / (2 sigma^2) - n_visible * log(sigma sqrt(2 pi))
        """
        return self.gaussian_log_likelihood(x, self(z), mask)

    def chain_log_likelihood(self, written_out: bool = True) -> WithGradient:
        """:meth:`log_likelihood` for a Langevin chain, during which the weights stay fixed (call
        it after freezing them), with ``value_and_grad(x, z, mask)`` giving the z-gradient:
        written out where the contract above holds and ``written_out`` is on
        (``inference.written_out``), else by autograd through this term alone.

        >>> g = ConvGenerator(4, (1, 8, 8), hidden=16, channels=8).requires_grad_(False)
        >>> x, z = torch.rand(3, 1, 8, 8), torch.randn(3, 4)
        >>> (v1, g1), (v2, g2) = g.chain_log_likelihood().value_and_grad(x, z), g.chain_log_likelihood(False).value_and_grad(x, z)
        >>> torch.allclose(v1, v2, atol=1e-4), torch.allclose(g1, g2, atol=1e-4)
        (True, True)
        """
        own = type(self).forward is Generator.forward and type(self).log_likelihood is Generator.log_likelihood
        fast = written_out_log_likelihood(self) if written_out and own else None
        return fast or autograd_term(self.log_likelihood, wrt=1)

    def gaussian_log_likelihood(self, x: torch.Tensor, mean: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """log N(x; mean, sigma^2 I) over visible pixels, per example (B,); ``mean`` broadcasts."""
        return gaussian_terms(x, mean, self.sigma, mask)[0]


def mean_image_losses(generator: Generator, data: torch.Tensor, chunk: int = 10000) -> tuple[float, float]:
    """(loss of the mean image, loss of a perfect fit): the generator loss -log p(x | g) averaged
    over ``data`` when g is the mean training image for every x, a model that ignores z, and when
    g = x. A generator loss that stays near the first after training has collapsed."""
    mean = data.mean(0, keepdim=True)
    total = sum(float(-generator.gaussian_log_likelihood(data[i : i + chunk], mean).sum()) for i in range(0, len(data), chunk))
    perfect = float(-generator.gaussian_log_likelihood(data[:1], data[:1])[0])
    return total / len(data), perfect


class ConvGenerator(Generator):
    """Linear -> Linear -> two stride-2 transposed convolutions -> tanh.

    MNIST (latent-flow reference code): Linear(nz, 1024)+BN+ReLU, Linear(1024, 128*7*7)+BN+ReLU,
    ConvT(128, 64, k2, s2)+BN+ReLU, ConvT(64, C, k2, s2), tanh. Other sizes scale the start
    grid to H/4 x W/4.

    >>> g = ConvGenerator(nz=20, image_shape=(1, 28, 28))
    >>> g(torch.randn(2, 20)).shape
    torch.Size([2, 1, 28, 28])
    """

    def __init__(self, nz: int, image_shape: tuple[int, int, int], sigma: float = 0.3, hidden: int = 1024, channels: int = 128):
        super().__init__(nz, image_shape, sigma)
        c, h, w = image_shape
        if h % 4 or w % 4:
            raise ValueError(f"ConvGenerator needs H and W divisible by 4, got {h}x{w}")
        self.start = (channels, h // 4, w // 4)
        self.net = nn.Sequential(
            nn.Linear(nz, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Linear(hidden, channels * (h // 4) * (w // 4)),
            nn.BatchNorm1d(channels * (h // 4) * (w // 4)),
            nn.ReLU(),
            nn.Unflatten(1, self.start),
            PatchConvTranspose2d(channels, channels // 2, 2, 2),
            nn.BatchNorm2d(channels // 2),
            nn.ReLU(),
            PatchConvTranspose2d(channels // 2, c, 2, 2),
            nn.Tanh(),
        )


class DCGANGenerator(Generator):
    """z (nz x 1 x 1) -> ConvT(4, s1) to 4x4 -> stride-2 ConvT(4, s2, p1) doublings -> tanh, with
    LeakyReLU(0.2) between layers: the 32x32 RGB generator of the latent-flow / LEBM reference
    code (4 -> 8 -> 16 -> 32, ngf 64); 64x64 images (CelebA) get one more doubling.

    >>> DCGANGenerator(nz=100, image_shape=(3, 32, 32))(torch.randn(2, 100)).shape
    torch.Size([2, 3, 32, 32])
    """

    def __init__(self, nz: int, image_shape: tuple[int, int, int], sigma: float = 0.3, ngf: int = 64):
        super().__init__(nz, image_shape, sigma)
        c, h, w = image_shape
        n_up = int(math.log2(h // 4)) if h == w and h >= 8 else 0
        if 4 * 2**n_up != h:
            raise ValueError(f"DCGANGenerator needs square images of side 4 * 2^k (8, 16, 32, 64...), got {h}x{w}")
        width = ngf * 8  # 32x32: 8 ngf at 4x4, 4 ngf at 8x8, 2 ngf at 16x16, as the reference code
        layers: list[nn.Module] = [nn.Unflatten(1, (nz, 1, 1)), nn.ConvTranspose2d(nz, width, 4, 1, 0), nn.LeakyReLU(0.2)]
        for _ in range(n_up - 1):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1), nn.LeakyReLU(0.2)]
            width //= 2
        layers += [nn.ConvTranspose2d(width, c, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)


def reference_init(generator: nn.Module) -> nn.Module:
    """The latent-flow reference code's generator initialisation: Xavier-normal weights (gain 1)
    for every (transposed) convolution, N(1, 0.02) BatchNorm scales and zero shifts; linear layers
    and convolution biases keep PyTorch's defaults.

    Why it matters: with PyTorch's defaults the MNIST generator's pre-tanh output had sd 1.4-1.7
    and 18-30 % of its pixels saturated (|a| > 2) before training, against 0.4-0.55 and <= 0.4 %
    with this initialisation.

    >>> g = reference_init(ConvGenerator(20, (1, 28, 28)))
    >>> round(float(g.net[8].weight.detach().mean()), 1), float(g.net[8].bias.detach().abs().max())
    (1.0, 0.0)
    """
    for m in generator.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_normal_(m.weight)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return generator


# generator.init: "reference" (the latent-flow code's) or "torch" (PyTorch's defaults, which the
# results recorded before the reference initialisation used).
INITS = {"reference": reference_init, "torch": lambda g: g}
# conv: MLP + ConvT (MNIST, the reference code); dcgan: ConvT 1 -> 4 -> ... -> 32 (RGB); auto: by channels.
ARCHS = ("auto", "conv", "dcgan")

# Per image-size presets of the MLP + ConvT generator (hidden, channels).
_PRESETS = {28: (1024, 128), 8: (256, 64)}


def default_nz(image_shape: tuple[int, int, int]) -> int:
    """Latent size when ``generator.nz`` is not set: 20 for grayscale (MNIST reference code),
    100 for RGB (SVHN / CIFAR-10 / CelebA reference code)."""
    return 20 if image_shape[0] == 1 else 100


def build_generator(cfg, image_shape: tuple[int, int, int]) -> Generator:
    """A generator from a :class:`~genflows.config.GeneratorConfig` for images of ``image_shape``
    (``arch: auto`` = the MLP + ConvT generator for grayscale, the DCGAN one for RGB)."""
    nz = cfg.nz or default_nz(image_shape)
    arch = cfg.arch if cfg.arch != "auto" else ("conv" if image_shape[0] == 1 else "dcgan")
    if arch == "dcgan":
        return INITS[cfg.init](DCGANGenerator(nz, image_shape, sigma=cfg.sigma, ngf=cfg.channels or 64))
    hidden, channels = _PRESETS.get(image_shape[1], (1024, 128))
    g = ConvGenerator(nz, image_shape, sigma=cfg.sigma, hidden=cfg.hidden or hidden, channels=cfg.channels or channels)
    return INITS[cfg.init](g)
