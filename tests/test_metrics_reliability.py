"""Tests for calibkit.metrics (reliability): ECE and reliability curves.

References: brute-force binning written from the definitions (explicit
comparisons with the edges, exact-fraction quantiles), Kumar et al.'s debiased
estimator as published, a brute-force PAV in exact fractions, scikit-learn's
calibration_curve, and binomial quantiles for the consistency bands.
"""

import itertools
from fractions import Fraction

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binom
from sklearn.calibration import calibration_curve

from calibkit.exceptions import CalibrationWarning
from calibkit.metrics import (
    ReliabilityCurve,
    expected_calibration_error,
    reliability_curve,
)
from calibkit.metrics import _binning as binning_module
from calibkit.metrics import _reliability as reliability_module
from calibkit.metrics._binning import Binning

# --- brute-force references -------------------------------------------------------


def brute_bin(value, edges):
    """Index b with edges[b] <= value < edges[b + 1]; the last bin is closed."""
    last = len(edges) - 2
    for b in range(last + 1):
        if edges[b] <= value < edges[b + 1] or (b == last and value == edges[-1]):
            return b
    raise AssertionError(f"{value} outside the edges")


def brute_quantile_edges(x, w, n_bins):
    """Smallest x with weighted CDF > j / n_bins, in exact fractions."""
    mass = {}
    for xi, wi in zip(x, w, strict=True):
        if wi > 0:
            mass[xi] = mass.get(xi, 0) + Fraction(int(wi))
    values = sorted(mass)
    total = sum(mass.values())
    cdf, running = [], Fraction(0)
    for v in values:
        running += mass[v]
        cdf.append(running / total)
    inner = [
        next(v for v, F in zip(values, cdf, strict=True) if Fraction(j, n_bins) < F)
        for j in range(1, n_bins)
    ]
    edges = sorted({values[0], *inner, values[-1]})
    return edges if len(edges) > 1 else edges * 2


def brute_top_label(y, P):
    """Confidence and correctness from an explicit (n, K) array and np.argmax."""
    P = np.asarray(P, dtype=np.float64)
    if P.ndim == 1:
        P = np.column_stack([1 - P, P])
    top = [int(np.argmax(row)) for row in P]
    conf = [float(row[k]) for row, k in zip(P, top, strict=True)]
    return conf, [float(k == yi) for k, yi in zip(top, y, strict=True)]


def brute_bin_means(x, t, w, edges):
    """Per non-empty bin: (weight, mean x, mean t)."""
    sums = {}
    for xi, ti, wi in zip(x, t, w, strict=True):
        if wi > 0:
            b = brute_bin(xi, edges)
            W, X, T = sums.get(b, (0.0, 0.0, 0.0))
            sums[b] = (W + wi, X + wi * xi, T + wi * ti)
    return {b: (W, X / W, T / W) for b, (W, X, T) in sorted(sums.items())}


def brute_ece(x, t, w, edges, norm):
    bins = brute_bin_means(x, t, w, edges)
    total = sum(W for W, _, _ in bins.values())
    gaps = [(W / total, abs(T - X)) for W, X, T in bins.values()]
    if norm == "l1":
        return sum(s * g for s, g in gaps)
    if norm == "l2":
        return sum(s * g**2 for s, g in gaps) ** 0.5
    return max(g for _, g in gaps)


def kumar_debiased_l2(x, t, edges):
    """Kumar, Liang & Ma (2019), unweighted, as in their published code:
    per bin with at least 2 points, (mean p - mean y)^2 - mean y (1 - mean y)
    / (n_b - 1), others 0; weighted by n_b / n; root of the positive part."""
    members = {}
    for xi, ti in zip(x, t, strict=True):
        members.setdefault(brute_bin(xi, edges), []).append((xi, ti))
    estimate = 0.0
    for data in members.values():
        if len(data) < 2:
            continue
        mean_p = sum(a for a, _ in data) / len(data)
        mean_y = sum(b for _, b in data) / len(data)
        error = (mean_p - mean_y) ** 2 - mean_y * (1 - mean_y) / (len(data) - 1)
        estimate += len(data) / len(x) * error
    return max(estimate, 0.0) ** 0.5


