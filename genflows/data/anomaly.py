"""The anomaly-detection split of the latent-flow paper (Table 4): normal training images and a
labelled test set whose positive class is the held-out digit, under either of two protocols.

    >>> from genflows.data import load_dataset
    >>> images, labels = load_dataset("digits")
    >>> split = anomaly_split(images, labels, holdout=4)
    >>> split.train.shape[1:], bool(split.test_is_anomaly.any())
    (torch.Size([1, 8, 8]), True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import GenflowsError
from .datasets import load_indexed
from .folder import is_folder, load_folder, load_labelled_folder

__all__ = ["AnomalySplit", "anomaly_split", "load_anomaly_split", "PROTOCOLS"]

PROTOCOLS = ("meg", "mnist-test")


@dataclass
class AnomalySplit:
    train: torch.Tensor  # normal images only
    test: torch.Tensor  # held-out normals followed by every anomaly
    test_is_anomaly: torch.Tensor  # bool, positive class = held-out digit
    train_index: np.ndarray  # indices into the concatenated dataset
    test_index: np.ndarray
    test_files: list | None = None  # image folders: the file of each test image


def anomaly_split(
    images: torch.Tensor, labels: torch.Tensor, holdout: int, seed: int = 42, train_frac: float = 0.8,
    protocol: str = "meg", n_train: int = 0,
) -> AnomalySplit:
    """Normal training images and a labelled test set for anomaly detection (positive class: the
    held-out digit). A pure function of its arguments: it owns its RNG and touches no global state.

    ``meg``: the protocol the latent-flow paper's text cites for Table 4 (as in MEG, Kumar et al.
    2019). Remove the held-out digit, permute the normal images with ``RandomState(seed)``, train
    on the first 80 %, test on the other 20 % plus every held-out image (MNIST: 35 % anomalies).

    ``mnist-test``: the command the reference code's README gives. Train on the first ``n_train``
    images (the official training split) without the held-out digit; test on every other image
    (the official test split, MNIST: 9.8 % anomalies at digit 4).
    """
    y = labels.numpy()
    if protocol == "mnist-test":
        if not 0 < n_train < len(y):
            raise ValueError(f"protocol mnist-test needs the training split's size, got n_train={n_train} of {len(y)}")
        train_idx = np.flatnonzero(y[:n_train] != holdout)
        test_idx = np.arange(n_train, len(y))
    elif protocol == "meg":
        normal = np.flatnonzero(y != holdout)
        anomal = np.flatnonzero(y == holdout)
        normal = normal[np.random.RandomState(seed).permutation(len(normal))]
        n = int(train_frac * len(normal))
        train_idx = normal[:n]
        test_idx = np.concatenate([normal[n:], anomal])
    else:
        raise ValueError(f"unknown anomaly protocol '{protocol}' (choose from: {', '.join(PROTOCOLS)})")
    is_anom = torch.from_numpy(y[test_idx] == holdout)
    return AnomalySplit(images[train_idx], images[test_idx], is_anom, train_idx, test_idx)


def load_anomaly_split(name: str, holdout: int, protocol: str = "meg", root: str | None = None, download: bool = False,
                       image_size: int | None = None, test_folder: str | None = None) -> AnomalySplit:
    """:func:`anomaly_split` of a dataset under ``protocol``. Sets without a published split
    (``digits``) use :func:`load_split`'s fixed 80/20 one as their "official" split. An image
    folder (``folder:PATH``) trains on all its images and tests on ``test_folder``'s
    ``normal/`` and ``anomalous/`` ones (``holdout`` and ``protocol`` do not apply)."""
    if is_folder(name):
        if test_folder is None:
            raise GenflowsError(f"the anomaly task on {name} needs data.test_folder: a folder with normal/ and anomalous/ subfolders")
        train, _ = load_folder(name, image_size)
        test, is_anom, files = load_labelled_folder(test_folder, name, image_size)
        return AnomalySplit(train, test, is_anom, np.arange(len(train)), np.arange(len(test)), [str(f) for f in files])
    x, y, n_train = load_indexed(name, root, download)
    if protocol == "mnist-test" and n_train == 0:
        perm = torch.from_numpy(np.random.RandomState(0).permutation(len(x)))  # load_split's order
        x, y, n_train = x[perm], y[perm], int(0.8 * len(x))
    return anomaly_split(x, y, holdout, protocol=protocol, n_train=n_train)
