"""PlattScaling against a 50-digit Newton solver and scikit-learn."""

import mpmath
import numpy as np
import pytest
from scipy.special import expit
from sklearn.calibration import _SigmoidCalibration

from calibkit import PlattScaling
from calibkit.exceptions import CalibrationWarning, NoFiniteOptimumWarning


def miscalibrated_scores(n, seed, slope=0.4, offset=-0.5):
    rng = np.random.default_rng(seed)
    s = rng.normal(0.0, 2.0, n)
    y = (rng.random(n) < expit(slope * s + offset)).astype(int)
    return s, y


def mp_platt(s, t, w, dps=50):
    """Newton's method on the mean logistic loss in 50-digit arithmetic."""
    with mpmath.workdps(dps):
        s = [mpmath.mpf(float(v)) for v in s]
        t = [mpmath.mpf(float(v)) for v in t]
        w = [mpmath.mpf(float(v)) for v in w]
        a, b = mpmath.mpf(0), mpmath.mpf(0)
        for _ in range(200):
            g = [mpmath.mpf(0)] * 2
            h = [[mpmath.mpf(0)] * 2 for _ in range(2)]
            for si, ti, wi in zip(s, t, w):
                p = 1 / (1 + mpmath.exp(-(a * si + b)))
                r, c = wi * (p - ti), wi * p * (1 - p)
                g = [g[0] + r * si, g[1] + r]
                h[0][0] += c * si * si
                h[0][1] += c * si
                h[1][1] += c
            det = h[0][0] * h[1][1] - h[0][1] ** 2
            da = -(h[1][1] * g[0] - h[0][1] * g[1]) / det
            db = -(-h[0][1] * g[0] + h[0][0] * g[1]) / det
            a, b = a + da, b + db
            if abs(da) + abs(db) < mpmath.mpf(10) ** (-dps + 5):
                break
        return float(a), float(b)


def mean_log_loss(a, b, s, t, w):
    z = a * s + b
    return np.average(np.logaddexp(0, z) - t * z, weights=w)


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_high_precision_newton(seed):
    s, y = miscalibrated_scores(60, seed)
    w = np.random.default_rng(seed).uniform(0.5, 2.0, s.shape[0])
    cal = PlattScaling().fit(s, y, sample_weight=w)
    a_ref, b_ref = mp_platt(s, y, w)
    np.testing.assert_allclose(cal.coef_[0], a_ref, rtol=1e-10)
    np.testing.assert_allclose(cal.intercept_[0], b_ref, rtol=1e-10)


def test_large_scores_same_optimum_as_rescaled():
    # Newton is affine invariant: scores of order 1e10 give the rescaled fit.
    s, y = miscalibrated_scores(500, 3)
    small = PlattScaling().fit(s, y)
    large = PlattScaling().fit(s * 1e10, y)
    np.testing.assert_allclose(large.coef_[0] * 1e10, small.coef_[0], rtol=1e-9)
    np.testing.assert_allclose(large.intercept_[0], small.intercept_[0], rtol=1e-9)


