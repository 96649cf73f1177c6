"""Tests for calibkit.metrics (information): entropy, KL divergence, cross-entropy.

The reference is 50-digit mpmath on the same float inputs; identities are
checked with hypothesis.
"""

import math

import mpmath
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import rel_entr

from calibkit.exceptions import CalibrationWarning
from calibkit.metrics import (
    cross_entropy,
    entropy,
    information_decomposition,
    kl_divergence,
)

mpmath.mp.dps = 50


def as_rows(p):
    """Rows of class probabilities in mpmath; a 1-D p is the rows (1 - p, p)."""
    p = np.asarray(p, dtype=np.float64)
    if p.ndim == 1:
        return [[1 - mpmath.mpf(v), mpmath.mpf(v)] for v in p]
    return [[mpmath.mpf(v) for v in row] for row in p]


def mp_mean(values, weights=None):
    weights = [1] * len(values) if weights is None else [int(v) for v in weights]
    return mpmath.fsum(w * v for w, v in zip(weights, values, strict=True)) / sum(
        weights
    )


def mp_entropy(p, w=None):
    rows = as_rows(p)
    return mp_mean([-mpmath.fsum(a * mpmath.log(a) for a in r if a) for r in rows], w)


def mp_kl(p, q, w=None):
    pairs = zip(as_rows(p), as_rows(q), strict=True)
    return mp_mean(
        [
            mpmath.fsum(a * mpmath.log(a / b) for a, b in zip(r, s, strict=True) if a)
            for r, s in pairs
        ],
        w,
    )


def mp_cross_entropy(p, q, w=None):
    pairs = zip(as_rows(p), as_rows(q), strict=True)
    return mp_mean(
        [
            -mpmath.fsum(a * mpmath.log(b) for a, b in zip(r, s, strict=True) if a)
            for r, s in pairs
        ],
        w,
    )


def dirichlet(seed, n, k):
    return np.random.default_rng(seed).dirichlet(np.ones(k), size=n)


# --- against 50-digit references -----------------------------------------------


def test_closed_forms():
    assert entropy([0.5]) == pytest.approx(math.log(2), rel=1e-15)
    assert entropy(np.full((3, 5), 0.2)) == pytest.approx(math.log(5), rel=1e-15)
    assert entropy([0.0, 1.0]) == 0.0
    assert kl_divergence([1.0], [0.5]) == pytest.approx(math.log(2), rel=1e-15)
    assert cross_entropy([[0.0, 1.0]], [[0.75, 0.25]]) == pytest.approx(
        math.log(4), rel=1e-15
    )


@pytest.mark.parametrize("shape", [(40,), (40, 2), (40, 5)])
def test_functions_match_mpmath(shape):
    rng = np.random.default_rng(sum(shape))
    if len(shape) == 1:
        p, q = rng.uniform(size=shape), rng.uniform(size=shape)
    else:
        p, q = dirichlet(1, *shape), dirichlet(2, *shape)
    w = rng.integers(0, 4, shape[0])
    assert entropy(p, sample_weight=w) == pytest.approx(
        float(mp_entropy(p, w)), rel=1e-14
    )
    assert kl_divergence(p, q, sample_weight=w) == pytest.approx(
        float(mp_kl(p, q, w)), rel=1e-14
    )
    assert cross_entropy(p, q, sample_weight=w) == pytest.approx(
        float(mp_cross_entropy(p, q, w)), rel=1e-14
    )


def test_tiny_probabilities_keep_relative_accuracy():
    p = np.array([1e-20, 1e-300, 0.5])
    q = np.array([3e-18, 0.25, 1e-200])
    assert entropy(p) == pytest.approx(float(mp_entropy(p)), rel=1e-14)
    assert kl_divergence(p, q) == pytest.approx(float(mp_kl(p, q)), rel=1e-14)
    assert cross_entropy(p, q) == pytest.approx(
        float(mp_cross_entropy(p, q)), rel=1e-14
    )


def test_extreme_ratio_does_not_overflow():
    # p/q overflows float64 here; the divergence itself is a modest 744 nats.
    p, q = [[1.0, 0.0]], [[5e-324, 1.0]]
    assert kl_divergence(p, q) == pytest.approx(float(mp_kl(p, q)), rel=1e-14)


# --- accuracy of tiny divergences ------------------------------------------------