def brute_pav(x, y, w):
    """Weighted PAV in exact fractions: pool exact ties, then merge violators."""
    blocks = []  # [weight, weighted sum, number of distinct values]
    for value in sorted(set(x[w > 0])):
        rows = (x == value) & (w > 0)
        blocks.append(
            [Fraction(int(w[rows].sum())), Fraction(int((w * y)[rows].sum())), 1]
        )
    i = 0
    while i < len(blocks) - 1:
        if blocks[i][1] / blocks[i][0] > blocks[i + 1][1] / blocks[i + 1][0]:
            W, S, m = blocks.pop(i + 1)
            blocks[i] = [blocks[i][0] + W, blocks[i][1] + S, blocks[i][2] + m]
            i = max(i - 1, 0)
        else:
            i += 1
    return [float(S / W) for W, S, m in blocks for _ in range(m)]


def ties(seed, n=200, levels=12):
    """Binary forecasts with heavy exact ties, plus integer weights."""
    rng = np.random.default_rng(seed)
    p = rng.integers(0, levels + 1, n) / levels
    y = (rng.uniform(size=n) < p**0.8).astype(int)
    return y, p, rng.integers(0, 4, n)


# --- ECE against brute force -------------------------------------------------------


@pytest.mark.parametrize("norm", ["l1", "l2", "max"])
@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
@pytest.mark.parametrize("shape", ["binary", "multiclass", "ties"])
def test_top_label_ece_matches_brute_force(
    norm, strategy, shape, binary_forecasts, multiclass_forecasts
):
    if shape == "ties":
        y, p, w = ties(1)
    else:
        y, p, w = binary_forecasts if shape == "binary" else multiclass_forecasts
    conf, correct = brute_top_label(y, p)
    if strategy == "uniform":
        edges = list(np.linspace(0, 1, 8 + 1))
    else:
        edges = brute_quantile_edges(conf, w, 8)
    expected = brute_ece(conf, correct, w, edges, norm)
    got = expected_calibration_error(
        y, p, n_bins=8, strategy=strategy, norm=norm, sample_weight=w
    )
    assert got == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("norm", ["l1", "l2", "max"])
@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_classwise_ece_is_mean_of_column_eces(norm, strategy, multiclass_forecasts):
    y, P, w = multiclass_forecasts
    per_class = []
    for k in range(P.shape[1]):
        x, t = P[:, k].tolist(), (y == k).astype(float).tolist()
        if strategy == "uniform":
            edges = list(np.linspace(0, 1, 6))
        else:
            edges = brute_quantile_edges(x, w, 5)
        per_class.append(brute_ece(x, t, w, edges, norm))
    got = expected_calibration_error(
        y,
        P,
        n_bins=5,
        strategy=strategy,
        norm=norm,
        multiclass="classwise",
        sample_weight=w,
    )
    assert got == pytest.approx(np.mean(per_class), rel=1e-12)


def test_binary_classwise_uses_both_columns(binary_forecasts):
    y, p, _ = binary_forecasts
    two_columns = np.column_stack([1 - p, p])
    expected = expected_calibration_error(y, two_columns, multiclass="classwise")
    assert expected_calibration_error(y, p, multiclass="classwise") == pytest.approx(
        expected, rel=1e-14
    )


def test_binary_top_label_equals_two_column_top_label(binary_forecasts):
    y, p, w = binary_forecasts
    two_columns = np.column_stack([1 - p, p])
    for norm in ("l1", "l2", "max"):
        expected = expected_calibration_error(
            y, two_columns, norm=norm, sample_weight=w
        )
        got = expected_calibration_error(y, p, norm=norm, sample_weight=w)
        assert got == expected


def test_edges_are_half_open_with_the_last_closed():
    # 0.5 starts the second of two bins; 1.0 belongs to the last bin.
    y = [1, 0, 1, 1]
    p = [[0.5, 0.5], [0.0, 1.0], [0.25, 0.75], [0.5, 0.5]]
    _, correct = brute_top_label(y, p)
    assert correct == [0.0, 0.0, 1.0, 0.0]  # 0.5/0.5 ties predict class 0
    # bin [0.5, 1]: confidences 0.5, 1, 0.75, 0.5 with one correct
    expected = abs(0.25 - 2.75 / 4)
    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx(expected)


