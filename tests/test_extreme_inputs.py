"""Calibrators at the edges of float64 and with unusual weights.

Platt and temperature scaling are scale-equivariant: multiplying the scores by
``c`` divides Platt's slope by ``c`` (same intercept, same predictions) and
multiplies the temperature by ``c``. The fits at ``c = 1`` are checked against
50-digit references in ``test_platt.py`` and ``test_temperature.py``; here the
fits at every other ``c`` are checked against them, across the float64 range.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit

import calibkit
from calibkit import IsotonicCalibration, PlattScaling, TemperatureScaling
from calibkit.exceptions import CalibrationWarning, NoFiniteOptimumWarning

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


def test_temperature_logits_too_small_for_beta_raise():
    # Subnormal logits: 1 / T (~1e310) is beyond float64. On main: T = 0.
    z, y, _ = temperature_data(seed=12)
    with pytest.raises(ValueError, match="logits in X are too close to zero"):
        TemperatureScaling().fit(z * 1e-310, y)


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


# -- weights -----------------------------------------------------------------


@pytest.mark.parametrize("how", ["zero weights", "absent from y"])
def test_platt_class_without_weight_is_named_not_called_separated(how):
    # On main: "The scores separate the classes", which is not what happened.
    z, y, _ = temperature_data(n=300, k=3, seed=11)
    if how == "zero weights":
        w = np.where(y == 2, 0.0, 1.0)
        fit = {"sample_weight": w}
    else:
        keep = y != 2
        z, y = z[keep], y[keep]
        w = np.ones(len(y))
        fit = {"classes": [0, 1, 2]}
    with pytest.warns(
        NoFiniteOptimumWarning, match=r"no calibration rows.*: class 2\."
    ) as rec:
        cal = PlattScaling().fit(z, y, **fit)
    assert not any("separate" in str(r.message) for r in rec)
    # Platt's smoothed targets with no positive row: every target is
    # 1 / (W + 2), met exactly by a flat map.
    assert cal.coef_[2] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(expit(cal.intercept_[2]), 1.0 / (w.sum() + 2.0))


def test_binary_platt_class_with_zero_weight_is_named():
    s, y, _ = platt_data(seed=12)
    w = np.where(y == 0, 0.0, 1.0)
    with pytest.warns(NoFiniteOptimumWarning, match=r"no calibration.*: class 0\."):
        cal = PlattScaling().fit(s, y, sample_weight=w)
    # Only positives: the smoothed positive target (W + 1) / (W + 2).
    n_pos = w.sum()
    np.testing.assert_allclose(
        cal.predict_proba(s)[:, 1], (n_pos + 1) / (n_pos + 2), rtol=1e-9
    )


def test_platt_smoothing_integer_weights_equal_repeated_rows():
    # The smoothed targets use weighted counts, i.e. weights as frequencies.
    s, y, _ = platt_data(seed=13)
    w = np.random.default_rng(13).integers(0, 4, len(y))
    weighted = PlattScaling(target_smoothing=True).fit(s, y, sample_weight=w)
    repeated = PlattScaling(target_smoothing=True).fit(np.repeat(s, w), np.repeat(y, w))
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-10)
    np.testing.assert_allclose(weighted.intercept_, repeated.intercept_, rtol=1e-10)


def test_isotonic_auto_eps_integer_weights_equal_repeated_rows():
    s, y, _ = platt_data(seed=14)
    w = np.random.default_rng(14).integers(0, 4, len(y))
    weighted = IsotonicCalibration().fit(s, y, sample_weight=w)
    repeated = IsotonicCalibration().fit(np.repeat(s, w), np.repeat(y, w))
    assert weighted.eps_ == repeated.eps_ == 1.0 / (w.sum() + 2.0)
    grid = np.linspace(-8, 8, 501)
    np.testing.assert_allclose(
        weighted.predict_proba(grid), repeated.predict_proba(grid), rtol=1e-12
    )


def test_isotonic_normalised_weights_warn_that_eps_dominates():
    # On main: weights summing to 1 silently clipped every prediction to
    # [1/3, 2/3].
    s, y, _ = platt_data(seed=15)
    w = np.full(len(y), 1.0 / len(y))
    with pytest.warns(CalibrationWarning, match=r"sums to 1 over 400 rows.*\[0.333"):
        cal = IsotonicCalibration().fit(s, y, sample_weight=w)
    assert cal.eps_ == pytest.approx(1.0 / 3.0)
    # An explicit eps is the way out, and draws no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        IsotonicCalibration(eps=1e-3).fit(s, y, sample_weight=w)


@pytest.mark.parametrize(
    "weights",
    [np.ones(400), np.full(400, 0.6), np.r_[np.full(399, 1e-3), 1e3]],
    ids=["unit", "mean above 1/2", "large total"],
)
def test_isotonic_ordinary_weights_do_not_warn(weights):
    s, y, _ = platt_data(seed=16)
    IsotonicCalibration().fit(s, y, sample_weight=weights)


def test_isotonic_tiny_weights_save_and_reload(tmp_path):
    # On main: eps_ = 1 / (5e-298 + 2) rounded to 0.5, outside [0, 0.5), and
    # calibkit.load refused the file calibkit.save had written.
    s, y, _ = platt_data(seed=17)
    with pytest.warns(CalibrationWarning, match="read as frequencies"):
        cal = IsotonicCalibration().fit(s, y, sample_weight=np.full(len(y), 1e-300))
    assert cal.eps_ < 0.5
    calibkit.save(cal, tmp_path / "cal.json")
    loaded = calibkit.load(tmp_path / "cal.json")
    np.testing.assert_array_equal(loaded.predict_proba(s), cal.predict_proba(s))
    np.testing.assert_allclose(cal.predict_proba(s), 0.5, rtol=1e-15)


def test_isotonic_fit_ignores_the_scale_of_the_weights():
    # Only the clipping bound reads weights as counts; the PAV fit itself uses
    # relative weights, down to 1e-300.
    s, y, w = platt_data(seed=18)
    base = IsotonicCalibration(eps=0).fit(s, y, sample_weight=w)
    tiny = IsotonicCalibration(eps=0).fit(s, y, sample_weight=w * 1e-300)
    for a, b in zip(base.y_thresholds_, tiny.y_thresholds_, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


# -- logits whose log-odds overflow float64 (rows spanning > 1.8e308) -----------

SPAN_ROW_2 = [-1.5e308, 1.5e308]  # log-odds 3e308: not a float64
SPAN_ROW_3 = [-1.5e308, 1.5e308, 0.0]


@pytest.mark.parametrize("cls", [PlattScaling, IsotonicCalibration])
@pytest.mark.parametrize("row", [SPAN_ROW_2, SPAN_ROW_3])
def test_fit_refuses_logits_whose_log_odds_overflow(cls, row):
    k = len(row)
    X = np.vstack([np.eye(k), np.eye(k)[::-1], [row]])
    y = np.r_[np.arange(k), np.arange(k)[::-1], 1]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(
            ValueError, match=rf"log-odds exceed the float64.*row {2 * k}"
        ):
            cls().fit(X, y)


def _exact_platt(coef, intercept, log_odds):
    """sigmoid(coef * s + b) with ``coef * s`` computed in exact rationals."""
    from fractions import Fraction

    z = [
        float(Fraction(a) * s + Fraction(b))
        for a, s, b in zip(coef, log_odds, intercept)
    ]
    return expit(np.array(z))


def test_platt_predictions_for_log_odds_beyond_float64_are_exact():
    X = np.array([[0.0, 1.0], [3.0, 1.0], [1.0, 2.0], [2.0, 0.5]])
    cal = PlattScaling(target_smoothing=True).fit(X, [1, 0, 0, 1])
    # A slope small enough that log-odds of 3e308 give an ordinary probability.
    cal.coef_[:] = 1e-308
    from fractions import Fraction

    s = Fraction(SPAN_ROW_2[1]) - Fraction(SPAN_ROW_2[0])  # 3e308, exactly
    expected = _exact_platt(cal.coef_, cal.intercept_, [s])[0]
    reversed_ = _exact_platt(cal.coef_, cal.intercept_, [-s])[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        p = cal.predict_proba(np.array([SPAN_ROW_2, SPAN_ROW_2[::-1]]))
    np.testing.assert_allclose(p[0, 1], expected, rtol=1e-14)
    np.testing.assert_allclose(p[1, 1], reversed_, rtol=1e-14)
    cal.coef_[:] = 0.0  # a constant map, never 0 * inf = NaN
    p = cal.predict_proba(np.array([SPAN_ROW_2]))
    np.testing.assert_allclose(p[0, 1], expit(cal.intercept_[0]), rtol=1e-15)


def test_multiclass_platt_predictions_for_log_odds_beyond_float64_are_exact():
    from fractions import Fraction

    X = np.array([[0.0, 1.0, 2.0], [3.0, 1.0, 1.0], [1.0, 2.0, 1.0], [2.0, 0.0, 0.0]])
    cal = PlattScaling(target_smoothing=True).fit(X, [1, 0, 2, 2])
    cal.coef_[:] = 1e-308
    lo, hi, mid = (Fraction(v) for v in SPAN_ROW_3)
    # Per-class log-odds z_k - logsumexp(z_{-k}); the log terms (< 1e-300 of
    # the differences here) vanish below float64 precision.
    log_odds = [lo - hi, hi - mid, mid - hi]
    p = _exact_platt(cal.coef_, cal.intercept_, log_odds)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        got = cal.predict_proba(np.array([SPAN_ROW_3]))
    np.testing.assert_allclose(got[0], p / p.sum(), rtol=1e-13)


@pytest.mark.parametrize("interpolation", ["linear", "step"])
def test_isotonic_predictions_for_log_odds_beyond_float64_take_the_end_values(
    interpolation,
):
    X = np.array([[0.0, 1.0], [3.0, 1.0], [1.0, 2.0], [2.0, 0.5]])
    cal = IsotonicCalibration(interpolation=interpolation).fit(X, [1, 0, 0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        p = cal.predict_proba(np.array([SPAN_ROW_2, SPAN_ROW_2[::-1]]))
    # Beyond every calibration score: the fitted values at the two ends.
    ends = cal.predict_proba(np.array([[0.0, 1e300], [1e300, 0.0]]))
    np.testing.assert_array_equal(p, ends)


def test_float32_multiclass_log_odds_beyond_float32_stay_finite():
    # Logits within float32, log-odds (up to 6e38) beyond it: stored as
    # float64 instead of becoming inf (which put rows at the ends).
    X = np.array(
        [[3e38, -3e38, 0.0], [0.0, 3e38, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]],
        dtype=np.float32,
    )
    y = [0, 1, 2, 1]
    for cls in (PlattScaling, IsotonicCalibration):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NoFiniteOptimumWarning)
            got = cls().fit(X, y).predict_proba(X)
            ref = cls().fit(X.astype(np.float64), y).predict_proba(X.astype(np.float64))
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, ref, rtol=1e-6)


# -- solver paths at the float64 limits (long fuzz run, F11) ----------------------


def test_temperature_beyond_float64_is_refused_not_inf():
    # The optimal T exceeds 1.8e308 (1/beta overflowed to inf silently, which
    # predicts uniform probabilities: not the optimum).
    X = np.array(
        [1e308, HUGE, -6.1e-09, -7.0e296, -8.7e277, 0.0, 6.9e-300, -7.6e-148, -2.1e170]
    )
    y = [0, 1, 0, 0, 0, 0, 0, 1, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match=r"too large .* temperature .* float64"):
            TemperatureScaling().fit(X, y)


def test_temperature_far_below_the_logit_scale_needs_no_overflow():
    # beta ~ 1e300 (T ~ 1e-300): the unbounded bracket grew past float64.
    X = np.array([1e-300, 1e-300, 0.27, 0.0, 0.16, 0.17, 0.0, 0.0, 0.0, 1e-300, 1e-300])
    y = np.array([1, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", calibkit.exceptions.InputKindWarning)
        cal = TemperatureScaling().fit(X, y)
    # Independent check: the same fit on the logits scaled by 1e300 (ordinary
    # magnitudes; the 0.16-0.27 rows are then certain) gives T * 1e300.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", calibkit.exceptions.InputKindWarning)
        ref = TemperatureScaling().fit(X * 1e300, y).temperature_
    np.testing.assert_allclose(cal.temperature_ * 1e300, ref, rtol=1e-6)


def test_temperature_bisection_of_a_huge_bracket_needs_no_overflow():
    X = np.array([-6.3e146, -8.1e-164, 1.0, -6.7e058, HUGE, -1e308, 5e-324, -3.8e-298])
    y = [0, 1, 0, 0, 1, 0, 1, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        t = TemperatureScaling().fit(X, y).temperature_
    # Scale-equivariance: the same data times 2**-600 give T * 2**-600.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoFiniteOptimumWarning)
        t_small = TemperatureScaling().fit(X * 2.0**-600, y).temperature_
    np.testing.assert_allclose(t * 2.0**-600, t_small, rtol=1e-6)


def test_platt_interquartile_range_vanishing_against_the_spread():
    # Scores at -1e308 and near 0: scaled to [-1, 1] the IQR is subnormal, and
    # standardising by it overflowed.
    X = np.array([2.9e-166, -1e308, 1.7e099, 0.5, 1.0, -6.0e-171])
    y = [1, 0, 0, 1, 0, 1]
    w = np.array([0.0, 4.6, 1.0, 2.0, 4.6, 6.36])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        cal = PlattScaling().fit(X, y, sample_weight=w)
    # Equivariance: scores times 2**-900 give coef * 2**900.
    small = PlattScaling().fit(X * 2.0**-900, y, sample_weight=w)
    np.testing.assert_allclose(cal.coef_ * 2.0**900, small.coef_, rtol=1e-8)
    np.testing.assert_allclose(cal.intercept_, small.intercept_, rtol=1e-8)


def test_zero_logit_fit_with_a_far_trial_step_needs_no_overflow():
    P = np.array(
        [
            [1.0, 0.0, 0.0],
            [9.3e-50, 1.0, 1.4e-45],
            [1.1e-300, 1.0, 1.1e-300],
            [0.412431, 0.27482, 0.312749],
            [0.5, 0.0, 0.5],
            [1.0, 3.2e-16, 1.5e-300],
        ]
    )
    y = [1, 0, 0, 1, 1, 2]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", CalibrationWarning)
        cal = TemperatureScaling(input="probabilities").fit(P, y)
        p = cal.predict_proba(P)
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0)


def test_platt_predictions_where_slope_times_score_overflows():
    cal = PlattScaling().fit(np.array([0.0, 1.0, 2.0, 3.0]), [0, 1, 0, 1])
    cal.coef_[:] = 2.0  # 2 * 1e308 is beyond float64: the exact limit is p = 0/1
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        p = cal.predict_proba(np.array([1e308, -1e308]))
    np.testing.assert_array_equal(p, [[0.0, 1.0], [1.0, 0.0]])
    X = np.array([[0.0, 1.0, 2.0], [3.0, 1, 0], [1, 2, 0], [0, 0, 1]])
    cal = PlattScaling(target_smoothing=True).fit(X, [2, 0, 1, 1])
    cal.coef_[:] = 2.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        p = cal.predict_proba(np.array([[1e308, 0, 0], [0, 1e308, 0]]))
    np.testing.assert_array_equal(p, [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


@pytest.mark.parametrize("weights", [[3, 0, 0, 9], [3.0, 1.5e-141, 0.0, 0.0]])
def test_temperature_start_when_the_curvature_at_zero_underflows(weights):
    # L''(0) underflows to 0 (the weighted rows other than the first have
    # logits near 0): the Newton start -L'(0)/L''(0) divided by zero.
    X = np.array([-4.86e126, 8.9e-178, 1e308, 2.5e-050])
    y = [0, 1, 1, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", NoFiniteOptimumWarning)
        cal = TemperatureScaling().fit(X, y, sample_weight=np.array(weights))
    # Every weighted row is right: smoothed targets, and only row 0 moves with
    # T; its target is 1 - 1/(N_0 + 2) = 4/5 on class 0, so s_0 / T = log(1/4).
    np.testing.assert_allclose(cal.temperature_, X[0] / np.log(0.25), rtol=1e-9)
