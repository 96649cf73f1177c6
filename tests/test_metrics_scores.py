"""Tests for calibkit.metrics (scores): log_loss and brier_score.

References: scikit-learn (where it does not clip), exact fractions, 50-digit
mpmath, and invariances (repeated rows, row order, dtypes, containers).
"""

from fractions import Fraction

import mpmath
import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import softmax
from sklearn.metrics import brier_score_loss
from sklearn.metrics import log_loss as sk_log_loss
from sklearn.utils.class_weight import compute_sample_weight

from calibkit._chunks import CHUNK_BYTES
from calibkit.exceptions import CalibrationWarning
from calibkit.metrics import (
    brier_score,
    cross_entropy,
    decompose,
    expected_calibration_error,
    log_loss,
)

mpmath.mp.dps = 50


def mp_logsumexp_loss(z, y):
    """Mean of logsumexp(z_i) - z_{i, y_i} to 50 significant digits.

    Written as ``log(sum_k exp(z_k - z_y))`` so that a loss near 0 (true class
    far ahead) keeps its digits: ``log(sum exp(z)) - z_y`` would cancel them.
    """
    total = mpmath.mpf(0)
    with mpmath.workdps(50):
        for row, label in zip(z, y, strict=True):
            row = [mpmath.mpf(float(v)) for v in row]
            others = mpmath.fsum(
                mpmath.exp(v - row[label]) for k, v in enumerate(row) if k != label
            )
            total += mpmath.log1p(others)
    return total / len(y)


# --- log_loss against references ----------------------------------------------


def test_log_loss_matches_sklearn_binary_and_weighted(binary_forecasts):
    y, p, w = binary_forecasts
    assert log_loss(y, p) == pytest.approx(sk_log_loss(y, p), rel=1e-12)
    assert log_loss(y, p, sample_weight=w) == pytest.approx(
        sk_log_loss(y, p, sample_weight=w), rel=1e-12
    )


def test_log_loss_matches_sklearn_multiclass_string_labels(multiclass_forecasts):
    y, P, w = multiclass_forecasts
    names = np.array(["ant", "bee", "cat", "dog"])[y]
    expected = sk_log_loss(names, P, sample_weight=w)
    assert log_loss(names, P, sample_weight=w) == pytest.approx(expected, rel=1e-12)


def test_log_loss_labels_for_a_class_absent_from_y_true(multiclass_forecasts):
    y, P, _ = multiclass_forecasts
    present = y != 3
    expected = sk_log_loss(y[present], P[present], labels=[0, 1, 2, 3])
    got = log_loss(y[present], P[present], labels=[0, 1, 2, 3])
    assert got == pytest.approx(expected, rel=1e-12)


def test_log_loss_hand_computed_in_50_digits():
    y = ["no", "yes", "yes", "no"]
    p = [0.25, 0.5, 0.875, 0.0625]  # P("yes"), exact binary fractions
    q_observed = [0.75, 0.5, 0.875, 0.9375]
    expected = -mpmath.fsum(mpmath.log(mpmath.mpf(q)) for q in q_observed) / 4
    assert log_loss(y, p) == pytest.approx(float(expected), rel=1e-15)


def test_log_loss_of_tiny_probabilities_is_not_clipped():
    # sklearn would clip 1e-300 to machine epsilon; the exact value is 690.8 nats.
    got = log_loss([1, 0], [1e-300, 0.5])
    expected = (-mpmath.log(mpmath.mpf(1e-300)) + mpmath.log(2)) / 2
    assert got == pytest.approx(float(expected), rel=1e-14)