@pytest.mark.parametrize("shape", ["binary", "multiclass", "ties"])
def test_debiased_ece_matches_kumar_definition(
    shape, binary_forecasts, multiclass_forecasts
):
    if shape == "ties":
        y, p, _ = ties(2)
    else:
        y, p, _ = binary_forecasts if shape == "binary" else multiclass_forecasts
    conf, correct = brute_top_label(y, p)
    for n_bins in (5, 15, 40):
        expected = kumar_debiased_l2(conf, correct, list(np.linspace(0, 1, n_bins + 1)))
        got = expected_calibration_error(y, p, n_bins=n_bins, norm="l2", debias=True)
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_debiased_ece_is_zero_for_calibrated_single_bin():
    # One bin, forecasts equal to the frequency: the plug-in error is 0 and the
    # bias correction makes the squared estimate negative, clipped to 0.
    y = [1, 0, 0, 0]
    assert expected_calibration_error(y, [0.25] * 4, n_bins=1, norm="l2") == 0.0
    assert (
        expected_calibration_error(y, [0.25] * 4, n_bins=1, norm="l2", debias=True)
        == 0.0
    )


def test_debias_warns_when_weights_are_not_counts(binary_forecasts):
    y, p, _ = binary_forecasts
    w = np.full(y.shape[0], 1 / y.shape[0])
    with pytest.warns(CalibrationWarning, match=r"reads sample_weight as row counts"):
        expected_calibration_error(y, p, norm="l2", debias=True, sample_weight=w)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 30), st.sampled_from([1, 3]))
def test_norms_are_ordered(seed, n_bins, k):
    rng = np.random.default_rng(seed)
    n = 40
    p = rng.dirichlet(np.ones(k + 1), size=n)
    y = rng.integers(0, k + 1, n)
    kwargs = {"n_bins": n_bins, "labels": list(range(k + 1))}
    l1 = expected_calibration_error(y, p, norm="l1", **kwargs)
    l2 = expected_calibration_error(y, p, norm="l2", **kwargs)
    worst = expected_calibration_error(y, p, norm="max", **kwargs)
    debiased = expected_calibration_error(y, p, norm="l2", debias=True, **kwargs)
    assert 0 <= l1 <= l2 * (1 + 1e-12) <= worst * (1 + 1e-12) <= 1
    assert 0 <= debiased <= l2 * (1 + 1e-12)


# --- reliability curves: binned ------------------------------------------------------


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
@pytest.mark.parametrize("shape", ["binary", "multiclass", "ties"])
def test_binned_curve_matches_brute_force(
    strategy, shape, binary_forecasts, multiclass_forecasts
):
    if shape == "ties":
        y, p, w = ties(3)
    else:
        y, p, w = binary_forecasts if shape == "binary" else multiclass_forecasts
    if shape == "multiclass":
        x, t = brute_top_label(y, p)
    else:
        x, t = p.tolist(), y.astype(float).tolist()
    if strategy == "uniform":
        edges = list(np.linspace(0, 1, 7 + 1))
    else:
        edges = brute_quantile_edges(x, w, 7)
    bins = brute_bin_means(x, t, w, edges)
    curve = reliability_curve(y, p, n_bins=7, strategy=strategy, sample_weight=w)
    np.testing.assert_allclose(curve.bin_edges, edges, rtol=0, atol=0)
    np.testing.assert_array_equal(curve.bin_index, list(bins))
    np.testing.assert_allclose(curve.weight, [v[0] for v in bins.values()])
    np.testing.assert_allclose(curve.forecast, [v[1] for v in bins.values()], 1e-12)
    np.testing.assert_allclose(curve.observed, [v[2] for v in bins.values()], 1e-12)
    counts = [
        sum(
            1
            for xi, wi in zip(x, w, strict=True)
            if wi > 0 and brute_bin(xi, edges) == b
        )
        for b in bins
    ]
    np.testing.assert_array_equal(curve.count, counts)


