import numpy as np
import pytest

from genflows.metrics import auprc


def test_auprc_hand_computed():
    # Scores (higher = more anomalous): ranking a1, n1, a2, n2.
    # Thresholds give (recall, precision): (0.5, 1), (0.5, 1/2), (1, 2/3), (1, 1/2); sklearn adds (0, 1).
    # Curve points sorted by recall: (0,1), (0.5,1), (0.5,0.5), (1,2/3), (1,0.5).
    # Trapezoid: 0.5*1 + 0 + 0.5*(0.5+2/3)/2 + 0 = 0.5 + 0.291666...
    res = auprc([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1])
    assert res["auprc"] == pytest.approx(0.5 + 0.5 * (0.5 + 2 / 3) / 2)
    # Average precision: mean of precision at each positive = (1 + 2/3) / 2.
    assert res["average_precision"] == pytest.approx((1 + 2 / 3) / 2)
    assert res["anomaly_fraction"] == 0.5


def test_auprc_perfect_and_random():
    assert auprc([0, 0, 1], [0.1, 0.2, 0.9])["auprc"] == pytest.approx(1.0)
    rng = np.random.RandomState(0)
    y = rng.rand(20000) < 0.3
    assert auprc(y, rng.rand(20000))["auprc"] == pytest.approx(0.3, abs=0.02)


def test_auprc_rejects_nan():
    with pytest.raises(ValueError):
        auprc([0, 1], [0.1, float("nan")])
