"""Paired comparison of two forecasts: scipy's ttest_rel, null simulation."""

import math

import numpy as np
import pytest
from scipy import stats
from scipy.special import expit, logit

from calibkit.metrics import (
    PairedComparison,
    brier_score,
    compare_forecasts,
    confidence_interval,
    expected_calibration_error,
    log_loss,
)


def _row_log_losses(y, p):
    return np.where(y == 1, -np.log(p), -np.log1p(-p))


@pytest.fixture
def two_forecasts():
    rng = np.random.default_rng(1701)
    n = 2000
    truth = rng.uniform(0.05, 0.95, n)
    y = (rng.uniform(size=n) < truth).astype(int)
    overconfident = expit(1.6 * logit(truth))
    return y, overconfident, truth


def test_diebold_mariano_is_the_paired_t_statistic(two_forecasts):
    y, a, b = two_forecasts
    result = compare_forecasts(y, a, b, n_resamples=50, random_state=0)
    reference = stats.ttest_rel(_row_log_losses(y, a), _row_log_losses(y, b))
    assert isinstance(result, PairedComparison)
    assert result.test == "diebold-mariano"
    assert result.statistic == pytest.approx(reference.statistic, rel=1e-10)
    # Normal against Student's t with 1999 degrees of freedom.
    assert result.p_value == pytest.approx(reference.pvalue, rel=0.05)
    assert result.score_a == log_loss(y, a)
    assert result.score_b == log_loss(y, b)
    assert result.difference == result.score_a - result.score_b


def test_brier_statistic_and_the_bootstrap_interval(two_forecasts):
    y, a, b = two_forecasts
    result = compare_forecasts(
        y, a, b, metric="brier_score", n_resamples=300, random_state=1
    )
    reference = stats.ttest_rel((a - y) ** 2, (b - y) ** 2)
    assert result.statistic == pytest.approx(reference.statistic, rel=1e-10)
    assert result.score_a == brier_score(y, a)
    assert result.low < result.difference < result.high
    # The paired bootstrap standard error estimates the standard error of the
    # mean difference: within 15% of the t-test's (300 resamples).
    d = (a - y) ** 2 - (b - y) ** 2
    assert result.standard_error == pytest.approx(
        np.std(d, ddof=1) / np.sqrt(len(d)), rel=0.15
    )


def test_paired_resamples_are_shared(two_forecasts):
    """Both forecasts are scored on the same resamples: each one's draws are
    its own confidence_interval's draws with the same seed."""
    y, a, b = two_forecasts
    result = compare_forecasts(y, a, b, n_resamples=40, random_state=5)
    ci_a = confidence_interval("log_loss", y, a, n_resamples=40, random_state=5)
    ci_b = confidence_interval("log_loss", y, b, n_resamples=40, random_state=5)
    diffs = ci_a.bootstrap_distribution - ci_b.bootstrap_distribution
    low, high = np.quantile(diffs, [0.025, 0.975])
    assert result.low == pytest.approx(low, rel=1e-12)
    assert result.high == pytest.approx(high, rel=1e-12)
    same = compare_forecasts(y, a, a, n_resamples=40, random_state=5)
    assert (same.difference, same.low, same.high) == (0.0, 0.0, 0.0)


def test_weighted_statistic_is_the_ratio_estimator(two_forecasts):
    y, a, b = two_forecasts
    w = np.random.default_rng(2).uniform(0, 3, len(y))
    w[:10] = 0
    result = compare_forecasts(y, a, b, sample_weight=w, n_resamples=20)
    d = (_row_log_losses(y, a) - _row_log_losses(y, b))[10:]
    ww = w[10:]
    mean = np.sum(ww * d) / ww.sum()
    m = d.shape[0]
    se = np.sqrt(np.sum(ww**2 * (d - mean) ** 2) / ww.sum() ** 2 * m / (m - 1))
    assert result.statistic == pytest.approx(mean / se, rel=1e-10)
    assert result.difference == pytest.approx(
        log_loss(y, a, sample_weight=w) - log_loss(y, b, sample_weight=w)
    )