def test_uniform_curve_matches_sklearn_calibration_curve(binary_forecasts):
    y, p, _ = binary_forecasts
    prob_true, prob_pred = calibration_curve(y, p, n_bins=10)
    curve = reliability_curve(y, p, n_bins=10)
    np.testing.assert_allclose(curve.observed, prob_true, rtol=1e-12)
    np.testing.assert_allclose(curve.forecast, prob_pred, rtol=1e-12)


def test_empty_bins_are_dropped_but_edges_kept():
    y = [0, 1, 0, 1]
    p = [0.05, 0.12, 0.21, 0.93]
    curve = reliability_curve(y, p, n_bins=10)
    assert curve.bin_edges.shape == (11,)
    np.testing.assert_array_equal(curve.bin_index, [0, 1, 2, 9])
    np.testing.assert_array_equal(curve.count, [1, 1, 1, 1])
    frame = curve.to_frame()
    assert list(frame.columns) == [
        "forecast",
        "observed",
        "weight",
        "count",
        "bin_lower",
        "bin_upper",
    ]
    np.testing.assert_allclose(frame["bin_lower"], [0.0, 0.1, 0.2, 0.9])
    assert repr(curve) == "ReliabilityCurve(strategy='uniform', n_points=4)"


def test_quantile_bins_have_equal_mass_without_ties():
    rng = np.random.default_rng(4)
    p = rng.uniform(size=120)
    y = (rng.uniform(size=120) < p).astype(int)
    curve = reliability_curve(y, p, n_bins=6, strategy="quantile")
    np.testing.assert_array_equal(curve.count, [20] * 6)


def test_single_distinct_forecast_gives_one_point():
    curve = reliability_curve([0, 1, 1], [0.4] * 3, strategy="quantile")
    np.testing.assert_allclose(curve.observed, [2 / 3])
    np.testing.assert_array_equal(curve.bin_edges, [0.4, 0.4])


def test_top_label_curve_from_two_dimensional_forecasts():
    y = ["a", "b", "c", "c"]
    P = [[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.5, 0.2, 0.3], [0.1, 0.1, 0.8]]
    curve = reliability_curve(y, P, n_bins=2)
    # confidences 0.6, 0.7, 0.5, 0.8 (all in [0.5, 1]); third row is wrong
    np.testing.assert_allclose(curve.forecast, [0.65])
    np.testing.assert_allclose(curve.observed, [0.75])


def test_classwise_grid_with_pos_label(multiclass_forecasts):
    y, P, w = multiclass_forecasts
    names = np.array(["ant", "bee", "cat", "dog"])
    for k, name in enumerate(names):
        for strategy in ("uniform", "quantile", "isotonic"):
            got = reliability_curve(
                names[y], P[:, k], pos_label=name, strategy=strategy, sample_weight=w
            )
            expected = reliability_curve(
                y == k, P[:, k], strategy=strategy, sample_weight=w
            )
            np.testing.assert_array_equal(got.forecast, expected.forecast)
            np.testing.assert_array_equal(got.observed, expected.observed)
            np.testing.assert_array_equal(got.count, expected.count)


# --- reliability curves: CORP (isotonic) -------------------------------------------


@pytest.mark.parametrize("seed", [5, 6])
def test_isotonic_curve_matches_brute_force_pav(seed):
    y, p, w = ties(seed, n=150, levels=25)
    curve = reliability_curve(y, p, strategy="isotonic", sample_weight=w)
    np.testing.assert_array_equal(curve.forecast, np.unique(p[w > 0]))
    np.testing.assert_allclose(curve.observed, brute_pav(p, y, w), rtol=1e-13)
    np.testing.assert_allclose(
        curve.weight, [w[p == v].sum() for v in curve.forecast], rtol=0
    )
    np.testing.assert_array_equal(
        curve.count, [np.sum((p == v) & (w > 0)) for v in curve.forecast]
    )
    assert curve.bin_edges is None
    assert curve.bin_index is None


