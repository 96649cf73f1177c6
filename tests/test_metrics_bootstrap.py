"""Confidence intervals of the metrics: vectorised bootstrap and closed forms.

References: the metric functions themselves with the resample's counts as
integer weights (integer weights are repeated rows, tested in their own
files), actual repeated rows, the closed-form expected log-loss (mpmath
quadrature), and coverage by simulation.
"""

import itertools
import math
import warnings

import mpmath
import numpy as np
import pytest
from scipy.special import ndtri

import calibkit.metrics._bootstrap as bootstrap_module
from calibkit.exceptions import CalibrationWarning
from calibkit.metrics import (
    ConfidenceInterval,
    brier_score,
    confidence_interval,
    decompose,
    expected_calibration_error,
    log_loss,
    smooth_ece,
)
from calibkit.metrics._bootstrap import (
    Data,
    Resamples,
    counted_rows,
    metric_spec,
)
from calibkit.metrics._inputs import check_forecasts


def _replicates(metric, y, p, w, block, **options):
    """The vectorised replicates of ``metric`` for this block of resamples."""
    fc = check_forecasts(y, p, sample_weight=w)
    data = Data(fc=fc, input="probabilities", y_true=y, y_prob=p)
    spec = metric_spec(metric, options)
    replicate = spec.prepare(data, counted_rows(fc))
    assert replicate is not None, "expected a vectorised bootstrap"
    return replicate(block)


def _reference(function, y, p, w, block, **options):
    """The metric of each resample, one call each with count weights."""
    rows = counted_rows(check_forecasts(y, p, sample_weight=w))
    out = []
    for c in block.counts:
        weights = np.zeros(len(y))
        weights[rows] = c * (1.0 if w is None else w[rows])
        out.append(function(y, p, sample_weight=weights, **options))
    return np.array(out)