def test_log_loss_zero_log_zero_is_zero():
    assert log_loss([0, 1], [0.0, 1.0]) == 0.0
    P = [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    assert log_loss([0, 2], P, labels=[0, 1, 2]) == 0.0


def test_certain_wrong_forecast_gives_inf_and_names_rows():
    y = [0, 1, 0, 1, 1]
    p = [0.2, 0.0, 1.0, 0.5, 0.0]
    with pytest.warns(CalibrationWarning, match=r"3 rows .*first at rows 1, 2, 4"):
        assert log_loss(y, p) == np.inf


def test_certain_wrong_forecast_with_zero_weight_is_ignored():
    y, p = [0, 1, 1], [0.2, 0.0, 0.7]
    got = log_loss(y, p, sample_weight=[1, 0, 1])
    assert got == pytest.approx(log_loss([0, 1], [0.2, 0.7]), rel=1e-15)


def test_infinite_rows_are_located_across_chunks():
    n = CHUNK_BYTES // 8 + 1000  # two chunks of 1-D rows
    p = np.full(n, 0.5)
    y = np.zeros(n, dtype=int)
    p[n - 3] = 1.0  # certain and wrong, in the second chunk
    with pytest.warns(CalibrationWarning, match=rf"1 rows .*first at rows {n - 3}\)"):
        assert log_loss(y, p, labels=[0, 1]) == np.inf


# --- log_loss from logits -----------------------------------------------------


def test_logits_match_50_digit_logsumexp(multiclass_forecasts):
    y, P, _ = multiclass_forecasts
    rng = np.random.default_rng(1)
    z = rng.normal(scale=30, size=P.shape)
    expected = mp_logsumexp_loss(z, y)
    assert log_loss(y, z, input="logits") == pytest.approx(float(expected), rel=1e-14)


def test_logits_finite_where_softmax_underflows():
    z = np.array([[0.0, 1000.0, -1000.0], [5.0, -2000.0, 0.0]])
    y = [0, 1]
    expected = mp_logsumexp_loss(z, y)
    assert np.all(softmax(z, axis=1)[[0, 1], y] == 0)
    assert log_loss(y, z, input="logits", labels=[0, 1, 2]) == pytest.approx(
        float(expected), rel=1e-15
    )


def test_logits_spanning_more_than_the_float_range():
    # max(z) - z overflows for rows spanning more than 1.8e308 (regression:
    # numpy's "overflow encountered in subtract" reached the user, F6).
    z = np.array([[1.79769313e308, -1e308, 3.0], [0.0, 1.0, -1e308]])
    y = [0, 1]
    expected = mp_logsumexp_loss(z, y)
    got = log_loss(y, z, input="logits", labels=[0, 1, 2])
    assert got == pytest.approx(float(expected), rel=1e-14)


def test_logits_whose_observed_loss_overflows_are_certain_and_wrong():
    # The observed class 2.8e308 below the top one: its loss is beyond the
    # float range and its softmax probability exactly 0 in floating point;
    # documented as certain and wrong.
    z = np.array([[1.79769313e308, -1e308], [0.0, 1.0]])
    y = [1, 1]
    assert mp_logsumexp_loss(z[:1], y[:1]) > mpmath.mpf("1.8e308")
    with pytest.warns(CalibrationWarning, match=r"first at rows 0\b"):
        assert log_loss(y, z, input="logits", labels=[0, 1]) == np.inf


def test_logits_keep_relative_accuracy_of_tiny_losses():
    z = np.array([[40.0, 0.0, -3.0], [0.0, 38.5, 1.0]])
    y = [0, 1]
    expected = mp_logsumexp_loss(z, y)
    assert float(expected) < 1e-16  # below the float spacing at 1
    assert log_loss(y, z, input="logits", labels=[0, 1, 2]) == pytest.approx(
        float(expected), rel=1e-14
    )


def test_binary_log_odds_are_logits_zero_and_s(binary_forecasts):
    y, _, w = binary_forecasts
    s = np.random.default_rng(2).normal(scale=8, size=y.shape[0])
    two_columns = np.column_stack([np.zeros_like(s), s])
    got = log_loss(y, s, input="logits", sample_weight=w)
    expected = log_loss(y, two_columns, input="logits", sample_weight=w)
    assert got == pytest.approx(expected, rel=1e-14)
    reference = mp_logsumexp_loss(two_columns[:4], y[:4])
    assert log_loss(y[:4], s[:4], input="logits") == pytest.approx(
        float(reference), rel=1e-14
    )


def test_logits_agree_with_probabilities_and_shift(multiclass_forecasts):
    y, P, w = multiclass_forecasts
    z = np.log(P) + 7.0  # log-probabilities are logits, up to a row shift
    expected = log_loss(y, P, sample_weight=w)
    got = log_loss(y, z, input="logits", sample_weight=w)
    assert got == pytest.approx(expected, rel=1e-12)


def test_float32_logits_over_several_chunks():
    rng = np.random.default_rng(3)
    n_classes = 8
    n = CHUNK_BYTES // (8 * n_classes) * 2 + 17  # three chunks
    z32 = rng.normal(scale=3, size=(n, n_classes)).astype(np.float32)
    y = rng.integers(0, n_classes, n)
    z64 = z32.astype(np.float64)
    expected = np.mean(
        np.log(np.exp(z64 - z64.max(1, keepdims=True)).sum(1))
        + z64.max(1)
        - z64[np.arange(n), y]
    )
    assert log_loss(y, z32, input="logits") == pytest.approx(expected, rel=1e-11)


# --- class_weight -------------------------------------------------------------


def test_balanced_class_weight_matches_sklearn_sample_weights(multiclass_forecasts):
    y, P, _ = multiclass_forecasts
    balanced = compute_sample_weight("balanced", y)
    expected = sk_log_loss(y, P, sample_weight=balanced)
    got = log_loss(y, P, class_weight="balanced")
    assert got == pytest.approx(expected, rel=1e-12)


def test_balanced_class_weight_is_mean_of_classwise_means(multiclass_forecasts):
    y, P, w = multiclass_forecasts
    per_class = [
        sk_log_loss(y[y == k], P[y == k], sample_weight=w[y == k], labels=range(4))
        for k in range(4)
    ]
    got = log_loss(y, P, sample_weight=w, class_weight="balanced")
    assert got == pytest.approx(np.mean(per_class), rel=1e-12)


def test_dict_class_weight_multiplies_sample_weight(binary_forecasts):
    y, p, w = binary_forecasts
    labels = np.where(y == 1, "pos", "neg")
    got = log_loss(labels, p, sample_weight=w, class_weight={"pos": 3.0})
    manual = w * np.where(y == 1, 3.0, 1.0)
    assert got == pytest.approx(sk_log_loss(y, p, sample_weight=manual), rel=1e-12)


def test_balanced_class_weight_with_weights_equals_repeated_rows(binary_forecasts):
    y, p, w = binary_forecasts
    repeated = np.repeat(np.arange(y.shape[0]), w)
    got = log_loss(y, p, sample_weight=w, class_weight="balanced")
    expected = log_loss(y[repeated], p[repeated], class_weight="balanced")
    assert got == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("class_weight", "error", "match"),
    [
        ({2: 1.0}, ValueError, r"class_weight has labels that are not classes"),
        ({1: -1.0}, ValueError, r"class_weight\[1\] must be a finite non-negative"),
        ({1: np.nan}, ValueError, r"class_weight\[1\] must be a finite non-negative"),
        ({0: 0.0, 1: 0.0}, ValueError, r"class_weight leaves every row"),
        ({1: "2"}, TypeError, r"class_weight\[1\] must be a number; got '2'"),
        ({1: None}, TypeError, r"class_weight\[1\] must be a number; got None"),
        ({1: True}, TypeError, r"class_weight\[1\] must be a number; got True"),
        ({1: np.inf}, ValueError, r"class_weight\[1\] must be a finite non-negative"),
    ],
)
def test_bad_class_weight(class_weight, error, match):
    with pytest.raises(error, match=match):
        log_loss([0, 1, 1], [0.2, 0.6, 0.7], class_weight=class_weight)


