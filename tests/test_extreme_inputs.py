"""Calibrators at the edges of float64 and with unusual weights.

Platt and temperature scaling are scale-equivariant: multiplying the scores by
``c`` divides Platt's slope by ``c`` (same intercept, same predictions) and
multiplies the temperature by ``c``. The fits at ``c = 1`` are checked against
50-digit references in ``test_platt.py`` and ``test_temperature.py``; here the
fits at every other ``c`` are checked against them, across the float64 range.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit

from calibkit import PlattScaling, TemperatureScaling

TINY = np.finfo(float).tiny
HUGE = np.finfo(float).max

#: Scales from 1e-300 to the largest that keeps the data finite, including
#: those whose squares (and the squared spread) underflow or overflow.
SCALES = [1e-300, 1e-250, 2.0**-600, 1e-160, 1e-100, 3.7, 1e100, 1e155, 1e160]
SCALES += [1e200, 1e300]


def platt_data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    s = rng.normal(0.0, 2.0, n)
    y = (rng.random(n) < expit(0.4 * s - 0.5)).astype(int)
    w = rng.uniform(0.5, 2.0, n)
    return s, y, w


def temperature_data(n=400, k=4, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 4.0, (n, k))
    p = np.exp(z / 2.5 - (z / 2.5).max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    y = (p.cumsum(1) < rng.random((n, 1))).sum(1)
    w = rng.uniform(0.5, 2.0, n)
    return z, y, w


# -- Platt scaling ---------------------------------------------------------


def assert_platt_equivariant(c, s, y, w, **params):
    base = PlattScaling(**params).fit(s, y, sample_weight=w)
    scaled = PlattScaling(**params).fit(s * c, y, sample_weight=w)
    # The slope is a / c; near the float64 limits s * c itself is rounded.
    np.testing.assert_allclose(scaled.coef_ * c, base.coef_, rtol=1e-9)
    np.testing.assert_allclose(scaled.intercept_, base.intercept_, rtol=1e-9)
    np.testing.assert_allclose(
        scaled.predict_proba(s * c), base.predict_proba(s), rtol=1e-9, atol=1e-15
    )


@pytest.mark.parametrize("c", [*SCALES, HUGE / 8.0])
def test_platt_is_scale_equivariant_across_float64(c):
    # On main, c = 1e-300 and c >= 1e155 returned coef_ = 0 without a warning:
    # the squared spread of the scores underflowed or overflowed.
    s, y, w = platt_data()
    if c == HUGE / 8.0:
        c /= np.abs(s).max()  # the largest score is then HUGE / 8
    assert_platt_equivariant(c, s, y, w)


@pytest.mark.parametrize("c", [1e-300, 1e160])
def test_platt_smoothed_targets_are_scale_equivariant(c):
    s, y, w = platt_data(seed=1)
    assert_platt_equivariant(c, s, y, w, target_smoothing=True)


@settings(max_examples=40, deadline=None)
@given(exponent=st.floats(-300.0, 300.0), seed=st.integers(0, 3))
def test_platt_equivariance_fuzzed(exponent, seed):
    s, y, w = platt_data(n=120, seed=seed)
    assert_platt_equivariant(10.0**exponent, s, y, w)


def test_platt_one_huge_score_among_ordinary_ones():
    # The largest score alone is near the float64 limit; its square overflows.
    s, y, w = platt_data(seed=2)
    s[0], y[0] = 1e300, 1
    base = PlattScaling().fit(s * 2.0**-900, y, sample_weight=w)
    ours = PlattScaling().fit(s, y, sample_weight=w)
    np.testing.assert_allclose(ours.coef_ * 2.0**900, base.coef_, rtol=1e-9)
    np.testing.assert_allclose(ours.intercept_, base.intercept_, rtol=1e-9)


@pytest.mark.parametrize("c", [1e-300, 1e150])
def test_two_column_platt_is_scale_equivariant(c):
    # Two columns of logits enter through their difference, linear in c. (The
    # one-vs-rest log-odds of K > 2 classes are not: log-odds of softmax(c z)
    # are not c times those of softmax(z).)
    s, y, w = platt_data(seed=3)
    z = np.column_stack([-0.5 * s + 1.0, 0.5 * s + 1.0])
    base = PlattScaling().fit(z, y, sample_weight=w)
    scaled = PlattScaling().fit(z * c, y, sample_weight=w)
    np.testing.assert_allclose(scaled.coef_ * c, base.coef_, rtol=1e-9)
    np.testing.assert_allclose(scaled.intercept_, base.intercept_, rtol=1e-9)


def test_platt_scores_too_small_for_the_slope_raise():
    # Subnormal scores: the slope (~1e309) is beyond float64.
    s, y, _ = platt_data(seed=4)
    with pytest.raises(ValueError, match=r"so small .* slope exceeds the float64"):
        PlattScaling().fit(s * 1e-310, y)


# -- temperature scaling ---------------------------------------------------


@pytest.mark.parametrize("c", SCALES)
def test_temperature_is_scale_equivariant_across_float64(c):
    # On main, c = 1e-300 gave T = 0 and c = 1e300 gave T = nan.
    z, y, w = temperature_data()
    base = TemperatureScaling().fit(z, y, sample_weight=w)
    scaled = TemperatureScaling().fit(z * c, y, sample_weight=w)
    np.testing.assert_allclose(scaled.temperature_, c * base.temperature_, rtol=1e-10)
    np.testing.assert_allclose(
        scaled.predict_proba(z * c), base.predict_proba(z), rtol=1e-9, atol=1e-15
    )


@pytest.mark.parametrize("c", [1e-300, 1e300])
def test_binary_temperature_is_scale_equivariant(c):
    s, y, w = platt_data(seed=5)
    base = TemperatureScaling().fit(s, y, sample_weight=w)
    scaled = TemperatureScaling().fit(s * c, y, sample_weight=w)
    np.testing.assert_allclose(scaled.temperature_, c * base.temperature_, rtol=1e-10)


@settings(max_examples=30, deadline=None)
@given(exponent=st.floats(-300.0, 300.0))
def test_temperature_equivariance_fuzzed(exponent):
    z, y, w = temperature_data(n=100, k=3, seed=6)
    c = 10.0**exponent
    base = TemperatureScaling().fit(z, y, sample_weight=w).temperature_
    scaled = TemperatureScaling().fit(z * c, y, sample_weight=w).temperature_
    np.testing.assert_allclose(scaled, c * base, rtol=1e-10)


@pytest.mark.parametrize("c", [1.0, 1e-300, 1e300])
def test_masked_class_at_float_min_is_ignored(c):
    # A class masked with the most negative double has probability 0 for any
    # temperature that is not astronomically large, so the fit equals the fit
    # without that column. On main: T = nan.
    z, y, w = temperature_data(k=3, seed=7)
    keep = y != 2
    z, y, w = z[keep] * c, y[keep], w[keep]
    masked = z.copy()
    masked[:, 2] = np.finfo(float).min
    reference = TemperatureScaling().fit(z[:, :2], y, sample_weight=w)
    cal = TemperatureScaling().fit(masked, y, sample_weight=w, classes=[0, 1, 2])
    np.testing.assert_allclose(cal.temperature_, reference.temperature_, rtol=1e-10)
    proba = cal.predict_proba(masked)
    assert np.all(proba[:, 2] == 0.0)
    np.testing.assert_allclose(
        proba[:, :2], reference.predict_proba(z[:, :2]), rtol=1e-9, atol=1e-15
    )


def test_a_class_far_below_the_others_does_not_stall_the_solver():
    # A column at -1e150 makes L''(0) ~ 1e300, so Newton's first step from
    # beta = 0 lands ~1e150 too low; the bracket must grow fast enough.
    z, y, w = temperature_data(k=3, seed=8)
    keep = y != 2
    z, y, w = z[keep], y[keep], w[keep]
    far = z.copy()
    far[:, 2] = -1e150
    reference = TemperatureScaling().fit(z[:, :2], y, sample_weight=w)
    cal = TemperatureScaling().fit(far, y, sample_weight=w, classes=[0, 1, 2])
    np.testing.assert_allclose(cal.temperature_, reference.temperature_, rtol=1e-10)


def test_predictions_at_the_float64_limits_are_exact():
    # softmax((z - max z) / T): no inf - inf even where z / T overflows.
    z, y, _ = temperature_data(k=3, seed=9)
    cal = TemperatureScaling().fit(z / 10.0, y)  # underconfident: T < 1
    assert cal.temperature_ < 1.0
    extreme = np.array(
        [
            [1.7e308, -1.7e308, 0.0],
            [1.7e308, 1.7e308, -1.7e308],
            [-1.7e308, -1.7e308, -1.7e308],
            [HUGE, 1e308, 0.0],
        ]
    )
    expected = np.array(
        [[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3], [1.0, 0.0, 0.0]]
    )
    np.testing.assert_allclose(cal.predict_proba(extreme), expected, rtol=1e-15)


def test_binary_predictions_at_the_float64_limits_are_exact():
    s, y, _ = platt_data(seed=10)
    cal = TemperatureScaling().fit(s / 10.0, y)
    assert cal.temperature_ < 1.0
    proba = cal.predict_proba(np.array([HUGE, -HUGE, 0.0]))
    np.testing.assert_array_equal(proba, [[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])