def _decomposition_term(term):
    def function(y, p, sample_weight, **options):
        return getattr(decompose(y, p, sample_weight=sample_weight, **options), term)

    return function


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(
    ("metric", "function", "options"),
    [
        ("log_loss", log_loss, {}),
        ("brier_score", brier_score, {}),
        ("expected_calibration_error", expected_calibration_error, {}),
        ("expected_calibration_error", expected_calibration_error, {"n_bins": 7}),
        (
            "expected_calibration_error",
            expected_calibration_error,
            {"norm": "l2", "n_bins": 4},
        ),
        ("expected_calibration_error", expected_calibration_error, {"norm": "max"}),
        (
            "expected_calibration_error",
            expected_calibration_error,
            {"norm": "l2", "debias": True, "n_bins": 3},
        ),
        (
            "expected_calibration_error",
            expected_calibration_error,
            {"multiclass": "classwise", "n_bins": 5},
        ),
        *[
            (term, _decomposition_term(term), {"strategy": "uniform", "score": score})
            for term in ("miscalibration", "discrimination", "refinement")
            for score in ("log", "brier")
        ],
        *[
            (term, _decomposition_term(term), {"strategy": "quantile", "n_bins": 1})
            for term in ("miscalibration", "discrimination")
        ],
        *[
            ("uncertainty", _decomposition_term("uncertainty"), {"score": score})
            for score in ("log", "brier")
        ],
    ],
)
def test_vectorised_replicates_equal_the_metric_with_count_weights(
    binary_forecasts, metric, function, options, weighted
):
    y, p, w = binary_forecasts
    w = w.astype(np.float64) if weighted else None
    n = len(y) if w is None else int(np.count_nonzero(w))
    block = Resamples.draw(np.random.default_rng(3), n, 6)
    got = _replicates(metric, y, p, w, block, **options)
    expected = _reference(function, y, p, w, block, **options)
    np.testing.assert_allclose(got, expected, rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("multiclass", ["top_label", "classwise"])
def test_vectorised_multiclass_ece_and_scores(multiclass_forecasts, multiclass):
    y, P, w = multiclass_forecasts
    w = w.astype(np.float64)
    n = int(np.count_nonzero(w))
    block = Resamples.draw(np.random.default_rng(4), n, 5)
    for metric, function, options in [
        ("log_loss", log_loss, {}),
        ("brier_score", brier_score, {}),
        ("uncertainty", _decomposition_term("uncertainty"), {}),
        (
            "expected_calibration_error",
            expected_calibration_error,
            {"multiclass": multiclass, "n_bins": 6},
        ),
    ]:
        got = _replicates(metric, y, P, w, block, **options)
        expected = _reference(function, y, P, w, block, **options)
        np.testing.assert_allclose(got, expected, rtol=1e-11, err_msg=metric)


def test_a_resample_is_the_metric_of_the_repeated_rows(binary_forecasts):
    """Independent of weights: build the resampled data set and score it."""
    y, p, _ = binary_forecasts
    block = Resamples.draw(np.random.default_rng(5), len(y), 3)
    got = _replicates("log_loss", y, p, None, block)
    got_ece = _replicates("expected_calibration_error", y, p, None, block)
    for j, rows in enumerate(block.draws):
        yy, pp = y[rows], p[rows]
        loss = np.mean(np.where(yy == 1, -np.log(pp), -np.log1p(-pp)))
        assert got[j] == pytest.approx(loss, rel=1e-12)
        assert got_ece[j] == pytest.approx(expected_calibration_error(yy, pp))


def test_resample_counts_are_multinomial():
    n, size = 50, 4000
    counts = Resamples.draw(np.random.default_rng(6), n, size).counts
    assert counts.shape == (size, n)
    np.testing.assert_array_equal(counts.sum(axis=1), n)
    # Multinomial(n, 1/n): mean 1, variance 1 - 1/n per row; 4000 x 50 draws
    # put the estimates within 0.02 (about 4 standard errors).
    assert counts.mean() == pytest.approx(1.0, abs=1e-12)
    assert counts.var() == pytest.approx(1 - 1 / n, abs=0.02)


def test_blocks_bound_memory_and_give_the_same_draws_for_any_block(monkeypatch):
    rng = np.random.default_rng(7)
    p = rng.uniform(0.05, 0.95, 400)
    y = (rng.uniform(size=400) < p).astype(int)
    whole = confidence_interval("brier_score", y, p, n_resamples=30, random_state=1)
    monkeypatch.setattr(bootstrap_module, "_BLOCK", 400 * 7)  # 7 per block
    blocked = confidence_interval("brier_score", y, p, n_resamples=30, random_state=1)
    assert blocked.bootstrap_distribution.shape == (30,)
    assert np.all(np.isfinite(blocked.bootstrap_distribution))
    # Different blocks draw differently, but both are seeded and reproducible.
    again = confidence_interval("brier_score", y, p, n_resamples=30, random_state=1)
    np.testing.assert_array_equal(
        blocked.bootstrap_distribution, again.bootstrap_distribution
    )
    assert whole.estimate == blocked.estimate


def test_no_python_loop_per_resample_for_vectorised_metrics(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("one resample at a time")

    monkeypatch.setattr(bootstrap_module, "_resample_rows", refuse)
    rng = np.random.default_rng(8)
    n = 100_000
    p = rng.uniform(0.01, 0.99, n).astype(np.float32)
    y = (rng.uniform(size=n) < p).astype(np.int8)
    for metric in ("log_loss", "brier_score", "expected_calibration_error"):
        ci = confidence_interval(metric, y, p, n_resamples=20, random_state=0)
        assert ci.low <= ci.estimate <= ci.high


def test_corp_terms_loop_and_match_the_decomposition(binary_forecasts):
    y, p, w = binary_forecasts
    ci = confidence_interval(
        "miscalibration", y, p, sample_weight=w, n_resamples=5, random_state=2
    )
    assert ci.estimate == decompose(y, p, sample_weight=w).miscalibration
    rows = np.flatnonzero(w > 0)
    rng = np.random.default_rng(2)
    counts = Resamples.draw(rng, rows.shape[0], 5).counts
    for c, value in zip(counts, ci.bootstrap_distribution, strict=True):
        weights = np.zeros(len(y))
        weights[rows] = c * w[rows]
        term = decompose(y, p, sample_weight=weights).miscalibration
        assert value == pytest.approx(term, rel=1e-12, abs=1e-15)


def test_callable_metric_is_bootstrapped_with_count_weights(binary_forecasts):
    y, p, _ = binary_forecasts

    def mean_forecast_gap(y_true, y_prob, *, sample_weight=None, shift=0.0):
        return float(np.average(y_prob - y_true, weights=sample_weight)) + shift

    ci = confidence_interval(
        mean_forecast_gap, y, p, n_resamples=40, random_state=0, shift=1.0
    )
    assert ci.metric == "mean_forecast_gap"
    assert ci.estimate == pytest.approx(np.mean(p - y) + 1.0)
    vectorised = confidence_interval("log_loss", y, p, n_resamples=40, random_state=0)
    counts = Resamples.draw(np.random.default_rng(0), len(y), 40).counts
    expected = counts @ (p - y) / len(y) + 1.0
    np.testing.assert_allclose(ci.bootstrap_distribution, expected, rtol=1e-12)
    assert vectorised.n_resamples == 40


def test_smooth_ece_resamples_are_smooth_ece_with_count_weights(binary_forecasts):
    y, p, w = binary_forecasts
    ci = confidence_interval(
        "smooth_ece", y, p, sample_weight=w, n_resamples=12, random_state=3
    )
    assert ci.estimate == pytest.approx(smooth_ece(y, p, sample_weight=w), rel=1e-12)
    rows = counted_rows(check_forecasts(y, p, sample_weight=w))
    counts = Resamples.draw(np.random.default_rng(3), len(rows), 12).counts
    expected = []
    for c in counts:
        weights = np.zeros(len(y))
        weights[rows] = c * (1.0 if w is None else w[rows])
        expected.append(smooth_ece(y, p, sample_weight=weights))
    np.testing.assert_allclose(ci.bootstrap_distribution, expected, rtol=1e-10)
    with pytest.raises(ValueError, match="normal"):
        confidence_interval("smooth_ece", y, p, method="normal")


def test_percentile_and_basic_intervals_from_the_distribution(binary_forecasts):
    y, p, _ = binary_forecasts
    percentile = confidence_interval(
        "log_loss", y, p, n_resamples=200, random_state=3, confidence_level=0.9
    )
    basic = confidence_interval(
        "log_loss",
        y,
        p,
        n_resamples=200,
        random_state=3,
        method="basic",
        confidence_level=0.9,
    )
    draws = percentile.bootstrap_distribution
    low, high = np.quantile(draws, [0.05, 0.95])
    assert (percentile.low, percentile.high) == (low, high)
    assert basic.low == pytest.approx(2 * basic.estimate - high)
    assert basic.high == pytest.approx(2 * basic.estimate - low)
    assert percentile.standard_error == pytest.approx(np.std(draws, ddof=1))
    assert isinstance(percentile, ConfidenceInterval)
    frame = percentile.to_frame()
    assert "bootstrap_distribution" not in frame.columns
    assert frame.loc[0, "estimate"] == percentile.estimate


def test_normal_interval_is_the_clt_interval(binary_forecasts):
    y, p, w = binary_forecasts
    loss = np.where(y == 1, -np.log(p), -np.log1p(-p))
    ci = confidence_interval("log_loss", y, p, method="normal")
    se = np.std(loss, ddof=1) / math.sqrt(len(y))
    assert ci.standard_error == pytest.approx(se, rel=1e-12)
    assert ci.high - ci.estimate == pytest.approx(ndtri(0.975) * se, rel=1e-12)
    assert ci.bootstrap_distribution is None
    assert ci.n_resamples is None
    # Weighted: the ratio estimator's standard error, rows of zero weight out.
    ci_w = confidence_interval("brier_score", y, p, sample_weight=w, method="normal")
    keep = w > 0
    sq, ww = ((p - y) ** 2)[keep], w[keep].astype(float)
    mean = np.sum(ww * sq) / ww.sum()
    m = keep.sum()
    se_w = math.sqrt(np.sum(ww**2 * (sq - mean) ** 2) / ww.sum() ** 2 * m / (m - 1))
    assert ci_w.standard_error == pytest.approx(se_w, rel=1e-12)


def test_normal_uncertainty_is_the_delta_method():
    rng = np.random.default_rng(9)
    y = (rng.uniform(size=1000) < 0.3).astype(int)
    p = np.full(1000, 0.5)
    ybar = y.mean()
    se = np.std(y, ddof=1) / math.sqrt(1000)
    log = confidence_interval("uncertainty", y, p, method="normal")
    brier = confidence_interval("uncertainty", y, p, method="normal", score="brier")
    assert log.standard_error == pytest.approx(abs(math.log((1 - ybar) / ybar)) * se)
    assert brier.standard_error == pytest.approx(abs(1 - 2 * ybar) * se)


def _expected_log_loss_of_calibrated_uniform(a, b):
    """E[H(q)] for q ~ Uniform(a, b), y ~ Bernoulli(q): 50-digit quadrature."""
    mpmath.mp.dps = 50

    def entropy(q):
        return -q * mpmath.log(q) - (1 - q) * mpmath.log(1 - q)

    return float(mpmath.quad(entropy, [a, b]) / (b - a))


@pytest.mark.parametrize("method", ["percentile", "normal"])
def test_coverage_of_95_percent_log_loss_intervals(method):
    """1000 data sets at fixed seeds; the true expected log-loss is known.

    Coverage of a correct 95% interval over 1000 independent replicates has
    binomial standard deviation 0.0069, so [0.93, 0.97] is about +-2.9 of
    them: a correct method leaves it with probability about 0.4%, a method
    whose real coverage is 90% (or 99%) with probability below 1e-6.
    """
    truth = _expected_log_loss_of_calibrated_uniform(0.1, 0.9)
    rng = np.random.default_rng(20261127)
    n, replicates = 300, 1000
    covered = 0
    for _ in range(replicates):
        q = rng.uniform(0.1, 0.9, n)
        y = (rng.uniform(size=n) < q).astype(int)
        ci = confidence_interval(
            "log_loss", y, q, method=method, n_resamples=199, random_state=rng
        )
        covered += ci.low <= truth <= ci.high
    assert 0.93 <= covered / replicates <= 0.97


def _population_top_label_ece(frequency, edges):
    """Top-label binned ECE of q ~ Uniform(0, 1) with P(y = 1 | q) = frequency(q).

    Confidence c = max(q, 1 - q); the arg-max is right with probability
    frequency(q) (q > 1/2) or 1 - frequency(q). Bin b's weighted gap is the
    integral of P(right | q) - c(q) over the q whose confidence falls in b
    (two intervals, mirrored about 1/2); the ECE is the sum of their |.|.
    """
    mpmath.mp.dps = 50
    total = 0.0
    for lo, hi in itertools.pairwise(edges):
        lo, hi = max(lo, 0.5), max(hi, 0.5)
        upper = mpmath.quad(lambda q: frequency(q) - q, [lo, hi])
        lower = mpmath.quad(lambda q: (1 - frequency(q)) - (1 - q), [1 - hi, 1 - lo])
        total += abs(float(upper + lower))
    return total


def test_coverage_of_95_percent_ece_intervals():
    """An underconfident forecast, P(y = 1 | q) = 1/2 + 0.6 (q - 1/2), 4 bins.

    The population ECE is 0.1 (two filled bins with gaps 0.05 and 0.15),
    large against the sampling noise at n = 1000 (about 0.022 a bin), so the
    bias of |.| is small. 400 replicates (binomial sd 0.011): the band
    [0.93, 0.97] is +-1.8 sd; fixed seeds.
    """
    truth = _population_top_label_ece(
        lambda q: 0.5 + 0.6 * (q - 0.5), np.linspace(0, 1, 5)
    )
    assert truth == pytest.approx(0.1, rel=1e-12)
    rng = np.random.default_rng(1127)
    n, replicates = 1000, 400
    covered = 0
    for _ in range(replicates):
        q = rng.uniform(size=n)
        y = (rng.uniform(size=n) < 0.5 + 0.6 * (q - 0.5)).astype(int)
        ci = confidence_interval(
            "expected_calibration_error",
            y,
            q,
            n_bins=4,
            n_resamples=199,
            random_state=rng,
        )
        covered += ci.low <= truth <= ci.high
    assert 0.93 <= covered / replicates <= 0.97


def test_infinite_log_loss_gives_infinite_resamples():
    y = np.array([0, 1, 1, 0, 1, 0])
    p = np.array([0.2, 0.7, 0.0, 0.4, 0.9, 0.1])  # row 2: certain and wrong
    with pytest.warns(Warning, match="certain and wrong"):
        ci = confidence_interval("log_loss", y, p, n_resamples=50, random_state=0)
    draws = ci.bootstrap_distribution
    assert ci.estimate == math.inf
    assert np.all(np.isinf(draws) | np.isfinite(draws))
    assert np.any(np.isinf(draws))
    assert np.any(np.isfinite(draws))
    assert ci.high == math.inf


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"metric": "ece"}, ValueError, "metric must be one of"),
        (
            {"metric": "expected_calibration_error", "method": "normal"},
            ValueError,
            "no closed form for expected_calibration_error",
        ),
        ({"metric": "log_loss", "n_bins": 3}, TypeError, "log_loss takes the options"),
        ({"metric": "log_loss", "random_state": "x"}, TypeError, "random_state"),
        ({"metric": "log_loss", "method": "bca"}, ValueError, "method"),
        ({"metric": "log_loss", "confidence_level": 1.0}, ValueError, "confidence"),
        ({"metric": "miscalibration", "score": "zero"}, ValueError, "'score' param"),
        ({"metric": "miscalibration", "strategy": "foo"}, ValueError, "'strategy'"),
        ({"metric": "refinement", "n_bins": 2.5}, ValueError, "'n_bins' parameter"),
        ({"metric": "discrimination", "multiclass": "x"}, ValueError, "'multiclass'"),
        ({"metric": "expected_calibration_error", "norm": "l3"}, ValueError, "'norm'"),
        ({"metric": "expected_calibration_error", "n_bins": 0}, ValueError, "n_bins"),
        ({"metric": "expected_calibration_error", "n_bins": "9"}, ValueError, "n_bins"),
        ({"metric": "smooth_ece", "bandwidth": -1.0}, ValueError, "'bandwidth'"),
        (
            {"metric": "expected_calibration_error", "debias": True},
            ValueError,
            "debias=True applies to norm='l2' only",
        ),
    ],
)
def test_bad_arguments(binary_forecasts, kwargs, error, match):
    y, p, _ = binary_forecasts
    kwargs = {"n_resamples": 5, **kwargs}
    metric = kwargs.pop("metric")
    with pytest.raises(error, match=match):
        confidence_interval(metric, y, p, **kwargs)