def test_class_weight_only_ratios_matter_even_near_the_float_limits():
    # 1e308 used to overflow the weighted sums and return 0.0.
    y, p = np.array([0, 1, 1, 0]), np.array([0.1, 0.8, 0.6, 0.3])
    plain = log_loss(y, p)
    assert log_loss(y, p, class_weight={0: 1e308, 1: 1e308}) == pytest.approx(plain)
    assert log_loss(y, p, class_weight={0: 1e-300, 1: 1e-300}) == pytest.approx(plain)
    # Class 0 then weighs nothing next to class 1: the mean loss of the positives.
    positives = -np.mean(np.log([0.8, 0.6]))
    got = log_loss(y, p, class_weight={1: 1e308})
    assert got == pytest.approx(positives, rel=1e-12)


def test_balanced_class_weight_with_extreme_sample_weights():
    # Class totals of 1e249 and 5e-324: W / (K W_k) overflowed to inf.
    y, p = np.array([0, 1, 1, 0]), np.array([0.1, 0.8, 0.6, 0.3])
    w = np.array([1e249, 5e-324, 5e-324, 1e249])
    got = log_loss(y, p, sample_weight=w, class_weight="balanced")
    # Each class counts equally: the mean of the two class-wise mean losses.
    negatives = -np.mean(np.log1p(-p[[0, 3]]))
    positives = -np.mean(np.log(p[[1, 2]]))
    assert got == pytest.approx((negatives + positives) / 2, rel=1e-12)


