"""Tests for calibkit.metrics (goodness_of_fit): Spiegelhalter and Hosmer–Lemeshow.

References: exact fractions with mpmath square roots and error functions,
exact enumeration of all outcomes for the null moments of z, brute-force
grouping by rank, and scipy.stats for the reference distributions.
"""

import itertools
from fractions import Fraction

import mpmath
import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2

from calibkit.exceptions import CalibrationWarning
from calibkit.metrics import brier_score, hosmer_lemeshow_test, spiegelhalter_z_test

mpmath.mp.dps = 50

# --- Spiegelhalter ---------------------------------------------------------------


def test_spiegelhalter_exact_fractions():
    p = [Fraction(1, 8), Fraction(3, 4), Fraction(5, 8), Fraction(1, 2), Fraction(7, 8)]
    y = [0, 1, 0, 1, 1]
    w = [2, 1, 3, 1, 2]
    excess = sum(
        wi * (yi - pi) * (1 - 2 * pi) for pi, yi, wi in zip(p, y, w, strict=True)
    )
    var_sum = sum(
        wi * (1 - 2 * pi) ** 2 * pi * (1 - pi) for pi, wi in zip(p, w, strict=True)
    )
    z = (
        mpmath.mpf(excess.numerator)
        / excess.denominator
        / mpmath.sqrt(mpmath.mpf(var_sum.numerator) / var_sum.denominator)
    )
    result = spiegelhalter_z_test(y, [float(v) for v in p], sample_weight=w)
    assert result.statistic == pytest.approx(float(z), rel=1e-14)
    assert result.p_value == pytest.approx(
        float(mpmath.erfc(abs(z) / mpmath.sqrt(2))), rel=1e-12
    )
    W = sum(w)
    brier = sum(wi * (yi - pi) ** 2 for pi, yi, wi in zip(p, y, w, strict=True)) / W
    expected = sum(wi * pi * (1 - pi) for pi, wi in zip(p, w, strict=True)) / W
    assert result.brier_score == float(brier)
    assert result.expected_brier_score == float(expected)
    assert result.variance == pytest.approx(float(var_sum / W**2), rel=1e-15)
    # z standardises the Brier score: (B - E B) / sd(B).
    assert result.statistic == pytest.approx(
        (result.brier_score - result.expected_brier_score) / np.sqrt(result.variance),
        rel=1e-12,
    )
    assert set(result.to_dict()) == {
        "statistic",
        "p_value",
        "brier_score",
        "expected_brier_score",
        "variance",
    }


def test_spiegelhalter_z_has_mean_0_and_variance_1_under_calibration():
    # Exact expectation over all 2^8 outcome vectors y ~ Bernoulli(p).
    p = np.array([0.05, 0.2, 0.3, 0.45, 0.6, 0.7, 0.85, 0.95])
    mean, second = 0.0, 0.0
    for outcome in itertools.product([0, 1], repeat=p.shape[0]):
        y = np.array(outcome)
        probability = np.prod(np.where(y == 1, p, 1 - p))
        z = spiegelhalter_z_test(y, p, pos_label=1).statistic
        mean += probability * z
        second += probability * z**2
    assert mean == pytest.approx(0.0, abs=1e-13)
    assert second == pytest.approx(1.0, rel=1e-12)


def test_spiegelhalter_brier_field_matches_brier_score(binary_forecasts):
    y, p, w = binary_forecasts
    result = spiegelhalter_z_test(y, p, sample_weight=w)
    assert result.brier_score == pytest.approx(
        brier_score(y, p, sample_weight=w), rel=1e-13
    )


def test_spiegelhalter_undefined_without_variance():
    with pytest.raises(ValueError, match=r"every forecast .* is 0, 0.5 or 1"):
        spiegelhalter_z_test([0, 1, 1], [0.0, 0.5, 1.0])
    # zero-weight rows do not count towards the variance either
    with pytest.raises(ValueError, match=r"undefined"):
        spiegelhalter_z_test([0, 1, 1], [0.5, 0.3, 1.0], sample_weight=[1, 0, 1])


# --- Hosmer–Lemeshow ---------------------------------------------------------------


def brute_hosmer_lemeshow(y, p, groups):
    statistic = 0.0
    for rows in groups:
        n, observed, expected = len(rows), y[rows].sum(), p[rows].sum()
        statistic += (observed - expected) ** 2 / (expected * (1 - expected / n))
    return statistic