def test_null_p_values_are_uniform():
    """Two equally good forecasts (the truth blurred by independent noise of
    the same size): 300 data sets at a fixed seed, p-values ~ Uniform(0, 1)
    by a Kolmogorov-Smirnov test at the 1% level."""
    rng = np.random.default_rng(424242)
    p_values = []
    for _ in range(300):
        truth = rng.uniform(0.1, 0.9, 400)
        y = (rng.uniform(size=400) < truth).astype(int)
        a = expit(logit(truth) + rng.normal(scale=0.5, size=400))
        b = expit(logit(truth) + rng.normal(scale=0.5, size=400))
        result = compare_forecasts(y, a, b, n_resamples=2, random_state=0)
        p_values.append(result.p_value)
    assert stats.kstest(p_values, "uniform").pvalue > 0.01


def test_ece_comparison_uses_the_bootstrap(two_forecasts):
    y, a, b = two_forecasts
    result = compare_forecasts(
        y, a, b, metric=expected_calibration_error, n_resamples=200, random_state=3
    )
    assert result.test == "bootstrap"
    assert result.metric == "expected_calibration_error"
    assert result.difference == pytest.approx(
        expected_calibration_error(y, a) - expected_calibration_error(y, b)
    )
    assert result.statistic == pytest.approx(result.difference / result.standard_error)
    assert result.p_value < 1e-3  # an overconfidence of 1.6 on 2000 rows shows
    assert result.low > 0


def test_raw_logits_against_calibrated_probabilities(two_forecasts):
    y, a, b = two_forecasts
    result = compare_forecasts(
        y, logit(a), b, input="logits", input_b="probabilities", n_resamples=20
    )
    assert result.score_a == pytest.approx(log_loss(y, a), rel=1e-12)


def test_bad_arguments(two_forecasts):
    y, a, b = two_forecasts
    with pytest.raises(ValueError, match="y_prob_b: y_prob has 3 columns"):
        compare_forecasts(y, a, np.ones((len(y), 3)) / 3)
    bad = a.copy()
    bad[4] = np.nan
    with pytest.raises(ValueError, match=r"y_prob_a: y_prob contains non-finite"):
        compare_forecasts(y, bad, b)
    with pytest.raises(ValueError, match=r"^y_prob_a: Inconsistent numbers of samples"):
        compare_forecasts(y[:-1], a, b)
    with pytest.raises(ValueError, match="metric must be one of"):
        compare_forecasts(y, a, b, metric="auc")
    with pytest.raises(ValueError, match="input_b"):
        compare_forecasts(y, a, b, input_b="scores")


def test_weighted_statistic_depends_only_on_weight_ratios(two_forecasts):
    """Weights of 1e200 (squares overflow) give the statistic of unit-scale
    weights, without an overflow warning."""
    y, a, b = two_forecasts
    w = np.random.default_rng(3).uniform(0.5, 2, len(y))
    reference = compare_forecasts(y, a, b, sample_weight=w, n_resamples=2)
    huge = compare_forecasts(y, a, b, sample_weight=w * 1e200, n_resamples=2)
    assert huge.statistic == pytest.approx(reference.statistic, rel=1e-12)
    assert huge.p_value == pytest.approx(reference.p_value, rel=1e-10)


@pytest.mark.parametrize(
    "metric", ["log_loss", "expected_calibration_error", "miscalibration"]
)
def test_identical_forecasts_give_no_difference_and_p_value_one(two_forecasts, metric):
    """Zero variance of the difference: a clear 'no difference', not NaN."""
    y, a, _ = two_forecasts
    result = compare_forecasts(y, a, a.copy(), metric=metric, n_resamples=20)
    assert (result.difference, result.low, result.high) == (0.0, 0.0, 0.0)
    assert (result.standard_error, result.statistic, result.p_value) == (0, 0, 1)


def test_a_certain_and_wrong_forecast_is_certainly_worse():
    y = np.array([0, 1, 1, 0, 1, 0, 1, 0])
    a = np.array([0.2, 0.7, 0.0, 0.4, 0.9, 0.1, 0.6, 0.3])  # row 2: p = 0, y = 1
    b = np.array([0.2, 0.7, 0.5, 0.4, 0.9, 0.1, 0.6, 0.3])
    for metric in ("log_loss", "miscalibration"):
        with pytest.warns(Warning, match="certain and wrong"):
            result = compare_forecasts(
                y, a, b, metric=metric, n_resamples=30, random_state=0
            )
        assert result.difference == math.inf
        assert (result.high, result.statistic, result.p_value) == (math.inf,) * 2 + (
            0.0,
        )
        assert result.standard_error == math.inf
    with (
        pytest.warns(Warning, match="certain and wrong"),
        pytest.raises(ValueError, match="y_prob_a and y_prob_b both have an infinite"),
    ):
        compare_forecasts(y, a, a, n_resamples=5)