@pytest.mark.parametrize("scale", [5e-324, 1e-300, 1e-150, 1e240])
def test_scores_do_not_depend_on_the_scale_of_the_weights(scale):
    # Subnormal weights times losses rounded to 0 (log-loss 0.0, Brier NaN).
    y, p = np.array([0, 1, 1, 0]), np.array([0.1, 0.8, 0.6, 0.3])
    w = np.full(4, scale)
    assert log_loss(y, p, sample_weight=w) == pytest.approx(log_loss(y, p))
    assert brier_score(y, p, sample_weight=w) == pytest.approx(brier_score(y, p))


# --- brier_score --------------------------------------------------------------


def test_brier_matches_sklearn(binary_forecasts, multiclass_forecasts):
    y, p, w = binary_forecasts
    assert brier_score(y, p, sample_weight=w) == pytest.approx(
        brier_score_loss(y, p, sample_weight=w), rel=1e-12
    )
    y, P, w = multiclass_forecasts
    assert brier_score(y, P, sample_weight=w) == pytest.approx(
        brier_score_loss(y, P, sample_weight=w), rel=1e-12
    )


def test_brier_two_columns_is_twice_one_column(binary_forecasts):
    y, p, w = binary_forecasts
    two_columns = np.column_stack([1 - p, p])
    one = brier_score(y, p, sample_weight=w)
    assert brier_score(y, two_columns, sample_weight=w) == pytest.approx(2 * one)
    assert brier_score(y, two_columns) == pytest.approx(
        brier_score_loss(y, two_columns, scale_by_half=False), rel=1e-12
    )


def test_brier_exact_fractions():
    y = [2, 0, 1]
    P = [["1/2", "1/4", "1/4"], ["5/8", "1/8", "1/4"], ["0", "1", "0"]]
    fractions = [[Fraction(v) for v in row] for row in P]
    w = [3, 1, 2]
    expected = sum(
        wi * sum((q - (k == yi)) ** 2 for k, q in enumerate(row))
        for row, yi, wi in zip(fractions, y, w, strict=True)
    ) / sum(w)
    got = brier_score(
        y, [[float(q) for q in row] for row in fractions], sample_weight=w
    )
    # Dyadic inputs: every step is exact except the final division, rounded once.
    assert got == float(expected)


# --- invariances ---------------------------------------------------------------

METRICS = [
    pytest.param(lambda *a, **k: log_loss(*a, **k), id="log_loss"),
    pytest.param(lambda *a, **k: brier_score(*a, **k), id="brier_score"),
    pytest.param(
        lambda *a, **k: log_loss(*a, class_weight="balanced", **k), id="log_loss_bal"
    ),
]


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("shape", ["binary", "multiclass"])
def test_weights_equal_repeated_rows(
    metric, shape, binary_forecasts, multiclass_forecasts
):
    y, p, w = binary_forecasts if shape == "binary" else multiclass_forecasts
    repeated = np.repeat(np.arange(y.shape[0]), w)
    expected = metric(y[repeated], p[repeated])
    assert metric(y, p, sample_weight=w) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("metric", METRICS)
def test_row_order_does_not_matter(metric, multiclass_forecasts):
    y, P, w = multiclass_forecasts
    order = np.random.default_rng(4).permutation(y.shape[0])
    expected = metric(y, P, sample_weight=w)
    got = metric(y[order], P[order], sample_weight=w[order])
    assert got == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("metric", METRICS)
def test_float32_equals_float64_of_same_values(metric, multiclass_forecasts):
    y, P, _ = multiclass_forecasts
    P32 = P.astype(np.float32)
    expected = metric(y, P32.astype(np.float64))
    assert metric(y, P32) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("metric", METRICS)
def test_containers_and_no_mutation(metric, binary_forecasts):
    y, p, w = binary_forecasts
    copies = (y.copy(), p.copy(), w.copy())
    expected = metric(y, p, sample_weight=w)
    for container in (list, pd.Series, pl.Series):
        got = metric(container(y), container(p), sample_weight=container(w))
        assert got == pytest.approx(expected, rel=1e-14)
    for original, copy in zip((y, p, w), copies, strict=True):
        np.testing.assert_array_equal(original, copy)


def test_dataframes_for_two_column_forecasts(multiclass_forecasts):
    y, P, _ = multiclass_forecasts
    expected = log_loss(y, P)
    assert log_loss(pd.Series(y), pd.DataFrame(P)) == pytest.approx(expected)
    assert log_loss(pl.Series(y), pl.DataFrame(P)) == pytest.approx(expected)


