"""Metrics: AUPRC (anomaly detection), pixel MSE, MMD (2-D toy densities) and FID (generation;
:mod:`genflows.metrics.fid`, imported on use because it loads the Inception weights)."""

from __future__ import annotations

from .auprc import auprc
from .mmd import mmd
from .mse import pixel_mse

__all__ = ["auprc", "mmd", "pixel_mse"]