def test_hosmer_lemeshow_equals_rank_deciles_without_ties(binary_forecasts):
    y, p, _ = binary_forecasts  # 300 distinct forecasts: 10 groups of 30 by rank
    groups = np.array_split(np.argsort(p), 10)
    result = hosmer_lemeshow_test(y, p)
    expected = brute_hosmer_lemeshow(y, p, groups)
    assert result.statistic == pytest.approx(expected, rel=1e-12)
    assert result.df == 8
    assert result.n_groups == 10
    assert result.p_value == pytest.approx(chi2.sf(expected, 8), rel=1e-10)
    np.testing.assert_array_equal(result.count, [30] * 10)
    np.testing.assert_allclose(result.observed_positives, [y[g].sum() for g in groups])
    np.testing.assert_allclose(
        result.expected_positives, [p[g].sum() for g in groups], 1e-12
    )


def test_hosmer_lemeshow_keeps_ties_in_one_group():
    # 5 distinct forecasts with counts 10, 30, 20, 25, 15: deciles would split the
    # tied values; groups are made of whole values instead, by the CDF rule.
    values = np.array([0.1, 0.25, 0.4, 0.6, 0.8])
    p = np.repeat(values, [10, 30, 20, 25, 15])
    y = (np.arange(100) % 3 == 0).astype(int)
    result = hosmer_lemeshow_test(y, p, n_bins=4)
    # CDF after each value: .10, .40, .60, .85, 1. Edges: first value with CDF
    # > 1/4 (0.25), > 2/4 (0.4), > 3/4 (0.6); groups {.1}, {.25}, {.4}, {.6, .8}.
    np.testing.assert_array_equal(result.bin_edges, [0.1, 0.25, 0.4, 0.6, 0.8])
    groups = [np.flatnonzero(np.isin(p, g)) for g in ([0.1], [0.25], [0.4], [0.6, 0.8])]
    assert result.n_groups == 4
    assert result.df == 2
    assert result.statistic == pytest.approx(brute_hosmer_lemeshow(y, p, groups), 1e-12)
    assert result.p_value == pytest.approx(chi2.sf(result.statistic, 2), rel=1e-10)
    frame = result.to_frame()
    assert list(frame["count"]) == [10, 30, 20, 40]
    assert result.to_dict()["df"] == 2
    assert "n_groups=4" in repr(result)


def test_hosmer_lemeshow_infinite_when_certain_group_is_wrong():
    p = np.r_[np.zeros(10), np.linspace(0.2, 0.9, 20)]
    y = np.r_[np.zeros(9), 1, np.ones(20)].astype(int)
    with pytest.warns(CalibrationWarning, match=r"statistic is infinite"):
        result = hosmer_lemeshow_test(y, p, n_bins=3)
    assert result.statistic == np.inf
    assert result.p_value == 0.0


def test_hosmer_lemeshow_certain_and_right_group_contributes_zero():
    p = np.r_[np.zeros(10), np.linspace(0.2, 0.9, 20)]
    y = np.r_[np.zeros(10), (np.arange(20) % 2)].astype(int)
    result = hosmer_lemeshow_test(y, p, n_bins=3)
    others = [np.arange(10, 20), np.arange(20, 30)]
    assert result.statistic == pytest.approx(brute_hosmer_lemeshow(y, p, others), 1e-12)


# --- invariances -------------------------------------------------------------------

TESTS = [
    pytest.param(lambda *a, **k: spiegelhalter_z_test(*a, **k).statistic, id="z"),
    pytest.param(lambda *a, **k: hosmer_lemeshow_test(*a, **k).statistic, id="hl"),
    pytest.param(
        lambda *a, **k: hosmer_lemeshow_test(*a, n_bins=5, **k).statistic, id="hl5"
    ),
]


@pytest.mark.parametrize("test", TESTS)
def test_weights_equal_repeated_rows_and_order(test, binary_forecasts):
    y, p, w = binary_forecasts
    p = np.round(p, 1)  # ties as well
    repeated = np.repeat(np.arange(y.shape[0]), w)
    expected = test(y[repeated], p[repeated])
    assert test(y, p, sample_weight=w) == pytest.approx(expected, rel=1e-12)
    order = np.random.default_rng(3).permutation(y.shape[0])
    got = test(y[order], p[order], sample_weight=w[order])
    assert got == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("test", TESTS)
def test_labels_containers_dtypes_and_no_mutation(test, binary_forecasts):
    y, p, w = binary_forecasts
    copies = y.copy(), p.copy(), w.copy()
    expected = test(y, p, sample_weight=w)
    names = np.where(y == 1, "sick", "well")
    got = test(pd.Series(names), pd.Series(p), sample_weight=w, pos_label="sick")
    assert got == pytest.approx(expected, rel=1e-14)
    p32 = p.astype(np.float32)
    assert test(y, p32) == pytest.approx(test(y, p32.astype(np.float64)), rel=1e-12)
    for original, copy in zip((y, p, w), copies, strict=True):
        np.testing.assert_array_equal(original, copy)


