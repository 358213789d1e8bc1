"""Data: image datasets, the user's image folders, the anomaly split, 2-D toy densities and inpainting masks."""

from __future__ import annotations

from .augment import random_hflip
from .anomaly import PROTOCOLS, AnomalySplit, anomaly_split, load_anomaly_split
from .datasets import DATASETS, DatasetInfo, check_available, dataset_info, data_root, load_dataset, load_indexed, load_split
from .masks import MASK_KINDS, default_square, make_masks
from .toy import TOYS, sample_toy

__all__ = [
    "DATASETS", "DatasetInfo", "dataset_info", "data_root", "check_available", "load_dataset", "load_split", "load_indexed",
    "AnomalySplit", "anomaly_split", "load_anomaly_split", "PROTOCOLS",
    "TOYS", "sample_toy", "random_hflip", "make_masks", "default_square", "MASK_KINDS",
]