def test_isotonic_blocks_delimit_constant_steps(binary_forecasts):
    y, p, _ = binary_forecasts
    curve = reliability_curve(y, p, strategy="isotonic")
    starts = curve.block_starts
    assert starts[0] == 0
    assert starts[-1] == curve.forecast.shape[0]
    for begin, end in itertools.pairwise(starts):
        assert np.all(curve.observed[begin:end] == curve.observed[begin])
    assert np.all(np.diff(curve.observed[starts[:-1]]) > 0)
    assert np.all(np.diff(curve.forecast) > 0)


def test_isotonic_curve_keeps_near_ties_apart():
    # Values 1 ulp apart are distinct forecasts (scikit-learn would merge them).
    low = 0.3
    high = np.nextafter(low, 1.0)
    curve = reliability_curve([0, 1, 1], [low, high, 0.9], strategy="isotonic")
    np.testing.assert_array_equal(curve.forecast, [low, high, 0.9])
    np.testing.assert_array_equal(curve.observed, [0.0, 1.0, 1.0])


# --- consistency bands --------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["uniform", "isotonic"])
def test_band_matches_binomial_quantiles(strategy):
    # Two forecast values: under calibration each point's observed frequency is
    # Binomial(n_b, x_b) / n_b, whatever the strategy (PAV pools essentially
    # never at 0.3 vs 0.8 with these counts).
    p = np.repeat([0.3, 0.8], [60, 40])
    y = np.zeros(100, dtype=int)  # the observed outcomes do not enter the band
    curve = reliability_curve(
        y,
        p,
        labels=[0, 1],
        strategy=strategy,
        n_bins=2,
        bands=0.9,
        n_resamples=4000,
        random_state=0,
    )
    for point, (n, x) in enumerate([(60, 0.3), (40, 0.8)]):
        lower_range = binom.ppf([0.03, 0.07], n, x) / n
        upper_range = binom.ppf([0.93, 0.97], n, x) / n
        assert lower_range[0] <= curve.lower[point] <= lower_range[1]
        assert upper_range[0] <= curve.upper[point] <= upper_range[1]
    assert curve.level == 0.9
    assert curve.n_resamples == 4000


@pytest.mark.parametrize("strategy", ["uniform", "quantile", "isotonic"])
def test_band_is_seeded_and_independent_of_block_size(
    strategy, binary_forecasts, monkeypatch
):
    y, p, w = binary_forecasts
    kwargs = {"strategy": strategy, "bands": 0.8, "n_resamples": 50, "sample_weight": w}
    first = reliability_curve(y, p, **kwargs, random_state=1)
    again = reliability_curve(y, p, **kwargs, random_state=np.random.default_rng(1))
    np.testing.assert_array_equal(first.lower, again.lower)
    np.testing.assert_array_equal(first.upper, again.upper)
    monkeypatch.setattr(reliability_module, "_RESAMPLE_BLOCK", 7 * y.shape[0])
    blocked = reliability_curve(y, p, **kwargs, random_state=1)
    np.testing.assert_array_equal(first.lower, blocked.lower)
    np.testing.assert_array_equal(first.upper, blocked.upper)
    other = reliability_curve(y, p, **kwargs, random_state=2)
    assert not np.array_equal(first.upper, other.upper)
    assert np.all(first.lower <= first.upper)
    assert np.all((first.lower >= 0) & (first.upper <= 1))
    assert list(first.to_frame().columns)[-2:] == ["lower", "upper"]
    assert "level=0.8" in repr(first)


def exact_bernoulli_band(forecast, weights, level):
    """Central ``level`` band of a bin's frequency under y ~ Bernoulli(forecast).

    Enumerates every outcome of the rows (each of probability
    ``forecast**k (1 - forecast)**(n - k)``) and takes the smallest value whose
    cumulative probability reaches each tail level.
    """
    weights = np.asarray(weights, dtype=np.float64)
    outcomes = np.array(list(itertools.product([0, 1], repeat=weights.shape[0])))
    frequency = outcomes @ weights / weights.sum()
    k = outcomes.sum(axis=1)
    probability = forecast**k * (1 - forecast) ** (weights.shape[0] - k)
    order = np.argsort(frequency, kind="stable")
    cumulative = np.cumsum(probability[order])
    tails = [(1 - level) / 2, (1 + level) / 2]
    return [frequency[order][np.searchsorted(cumulative, q)] for q in tails]


