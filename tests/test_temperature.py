"""TemperatureScaling against a 50-digit root of L'(beta) and scikit-learn."""

import tracemalloc

import mpmath
import numpy as np
import pytest
from sklearn.calibration import _TemperatureScaling

from calibkit import TemperatureScaling
from calibkit.exceptions import CalibrationWarning, NoFiniteOptimumWarning


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
    with pytest.warns(NoFiniteOptimumWarning, match="largest logit.*smoothed") as rec:
        cal = TemperatureScaling().fit(z, y)
    assert rec[0].filename == __file__  # the user's line, for logits ...
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    with pytest.warns(NoFiniteOptimumWarning, match="largest logit") as rec:
        TemperatureScaling(input="probabilities").fit(p, y)
    assert [r.filename for r in rec] == [__file__]  # ... and for probabilities
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
    from calibkit._solvers import TemperatureModel

    _, slope, _ = TemperatureModel(z, y, w, None).evaluate(1.0 / cal.temperature_)
    assert abs(slope) < 1e-12


def probabilities_with_zeros(n, k, seed):
    """Probabilities >= 0.15/(1 - zeroed mass) with exact zeros in some rows,
    and labels that sometimes fall on a zero (a model that is sometimes
    wrong to rule a class out)."""
    rng = np.random.default_rng(seed)
    p = 0.15 + (1 - 0.15 * k) * rng.dirichlet(np.ones(k), n)
    zeroed = rng.random((n, k)) < 0.25
    zeroed[np.arange(n), p.argmax(1)] = False  # keep a positive entry per row
    p[zeroed] = 0.0
    p /= p.sum(1, keepdims=True)
    honest = (p.cumsum(1) < rng.random((n, 1))).sum(1)
    y = np.where(rng.random(n) < 0.8, honest, rng.integers(0, k, n))
    return p, y


def zero_event_targets(p, y, w):
    """Platt's prior on the event "the truth is one of the row's exact zeros",
    written out: on rows with a zero, 1 - 1/(Z+ + 2) on the zeros when it is
    (the rest shared by the positive entries), 1/(Z- + 2) when it is not."""
    n, k = p.shape
    zero = p == 0
    truth_zero = zero[np.arange(n), y]
    has_zero = zero.any(1)
    d_pos = 1.0 / (w[truth_zero].sum() + 2.0)
    d_neg = 1.0 / (w[has_zero & ~truth_zero].sum() + 2.0)
    t = np.eye(k)[y]
    for i in np.flatnonzero(has_zero):
        if truth_zero[i]:
            t[i] = np.where(zero[i], 0.0, d_pos / (~zero[i]).sum())
            t[i, y[i]] = 1.0 - d_pos
        else:
            t[i] = np.where(zero[i], d_neg / zero[i].sum(), 0.0)
            t[i, y[i]] = 1.0 - d_neg
    return t


def mp_zero_logit_fit(p, y, w, targets, dps=50):
    """(beta, c) minimising the mean of logsumexp(a) - sum_k t_k a_k, with
    a_k = beta log p_k (p_k > 0) or c (p_k = 0): damped Newton in 50 digits."""
    with mpmath.workdps(dps):
        rows = [
            [None if v == 0 else mpmath.log(mpmath.mpf(float(v))) for v in row]
            for row in p
        ]
        w = [mpmath.mpf(float(v)) for v in w]
        t = [[mpmath.mpf(float(v)) for v in row] for row in targets]

        def evaluate(beta, c):
            loss, g, h = mpmath.mpf(0), [mpmath.mpf(0)] * 2, [mpmath.mpf(0)] * 3
            for row, ti, wi in zip(rows, t, w):
                a = [c if v is None else beta * v for v in row]
                x = [(mpmath.mpf(0), 1) if v is None else (v, 0) for v in row]
                e = [mpmath.exp(ai) for ai in a]
                q = [ei / sum(e) for ei in e]
                m = [sum(qk * xk[j] for qk, xk in zip(q, x)) for j in range(2)]
                tm = [sum(tk * xk[j] for tk, xk in zip(ti, x)) for j in range(2)]
                loss += wi * (
                    mpmath.log(sum(e)) - sum(tk * ak for tk, ak in zip(ti, a))
                )
                g = [g[j] + wi * (m[j] - tm[j]) for j in range(2)]
                cov = [
                    sum(qk * xk[i] * xk[j] for qk, xk in zip(q, x)) - m[i] * m[j]
                    for i, j in ((0, 0), (0, 1), (1, 1))
                ]
                h = [h[j] + wi * cov[j] for j in range(3)]
            return loss, g, h

        beta, c = mpmath.mpf(1), mpmath.mpf(-2)
        for _ in range(100):
            loss, g, h = evaluate(beta, c)
            det = h[0] * h[2] - h[1] ** 2
            db = -(h[2] * g[0] - h[1] * g[1]) / det
            dc = -(-h[1] * g[0] + h[0] * g[1]) / det
            step = mpmath.mpf(1)
            while evaluate(beta + step * db, c + step * dc)[0] > loss and step > 1e-20:
                step /= 2
            beta, c = beta + step * db, c + step * dc
            if abs(db) + abs(dc) < mpmath.mpf(10) ** (-dps + 8):
                break
        return float(beta), float(c)