def near_pairs_1d(seed, n=30):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.001, 0.999, n)
    # Steps of ~3e-7 relative give KL of order 1e-14 to 1e-13.
    q = p * (1 + rng.choice([-1, 1], n) * rng.uniform(1e-7, 5e-7, n))
    return p, q


def near_pairs_2d(seed, n=30, k=4):
    rng = np.random.default_rng(seed)
    p = dirichlet(seed, n, k)
    step = rng.normal(size=(n, k)) * 3e-7 * p
    step -= p * step.sum(axis=1, keepdims=True)  # q rows still sum to ~1
    return p, p + step


@pytest.mark.parametrize("pairs", [near_pairs_1d, near_pairs_2d])
def test_tiny_kl_accurate_to_1e10_relative(pairs):
    p, q = pairs(7)
    for i in range(p.shape[0]):
        truth = float(mp_kl(p[i : i + 1], q[i : i + 1]))
        assert 1e-16 < truth < 1e-10
        assert kl_divergence(p[i : i + 1], q[i : i + 1]) == pytest.approx(
            truth, rel=1e-10
        )


def test_the_accuracy_test_can_fail():
    # The same check rejects the textbook sum of rel_entr over (1 - p, p), and
    # CE - H: both lose the digits of a divergence of 1e-13 to cancellation.
    p, q = near_pairs_1d(7)
    truth = np.array([float(mp_kl(p[i : i + 1], q[i : i + 1])) for i in range(30)])
    plain = rel_entr(p, q) + rel_entr(1 - p, 1 - q)
    assert np.max(np.abs(plain - truth) / truth) > 1e-6
    difference = np.array(
        [
            cross_entropy(p[i : i + 1], q[i : i + 1]) - entropy(p[i : i + 1])
            for i in range(30)
        ]
    )
    assert np.max(np.abs(difference - truth) / truth) > 1e-6


# --- infinities and zeros -------------------------------------------------------


@pytest.mark.parametrize(
    ("p", "q", "rows"),
    [
        ([0.3, 0.5, 0.2], [0.3, 0.0, 0.2], "1"),
        ([0.3, 0.5, 0.2], [0.3, 1.0, 1.0], "1, 2"),
        ([[0.5, 0.5, 0.0], [0.2, 0.8, 0.0]], [[1.0, 0.0, 0.0], [0.2, 0.8, 0.0]], "0"),
    ],
)
def test_impossible_outcome_gives_inf_with_warning(p, q, rows):
    for function in (kl_divergence, cross_entropy):
        with pytest.warns(CalibrationWarning, match=rf"rows \(first at rows {rows}\)"):
            assert function(p, q) == np.inf
    with pytest.warns(CalibrationWarning):
        parts = information_decomposition(p, q)
    assert np.isfinite(parts.entropy)
    assert parts.kl_divergence == parts.cross_entropy == np.inf


def test_zero_weight_rows_are_ignored_even_when_infinite():
    p, q = [0.3, 0.5], [0.3, 0.0]
    assert kl_divergence(p, q, sample_weight=[1, 0]) == 0.0


def test_zero_probability_classes_contribute_nothing():
    p = [[0.0, 0.25, 0.75]]
    q = [[0.0, 0.5, 0.5]]
    expected = 0.25 * math.log(0.5) + 0.75 * math.log(1.5)
    assert kl_divergence(p, q) == pytest.approx(expected, rel=1e-15)
    assert kl_divergence([[0.0, 1.0]], [[0.5, 0.5]]) == pytest.approx(math.log(2))
    assert kl_divergence(p, p) == 0.0


# --- identities (hypothesis) ----------------------------------------------------

probability = st.floats(0.0, 1.0)
rows_1d = st.lists(st.tuples(probability, probability), min_size=1, max_size=12)


@settings(max_examples=50, deadline=None)
@given(rows_1d)
def test_cross_entropy_is_entropy_plus_kl_1d(rows):
    p = np.array([r[0] for r in rows])
    q = np.clip(np.array([r[1] for r in rows]), 1e-300, 1 - 1e-16)
    parts = information_decomposition(p, q)
    assert parts.kl_divergence >= 0
    assert parts.cross_entropy == pytest.approx(
        parts.entropy + parts.kl_divergence, rel=1e-12, abs=1e-300
    )