def test_band_uses_weights():
    # Weight 3 on one of two rows of forecast 0.5 scales that row's draw: the
    # bin's resampled frequency (3 b1 + b2) / 4 is 0, 1/4, 3/4 or 1, each with
    # probability 1/4, so the central 40% band is [1/4, 3/4]. Unweighted,
    # (b1 + b2) / 2 is 1/2 half of the time and the band shrinks to [1/2, 1/2].
    # The tail levels 0.3 and 0.7 lie inside flat stretches of both
    # distributions, so 4000 resamples find the exact quantiles.
    options = {"n_bins": 1, "bands": 0.4, "n_resamples": 4000, "random_state": 0}
    weighted = reliability_curve([0, 1], [0.5, 0.5], sample_weight=[3, 1], **options)
    unweighted = reliability_curve([0, 1], [0.5, 0.5], **options)
    assert exact_bernoulli_band(0.5, [3, 1], 0.4) == [0.25, 0.75]
    assert exact_bernoulli_band(0.5, [1, 1], 0.4) == [0.5, 0.5]
    assert [weighted.lower[0], weighted.upper[0]] == [0.25, 0.75]
    assert [unweighted.lower[0], unweighted.upper[0]] == [0.5, 0.5]


# --- invariances ---------------------------------------------------------------

ECE_SETTINGS = [
    {"norm": "l1"},
    {"norm": "l2", "strategy": "quantile"},
    {"norm": "max", "multiclass": "classwise"},
    {"norm": "l2", "debias": True},
    {"norm": "l1", "strategy": "quantile", "multiclass": "classwise"},
]


@pytest.mark.parametrize("options", ECE_SETTINGS)
@pytest.mark.parametrize("shape", ["binary", "multiclass", "ties"])
def test_ece_weights_equal_repeated_rows_and_order(
    options, shape, binary_forecasts, multiclass_forecasts
):
    if shape == "ties":
        y, p, w = ties(7)
    else:
        y, p, w = binary_forecasts if shape == "binary" else multiclass_forecasts
    repeated = np.repeat(np.arange(y.shape[0]), w)
    expected = expected_calibration_error(y[repeated], p[repeated], **options)
    got = expected_calibration_error(y, p, sample_weight=w, **options)
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-15)
    order = np.random.default_rng(8).permutation(y.shape[0])
    shuffled = expected_calibration_error(
        y[order], p[order], sample_weight=w[order], **options
    )
    assert shuffled == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("strategy", ["uniform", "quantile", "isotonic"])
@pytest.mark.parametrize("shape", ["binary", "multiclass", "ties"])
def test_curve_weights_equal_repeated_rows_and_order(
    strategy, shape, binary_forecasts, multiclass_forecasts
):
    if shape == "ties":
        y, p, w = ties(9)
    else:
        y, p, w = binary_forecasts if shape == "binary" else multiclass_forecasts
    repeated = np.repeat(np.arange(y.shape[0]), w)
    expected = reliability_curve(y[repeated], p[repeated], strategy=strategy)
    got = reliability_curve(y, p, sample_weight=w, strategy=strategy)
    order = np.random.default_rng(10).permutation(y.shape[0])
    shuffled = reliability_curve(
        y[order], p[order], sample_weight=w[order], strategy=strategy
    )
    for curve in (got, shuffled):
        np.testing.assert_allclose(curve.forecast, expected.forecast, rtol=1e-12)
        np.testing.assert_allclose(curve.observed, expected.observed, rtol=1e-12)
        np.testing.assert_allclose(curve.weight, expected.weight, rtol=1e-12)
    if strategy != "quantile":  # equal-mass bins depend on the weights
        kept = w > 0
        unweighted = reliability_curve(y[kept], p[kept], strategy=strategy)
        np.testing.assert_array_equal(got.count, unweighted.count)


