"""Datasets (images scaled to [-1, 1]) and the MNIST anomaly split of the latent-flow paper.

MNIST and Fashion-MNIST use torchvision's layout, ``ROOT/MNIST/raw/*-ubyte(.gz)``. The
published ``.gz`` files are read directly (so a read-only root works); ``download=True`` asks
torchvision to fetch them first. ``digits`` is scikit-learn's 8x8 handwritten digits, which
ships with scikit-learn and needs no download.

Example::

    >>> images, labels = load_dataset("digits")
    >>> split = anomaly_split(images, labels, holdout=4)
    >>> split.train.shape[1:], bool(split.test_is_anomaly.any())
    (torch.Size([1, 8, 8]), True)
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .errors import GenflowsError

__all__ = ["DATASETS", "DatasetInfo", "AnomalySplit", "data_root", "check_available", "load_dataset", "anomaly_split"]

_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    shape: tuple[int, int, int]  # C, H, W
    default_epochs: int  # training schedule when train.epochs is not set
    folder: str | None = None  # torchvision folder name under the data root


DATASETS: dict[str, DatasetInfo] = {
    # digits: 1.3k training images; 60 epochs take about a minute on 2 cores.
    "digits": DatasetInfo("digits", (1, 8, 8), default_epochs=60),
    # MNIST: the measured 8-epoch schedule (bench/README.md; AUPRC 0.739 on holdout 4, below the paper).
    "mnist": DatasetInfo("mnist", (1, 28, 28), default_epochs=8, folder="MNIST"),
    "fashion-mnist": DatasetInfo("fashion-mnist", (1, 28, 28), default_epochs=8, folder="FashionMNIST"),
}


def data_root(root: str | None = None) -> Path:
    """``root`` if given, else ``$GENFLOWS_DATA``, else ``~/.cache/genflows/data``."""
    if root:
        return Path(root).expanduser()
    env = os.environ.get("GENFLOWS_DATA")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "genflows" / "data"


def _read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped): magic 0x0803 images, 0x0801 labels, then uint8."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise GenflowsError(f"cannot read {path}: {e}") from None
    magic = int.from_bytes(raw[0:4], "big")
    ndim = magic & 0xFF
    if magic >> 8 != 0x08 or ndim not in (1, 3):
        raise GenflowsError(f"{path} is not an IDX uint8 file (magic {magic:#x})")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise GenflowsError(f"{path} is truncated ({data.size} of {int(np.prod(dims))} values)")
    return data.reshape(dims)


def _find_idx(raw_dir: Path, stem: str, info: DatasetInfo) -> Path:
    for cand in (raw_dir / stem, raw_dir / f"{stem}.gz"):
        if cand.is_file():
            return cand
    raise GenflowsError(
        f"{info.name} file missing: {raw_dir / (stem + '.gz')} — rerun with --download (needs internet), "
        f"or copy the published {info.folder} .gz files into {raw_dir}/ (or point --data-root/GENFLOWS_DATA at a folder holding {info.folder}/raw/)"
    )


def _torchvision_download(info: DatasetInfo, root: Path) -> None:
    import torchvision

    cls = {"mnist": torchvision.datasets.MNIST, "fashion-mnist": torchvision.datasets.FashionMNIST}[info.name]
    try:
        for train in (True, False):
            cls(str(root), train=train, download=True)
    except Exception as e:  # network or disk problems: say which, in one line
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise GenflowsError(f"download of {info.name} into {root} failed: {msg}") from None


def _raw_dir(info: DatasetInfo, root: str | None) -> Path:
    """ROOT/<Folder>/raw (torchvision's layout), or ROOT/<name>/<Folder>/raw (so that one root
    such as ``shared/data`` can hold several datasets); the first that has files wins."""
    base = data_root(root)
    candidates = [base / info.folder / "raw", base / info.name / info.folder / "raw"]
    for c in candidates:
        if c.is_dir() and any(c.iterdir()):
            return c
    return candidates[0]


def check_available(name: str, root: str | None = None, download: bool = False) -> None:
    """Raise the one-line missing-file error now, before a run writes anything."""
    info = DATASETS[name]
    if info.folder is None or download:
        return
    raw_dir = _raw_dir(info, root)
    for img_stem, lab_stem in _IDX_FILES.values():
        _find_idx(raw_dir, img_stem, info)
        _find_idx(raw_dir, lab_stem, info)


def load_dataset(name: str, root: str | None = None, download: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """All images of a dataset as float32 (N, C, H, W) in [-1, 1] and int64 labels.

    For MNIST-type sets this is train followed by test (70 000 images), as the anomaly
    protocol concatenates them.
    """
    if name not in DATASETS:
        raise GenflowsError(f"unknown dataset '{name}' (choose from: {', '.join(DATASETS)})")
    info = DATASETS[name]
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        x = torch.from_numpy(d.images.astype(np.float32) / 16.0 * 2.0 - 1.0).unsqueeze(1)
        return x, torch.from_numpy(d.target.astype(np.int64))
    if download:
        _torchvision_download(info, data_root(root))
    raw_dir = _raw_dir(info, root)
    images, labels = [], []
    for part in ("train", "test"):
        img_stem, lab_stem = _IDX_FILES[part]
        images.append(_read_idx(_find_idx(raw_dir, img_stem, info)))
        labels.append(_read_idx(_find_idx(raw_dir, lab_stem, info)))
    x = np.concatenate(images)
    y = np.concatenate(labels)
    if x.ndim != 3 or x.shape[1:] != info.shape[1:] or len(x) != len(y):
        raise GenflowsError(f"{raw_dir}: unexpected shapes images {x.shape}, labels {y.shape}")
    x = torch.from_numpy(x.astype(np.float32) / 255.0 * 2.0 - 1.0).unsqueeze(1)
    return x, torch.from_numpy(y.astype(np.int64))


@dataclass
class AnomalySplit:
    train: torch.Tensor  # normal images only
    test: torch.Tensor  # held-out normals followed by every anomaly
    test_is_anomaly: torch.Tensor  # bool, positive class = held-out digit
    train_index: np.ndarray  # indices into the concatenated dataset
    test_index: np.ndarray


def anomaly_split(images: torch.Tensor, labels: torch.Tensor, holdout: int, seed: int = 42, train_frac: float = 0.8) -> AnomalySplit:
    """The MEG protocol used by every row of the latent-flow paper's Table 4.

    Remove the held-out digit, permute the normal images with ``RandomState(seed)``, train on
    the first 80 %, test on the other 20 % plus every held-out image. A pure function of its
    arguments: it owns its RNG and touches no global state.
    """
    y = labels.numpy()
    normal = np.flatnonzero(y != holdout)
    anomal = np.flatnonzero(y == holdout)
    perm = np.random.RandomState(seed).permutation(len(normal))
    normal = normal[perm]
    n_train = int(train_frac * len(normal))
    train_idx = normal[:n_train]
    test_idx = np.concatenate([normal[n_train:], anomal])
    is_anom = torch.from_numpy(y[test_idx] == holdout)
    return AnomalySplit(images[train_idx], images[test_idx], is_anom, train_idx, test_idx)
