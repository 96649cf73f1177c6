"""TemperatureScaling against a 50-digit root of L'(beta) and scikit-learn."""

import tracemalloc

import mpmath
import numpy as np
import pytest
from sklearn.calibration import _TemperatureScaling

from calibkit import TemperatureScaling
from calibkit.exceptions import NoFiniteOptimumWarning


def overconfident_logits(n, k, seed, true_temperature=2.5, scale=4.0):
    """Logits whose calibrated temperature is about ``true_temperature``."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, scale, (n, k))
    p = np.exp(z / true_temperature)
    p /= p.sum(axis=1, keepdims=True)
    y = (p.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1)
    return z, y


def mp_inverse_temperature(z, y, w, dps=50, targets=None):
    """Root of L'(beta) by bisection in 50-digit arithmetic.

    ``targets``: optional (n, K) target probabilities (default one-hot ``y``);
    then ``L'(beta) = mean[E_beta z - sum_k t_k z_k]``.
    """
    with mpmath.workdps(dps):
        rows = [[mpmath.mpf(float(v)) for v in row] for row in z]
        w = [mpmath.mpf(float(v)) for v in w]
        if targets is None:
            targets = np.eye(len(rows[0]))[y]
        t = [[mpmath.mpf(float(v)) for v in row] for row in targets]

        def slope(beta):
            total = mpmath.mpf(0)
            for row, ti, wi in zip(rows, t, w):
                e = [mpmath.exp(beta * v) for v in row]
                mean = sum(ei * v for ei, v in zip(e, row)) / sum(e)
                total += wi * (mean - sum(tk * v for tk, v in zip(ti, row)))
            return total

        lo, hi = mpmath.mpf(0), mpmath.mpf(1)
        while slope(hi) < 0:
            hi *= 2
        for _ in range(120):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if slope(mid) < 0 else (lo, mid)
        return float((lo + hi) / 2)


@pytest.mark.parametrize(("n_classes", "seed"), [(3, 0), (5, 1)])
def test_matches_high_precision_root(n_classes, seed):
    z, y = overconfident_logits(40, n_classes, seed)
    w = np.random.default_rng(seed).uniform(0.5, 2.0, z.shape[0])
    cal = TemperatureScaling().fit(z, y, sample_weight=w)
    beta = mp_inverse_temperature(z, y, w)
    np.testing.assert_allclose(cal.temperature_, 1.0 / beta, rtol=1e-10)


def test_binary_log_odds_matches_root():
    rng = np.random.default_rng(2)
    s = rng.normal(0, 3, 50)
    y = (rng.random(50) < 1 / (1 + np.exp(-s / 2))).astype(int)
    cal = TemperatureScaling().fit(s, y)
    beta = mp_inverse_temperature(np.column_stack([np.zeros(50), s]), y, np.ones(50))
    np.testing.assert_allclose(cal.temperature_, 1.0 / beta, rtol=1e-10)


def test_huge_logits_have_a_huge_temperature():
    # T is equivariant: scaling the logits by c scales T by c, with no bound.
    z, y = overconfident_logits(500, 4, 3)
    base = TemperatureScaling().fit(z, y).temperature_
    huge = TemperatureScaling().fit(z * 1e10, y).temperature_
    np.testing.assert_allclose(huge, base * 1e10, rtol=1e-9)


def test_agrees_with_scikit_learn():
    z, y = overconfident_logits(2000, 5, 4)
    ours = TemperatureScaling().fit(z, y).temperature_
    theirs = 1.0 / float(_TemperatureScaling().fit(z, y).beta_)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_keeps_the_argmax_and_lowers_held_out_log_loss():
    z, y = overconfident_logits(4000, 4, 5)
    cal = TemperatureScaling().fit(z[:2000], y[:2000])
    proba = cal.predict_proba(z[2000:])
    np.testing.assert_array_equal(proba.argmax(1), z[2000:].argmax(1))

    def log_loss(p, labels):
        return -np.mean(np.log(p[np.arange(len(labels)), labels]))

    raw = np.exp(z[2000:] - z[2000:].max(1, keepdims=True))
    raw /= raw.sum(1, keepdims=True)
    assert log_loss(proba, y[2000:]) < log_loss(raw, y[2000:]) - 0.05


def test_probabilities_input_equals_log_probability_logits():
    z, y = overconfident_logits(500, 3, 6)
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    from_logits = TemperatureScaling().fit(z, y)
    from_probs = TemperatureScaling(input="probabilities").fit(p, y)
    np.testing.assert_allclose(from_probs.temperature_, from_logits.temperature_)
    np.testing.assert_allclose(
        from_probs.predict_proba(p), from_logits.predict_proba(z)
    )


def platt_prior_targets(y, w, n_classes):
    """Platt's prior for K classes, written out: a row of class k gets
    (N_k + 1) / (N_k + 2) on k and the rest, 1 / (N_k + 2), shared evenly."""
    counts = np.array([w[y == k].sum() for k in range(n_classes)])
    eps = 1.0 / (counts[y] + 2.0)
    t = np.repeat((eps / (n_classes - 1))[:, None], n_classes, axis=1)
    t[np.arange(len(y)), y] = 1.0 - eps
    return t


def test_all_rows_correct_falls_back_to_smoothed_targets():
    # Before: temperature_ = 0.0, one-hot predictions, and an infinite log-loss
    # on the first new row the model gets wrong.
    z = np.array([[3.0, 0.0, -1.0], [0.0, 2.0, 1.0], [0.0, -1.0, 5.0], [1.0, 0.0, 0.5]])
    y = np.array([0, 1, 2, 0])
    with pytest.warns(NoFiniteOptimumWarning, match="largest logit.*smoothed"):
        cal = TemperatureScaling().fit(z, y)
    assert 0 < cal.temperature_ < np.inf
    smoothed = TemperatureScaling(target_smoothing=True).fit(z, y)  # no warning
    assert cal.temperature_ == smoothed.temperature_
    targets = platt_prior_targets(y, np.ones(4), 3)
    beta = mp_inverse_temperature(z, y, np.ones(4), targets=targets)
    np.testing.assert_allclose(cal.temperature_, 1.0 / beta, rtol=1e-10)
    wrong = cal.predict_proba(np.array([[2.0, 0.0, 0.0]]))[0, 2]
    assert np.log(wrong) > -50  # a finite, moderate loss on a miss


@pytest.mark.parametrize(("n_classes", "seed"), [(2, 10), (4, 11)])
def test_target_smoothing_matches_high_precision_root(n_classes, seed):
    z, y = overconfident_logits(30, n_classes, seed)
    w = np.random.default_rng(seed).uniform(0.5, 2.0, z.shape[0])
    cal = TemperatureScaling(target_smoothing=True).fit(z, y, sample_weight=w)
    targets = platt_prior_targets(y, w, n_classes)
    beta = mp_inverse_temperature(z, y, w, targets=targets)
    np.testing.assert_allclose(cal.temperature_, 1.0 / beta, rtol=1e-10)
    if n_classes == 2:  # 1-D log-odds give the same fit: Platt's targets exactly
        s = z[:, 1] - z[:, 0]
        one_d = TemperatureScaling(target_smoothing=True).fit(s, y, sample_weight=w)
        np.testing.assert_allclose(one_d.temperature_, 1.0 / beta, rtol=1e-10)


def test_logits_pointing_away_warn_and_predict_uniform():
    z = np.array([[3.0, 0.0], [0.0, 2.0], [1.0, 0.5]])
    with pytest.warns(NoFiniteOptimumWarning, match="uniform"):
        cal = TemperatureScaling().fit(z, [1, 0, 1])
    assert cal.temperature_ == np.inf
    np.testing.assert_array_equal(cal.predict_proba(z), np.full((3, 2), 0.5))


def test_float32_logits_are_not_copied_to_float64():
    z, y = overconfident_logits(20_000, 500, 7, scale=1.0, true_temperature=0.5)
    z32 = z.astype(np.float32)
    tracemalloc.start()
    cal = TemperatureScaling().fit(z32, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # Chunked passes: a float64 copy alone would be twice the input's size.
    assert peak < 0.25 * z32.nbytes
    np.testing.assert_allclose(
        cal.temperature_,
        TemperatureScaling().fit(z32.astype(np.float64), y).temperature_,
        rtol=1e-12,
    )


def test_subsample_start_reaches_the_full_data_optimum():
    # Large inputs start from a subsample fit; the result must still be the
    # full-data optimum, which the 50-digit root gives on a small case and the
    # scale equivariance checks here at 1e-10.
    z, y = overconfident_logits(60_000, 3, 8)
    w = np.random.default_rng(8).uniform(0.5, 2.0, z.shape[0])
    cal = TemperatureScaling().fit(z, y, sample_weight=w)
    scaled = TemperatureScaling().fit(z * 3.0, y, sample_weight=w)
    np.testing.assert_allclose(scaled.temperature_, 3.0 * cal.temperature_, rtol=1e-10)
    from calibkit._solvers import _LogitPasses

    _, slope, _ = _LogitPasses(z, y, w, None).evaluate(1.0 / cal.temperature_)
    assert abs(slope) < 1e-12
