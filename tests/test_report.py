"""Tests of calibkit.report.evaluate_forecasts (the scores behind the report)."""

import numpy as np
import pytest
from scipy.special import softmax

from calibkit import report


def test_object_array_forecasts_are_kept_as_floats():
    # Regression: an object array was kept as it came, so the evaluation's
    # y_prob (used for the diagrams) held Python objects.
    y = np.array([0, 1, 1, 0])
    P = np.array([[0.75, 0.25], [0.5, 0.5], [0.125, 0.875], [1.0, 0.0]])
    ev = report.evaluate_forecasts(y, P.astype(object))
    assert ev.y_prob.dtype == np.float64
    np.testing.assert_array_equal(ev.y_prob, P[:, 1])
    expected = -np.mean(np.log([0.75, 0.5, 0.875, 1.0]))
    assert ev.log_loss == pytest.approx(expected, rel=1e-15)
    assert ev.brier_score == pytest.approx(np.mean((P[:, 1] - y) ** 2), rel=1e-15)


def test_logits_spanning_the_float_range():
    # Rows whose logits span more than 1.8e308 (regression: numpy overflow
    # warnings from the log-loss).
    y = np.array([0, 1, 2, 1])
    Z = np.array(
        [
            [1e308, -1e308, 0.0],
            [0.0, 2.0, -1e308],
            [1.0, 2.0, 3.0],
            [-5.0, 1e308, -1e308],
        ]
    )
    ev = report.evaluate_forecasts(y, Z, input="logits")
    P = np.array([softmax(np.clip(z, -1e300, 1e300)) for z in Z])
    np.testing.assert_allclose(ev.y_prob, P, rtol=1e-15, atol=0)
    observed = P[np.arange(4), y]
    assert ev.log_loss == pytest.approx(-np.mean(np.log(observed)), rel=1e-14)
    one_hot = np.eye(3)[y]
    expected_brier = np.mean(np.sum((P - one_hot) ** 2, axis=1))
    assert ev.brier_score == pytest.approx(expected_brier, rel=1e-14)
    assert np.isfinite(ev.decomposition.miscalibration)
