"""Top-down generators g_beta(z) with a Gaussian observation model x = g(z) + eps, eps ~ N(0, sigma^2 I).

The masked log-likelihood (visible pixels only, mask = 1) is the one piece every task uses for
training on complete images, inpainting and learning from incomplete images.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["Generator", "gaussian_terms", "mean_image_losses", "PatchConvTranspose2d", "ConvGenerator", "DCGANGenerator", "build_generator", "default_nz", "reference_init", "INITS", "ARCHS"]


class Generator(nn.Module):
    """Base class: subclasses define :meth:`forward` (z -> image mean in [-1, 1])."""

    def __init__(self, nz: int, image_shape: tuple[int, int, int], sigma: float):
        super().__init__()
        self.nz = nz
        self.image_shape = tuple(image_shape)
        self.sigma = float(sigma)

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """log p_beta(x | z) over visible pixels, per example (B,).

        -||m * (x - g(z))||^2 / (2 sigma^2) - n_visible * log(sigma sqrt(2 pi))
        """
        return self.gaussian_log_likelihood(x, self(z), mask)

    def chain_log_likelihood(self):
        """:meth:`log_likelihood` for a Langevin chain, during which the weights stay fixed (call
        it after freezing them): a subclass may precompute, or write the z-gradient out."""
        return self.log_likelihood

    def gaussian_log_likelihood(self, x: torch.Tensor, mean: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """log N(x; mean, sigma^2 I) over visible pixels, per example (B,); ``mean`` broadcasts."""
        return gaussian_terms(x, mean, self.sigma, mask)[0]


def gaussian_terms(x: torch.Tensor, mean: torch.Tensor, sigma: float, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(log N(x; mean, sigma^2 I) over visible pixels per example, m (x - mean)): the residual is
    what the likelihood's gradient in ``mean`` needs, m^2 (x - mean) / sigma^2."""
    diff = x - mean
    if mask is not None:
        diff = diff * mask
        n_vis = mask.expand_as(x).flatten(1).sum(1)
    else:
        n_vis = x[0].numel()
    sq = diff.flatten(1).pow(2).sum(1)
    return -sq / (2 * sigma**2) - n_vis * math.log(sigma * math.sqrt(2 * math.pi)), diff


def mean_image_losses(generator: Generator, data: torch.Tensor, chunk: int = 10000) -> tuple[float, float]:
    """(loss of the mean image, loss of a perfect fit): the generator loss -log p(x | g) averaged
    over ``data`` when g is the mean training image for every x, a model that ignores z, and when
    g = x. A generator loss that stays near the first after training has collapsed."""
    mean = data.mean(0, keepdim=True)
    total = sum(float(-generator.gaussian_log_likelihood(data[i : i + chunk], mean).sum()) for i in range(0, len(data), chunk))
    perfect = float(-generator.gaussian_log_likelihood(data[:1], data[:1])[0])
    return total / len(data), perfect


class PatchConvTranspose2d(nn.ConvTranspose2d):
    """A transposed convolution whose kernel equals its stride (no padding), computed as one
    matrix product: each input pixel writes its own k x k output patch, so
    ``y[b, o, k*i + p, k*j + q] = sum_c x[b, c, i, j] W[c, o, p, q] + bias[o]``.

    Same parameters and result as :class:`torch.nn.ConvTranspose2d` (up to float rounding). For the
    MNIST generator's 128 -> 64 layer (forward + input gradient, what every Langevin step runs) it
    took 14 / 68 ms at batch 100 / 500 against 25 / 133 ms for the generic kernel (2-core AVX2 EPYC).

    >>> m = PatchConvTranspose2d(8, 4, 2, 2)
    >>> x = torch.randn(3, 8, 5, 5)
    >>> torch.allclose(m(x), nn.ConvTranspose2d.forward(m, x), atol=1e-6)
    True
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int):
        if kernel_size != stride:
            raise ValueError(f"PatchConvTranspose2d needs kernel_size == stride, got {kernel_size} and {stride}")
        super().__init__(in_channels, out_channels, kernel_size, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        k, o = self.stride[0], self.out_channels
        # Pixels as rows, channels last: free for a channels-last input (this layer's own output),
        # and the output's innermost axis is the channel axis, so the one rearranging copy moves
        # whole runs of channels (the NCHW-ordered version was slower than the generic kernel).
        rows = x.permute(0, 2, 3, 1).reshape(b * h * w, c)
        y = torch.addmm(self.bias.repeat(k * k), rows, self.weight.permute(0, 2, 3, 1).reshape(c, k * k * o))
        y = y.view(b, h, w, k, k, o).permute(0, 1, 3, 2, 4, 5).reshape(b, h * k, w * k, o)
        return y.permute(0, 3, 1, 2)  # (B, O, H k, W k) in channels-last memory


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

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)

    def chain_log_likelihood(self):
        # Its layers replayed with the z-gradient written out (genflows.frozen_generator); only
        # while forward is net(z), which a subclass may change.
        from .frozen_generator import frozen_log_likelihood

        fast = frozen_log_likelihood(self) if type(self).forward is ConvGenerator.forward else None
        return fast or self.log_likelihood


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

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


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