def test_smoothed_targets_match_scikit_learn():
    s, y = miscalibrated_scores(400, 4)
    w = np.random.default_rng(4).uniform(0.5, 2.0, s.shape[0])
    cal = PlattScaling(target_smoothing=True).fit(s, y, sample_weight=w)
    ref = _SigmoidCalibration().fit(s, y, sample_weight=w)
    # scikit-learn stores A = -a, B = -b and stops L-BFGS at gtol=1e-6.
    np.testing.assert_allclose(cal.coef_[0], -ref.a_, rtol=1e-4)
    np.testing.assert_allclose(cal.intercept_[0], -ref.b_, rtol=1e-4, atol=1e-6)
    n_pos, n_neg = w[y == 1].sum(), w[y == 0].sum()
    t = np.where(y == 1, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    ours = mean_log_loss(cal.coef_[0], cal.intercept_[0], s, t, w)
    theirs = mean_log_loss(-ref.a_, -ref.b_, s, t, w)
    assert ours <= theirs + 1e-15


def test_separable_scores_warn_and_fall_back_to_smoothing():
    s = np.array([-2.0, -1.0, -0.5, 0.5, 1.0, 3.0])
    y = np.array([0, 0, 0, 1, 1, 1])
    with pytest.warns(NoFiniteOptimumWarning, match="separate the classes"):
        cal = PlattScaling().fit(s, y)
    smoothed = PlattScaling(target_smoothing=True).fit(s, y)
    np.testing.assert_allclose(cal.coef_, smoothed.coef_, rtol=1e-12)
    assert np.isfinite(cal.coef_).all()
    assert cal.coef_[0] > 0


def test_probability_input_equals_log_odds_input():
    s, y = miscalibrated_scores(300, 5)
    from_logits = PlattScaling().fit(s, y)
    from_probs = PlattScaling(input="probabilities").fit(expit(s), y)
    np.testing.assert_allclose(from_probs.coef_, from_logits.coef_, rtol=1e-8)
    np.testing.assert_allclose(
        from_probs.predict_proba(expit(s)), from_logits.predict_proba(s), rtol=1e-8
    )


def test_two_column_logits_use_their_difference():
    s, y = miscalibrated_scores(300, 6)
    z = np.column_stack([-0.5 * s + 1.0, 0.5 * s + 1.0])
    binary = PlattScaling().fit(s, y)
    two_col = PlattScaling().fit(z, y)
    np.testing.assert_allclose(two_col.coef_[0], binary.coef_[0], rtol=1e-10)
    np.testing.assert_allclose(two_col.predict_proba(z), binary.predict_proba(s))


def test_multiclass_is_one_vs_rest_on_softmax_log_odds():
    rng = np.random.default_rng(7)
    z = rng.normal(0, 2, (400, 3))
    y = rng.integers(0, 3, 400)
    cal = PlattScaling().fit(z, y)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    for k in range(3):
        ref = PlattScaling().fit(np.log(p[:, k]) - np.log1p(-p[:, k]), y == k)
        np.testing.assert_allclose(cal.coef_[k], ref.coef_[0], rtol=1e-9)
    proba = cal.predict_proba(z)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-12)


def test_constant_scores_give_base_rate():
    y = np.array([0, 1, 1, 1])
    cal = PlattScaling().fit(np.full(4, -2.0), y)
    assert cal.coef_[0] == 0.0
    np.testing.assert_allclose(cal.predict_proba([5.0])[0, 1], 0.75, rtol=1e-12)


def test_one_vs_rest_separation_warning_points_at_the_caller():
    """Multiclass: the warning of a separating class names its label and points
    at the user's line (it pointed into calibkit under Python 3.11)."""
    logits = np.eye(3) * 5.0
    with pytest.warns(NoFiniteOptimumWarning, match="class '[abc]' against") as record:
        PlattScaling().fit(logits, np.array(["a", "b", "c"]))
    assert len(record) == 3
    assert "class 'b' against" in str(record[1].message)
    assert {r.filename for r in record} == {__file__}


def test_exact_zero_and_one_probabilities_get_laplace_frequencies():
    # Before: p = 0 / 1 became log-odds -/+1500 and dominated the sigmoid.
    s, y = miscalibrated_scores(200, 8)
    p = expit(s)
    rng = np.random.default_rng(8)
    w = rng.uniform(0.5, 2.0, 200)
    p[:20], p[20:35] = 0.0, 1.0
    y[:20] = rng.random(20) < 0.1
    y[20:35] = rng.random(15) < 0.9
    with pytest.warns(CalibrationWarning, match="exactly 0 or 1.*zero_proba_"):
        cal = PlattScaling(input="probabilities").fit(p, y, sample_weight=w)
    zero, one = slice(0, 20), slice(20, 35)
    np.testing.assert_allclose(
        cal.zero_proba_[0], (w[zero][y[zero] == 1].sum() + 1) / (w[zero].sum() + 2)
    )
    np.testing.assert_allclose(
        cal.one_proba_[0], (w[one][y[one] == 1].sum() + 1) / (w[one].sum() + 2)
    )
    # The sigmoid is fitted on the other rows, with Platt's prior.
    ref = PlattScaling(target_smoothing=True).fit(s[35:], y[35:], sample_weight=w[35:])
    np.testing.assert_allclose(cal.coef_, ref.coef_, rtol=1e-8)
    np.testing.assert_allclose(cal.intercept_, ref.intercept_, rtol=1e-8, atol=1e-12)
    proba = cal.predict_proba(np.array([0.0, 1.0, 0.5]))[:, 1]
    np.testing.assert_allclose(
        proba, [cal.zero_proba_[0], cal.one_proba_[0], ref.predict_proba([0.0])[0, 1]]
    )


