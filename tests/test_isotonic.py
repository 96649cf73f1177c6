"""IsotonicCalibration against scikit-learn and a brute-force PAV."""

import numpy as np
import pytest
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression

from calibkit import IsotonicCalibration


def brute_force_isotonic(scores, y, w):
    """Min-max formula of the isotonic fit, on exactly pooled distinct scores.

    ``fit_i = max_{j <= i} min_{k >= i} mean(y[j..k])`` (weighted), O(m^3).
    """
    distinct = np.unique(scores)
    wy = np.array([np.sum(w[scores == v] * y[scores == v]) for v in distinct])
    ws = np.array([np.sum(w[scores == v]) for v in distinct])
    m = len(distinct)
    fit = np.empty(m)
    for i in range(m):
        fit[i] = max(
            min(wy[j : k + 1].sum() / ws[j : k + 1].sum() for k in range(i, m))
            for j in range(i + 1)
        )
    return distinct, fit


def test_matches_scikit_learn_without_near_ties():
    rng = np.random.default_rng(0)
    s = rng.normal(0, 2, 300)
    y = (rng.random(300) < expit(s)).astype(int)
    w = rng.uniform(0.5, 2.0, 300)
    cal = IsotonicCalibration(eps=0).fit(s, y, sample_weight=w)
    ref = IsotonicRegression(out_of_bounds="clip").fit(s, y, sample_weight=w)
    grid = np.linspace(-7, 7, 1001)
    np.testing.assert_allclose(
        cal.predict_proba(grid)[:, 1], ref.predict(grid), atol=1e-12
    )


def test_matches_brute_force_with_many_ties():
    rng = np.random.default_rng(1)
    s = rng.integers(-4, 5, 40).astype(float)
    y = rng.integers(0, 2, 40)
    w = rng.integers(1, 4, 40).astype(float)
    cal = IsotonicCalibration(eps=0, interpolation="step").fit(s, y, sample_weight=w)
    distinct, fit = brute_force_isotonic(s, y, w)
    np.testing.assert_allclose(cal.predict_proba(distinct)[:, 1], fit, atol=1e-12)


def test_near_ties_are_not_merged():
    # scikit-learn pools scores within 1e-15 of each other; these differ.
    s = np.array([1.0, np.nextafter(1.0, 2.0), 3.0, 4.0])
    y = np.array([0, 1, 0, 1])
    cal = IsotonicCalibration(eps=0, interpolation="step").fit(s, y)
    p = cal.predict_proba(s)[:, 1]
    _distinct, fit = brute_force_isotonic(s, y, np.ones(4))
    np.testing.assert_allclose(p, fit)
    assert p[0] == 0.0


def test_output_is_monotone_and_clipped_away_from_zero_and_one():
    rng = np.random.default_rng(2)
    s = rng.normal(0, 3, 500)
    y = (rng.random(500) < expit(s)).astype(int)
    cal = IsotonicCalibration().fit(s, y)
    p = cal.predict_proba(np.sort(rng.normal(0, 5, 2000)))[:, 1]
    assert np.all(np.diff(p) >= 0)
    assert cal.eps_ == pytest.approx(1 / 502)
    assert p.min() >= cal.eps_
    assert p.max() <= 1 - cal.eps_


def test_probability_input_gives_the_same_fit_at_calibration_points():
    rng = np.random.default_rng(3)
    s = rng.normal(0, 2, 300)
    y = (rng.random(300) < expit(s / 2)).astype(int)
    from_logits = IsotonicCalibration().fit(s, y)
    from_probs = IsotonicCalibration(input="probabilities").fit(expit(s), y)
    np.testing.assert_allclose(
        from_probs.predict_proba(expit(s)), from_logits.predict_proba(s), atol=1e-9
    )


def test_multiclass_rows_sum_to_one_and_match_per_class_fits():
    rng = np.random.default_rng(4)
    p = rng.dirichlet(np.ones(3), 600)
    y = (p.cumsum(1) < rng.random((600, 1))).sum(1)
    cal = IsotonicCalibration(input="probabilities", eps=0).fit(p, y)
    proba = cal.predict_proba(p)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-12)
    unnormalised = np.column_stack(
        [
            IsotonicRegression(out_of_bounds="clip")
            .fit(p[:, k], y == k)
            .predict(p[:, k])
            for k in range(3)
        ]
    )
    np.testing.assert_allclose(
        proba, unnormalised / unnormalised.sum(1, keepdims=True), atol=1e-10
    )
