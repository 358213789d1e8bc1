"""Datasets, images scaled to [-1, 1].

MNIST and Fashion-MNIST use torchvision's layout, ``ROOT/MNIST/raw/*-ubyte(.gz)``. The
published ``.gz`` files are read directly (so a read-only root works); ``download=True`` asks
torchvision to fetch them first. ``digits`` is scikit-learn's 8x8 handwritten digits, which
ships with scikit-learn and needs no download.

Example::

    >>> images, labels = load_dataset("digits")
    >>> images.shape[1:], float(images.min()), float(images.max())
    (torch.Size([1, 8, 8]), -1.0, 1.0)
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import GenflowsError
from .folder import folder_shape, is_folder, load_folder, to_unit

__all__ = [
    "DATASETS",
    "DatasetInfo",
    "data_root",
    "check_available",
    "load_dataset",
    "load_split",
    "load_indexed",
]

_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    shape: tuple[int, ...]  # C, H, W (images) or D (2-D toy data)
    default_epochs: int  # training schedule when train.epochs is not set
    folder: str | None = None  # torchvision folder name under the data root
    kind: str = "idx"  # idx (MNIST layout) | sklearn | torchvision | png | toy | folder (a user's images)
    files: tuple[str, ...] = ()  # what must exist under the folder (torchvision / png kinds)
    how: str = ""  # how to get the files, for the missing-file message
    hflip: bool = False  # random horizontal flips in training by default (CoopFlow's CIFAR-10 code)


DATASETS: dict[str, DatasetInfo] = {
    # digits: 1.3k training images; 60 epochs take about a minute on 2 cores.
    "digits": DatasetInfo("digits", (1, 8, 8), default_epochs=60),
    # MNIST: the latent-flow paper's schedule as its reference code runs it (21 epochs at lr 4e-4;
    # shorter schedules are named configs: configs/lfbm-mcmc-mnist.yaml, lfbm-mcmc-mnist-8epochs.yaml).
    "mnist": DatasetInfo("mnist", (1, 28, 28), default_epochs=21, folder="MNIST"),
    # No paper trains on Fashion-MNIST: MNIST's schedule.
    "fashion-mnist": DatasetInfo("fashion-mnist", (1, 28, 28), default_epochs=21, folder="FashionMNIST"),
    # 32x32 / 64x64 RGB sets through torchvision, when the user has them (latent-flow Sections 4.2-4.3).
    "svhn": DatasetInfo("svhn", (3, 32, 32), 20, "svhn", "torchvision", ("train_32x32.mat", "test_32x32.mat"),
                        "torchvision.datasets.SVHN layout"),
    "cifar10": DatasetInfo("cifar10", (3, 32, 32), 20, "cifar-10-batches-py", "torchvision",
                           ("data_batch_1", "data_batch_5", "test_batch"), "the python version of CIFAR-10, extracted", hflip=True),
    "celeba": DatasetInfo("celeba", (3, 64, 64), 20, "celeba", "torchvision", ("img_align_celeba", "list_eval_partition.txt"),
                          "torchvision.datasets.CelebA layout"),
    # CoopFlow's Table 1 CelebA is 32x32: the same crop, resized to 32.
    "celeba32": DatasetInfo("celeba32", (3, 32, 32), 20, "celeba", "torchvision", ("img_align_celeba", "list_eval_partition.txt"),
                            "torchvision.datasets.CelebA layout"),
    # 20 real CIFAR-10 test images as PNG (shared/data/cifar10-samples): smoke tests of the RGB path only.
    "cifar10-samples": DatasetInfo("cifar10-samples", (3, 32, 32), 2, "cifar10-samples", "png", ("cifar10_00_3.png",),
                                   "PNG files named <anything>_<label>.png"),
    # 2-D toy densities (CoopFlow Section 5.1), sampled exactly: 10 000 training, 2000 test points.
    **{n: DatasetInfo(n, (2,), 20, kind="toy") for n in ("spiral", "moons", "8gaussians", "checkerboard")},
    # EBFlow's (Section 5.1), at its authors' scale and smoothing.
    **{n: DatasetInfo(n, (2,), 20, kind="toy") for n in ("sine", "swirl", "checkerboard-ebflow")},
}


def dataset_info(name: str, image_size: int | None = None) -> DatasetInfo:
    """The :class:`DatasetInfo` of a built-in dataset, or of a user's ``folder:PATH`` (its
    images' shape as loaded: ``image_size`` resizes them)."""
    if is_folder(name):
        return DatasetInfo(name, folder_shape(name, image_size), default_epochs=20, kind="folder")
    if name not in DATASETS:
        raise GenflowsError(f"unknown dataset '{name}' (choose from: {', '.join(DATASETS)}, or folder:PATH)")
    return DATASETS[name]


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


def check_available(name: str, root: str | None = None, download: bool = False, image_size: int | None = None) -> None:
    """Raise the one-line missing-file error now, before a run writes anything (a folder's images
    are read as the run will read them: resized to ``image_size`` when set)."""
    info = dataset_info(name, image_size)
    if info.folder is None or download:
        return
    if info.kind != "idx":
        _folder(info, root)
        return
    raw_dir = _raw_dir(info, root)
    for img_stem, lab_stem in _IDX_FILES.values():
        _find_idx(raw_dir, img_stem, info)
        _find_idx(raw_dir, lab_stem, info)