def test_multiclass_exact_zeros_get_their_own_probability_per_class():
    rng = np.random.default_rng(9)
    z = rng.normal(0, 2, (300, 3))
    y = rng.integers(0, 3, 300)
    p = np.exp(z - z.max(1, keepdims=True))
    p[:60, 0] = 0.0  # class 0 ruled out, wrongly in a third of those rows
    y[:60] = np.where(rng.random(60) < 1 / 3, 0, y[:60])
    p /= p.sum(1, keepdims=True)
    with pytest.warns(CalibrationWarning, match="exactly 0 or 1"):
        cal = PlattScaling(input="probabilities").fit(p, y)
    # Beta prior of two pseudo-rows at the rate pooled over the classes that
    # have exact zeros (here class 0 alone).
    n_true = (y[:60] == 0).sum()
    pooled = (n_true + 1) / (60 + 2)
    np.testing.assert_allclose(cal.zero_proba_[0], (n_true + 2 * pooled) / (60 + 2))
    # Classes never at 0 or 1: the sigmoid at the extreme finite score.
    s = np.log(p[60:, 1]) - np.log1p(-p[60:, 1])
    edge = expit(cal.coef_[1] * s.min() + cal.intercept_[1])
    np.testing.assert_allclose(cal.zero_proba_[1], edge)
    held_out = cal.predict_proba(p[:60])
    assert np.all(held_out[:, 0] > 0.05)  # before: about exp(-750 * coef)
    np.testing.assert_allclose(held_out.sum(1), 1.0, rtol=1e-12)


# --- large inputs: warm start from a subsample, summary in the first pass ----


def longdouble_platt(s, t, w):
    """Newton's method on the mean logistic loss in numpy long double."""
    s, t, w = (np.asarray(v, dtype=np.longdouble) for v in (s, t, w))
    a = b = np.longdouble(0)
    for _ in range(100):
        z = a * s + b
        p = 1 / (1 + np.exp(-z))
        r, c = w * (p - t), w * p * (1 - p)
        g = np.array([np.sum(r * s), np.sum(r)])
        h = np.array([[np.sum(c * s * s), np.sum(c * s)], [np.sum(c * s), np.sum(c)]])
        det = h[0, 0] * h[1, 1] - h[0, 1] ** 2
        da = -(h[1, 1] * g[0] - h[0, 1] * g[1]) / det
        db = -(-h[0, 1] * g[0] + h[0, 0] * g[1]) / det
        a, b = a + da, b + db
        if abs(da) + abs(db) < 1e-17:
            break
    return float(a), float(b)


@pytest.mark.parametrize("weighted", [False, True])
def test_large_input_matches_long_double_newton(weighted):
    s, y = miscalibrated_scores(150_000, 10, slope=0.7, offset=1.5)
    s += 40.0  # far from zero: the summary's sums must not cancel
    w = np.random.default_rng(10).uniform(0.0, 2.0, s.shape[0]) if weighted else None
    cal = PlattScaling().fit(s, y, sample_weight=w)
    assert cal.n_iter_[0] <= 4
    a_ref, b_ref = longdouble_platt(s, y, np.ones_like(s) if w is None else w)
    np.testing.assert_allclose(cal.coef_[0], a_ref, rtol=1e-11)
    np.testing.assert_allclose(cal.intercept_[0], b_ref, rtol=1e-11)


