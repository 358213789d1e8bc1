"""A researcher's own images: ``--data folder:PATH`` trains on every image under PATH, and the
anomaly task scores a test folder with ``normal/`` and ``anomalous/`` subfolders
(``data.test_folder``).

Images are read with Pillow, as grayscale when every one of them is (else as RGB), resized to
``data.image_size`` when the config names one (else they must share one size), and scaled to
[-1, 1] as the built-in datasets are. Empty folders, unreadable files and mixed sizes are
one-line errors.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from ..errors import GenflowsError

__all__ = ["to_unit", "PREFIX", "IMAGE_SUFFIXES", "is_folder", "folder_path", "folder_shape", "load_folder", "load_labelled_folder"]

PREFIX = "folder:"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".pgm", ".ppm", ".webp")
_GRAY = ("1", "L", "LA", "I", "I;16", "F", "P")  # P: a palette image is grayscale only if its palette is


def is_folder(name: str) -> bool:
    return isinstance(name, str) and name.startswith(PREFIX)


def folder_path(name: str) -> Path:
    path = Path(name[len(PREFIX):]).expanduser()
    if not path.is_dir():
        raise GenflowsError(f"image folder not found: {path} (--data folder:PATH needs a folder of images)")
    return path


def _files(path: Path) -> tuple[Path, ...]:
    files = tuple(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
    if not files:
        raise GenflowsError(f"no images in {path} (looked for {', '.join(IMAGE_SUFFIXES)} files, subfolders included)")
    return files


def _open(f: Path):
    from PIL import Image, UnidentifiedImageError

    try:
        im = Image.open(f)
        im.load()
    except (OSError, UnidentifiedImageError, ValueError) as e:
        raise GenflowsError(f"cannot read image {f}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    return im


def _gray(im) -> bool:
    if im.mode == "P":
        rgb = np.asarray(im.convert("RGB"))
        return bool((rgb == rgb[..., :1]).all())
    return im.mode in _GRAY


@functools.lru_cache(maxsize=8)
def _read(files: tuple[Path, ...], image_size: int | None, gray: bool | None) -> tuple[np.ndarray, bool]:
    """(uint8 N x H x W x C, grayscale?) of ``files``; ``gray`` None: grayscale if every file is."""
    images = [_open(f) for f in files]
    if gray is None:
        gray = all(_gray(im) for im in images)
    if image_size is None:
        sizes = {}
        for f, im in zip(files, images):
            sizes.setdefault(im.size, f)
        if len(sizes) > 1:
            (a, fa), (b, fb) = list(sizes.items())[:2]
            raise GenflowsError(f"images of mixed sizes: {fa} is {a[0]}x{a[1]}, {fb} is {b[0]}x{b[1]}; "
                                "set data.image_size to resize them all")
    out = []
    for im in images:
        im = im.convert("L" if gray else "RGB")
        if image_size is not None and im.size != (image_size, image_size):
            im = im.resize((image_size, image_size), resample=3)  # bicubic
        a = np.asarray(im, dtype=np.uint8)
        out.append(a[..., None] if gray else a)
    return np.stack(out), gray


def to_unit(x: np.ndarray) -> torch.Tensor:
    """uint8 N x H x W x C -> float32 N x C x H x W in [-1, 1]."""
    return torch.from_numpy(x).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0).contiguous()


def load_folder(name: str, image_size: int | None = None) -> tuple[torch.Tensor, list[Path]]:
    """(images in [-1, 1], their files) of every image under the folder of ``folder:PATH``."""
    files = _files(folder_path(name))
    x, _ = _read(files, image_size, None)
    return to_unit(x), list(files)


def folder_shape(name: str, image_size: int | None = None) -> tuple[int, int, int]:
    """(C, H, W) of the images of ``folder:PATH`` as they will be loaded."""
    x, _ = load_folder(name, image_size)
    return tuple(x.shape[1:])


def load_labelled_folder(path: str | Path, train_name: str, image_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor, list[Path]]:
    """(images, is_anomaly, files) of a test folder with ``normal/`` and ``anomalous/`` subfolders,
    read as the training folder ``train_name`` is (its channels, resized alike)."""
    path = Path(path).expanduser()
    parts = {sub: path / sub for sub in ("normal", "anomalous")}
    for sub, p in parts.items():
        if not p.is_dir():
            raise GenflowsError(f"test folder {path} has no '{sub}/' subfolder (it needs normal/ and anomalous/)")
    train, gray = _read(_files(folder_path(train_name)), image_size, None)
    xs, ys, files = [], [], []
    for label, p in enumerate(parts.values()):
        fs = _files(p)
        x, _ = _read(fs, image_size, gray)
        xs.append(x)
        ys.append(np.full(len(fs), bool(label)))
        files += fs
    shapes, train_shape = {x.shape[1:] for x in xs}, train.shape[1:]
    if shapes != {train_shape}:
        got = sorted(shapes - {train_shape})[0]
        raise GenflowsError(f"test images in {path} are {got[1]}x{got[0]}, the training images {train_shape[1]}x{train_shape[0]}; "
                            "set data.image_size to resize both")
    return to_unit(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys)), files