@pytest.mark.parametrize("test", TESTS)
def test_one_vs_rest(test, multiclass_forecasts):
    y, P, w = multiclass_forecasts
    expected = test(y == 1, P[:, 1], sample_weight=w)
    assert test(y, P[:, 1], pos_label=1, sample_weight=w) == pytest.approx(expected)


# --- bad input ---------------------------------------------------------------------

BAD = [
    ({"y_prob": [[0.5, 0.5]] * 4}, ValueError, r"y_prob must be 1-D"),
    ({"y_prob": [0.1, 0.2, 1.3, 0.4]}, ValueError, r"y_prob must hold probabilities"),
    ({"y_true": [0, 1, 2, 1]}, ValueError, r"y_true has 3 classes"),
    ({"sample_weight": [1, 1, 1]}, ValueError, r"sample_weight has 3 entries"),
    ({"pos_label": "x"}, ValueError, r"pos_label='x' is not one of the classes"),
]


@pytest.mark.parametrize("function", [spiegelhalter_z_test, hosmer_lemeshow_test])
@pytest.mark.parametrize(("kwargs", "error", "match"), BAD)
def test_bad_input(function, kwargs, error, match):
    arguments = {"y_true": [0, 1, 1, 0], "y_prob": [0.1, 0.2, 0.3, 0.4]} | kwargs
    with pytest.raises(error, match=match):
        function(**arguments)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"y_prob": [0.2, 0.2, 0.7, 0.7]}, ValueError, r"needs at least 3 groups"),
    ],
)
def test_hosmer_lemeshow_bad_options(kwargs, error, match):
    arguments = {"y_true": [0, 1, 1, 0], "y_prob": [0.1, 0.2, 0.3, 0.4]} | kwargs
    with pytest.raises(error, match=match):
        hosmer_lemeshow_test(**arguments)


@pytest.mark.parametrize("scale", [5e-324, 1e-300, 1e-100, 3.0, 1e200, 1e249])
def test_spiegelhalter_under_extreme_weights(scale):
    # Tiny weights raised ZeroDivisionError, huge ones OverflowError. Weights
    # are counts: multiplying them all by c multiplies z by sqrt(c).
    y = np.array([0, 1, 1, 0, 1])
    p = np.array([0.1, 0.8, 0.6, 0.4, 0.9])
    slope = 1 - 2 * p
    z_unit = np.sum((y - p) * slope) / np.sqrt(np.sum(slope**2 * p * (1 - p)))
    result = spiegelhalter_z_test(y, p, sample_weight=np.full(5, scale))
    assert result.statistic == pytest.approx(z_unit * np.sqrt(scale), rel=1e-9)
    assert result.brier_score == pytest.approx(np.mean((y - p) ** 2), rel=1e-12)
    assert result.expected_brier_score == pytest.approx(np.mean(p * (1 - p)))
    assert np.isfinite(result.p_value)


@pytest.mark.parametrize("scale", [1e-300, 1e200, 1e249])
def test_hosmer_lemeshow_under_extreme_weights(scale):
    # Weights are counts: the statistic scales with them. 1e200 overflowed.
    y = np.array([0, 0, 1, 0, 1, 1, 1, 0, 1])
    p = np.linspace(0.1, 0.9, 9)
    unit = hosmer_lemeshow_test(y, p, n_bins=3)
    got = hosmer_lemeshow_test(y, p, n_bins=3, sample_weight=np.full(9, scale))
    assert got.statistic == pytest.approx(unit.statistic * scale, rel=1e-12)
    np.testing.assert_allclose(got.weight, unit.weight * scale, rtol=1e-15)


def test_goodness_of_fit_huge_n_bins_costs_nothing():
    # n_bins far above the number of rows: the equal-mass levels were all
    # allocated (8 GB for 1e9). Every forecast then starts a group (the last
    # group, closed, holds the two largest), as with 10**4 groups.
    y = np.array([0, 0, 1, 0, 1, 1, 1, 0, 1])
    p = np.linspace(0.1, 0.9, 9)
    got = hosmer_lemeshow_test(y, p, n_bins=10**9)
    assert got.n_groups == 8
    np.testing.assert_array_equal(got.count, [1] * 7 + [2])
    np.testing.assert_array_equal(got.observed_positives, [0, 0, 1, 0, 1, 1, 1, 1])
    expected = hosmer_lemeshow_test(y, p, n_bins=10**4)
    assert got.statistic == expected.statistic