@pytest.mark.parametrize(
    ("n_classes", "seed", "scale"), [(3, 20, 1.0), (4, 21, 1.0), (4, 21, 1e200)]
)
def test_zero_logit_matches_high_precision_fit(n_classes, seed, scale):
    # scale=1e200: the start of the search was once taken from weighted counts
    # over unweighted ones (c = 455), where the fit stalled.
    p, y = probabilities_with_zeros(30, n_classes, seed)
    w = np.random.default_rng(seed).uniform(0.5, 2.0, p.shape[0]) * scale
    with pytest.warns(CalibrationWarning, match="exactly 0 or 1.*zero_logit_"):
        cal = TemperatureScaling(input="probabilities").fit(p, y, sample_weight=w)
    assert cal.log_floor_ is None  # every log p > -2: no floor is a candidate
    beta, c = mp_zero_logit_fit(p, y, w, zero_event_targets(p, y, w))
    np.testing.assert_allclose(1.0 / cal.temperature_, beta, rtol=1e-10)
    np.testing.assert_allclose(cal.zero_logit_, c, rtol=1e-10)
    # New rows: exact zeros get exp(c) against p_k ** beta elsewhere.
    row = np.array([[0.0] + [1.0 / (n_classes - 1)] * (n_classes - 1)])
    expected = np.array([np.exp(c)] + [row[0, 1] ** beta] * (n_classes - 1))
    np.testing.assert_allclose(
        cal.predict_proba(row)[0], expected / expected.sum(), rtol=1e-12
    )


def test_exact_zeros_no_longer_distort_the_temperature():
    # Before: log 0 -> -750, so a zero that held the truth cost ~750 / T nats
    # and the fit flattened everything: T = 358 here, held-out loss 0.98.
    p, y = probabilities_with_zeros(400, 3, 22)
    with pytest.warns(CalibrationWarning, match="exactly 0 or 1"):
        cal = TemperatureScaling(input="probabilities").fit(p, y)
    # The positive probabilities are honest for 80 % of the labels: T near 1.
    assert 0.5 < cal.temperature_ < 3.0
    proba = cal.predict_proba(p)
    truth_on_zero = (p[np.arange(len(y)), y] == 0).mean()
    # The calibrated zeros carry about the share of truth they hold.
    np.testing.assert_allclose(proba[p == 0].sum() / len(y), truth_on_zero, rtol=0.05)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_true_class_masked_says_so_in_the_infinite_temperature_warning(dtype):
    # A row whose true class is masked (finfo.min) has infinite loss at every
    # finite T: T = inf is right, and the warning says which row caused it.
    X = np.array([[2.0, 0, 0], [0, 2.0, 0], [0, 0, 2.0], [1.0, 0, 0]], dtype=dtype)
    X[3, 2] = np.finfo(dtype).min
    with pytest.warns(
        NoFiniteOptimumWarning,
        match=r"1 calibration rows give their true class an \(effectively\) -inf "
        r"logit .* first at row 3",
    ):
        cal = TemperatureScaling().fit(X, [0, 1, 2, 2])
    assert cal.temperature_ == np.inf


def test_binary_log_odds_against_the_true_class_at_the_limit_are_named():
    s = np.array([2.0, -2.0, 1.0, -np.finfo(float).max])
    with pytest.warns(NoFiniteOptimumWarning, match=r"first at row 3"):
        TemperatureScaling().fit(s, [1, 0, 1, 1])


def test_logits_pointing_away_keep_the_general_message():
    X = np.array([[2.0, 0.0], [0.0, 2.0]])
    with pytest.warns(NoFiniteOptimumWarning, match="point away from the true classes"):
        TemperatureScaling().fit(X, [1, 0])


def test_large_fit_passes_and_memory(monkeypatch):
    # Deterministic cost: the first pass over all rows (made with the limits
    # L'(0), L'(inf)) is the solver's first evaluation, not followed by a
    # second pass at the same beta; extra memory stays under 10 % of float32
    # logits (before: 4 solver passes and 10.8 %).
    import calibkit._solvers

    rows_read = []
    original = calibkit._solvers.reduce_rows

    def counted(kernel, *arrays, **kwargs):
        rows_read.append(arrays[0].shape[0])
        return original(kernel, *arrays, **kwargs)

    monkeypatch.setattr(calibkit._solvers, "reduce_rows", counted)
    z, y = overconfident_logits(100_000, 100, 11)
    z32 = z.astype(np.float32)
    tracemalloc.start()
    cal = TemperatureScaling().fit(z32, y, classes=np.arange(100))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 0.1 * z32.nbytes
    assert rows_read.count(z.shape[0]) == cal.n_iter_ <= 3
    _, slope, _ = calibkit._solvers.TemperatureModel(z32, y, None, None).evaluate(
        1.0 / cal.temperature_
    )
    assert abs(slope) < 1e-12


@pytest.mark.parametrize("scale", [5e-324, 1e200])
def test_temperature_does_not_depend_on_the_scale_of_the_weights(scale):
    # Subnormal weights kept a bit or two in the weighted sums: T moved by a
    # quarter (K = 4) at 5e-324 before the weights were scaled to unit max.
    rng = np.random.default_rng(0)
    z = rng.normal(size=(3000, 4))
    y = np.argmax(1.5 * z + rng.gumbel(size=z.shape), axis=1)
    for X, labels in ((z, y), (z[:, 1] - z[:, 0], (y == 1).astype(int))):
        ref = TemperatureScaling().fit(X, labels).temperature_
        w = np.full(labels.shape[0], scale)
        got = TemperatureScaling().fit(X, labels, sample_weight=w).temperature_
        assert got == pytest.approx(ref, rel=1e-12)