def test_float32_containers_and_no_mutation(multiclass_forecasts):
    y, P, w = multiclass_forecasts
    P32 = P.astype(np.float32)
    copies = y.copy(), P32.copy(), w.copy()
    expected_ece = expected_calibration_error(y, P32.astype(np.float64))
    assert expected_calibration_error(y, P32) == pytest.approx(expected_ece, 1e-12)
    assert expected_calibration_error(pl.Series(y), pl.DataFrame(P32)) == pytest.approx(
        expected_ece, 1e-12
    )
    expected = reliability_curve(y, P32.astype(np.float64), strategy="isotonic")
    got = reliability_curve(pd.Series(y), pd.DataFrame(P32), strategy="isotonic")
    np.testing.assert_allclose(got.observed, expected.observed, rtol=1e-12)
    for original, copy in zip((y, P32, w), copies, strict=True):
        np.testing.assert_array_equal(original, copy)


def test_curve_is_a_frozen_dataclass(binary_forecasts):
    y, p, _ = binary_forecasts
    curve = reliability_curve(y, p)
    assert isinstance(curve, ReliabilityCurve)
    with pytest.raises(AttributeError):
        curve.strategy = "quantile"


# --- bad input -----------------------------------------------------------------

ECE_BAD = [
    ({"strategy": "isotonic"}, ValueError, r"strategy must be one of 'uniform'"),
    ({"norm": "l3"}, ValueError, r"norm must be one of 'l1', 'l2', 'max'"),
    ({"multiclass": "ovr"}, ValueError, r"multiclass must be one of 'top_label'"),
    ({"n_bins": 0}, ValueError, r"n_bins must be at least 1; got 0"),
    ({"n_bins": 2.5}, TypeError, r"n_bins must be an integer; got 2.5"),
    ({"n_bins": True}, TypeError, r"n_bins must be an integer; got True"),
    ({"debias": "yes"}, TypeError, r"debias must be True or False"),
    ({"debias": True}, ValueError, r"debias=True applies to norm='l2' only"),
    ({"y_prob": [0.2, 1.1, 0.5]}, ValueError, r"y_prob must hold probabilities.*row 1"),
    ({"y_true": [0, 1]}, ValueError, r"Inconsistent numbers of samples"),
    ({"sample_weight": [1, 1, -1]}, ValueError, r"sample_weight must be non-negative"),
    ({"pos_label": 3}, ValueError, r"pos_label=3 is not one of the classes"),
]


@pytest.mark.parametrize(("kwargs", "error", "match"), ECE_BAD)
def test_ece_bad_input(kwargs, error, match):
    arguments = {"y_true": [0, 1, 1], "y_prob": [0.2, 0.6, 0.7]} | kwargs
    with pytest.raises(error, match=match):
        expected_calibration_error(**arguments)


CURVE_BAD = [
    ({"strategy": "kde"}, ValueError, r"strategy must be one of .*'isotonic'"),
    ({"n_bins": -1}, ValueError, r"n_bins must be at least 1"),
    ({"bands": 1.0}, ValueError, r"bands must be a level strictly between 0 and 1"),
    ({"bands": "90%"}, TypeError, r"bands must be None or a level"),
    ({"bands": 0.9, "n_resamples": 0}, ValueError, r"n_resamples must be at least 1"),
    ({"bands": 0.9, "random_state": "x"}, TypeError, r"random_state must be None"),
    ({"y_prob": [[0.2, 0.8]] * 3, "pos_label": 1}, ValueError, r"pos_label applies"),
    ({"y_true": [0, 1, 2]}, ValueError, r"y_prob is 1-D \(binary\) but y_true has 3"),
]


@pytest.mark.parametrize(("kwargs", "error", "match"), CURVE_BAD)
def test_curve_bad_input(kwargs, error, match):
    arguments = {"y_true": [0, 1, 1], "y_prob": [0.2, 0.6, 0.7]} | kwargs
    with pytest.raises(error, match=match):
        reliability_curve(**arguments)


# --- bins that hold no rows cost nothing ---------------------------------------