def test_large_input_integer_weights_equal_repeated_rows():
    s, y = miscalibrated_scores(70_000, 11)
    w = np.random.default_rng(11).integers(0, 3, s.shape[0])
    weighted = PlattScaling(target_smoothing=True).fit(s, y, sample_weight=w)
    rows = np.repeat(np.arange(s.shape[0]), w)
    repeated = PlattScaling(target_smoothing=True).fit(s[rows], y[rows])
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-11)
    np.testing.assert_allclose(weighted.intercept_, repeated.intercept_, rtol=1e-11)


def test_large_input_outlier_missed_by_the_subsample():
    # One score near the float64 limit, not in the evenly spaced subsample:
    # the first pass sees it and the fit is rescaled (equivariance holds).
    s, y = miscalibrated_scores(100_001, 12)
    s[1] = 1e300
    y[1] = 1
    big = PlattScaling().fit(s, y)
    small = PlattScaling().fit(s * 2.0**-900, y)
    np.testing.assert_allclose(small.coef_ * 2.0**-900, big.coef_, rtol=1e-10)
    np.testing.assert_allclose(small.intercept_, big.intercept_, rtol=1e-10)


def test_large_separable_input_warns_and_smooths():
    s = np.linspace(-5.0, 5.0, 80_000)
    y = (s > 0.3).astype(int)
    with pytest.warns(NoFiniteOptimumWarning, match="separate the classes"):
        cal = PlattScaling().fit(s, y)
    smoothed = PlattScaling(target_smoothing=True).fit(s, y)
    np.testing.assert_allclose(cal.coef_, smoothed.coef_, rtol=1e-12)
    n_pos, n_neg = y.sum(), (1 - y).sum()
    t = np.where(y == 1, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    a_ref, b_ref = longdouble_platt(s, t, np.ones_like(s))
    np.testing.assert_allclose(cal.coef_[0], a_ref, rtol=1e-9)
    np.testing.assert_allclose(cal.intercept_[0], b_ref, rtol=1e-9)


def test_large_float32_scores_match_float64():
    s, y = miscalibrated_scores(90_000, 13)
    s32 = s.astype(np.float32)
    a = PlattScaling().fit(s32, y)
    b = PlattScaling().fit(s32.astype(np.float64), y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-12)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-12)


def test_large_fit_reads_all_rows_three_times(monkeypatch):
    # Deterministic cost: the solver's passes over all rows (the subsample
    # fit reads 1/32 of them or less). Before: a summary pass and 5 Newton
    # passes.
    import calibkit._newton
    import calibkit._solvers

    rows_read = []
    for module in (calibkit._solvers, calibkit._newton):
        original = module.reduce_rows

        def counted(kernel, *arrays, _original=original, **kwargs):
            rows_read.append(arrays[0].shape[0])
            return _original(kernel, *arrays, **kwargs)

        monkeypatch.setattr(module, "reduce_rows", counted)
    s, y = miscalibrated_scores(1_000_000, 14)
    cal = PlattScaling(target_smoothing=True).fit(s, y)
    assert rows_read.count(s.shape[0]) == 3
    assert sum(rows_read) < 3.2 * s.shape[0]
    assert cal.n_iter_[0] == 3


@pytest.mark.parametrize("n", [3000, 200_000])  # in one go, then from a subsample
@pytest.mark.parametrize("scale", [5e-324, 1e200])
def test_fit_does_not_depend_on_the_scale_of_the_weights(n, scale):
    # All weights 5e-324 moved the slope by 1.3 (the weighted sums kept a
    # bit or two); the unsmoothed optimum depends on ratios of weights only.
    rng = np.random.default_rng(0)
    s = rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-1.5 * s))).astype(int)
    ref = PlattScaling().fit(s, y)
    got = PlattScaling().fit(s, y, sample_weight=np.full(n, scale))
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=1e-12)
    np.testing.assert_allclose(got.intercept_, ref.intercept_, rtol=1e-9, atol=1e-14)
    # Smoothed targets count rows: weights of 5e-324 are next to no rows, so
    # both targets are 1/2 and the sigmoid is flat.
    smooth = PlattScaling(target_smoothing=True).fit(
        s, y, sample_weight=np.full(n, scale)
    )
    if scale < 1:
        assert abs(smooth.coef_[0]) < 1e-9
