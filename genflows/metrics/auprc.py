"""Evaluation metrics."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import auc, average_precision_score, precision_recall_curve

__all__ = ["auprc"]


def auprc(is_anomaly, score) -> dict:
    """Area under the precision-recall curve, anomaly = positive class, higher score = more
    anomalous. ``auprc`` is ``sklearn.metrics.auc(recall, precision)`` as in the MEG / LEBM /
    latent-flow protocol; ``average_precision`` is sklearn's step-wise estimate.

    >>> auprc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])["auprc"]
    1.0
    """
    y = np.asarray(is_anomaly).astype(bool)
    s = np.asarray(score, dtype=np.float64)
    if not np.isfinite(s).all():
        raise ValueError("anomaly scores contain NaN/inf")
    precision, recall, _ = precision_recall_curve(y, s)
    return {
        "auprc": float(auc(recall, precision)),
        "average_precision": float(average_precision_score(y, s)),
        "anomaly_fraction": float(y.mean()),
        "precision": precision,
        "recall": recall,
    }
