"""The latent flow of the latent-flow paper's reference code (GitHub
jianwen-xie/Latent-Space-Normalizing-Flow), rebuilt on nflows' transform contract: ``depth``
x (actnorm -> invertible linear -> affine coupling), parametrised and initialised as there.

What differs from genflows' ``coupling`` transform, and is what ``prior.transform: reference``
changes:

- actnorm starts from random N(0, 0.05^2) shifts and log-scales (no data-dependent
  initialisation) and multiplies its log-scale by 3;
- the invertible linear map is a full matrix initialised as a random orthogonal one (QR of a
  Gaussian matrix), its log-determinant taken in float64, not an LU factorisation starting at
  the identity;
- the coupling transforms the second half of the features given the first (no alternating
  masks: the linear maps mix the features between steps), with a conditioner of two hidden
  layers (bias-free linear maps with N(0, 0.05^2) weights, each followed by an actnorm and a
  ReLU) and a zero-initialised output layer scaled by exp(3 logs); shift = even outputs,
  scale = sigmoid(odd outputs + 2), x2 -> (x2 + shift) * scale.

    >>> t = reference_transform(features=6, depth=2, hidden=8)
    >>> u, logdet = t(torch.randn(4, 6))
    >>> u.shape, logdet.shape
    (torch.Size([4, 6]), torch.Size([4]))
"""

from __future__ import annotations

import torch
from nflows import transforms as T
from torch import nn

__all__ = ["RandomActNorm", "OrthogonalLinear", "HalfAffineCoupling", "reference_transform"]

INIT_SD = 0.05  # the reference code's N(0, 0.05^2) for actnorm parameters and conditioner weights
LOGSCALE_FACTOR = 3.0  # log-scales enter as exp(3 * logs)


class RandomActNorm(T.Transform):
    """u = (z + b) * exp(3 s), b and s drawn from N(0, 0.05^2)."""

    def __init__(self, features: int):
        super().__init__()
        self.shift = nn.Parameter(torch.randn(features) * INIT_SD)
        self.log_scale = nn.Parameter(torch.randn(features) * INIT_SD)

    def forward(self, inputs: torch.Tensor, context=None):
        s = LOGSCALE_FACTOR * self.log_scale
        return (inputs + self.shift) * torch.exp(s), s.sum().expand(inputs.shape[0])

    def inverse(self, inputs: torch.Tensor, context=None):
        s = LOGSCALE_FACTOR * self.log_scale
        return inputs * torch.exp(-s) - self.shift, (-s.sum()).expand(inputs.shape[0])


class OrthogonalLinear(T.Transform):
    """u = z W, W a full matrix that starts as a random orthogonal one."""

    def __init__(self, features: int):
        super().__init__()
        self.weight = nn.Parameter(torch.linalg.qr(torch.randn(features, features))[0])

    def _logabsdet(self, inputs: torch.Tensor) -> torch.Tensor:
        return torch.linalg.slogdet(self.weight.double())[1].to(inputs.dtype).expand(inputs.shape[0])

    def forward(self, inputs: torch.Tensor, context=None):
        return inputs @ self.weight, self._logabsdet(inputs)

    def inverse(self, inputs: torch.Tensor, context=None):
        return torch.linalg.solve(self.weight, inputs, left=False), -self._logabsdet(inputs)


class _ScaledZeros(nn.Module):
    """(x W + b) exp(3 s), all three zero at initialisation: each coupling starts as a fixed map."""

    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(d_in, d_out))
        self.bias = nn.Parameter(torch.zeros(d_out))
        self.log_scale = nn.Parameter(torch.zeros(d_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x @ self.weight + self.bias) * torch.exp(LOGSCALE_FACTOR * self.log_scale)


class _ActNormLayer(nn.Module):
    def __init__(self, features: int):
        super().__init__()
        self.shift = nn.Parameter(torch.randn(features) * INIT_SD)
        self.log_scale = nn.Parameter(torch.randn(features) * INIT_SD)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x + self.shift) * torch.exp(LOGSCALE_FACTOR * self.log_scale)


class _Hidden(nn.Module):
    """x W (no bias, W ~ N(0, 0.05^2)) -> actnorm -> ReLU."""

    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(d_in, d_out) * INIT_SD)
        self.norm = _ActNormLayer(d_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.norm(x @ self.weight))


class HalfAffineCoupling(T.Transform):
    """The second half of the features, (x2 + shift) * sigmoid(raw + 2), given the first half."""

    def __init__(self, features: int, hidden: int):
        super().__init__()
        self.split = features // 2
        rest = features - self.split
        self.net = nn.Sequential(_Hidden(self.split, hidden), _Hidden(hidden, hidden), _ScaledZeros(hidden, 2 * rest))

    def _params(self, x1: torch.Tensor):
        h = self.net(x1)
        return h[:, 0::2], torch.sigmoid(h[:, 1::2] + 2.0)

    def forward(self, inputs: torch.Tensor, context=None):
        x1, x2 = inputs[:, : self.split], inputs[:, self.split :]
        shift, scale = self._params(x1)
        return torch.cat([x1, (x2 + shift) * scale], 1), torch.log(scale).sum(1)

    def inverse(self, inputs: torch.Tensor, context=None):
        y1, y2 = inputs[:, : self.split], inputs[:, self.split :]
        shift, scale = self._params(y1)
        return torch.cat([y1, y2 / scale - shift], 1), -torch.log(scale).sum(1)


def reference_transform(features: int, depth: int, hidden: int) -> T.Transform:
    """``depth`` x (actnorm -> orthogonal linear -> half coupling), data (z) to noise (u)."""
    steps: list[T.Transform] = []
    for _ in range(depth):
        steps += [RandomActNorm(features), OrthogonalLinear(features), HalfAffineCoupling(features, hidden)]
    return T.CompositeTransform(steps)