@settings(max_examples=50, deadline=None)
@given(
    st.integers(1, 10),
    st.integers(2, 6),
    st.integers(0, 2**32 - 1),
    st.floats(0.05, 20.0),
)
def test_cross_entropy_is_entropy_plus_kl_2d(n, k, seed, concentration):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(k, concentration), size=n)
    # Small concentrations underflow to exact zeros; keep q positive.
    q = (rng.dirichlet(np.full(k, concentration), size=n) + 1e-9) / (1 + k * 1e-9)
    p[rng.uniform(size=p.shape) < 0.1] = 0.0  # exact zeros in the truth
    p /= np.where(p.sum(axis=1, keepdims=True) > 0, p.sum(axis=1, keepdims=True), 1)
    p[p.sum(axis=1) == 0, 0] = 1.0
    parts = information_decomposition(p, q)
    assert parts.kl_divergence >= -1e-15
    assert parts.cross_entropy == pytest.approx(
        parts.entropy + parts.kl_divergence, rel=1e-12
    )
    assert kl_divergence(p, p) == pytest.approx(0.0, abs=1e-15)


def test_decomposition_fields_equal_the_functions():
    p, q = dirichlet(3, 50, 3), dirichlet(4, 50, 3)
    parts = information_decomposition(p, q)
    assert parts.to_dict() == {
        "entropy": entropy(p),
        "kl_divergence": kl_divergence(p, q),
        "cross_entropy": cross_entropy(p, q),
    }
    assert "kl_divergence=" in repr(parts)


# --- invariances -----------------------------------------------------------------

FUNCTIONS = [
    pytest.param(lambda p, q, **k: entropy(p, **k), id="entropy"),
    pytest.param(kl_divergence, id="kl_divergence"),
    pytest.param(cross_entropy, id="cross_entropy"),
]


@pytest.mark.parametrize("function", FUNCTIONS)
@pytest.mark.parametrize("k", [1, 3])
def test_weights_equal_repeated_rows_and_order(function, k):
    rng = np.random.default_rng(5)
    if k == 1:
        p, q = rng.uniform(size=60), rng.uniform(size=60)
    else:
        p, q = dirichlet(5, 60, k), dirichlet(6, 60, k)
    w = rng.integers(0, 4, 60)
    repeated = np.repeat(np.arange(60), w)
    expected = function(p[repeated], q[repeated])
    assert function(p, q, sample_weight=w) == pytest.approx(expected, rel=1e-13)
    order = rng.permutation(60)
    got = function(p[order], q[order], sample_weight=w[order])
    assert got == pytest.approx(expected, rel=1e-13)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_float32_containers_and_no_mutation(function):
    p32 = dirichlet(8, 30, 3).astype(np.float32)
    q32 = dirichlet(9, 30, 3).astype(np.float32)
    copies = p32.copy(), q32.copy()
    expected = function(p32.astype(np.float64), q32.astype(np.float64))
    assert function(p32, q32) == pytest.approx(expected, rel=1e-12)
    assert function(pd.DataFrame(p32), q32.tolist()) == pytest.approx(
        expected, rel=1e-12
    )
    np.testing.assert_array_equal(p32, copies[0])
    np.testing.assert_array_equal(q32, copies[1])


# --- bad input -------------------------------------------------------------------

BAD = [
    ({"p": [0.2, 1.2]}, ValueError, r"p must hold probabilities in \[0, 1\]; row 1"),
    ({"q": [0.2, -0.1]}, ValueError, r"q must hold probabilities in \[0, 1\]; row 1"),
    ({"q": [0.2, np.nan]}, ValueError, r"q contains non-finite values .* rows 1"),
    ({"q": [[0.5, 0.5], [0.5, 0.5]]}, ValueError, r"p and q must have the same shape"),
    ({"p": [[0.5, 0.6], [0.5, 0.5]], "q": [[0.5, 0.5]] * 2}, ValueError, r"p rows"),
    ({"sample_weight": [1, -2]}, ValueError, r"sample_weight must be non-negative"),
    ({"sample_weight": [1, 2, 3]}, ValueError, r"sample_weight has 3 entries"),
    ({"p": []}, ValueError, r"p is empty"),
    ({"p": ["a", "b"]}, TypeError, r"p must hold numbers"),
]


@pytest.mark.parametrize(("kwargs", "error", "match"), BAD)
def test_bad_input_messages(kwargs, error, match):
    arguments = {"p": [0.2, 0.5], "q": [0.3, 0.5]} | kwargs
    with pytest.raises(error, match=match):
        information_decomposition(**arguments)