def test_inputs_are_not_modified(binary_forecasts):
    y, p, w = binary_forecasts
    copies = [a.copy() for a in (y, p, w)]
    confidence_interval(
        "miscalibration", y, p, sample_weight=w, n_resamples=3, strategy="uniform"
    )
    for original, copy in zip((y, p, w), copies, strict=True):
        np.testing.assert_array_equal(original, copy)


@pytest.mark.parametrize("metric", ["log_loss", "brier_score", "uncertainty"])
def test_normal_interval_depends_only_on_weight_ratios(binary_forecasts, metric):
    """Weights of 1e200 (squares overflow) and 1e-300 (squares underflow) give
    the standard error of the same weights at unit scale, without warnings."""
    y, p, w = binary_forecasts
    w = w.astype(np.float64)
    reference = confidence_interval(metric, y, p, sample_weight=w, method="normal")
    for scale in (1e200, 1e-300):
        ci = confidence_interval(metric, y, p, sample_weight=w * scale, method="normal")
        assert ci.standard_error == pytest.approx(reference.standard_error, rel=1e-12)
        assert ci.low == pytest.approx(reference.low, rel=1e-12)


@pytest.mark.parametrize("method", ["basic", "normal"])
def test_infinite_estimate_gives_an_infinite_interval(method):
    """A forecast certain and wrong on a row has an infinite expected
    log-loss: the basic and normal intervals are (inf, inf), not NaN."""
    y = np.array([0, 1, 1, 0, 1, 0])
    p = np.array([0.2, 0.7, 0.0, 0.4, 0.9, 0.1])  # row 2: certain and wrong
    with pytest.warns(Warning, match="certain and wrong"):
        ci = confidence_interval(
            "log_loss", y, p, method=method, n_resamples=50, random_state=0
        )
    assert (ci.estimate, ci.low, ci.high) == (math.inf, math.inf, math.inf)


