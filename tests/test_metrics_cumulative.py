"""Cumulative calibration (Arrieta-Ibarra et al. 2022): statistics from the
paper's definitions by hand, the null distributions against closed forms, and
uniform p-values for calibrated forecasts by simulation."""

import math

import mpmath
import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import logit

from calibkit.metrics import cumulative_calibration
from calibkit.metrics._cumulative import brownian_range_sf, max_abs_brownian_sf


def test_hand_computed_case():
    # Sorted: (0.2, y=0), (0.4, 1), (0.7, 1), (0.9, 1); t - x = -0.2, 0.6, 0.3, 0.1.
    result = cumulative_calibration([1, 0, 1, 1], [0.7, 0.2, 0.9, 0.4])
    np.testing.assert_allclose(result.forecast, [0.2, 0.4, 0.7, 0.9])
    np.testing.assert_allclose(result.cumulative_weight, [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(
        result.cumulative_difference, [-0.05, 0.1, 0.175, 0.2], atol=1e-15
    )
    assert result.ecce_mad == pytest.approx(0.2, abs=1e-15)
    assert result.ecce_r == pytest.approx(0.25, abs=1e-15)  # 0.2 - (-0.05)
    variance = 0.2 * 0.8 + 0.4 * 0.6 + 0.7 * 0.3 + 0.9 * 0.1
    assert result.sigma == pytest.approx(math.sqrt(variance) / 4, rel=1e-14)


def test_range_counts_the_origin():
    # Every cumulative difference positive: the range runs from C_0 = 0.
    result = cumulative_calibration([1, 1], [0.2, 0.6], labels=[0, 1])
    np.testing.assert_allclose(result.cumulative_difference, [0.4, 0.6])
    assert result.ecce_r == pytest.approx(0.6)
    assert result.ecce_mad == pytest.approx(0.6)


@pytest.mark.parametrize(
    ("weight_type", "variance"),
    [("frequency", 0.16 + 2 * 0.25 + 0.16), ("sampling", 0.16 + 4 * 0.25 + 0.16)],
)
def test_weighted_hand_computed_case(weight_type, variance):
    # Sorted: (0.2, y=0, w=1), (0.5, 1, 2), (0.8, 1, 1); W = 4;
    # w (t - x) = -0.2, 1.0, 0.2.
    result = cumulative_calibration(
        [1, 0, 1], [0.5, 0.2, 0.8], sample_weight=[2, 1, 1], weight_type=weight_type
    )
    np.testing.assert_allclose(result.cumulative_weight, [0.25, 0.75, 1.0])
    np.testing.assert_allclose(result.cumulative_difference, [-0.05, 0.2, 0.25])
    assert result.ecce_mad == pytest.approx(0.25)
    assert result.ecce_r == pytest.approx(0.3)
    assert result.sigma == pytest.approx(math.sqrt(variance) / 4, rel=1e-14)
    assert result.ecce_mad_pvalue == pytest.approx(
        max_abs_brownian_sf(0.25 / result.sigma)
    )


def test_frequency_weights_equal_repeated_rows_and_ties_are_one_point():
    rng = np.random.default_rng(0)
    p = np.round(rng.random(80), 1)  # many ties
    y = rng.random(80) < p
    counts = rng.integers(0, 4, 80)
    weighted = cumulative_calibration(y, p, sample_weight=counts)
    repeated = cumulative_calibration(np.repeat(y, counts), np.repeat(p, counts))
    for name in ("ecce_mad", "ecce_r", "sigma", "ecce_mad_pvalue", "ecce_r_pvalue"):
        assert getattr(weighted, name) == pytest.approx(getattr(repeated, name))
    np.testing.assert_allclose(weighted.forecast, np.unique(p[counts > 0]))
    # Rows in another order (tied rows too) give the same curve.
    order = rng.permutation(80)
    shuffled = cumulative_calibration(y[order], p[order], sample_weight=counts[order])
    np.testing.assert_allclose(
        shuffled.cumulative_difference, weighted.cumulative_difference, atol=1e-15
    )


def test_sampling_weights_scale_free_and_unit_weights_agree():
    rng = np.random.default_rng(1)
    p = rng.random(50)
    y = rng.random(50) < p
    w = rng.uniform(0.1, 3.0, 50)
    a = cumulative_calibration(y, p, sample_weight=w, weight_type="sampling")
    b = cumulative_calibration(y, p, sample_weight=1e6 * w, weight_type="sampling")
    assert a.sigma == pytest.approx(b.sigma, rel=1e-12)
    unit = cumulative_calibration(
        y, p, sample_weight=np.ones(50), weight_type="sampling"
    )
    assert unit.sigma == pytest.approx(cumulative_calibration(y, p).sigma, rel=1e-14)


def _sf_by_mpmath(x, kind):
    """The paper's series for the distribution functions, 50 digits."""
    mpmath.mp.dps = 50
    x = mpmath.mpf(x)
    total = mpmath.mpf(0)
    for k in range(400):
        h = k + mpmath.mpf(1) / 2
        if kind == "mad":
            total += (-1) ** k / h * mpmath.exp(-(h**2) * mpmath.pi**2 / (2 * x**2))
        else:
            total += (8 / x**2 + 2 / (h**2 * mpmath.pi**2)) * mpmath.exp(
                -2 * h**2 * mpmath.pi**2 / x**2
            )
    cdf = 2 / mpmath.pi * total if kind == "mad" else total
    return float(1 - cdf)


@pytest.mark.parametrize("x", [0.2, 0.7, 1.2, 1.49, 1.51, 2.0, 3.5, 6.0])
def test_survival_functions_match_the_series_in_high_precision(x):
    assert max_abs_brownian_sf(x) == pytest.approx(_sf_by_mpmath(x, "mad"), rel=1e-12)
    assert brownian_range_sf(x) == pytest.approx(_sf_by_mpmath(x, "r"), rel=1e-12)


def test_survival_functions_give_the_known_means():
    # E sup|B| = sqrt(pi/2); E range = 2 sqrt(2/pi) (Feller 1951).
    mad_mean = integrate.quad(max_abs_brownian_sf, 0, 12, limit=200)[0]
    range_mean = integrate.quad(brownian_range_sf, 0, 12, limit=200)[0]
    assert mad_mean == pytest.approx(math.sqrt(math.pi / 2), rel=1e-9)
    assert range_mean == pytest.approx(2 * math.sqrt(2 / math.pi), rel=1e-9)


def test_far_tail_keeps_its_digits():
    # 4 Phi-bar(g) dominates: no cancellation at tiny p-values.
    assert max_abs_brownian_sf(30.0) == pytest.approx(4 * stats.norm.sf(30.0))
    assert brownian_range_sf(30.0) == pytest.approx(8 * stats.norm.sf(30.0))


def _null_pvalues(n, replicates, seed):
    rng = np.random.default_rng(seed)
    mad, spread = [], []
    for _ in range(replicates):
        p = rng.random(n)
        y = rng.random(n) < p
        result = cumulative_calibration(y, p)
        mad.append(result.ecce_mad_pvalue)
        spread.append(result.ecce_r_pvalue)
    return np.array(mad), np.array(spread)


def test_pvalues_of_calibrated_forecasts_are_uniform():
    mad, spread = _null_pvalues(n=400, replicates=200, seed=2)
    assert stats.kstest(mad, "uniform").pvalue > 0.01
    assert stats.kstest(spread, "uniform").pvalue > 0.01
    # The Brownian-bridge (classical Kolmogorov) law would not do: the curve
    # is not pinned at 0 at the end.
    rng = np.random.default_rng(2)
    bridge = []
    for _ in range(200):
        p = rng.random(400)
        result = cumulative_calibration(rng.random(400) < p, p)
        bridge.append(stats.kstwobign.sf(result.ecce_mad / result.sigma))
    assert stats.kstest(bridge, "uniform").pvalue < 1e-3


def test_miscalibrated_forecasts_have_small_pvalues():
    rng = np.random.default_rng(3)
    p = rng.random(2000)
    y = rng.random(2000) < p**1.5  # forecasts too high in the middle
    result = cumulative_calibration(y, p)
    assert result.ecce_mad_pvalue < 1e-6
    assert result.ecce_r_pvalue < 1e-6


def test_top_label_logits_and_frame():
    rng = np.random.default_rng(4)
    prob = rng.dirichlet([1.0, 2.0, 3.0], 300)
    y = np.array([rng.choice(3, p=row) for row in prob])
    correct = (prob.argmax(axis=1) == y).astype(int)
    top = cumulative_calibration(y, prob)
    binary = cumulative_calibration(correct, prob.max(axis=1), labels=[0, 1])
    assert top.ecce_r == pytest.approx(binary.ecce_r, abs=1e-15)
    p = prob[:, 2]
    direct = cumulative_calibration(y == 2, p)
    via_logits = cumulative_calibration(y == 2, logit(p), input="logits")
    assert via_logits.ecce_mad == pytest.approx(direct.ecce_mad, abs=1e-12)
    frame = top.to_frame()
    assert frame.columns.tolist() == [
        "forecast",
        "cumulative_weight",
        "cumulative_difference",
    ]
    assert "ecce_r_pvalue" in repr(top)


def test_degenerate_forecasts():
    certain = cumulative_calibration([0, 1], [0.0, 1.0])
    assert certain.sigma == 0.0
    assert certain.ecce_mad_pvalue == 1.0
    wrong = cumulative_calibration([1, 0], [0.0, 1.0])
    assert wrong.ecce_mad_pvalue == 0.0
    assert wrong.ecce_r_pvalue == 0.0


def test_bad_weight_type():
    with pytest.raises(ValueError, match="'weight_type' parameter of cumulative"):
        cumulative_calibration([0, 1], [0.2, 0.7], weight_type="survey")