def test_pos_label_selects_the_class_of_a_1d_forecast():
    y = ["spam", "ham", "ham"]
    p_ham = np.array([0.3, 0.8, 0.6])
    got = log_loss(y, 1 - p_ham, pos_label="spam")
    assert got == pytest.approx(log_loss(y, p_ham, pos_label="ham"), rel=1e-14)
    # Default positive class: the greater label, "spam".
    assert got == pytest.approx(log_loss(y, 1 - p_ham), rel=1e-14)


def test_one_vs_rest_with_pos_label(multiclass_forecasts):
    y, P, w = multiclass_forecasts
    for metric in (log_loss, brier_score):
        got = metric(y, P[:, 2], pos_label=2, sample_weight=w)
        expected = metric(y == 2, P[:, 2], sample_weight=w)
        assert got == pytest.approx(expected, rel=1e-14)


def test_one_vs_rest_pos_label_must_be_a_class():
    with pytest.raises(ValueError, match=r"pos_label=7 is not one of the classes"):
        brier_score([0, 1, 2], [0.1, 0.2, 0.3], pos_label=7)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-50, 50), st.floats(-50, 50), st.integers(0, 1)),
        min_size=1,
        max_size=20,
    )
)
def test_binary_logits_match_50_digits_property(rows):
    z = np.array([r[:2] for r in rows])
    y = np.array([r[2] for r in rows])
    expected = mp_logsumexp_loss(z, y)
    got = log_loss(y, z, input="logits", labels=[0, 1])
    assert got == pytest.approx(float(expected), rel=1e-13, abs=1e-300)


# --- bad input -----------------------------------------------------------------

BAD_INPUTS = [
    ("y_prob", [0.2, np.nan, 0.5], r"y_prob contains non-finite values .* rows 1"),
    ("y_prob", [0.2, 1.5, 0.5], r"y_prob must hold probabilities in \[0, 1\]; row 1"),
    ("y_prob", [[0.5, 0.6], [0.5, 0.5], [1, 0]], r"y_prob rows must sum to 1.* row 0"),
    ("y_prob", [0.2, 0.5], r"Inconsistent numbers of samples"),
    ("y_prob", [], r"y_prob is empty"),
    ("y_true", [0, 1, 5], r"y_true has labels not among the known classes"),
    ("y_true", [1, 1, 1], r"y_true has a single class"),
    ("sample_weight", [1, -1, 1], r"sample_weight must be non-negative.*row 1"),
]


@pytest.mark.parametrize(("argument", "value", "match"), BAD_INPUTS)
@pytest.mark.parametrize("metric", [log_loss, brier_score])
def test_bad_input_messages(metric, argument, value, match):
    kwargs = {"y_true": [0, 1, 1], "y_prob": [0.2, 0.6, 0.7]}
    if argument == "y_true":
        kwargs["labels"] = [0, 1] if value != [1, 1, 1] else None
    kwargs[argument] = value
    with pytest.raises(ValueError, match=match):
        metric(**kwargs)


def test_metrics_use_the_renormalised_rows_of_rounded_files():
    # Probabilities saved with 4 decimals: rows off by up to 3e-4 were refused.
    rng = np.random.default_rng(3)
    P = np.round(rng.dirichlet([2.0, 1.0, 1.0], size=300), 4)
    y = rng.integers(0, 3, size=300)
    exact = P / P.sum(axis=1, keepdims=True)
    metrics = [
        log_loss,
        brier_score,
        expected_calibration_error,
        lambda y, p: decompose(y, p, score="brier").score,
        lambda y, p: decompose(y, p, strategy="uniform").miscalibration,
        lambda y, p: cross_entropy(exact, p),
    ]
    for metric in metrics:
        with pytest.warns(CalibrationWarning, match="rows did not sum to 1"):
            got = metric(y, P)
        assert got == pytest.approx(metric(y, exact), rel=1e-12)


def test_balanced_class_weight_with_a_class_of_zero_weight():
    y, p = (
        np.array([2, 1, 0]),
        np.array([[0.3, 0.4, 0.3], [0.7, 0.1, 0.2], [0.2, 0.5, 0.3]]),
    )
    got = log_loss(y, p, sample_weight=[0.0, 1e-300, 1.0], class_weight="balanced")
    assert got == pytest.approx((-np.log(0.1) - np.log(0.2)) / 2, rel=1e-12)