@pytest.mark.parametrize("score", ["log", "brier"])
def test_normal_uncertainty_of_a_single_class_is_zero(score):
    """All outcomes equal: the base rate has no spread, UNC = 0 with SE 0
    (the log-loss slope is infinite there, but multiplies a zero SE)."""
    y = np.ones(20, dtype=int)
    p = np.linspace(0.2, 0.9, 20)
    ci = confidence_interval(
        "uncertainty", y, p, method="normal", labels=[0, 1], score=score
    )
    assert (ci.estimate, ci.low, ci.high, ci.standard_error) == (0, 0, 0, 0)


def test_callable_metric_must_return_a_number(binary_forecasts):
    y, p, _ = binary_forecasts
    with pytest.raises(TypeError, match=r"metric must return a number; decompose"):
        confidence_interval(decompose, y, p, n_resamples=3)
    with pytest.raises(TypeError, match=r"metric must take sample_weight="):
        confidence_interval(lambda y_true, y_prob: 0.0, y, p, n_resamples=3)


@pytest.mark.parametrize("multiclass", ["top_label", "classwise"])
def test_ece_bootstrap_does_not_copy_a_float32_matrix(monkeypatch, multiclass):
    """The per-row inputs of the vectorised ECE replicates are vectors (the
    top-label confidence, one class column at a time), never a copy of the
    (n, K) forecasts: the peak stays well below the matrix, here 4 MB of
    float32, with blocks of resamples small against it."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from _memory import peak_memory

    monkeypatch.setattr(bootstrap_module, "_BLOCK", 1 << 15)
    rng = np.random.default_rng(4)
    n, k = 10_000, 100
    prob = rng.dirichlet(np.ones(k), n).astype(np.float32)
    y = rng.integers(0, k, n)
    w = rng.integers(0, 3, n)  # zero weights: a subset of rows is resampled

    def call():
        return confidence_interval(
            "expected_calibration_error",
            y,
            prob,
            sample_weight=w,
            multiclass=multiclass,
            n_resamples=3,
            random_state=0,
        )

    call()  # imports and caches outside the measurement
    # (The replicates themselves are checked against the metric with count
    # weights in test_vectorised_replicates_equal_the_metric_with_count_weights.)
    assert peak_memory(call) < 0.5 * prob.nbytes


def test_logits_are_turned_into_probabilities_once(binary_forecasts, monkeypatch):
    """One sigmoid/softmax pass for the whole bootstrap, not one per resample."""
    y, p, _ = binary_forecasts
    calls = []
    convert = bootstrap_module.as_probabilities

    def counting(fc, input):
        calls.append(input)
        return convert(fc, input)

    monkeypatch.setattr(bootstrap_module, "as_probabilities", counting)
    logits = np.log(p / (1 - p))
    ci = confidence_interval(
        "miscalibration", y, logits, input="logits", n_resamples=6, random_state=0
    )
    assert calls.count("logits") == 1
    reference = confidence_interval(
        "miscalibration", y, p, n_resamples=6, random_state=0
    )
    np.testing.assert_allclose(
        ci.bootstrap_distribution, reference.bootstrap_distribution, rtol=1e-9
    )


@pytest.mark.parametrize("method", ["percentile", "normal"])
def test_huge_finite_scores_do_not_overflow(method):
    """Logits of 1e300 on the wrong side give log-losses near 1e300: their
    spread is computed without squaring them (no overflow warning)."""
    y = np.array([0, 1, 0, 1, 1])
    logits = np.array([-1e300, 1e300, 1e300, -1e300, 2e300])
    ci = confidence_interval(
        "log_loss", y, logits, input="logits", method=method, n_resamples=20
    )
    losses = np.array([0.0, 0.0, 1e300, 1e300, 0.0])
    assert ci.estimate == pytest.approx(np.mean(losses), rel=1e-12)
    if method == "normal":
        se = 1e300 * np.std(losses / 1e300, ddof=1) / math.sqrt(5)
        assert ci.standard_error == pytest.approx(se, rel=1e-12)
    else:
        draws = ci.bootstrap_distribution
        assert ci.standard_error == pytest.approx(
            1e300 * np.std(draws / 1e300, ddof=1), rel=1e-12
        )


def test_huge_weights_times_huge_scores_do_not_overflow():
    """Weights of 1e200 and log-losses of 1e150 (logits that large on the
    wrong side): only weight ratios enter the replicates, so their products
    stay finite and the replicates equal those of unit-scale weights."""
    y = np.array([0, 1, 0, 1, 1, 0])
    logits = np.array([-2.0, 1e150, 1e150, 3.0, -1e150, 0.5])
    w = np.array([1.0, 2.0, 1.0, 3.0, 1.0, 2.0])
    options = {"input": "logits", "n_resamples": 30, "random_state": 0}
    small = confidence_interval("log_loss", y, logits, sample_weight=w, **options)
    huge = confidence_interval(
        "log_loss", y, logits, sample_weight=w * 1e200, **options
    )
    np.testing.assert_allclose(
        huge.bootstrap_distribution, small.bootstrap_distribution, rtol=1e-12
    )
    assert np.all(np.isfinite(huge.bootstrap_distribution))


@pytest.mark.parametrize(
    ("metric", "options"),
    [
        ("miscalibration", {"multiclass": "classwise"}),
        ("discrimination", {"multiclass": "top_label"}),
        ("uncertainty", {}),
        ("refinement", {"strategy": "uniform", "multiclass": "classwise"}),
        ("expected_calibration_error", {"multiclass": "classwise"}),
        ("log_loss", {}),
    ],
)
def test_a_class_absent_from_resamples_gives_finite_replicates(metric, options):
    """Class 2 has one row of 30: most resamples lack it. Their replicates
    are the metric of the resample (finite, no warning), not NaN."""
    rng = np.random.default_rng(8)
    prob = rng.dirichlet(np.ones(3), 30)
    y = np.zeros(30, dtype=int)
    y[:12], y[0] = 1, 2
    ci = confidence_interval(metric, y, prob, n_resamples=40, random_state=0, **options)
    draws = ci.bootstrap_distribution
    assert np.all(np.isfinite(draws))
    counts = Resamples.draw(np.random.default_rng(0), 30, 40).counts
    assert np.any(counts[:, 0] == 0)  # some resamples do lack class 2
    j = int(np.flatnonzero(counts[:, 0] == 0)[0])
    function = (
        _decomposition_term(metric)
        if metric in ("miscalibration", "discrimination", "uncertainty", "refinement")
        else {"expected_calibration_error": expected_calibration_error}.get(
            metric, log_loss
        )
    )
    expected = function(y, prob, sample_weight=counts[j], labels=[0, 1, 2], **options)
    assert draws[j] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("metric", ["log_loss", "miscalibration", "discrimination"])
def test_a_warning_about_the_rows_is_given_once_not_per_resample(metric):
    # Row 0 is certain and wrong: the metric of the data says so once; the
    # resamples that contain row 0 do not repeat it.
    y = np.array([0, 1, 1, 0, 1, 0])
    p = np.array([1.0, 1.0, 1.0, 0.0, 0.7, 0.2])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        confidence_interval(metric, y, p, n_resamples=50, random_state=0)
    assert len([w for w in caught if issubclass(w.category, CalibrationWarning)]) == 1


def test_terms_of_one_resample_share_one_decomposition(monkeypatch, binary_forecasts):
    import calibkit.metrics._decomposition as decomposition_module

    y, p, w = binary_forecasts
    fc = check_forecasts(y, p, sample_weight=w)
    data = Data(fc, "probabilities", None, None)
    specs = [metric_spec(term, {}) for term in ("miscalibration", "discrimination")]
    alone = [
        bootstrap_module.bootstrap_replicates([spec], data, 6, np.random.default_rng(3))
        for spec in specs
    ]
    calls = []
    decompose_rows = decomposition_module._decompose
    monkeypatch.setattr(
        decomposition_module,
        "_decompose",
        lambda *args, **kwargs: calls.append(1) or decompose_rows(*args, **kwargs),
    )
    together = bootstrap_module.bootstrap_replicates(
        specs, data, 6, np.random.default_rng(3)
    )
    assert len(calls) == 6  # one decomposition per resample, not one per term
    for (expected,), got in zip(alone, together, strict=True):
        np.testing.assert_array_equal(got, expected)