def _folder(info: DatasetInfo, root: str | None) -> Path:
    """ROOT/<folder> (or ROOT itself) holding every file in ``info.files``; else the one-line error."""
    base = data_root(root)
    candidates = [base / info.folder, base]
    for c in candidates:
        if all((c / f).exists() for f in info.files):
            return c
    missing = next(f for f in info.files if not (candidates[0] / f).exists())
    hint = " — rerun with --download (needs internet), or put" if info.kind == "torchvision" and info.name != "celeba" else " — put"
    raise GenflowsError(
        f"{info.name} file missing: {candidates[0] / missing}{hint} {info.how} under {candidates[0]}/ "
        "(or point --data-root/GENFLOWS_DATA at its parent)"
    )


def _load_rgb(info: DatasetInfo, root: str | None, download: bool) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(images, labels, n_train) for the torchvision RGB sets and PNG folders; train first."""
    import torchvision

    if info.kind == "png":
        from PIL import Image

        folder = _folder(info, root)
        files = sorted(folder.glob("*.png"))
        x = np.stack([np.asarray(Image.open(f).convert("RGB").resize(info.shape[1:][::-1])) for f in files])
        y = np.array([int(f.stem.rsplit("_", 1)[-1]) if f.stem.rsplit("_", 1)[-1].isdigit() else -1 for f in files])
        return to_unit(x), torch.from_numpy(y), len(files)  # smoke set: train = test
    base = data_root(root)
    # torchvision wants the folder *above* cifar-10-batches-py / celeba, and SVHN's own folder.
    tv_root = base if download else _folder(info, root).parent
    try:
        if info.name == "cifar10":
            parts = [torchvision.datasets.CIFAR10(str(tv_root), train=t, download=download) for t in (True, False)]
            xs = [p.data for p in parts]
            ys = [np.asarray(p.targets) for p in parts]
        elif info.name == "svhn":
            parts = [torchvision.datasets.SVHN(str(_folder(info, root) if not download else base / info.folder), split=s, download=download)
                     for s in ("train", "test")]
            xs = [p.data.transpose(0, 2, 3, 1) for p in parts]
            ys = [np.asarray(p.labels) for p in parts]
        else:  # celeba, celeba32: centre crop 140, resize to the set's side (64: common practice; 32: CoopFlow Table 1)
            tf = torchvision.transforms.Compose([torchvision.transforms.CenterCrop(140), torchvision.transforms.Resize(info.shape[1])])
            xs, ys = [], []
            for s in ("train", "test"):
                ds = torchvision.datasets.CelebA(str(tv_root), split=s, target_type=[], transform=tf, download=download)
                xs.append(np.stack([np.asarray(ds[i][0]) for i in range(len(ds))]))
                ys.append(np.zeros(len(ds), dtype=np.int64))
    except GenflowsError:
        raise
    except Exception as e:  # corrupt or partial files, network errors: one line
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise GenflowsError(f"cannot load {info.name} from {base}: {msg}") from None
    x = to_unit(np.concatenate(xs))
    return x, torch.from_numpy(np.concatenate(ys).astype(np.int64)), len(xs[0])


def load_dataset(name: str, root: str | None = None, download: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """All images of a dataset as float32 (N, C, H, W) in [-1, 1] and int64 labels.

    For MNIST-type sets this is train followed by test (70 000 images), as the anomaly
    protocol concatenates them.
    """
    return load_indexed(name, root, download)[:2]


def load_split(name: str, root: str | None = None, download: bool = False, image_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The standard (train, test) images of a dataset: MNIST-type 60 000 / 10 000, torchvision's
    own splits for the RGB sets, and for ``digits`` and image folders a fixed 80/20 split
    (``RandomState(0)``)."""
    x, _, n_train = load_indexed(name, root, download, image_size)
    if name == "cifar10-samples":
        return x, x
    if n_train == 0:
        x = x[torch.from_numpy(np.random.RandomState(0).permutation(len(x)))]
        n_train = int(0.8 * len(x))
    return x[:n_train], x[n_train:]


def load_indexed(name: str, root: str | None = None, download: bool = False, image_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor, int]:
    """(images, labels, size of the published training split, 0 where there is none)."""
    info = dataset_info(name, image_size)
    if info.kind == "folder":
        x, _ = load_folder(name, image_size)
        return x, torch.full((len(x),), -1, dtype=torch.int64), 0
    if info.kind == "toy":
        from .toy import sample_toy

        x = torch.cat([sample_toy(name, 10000, seed=0), sample_toy(name, 2000, seed=1)])
        return x, torch.zeros(len(x), dtype=torch.int64), 10000
    if info.kind in ("torchvision", "png"):
        return _load_rgb(info, root, download)
    if name == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        x = torch.from_numpy(d.images.astype(np.float32) / 16.0 * 2.0 - 1.0).unsqueeze(1)
        return x, torch.from_numpy(d.target.astype(np.int64)), 0  # no published split
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
    return x, torch.from_numpy(y.astype(np.int64)), len(images[0])
