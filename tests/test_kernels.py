"""The shared numeric kernels of calibkit.metrics._kernels.

The Kullback–Leibler kernel is checked against 50-digit arithmetic (mpmath) on a
table that runs from divergences of 1e-300 to large ones and from p = q to far
apart; the other kernels against direct numpy formulas.
"""

import mpmath
import numpy as np
import pytest

from calibkit.metrics._binning import Binning
from calibkit.metrics._kernels import (
    bernoulli_kl,
    bin_totals,
    kl_rows,
    log_loss_sum,
    top_label,
    total_weight,
    weighted_sum,
)

mpmath.mp.dps = 50

#: Largest relative error accepted against the 50-digit reference. The kept
#: kernel reaches about 9e-13 on this table; the log1p-of-ratios form it
#: replaced was off by 0.34 (near p = q, where its two terms cancel).
KL_RTOL = 2e-12

#: Below this the divergence leaves the normal float range: only its sign
#: and size are checked there.
_NORMAL = 1e-300


def _bernoulli_table():
    """Pairs (a, b): a from 1e-300 to 1 - 1e-8, b = a(1 + r) from equal to far."""
    a_values = [1e-300, 1e-200, 1e-100, 1e-30, 1e-16, 1e-8, 1e-3]
    a_values += [0.1, 0.3, 0.5, 0.7, 0.9, 1 - 1e-8]
    ratios = [0.0, 1e-15, 1e-12, 1e-9, 1e-6, 1e-3, 0.1, 0.24, 0.26, 0.5, 1.0, 9.0]
    ratios += [-0.9, -0.5, -0.26, -0.24, -1e-3, -1e-9]
    pairs = [(a, a * (1 + r)) for a in a_values for r in ratios if 0 < a * (1 + r) < 1]
    pairs += [(0.5, 1e-300), (1e-300, 0.5), (0.9, 1e-10), (1e-10, 0.9)]
    pairs += [(0.999, 0.001), (0.0, 0.3), (1.0, 0.3), (0.3, 1 - 1e-12)]
    pairs += [(1 - 1e-12, 1 - 2e-12)]
    a, b = (np.array(column) for column in zip(*pairs, strict=True))
    return a, b


def _bernoulli_reference(a, b):
    out = []
    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        x, y = mpmath.mpf(x), mpmath.mpf(y)
        first = 0 if x == 0 else x * mpmath.log(x / y)
        # log1p of the exact difference: 1 - x rounds at 50 digits for x < 1e-50.
        second = 0 if x == 1 else (1 - x) * mpmath.log1p((y - x) / (1 - y))
        out.append(first + second)
    return out


def _assert_close_to(values, reference):
    for value, exact in zip(np.asarray(values).tolist(), reference, strict=True):
        if exact == 0:
            assert value == 0
        elif abs(exact) < _NORMAL:
            assert abs(value) < 1e-290
        else:
            # Rows that do not sum to 1 exactly in floats can give a (tiny)
            # negative sum; it is the value of the given floats all the same.
            assert abs((mpmath.mpf(value) - exact) / exact) < KL_RTOL, (value, exact)


def test_bernoulli_kl_against_50_digits():
    a, b = _bernoulli_table()
    _assert_close_to(bernoulli_kl(a, b), _bernoulli_reference(a, b))


def test_bernoulli_kl_with_exact_complements_against_50_digits():
    # Complements given as exact floats (here 1 - a is exact for a >= 1/2).
    a, b = _bernoulli_table()
    keep = (a >= 0.5) & (b >= 0.5)
    a, b = a[keep], b[keep]
    values = bernoulli_kl(a, b, a_complement=1.0 - a, b_complement=1.0 - b)
    _assert_close_to(values, _bernoulli_reference(a, b))


def test_binary_kl_rows_match_bernoulli_kl():
    a, b = _bernoulli_table()
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal(kl_rows(a, b), bernoulli_kl(a, b))


def test_kl_rows_against_50_digits():
    rng = np.random.default_rng(0)
    rows_p, rows_q = [], []
    for scale in [0.0, 1e-14, 1e-10, 1e-6, 1e-2, 0.3, 2.0]:
        for k in (2, 3, 10):
            p = rng.dirichlet(np.ones(k))
            q = p * np.exp(scale * rng.standard_normal(k))
            rows_p.append(p)
            rows_q.append(q / q.sum())
    reference = [
        sum(
            mpmath.mpf(x) * mpmath.log(mpmath.mpf(x) / mpmath.mpf(y))
            for x, y in zip(p.tolist(), q.tolist(), strict=True)
            if x > 0
        )
        for p, q in zip(rows_p, rows_q, strict=True)
    ]
    values = [float(kl_rows(p[None], q[None])[0]) for p, q in zip(rows_p, rows_q)]
    _assert_close_to(values, reference)


def test_kl_is_infinite_where_q_rules_out_p():
    assert bernoulli_kl(0.5, 0.0) == np.inf
    assert bernoulli_kl(0.5, 1.0) == np.inf
    assert bernoulli_kl(0.0, 0.0) == 0.0


def test_log_loss_sum_counts_certain_and_wrong_rows():
    prob = np.array([0.5, 0.0, 1.0, 0.25])
    y = np.array([1, 1, 0, 0])
    total, n_infinite, first = log_loss_sum(prob, y, None)
    assert (n_infinite, first) == (2, [1, 2])
    assert total == pytest.approx(np.log(2) - np.log(0.75), rel=1e-15)
    # A zero weight takes a row out of the count.
    _, n_infinite, first = log_loss_sum(prob, y, np.array([1.0, 0.0, 1.0, 1.0]))
    assert (n_infinite, first) == (1, [2])


def test_top_label_ties_and_binary_half():
    predicted, confidence = top_label(np.array([[0.4, 0.4, 0.2], [0.1, 0.2, 0.7]]))
    assert predicted.tolist() == [0, 2]
    assert confidence.tolist() == [0.4, 0.7]
    predicted, confidence = top_label(np.array([0.5, 0.75, 0.25]))
    assert predicted.tolist() == [0, 1, 0]
    assert confidence.tolist() == [0.5, 0.75, 0.75]


def test_weight_helpers_treat_none_as_unit_weights():
    values = np.array([1.0, 2.0, 4.0])
    assert weighted_sum(None, values) == weighted_sum(np.ones(3), values) == 7.0
    assert total_weight(None, 3) == total_weight(np.ones(3), 3) == 3.0


def test_bin_totals_match_a_loop():
    rng = np.random.default_rng(1)
    x, t, w = rng.random(50), rng.integers(0, 2, 50).astype(float), rng.random(50)
    bins = Binning(x, w, 4, "uniform").assign(x)
    weight, count, sum_x, sum_t = bin_totals(x, t, w, bins)
    for j in range(bins.number.shape[0]):
        rows = bins.row == j
        assert count[j] == rows.sum()
        np.testing.assert_allclose(
            [weight[j], sum_x[j], sum_t[j]],
            [w[rows].sum(), (w * x)[rows].sum(), (w * t)[rows].sum()],
            rtol=1e-14,
        )