@pytest.mark.parametrize("n_bins", [1, 2, 3, 7, 10, 15, 49, 100, 997, 10**4, 2**20])
def test_uniform_bin_numbers_match_linspace_edges(n_bins):
    rng = np.random.default_rng(n_bins)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Values on and next to every edge (the rounding-sensitive places).
    on = edges[rng.integers(0, n_bins + 1, size=2000)]
    x = np.concatenate(
        [rng.uniform(size=2000), on, np.nextafter(on, 0), np.nextafter(on, 1)]
    )
    x = np.clip(x, 0.0, 1.0)
    got = Binning(x, None, n_bins, "uniform").number(x)
    np.testing.assert_array_equal(got, np.searchsorted(edges[1:-1], x, side="right"))


@pytest.mark.parametrize("n_bins", [2, 5, 50, 300, 5000])
@pytest.mark.parametrize("weighted", [False, True])
def test_sparse_equal_mass_edges_match_the_dense_levels(n_bins, weighted, monkeypatch):
    rng = np.random.default_rng(n_bins)
    x = np.round(rng.beta(2, 5, size=400), 2)  # ties
    w = rng.integers(1, 4, size=400).astype(float) if weighted else None
    dense = Binning(x, w, n_bins, "quantile").edges
    monkeypatch.setattr(binning_module, "_DENSE_LEVELS", 0)
    sparse = Binning(x, w, n_bins, "quantile").edges
    np.testing.assert_array_equal(sparse, dense)


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_a_billion_bins_on_a_few_rows(strategy):
    # n_bins=10**9 allocated the edges of every bin (8 GB for each array).
    y = np.array([0, 1, 1, 0, 1, 0])
    p = np.array([0.05, 0.35, 0.6, 0.6, 0.9, 0.12])
    curve = reliability_curve(y, p, n_bins=10**9, strategy=strategy)
    if strategy == "uniform":
        assert curve.n_bins == 10**9
        # Edges are those of np.linspace(0, 1, 10**9 + 1): k * (1 / 10**9).
        np.testing.assert_array_equal(curve.bin_lower, curve.bin_index * (1 / 10**9))
        assert np.all(curve.bin_lower <= curve.forecast)
        assert np.all(curve.forecast < curve.bin_upper)
        np.testing.assert_array_equal(curve.forecast, [0.05, 0.12, 0.35, 0.6, 0.9])
        np.testing.assert_array_equal(curve.observed, [0, 0, 1, 0.5, 1])
        np.testing.assert_array_equal(curve.count, [1, 1, 1, 2, 1])
    else:
        # Every distinct forecast starts a bin; the last (closed) holds 0.6, 0.9.
        np.testing.assert_allclose(curve.forecast, [0.05, 0.12, 0.35, 0.7])
        np.testing.assert_allclose(curve.observed, [0, 0, 1, 2 / 3])
        np.testing.assert_array_equal(curve.count, [1, 1, 1, 3])
    # One bin per distinct top-label confidence c: sum_c (n_c / n) |acc_c - c|.
    ece = expected_calibration_error(y, p, n_bins=10**9, strategy="uniform")
    confidence = np.maximum(p, 1 - p)
    correct = (p > 0.5) == (y == 1)
    expected = sum(
        np.sum(confidence == c) / 6 * abs(correct[confidence == c].mean() - c)
        for c in np.unique(confidence)
    )
    assert ece == pytest.approx(expected, rel=1e-12)


def test_weights_spanning_the_float_range():
    # Rows weighing 5e-324 next to rows weighing 1e200 count (their bins are
    # points of the curve) but carry no share of the ECE.
    y = np.array([1, 0, 1, 0])
    p = np.array([0.15, 0.35, 0.65, 0.95])
    w = np.array([1e200, 5e-324, 5e-324, 1e200])
    curve = reliability_curve(y, p, sample_weight=w, n_bins=10)
    np.testing.assert_array_equal(curve.forecast, p)
    np.testing.assert_array_equal(curve.observed, y)
    np.testing.assert_array_equal(curve.weight, w)
    heavy = expected_calibration_error(y[[0, 3]], p[[0, 3]], n_bins=10)
    ece = expected_calibration_error(y, p, sample_weight=w, n_bins=10)
    assert ece == pytest.approx(heavy, rel=1e-15)
