"""The bias diagram and per-group reliability diagrams: artists and their data."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression

from calibkit.metrics import calibration_by_group, reliability_curve
from calibkit.plotting import BiasDisplay, ReliabilityDisplay
from calibkit.plotting._bias import ZERO_LINE_GID


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def overconfident():
    rng = np.random.default_rng(7)
    z = rng.normal(scale=3.0, size=1500)
    y = (rng.uniform(size=z.shape[0]) < expit(z / 2)).astype(int)
    return y, expit(z)


@pytest.fixture
def grouped():
    rng = np.random.default_rng(3)
    n = 900
    p = rng.uniform(0.02, 0.98, size=n)
    region = rng.choice(["north", "south", "west"], size=n)
    y = (rng.uniform(size=n) < np.where(region == "south", p**2, p)).astype(int)
    return y, p, region, rng


# --- the bias diagram ----------------------------------------------------------


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_bias_curve_is_observed_minus_forecast(overconfident, strategy):
    y, p = overconfident
    disp = BiasDisplay.from_predictions(y, p, strategy=strategy, n_bins=8)
    curve = reliability_curve(y, p, strategy=strategy, n_bins=8)
    np.testing.assert_array_equal(disp.line_.get_xdata(), curve.forecast)
    np.testing.assert_array_equal(
        disp.line_.get_ydata(), curve.observed - curve.forecast
    )
    assert disp.ax_.get_ylabel() == "Observed frequency − forecast"
    zero = [line for line in disp.ax_.get_lines() if line.get_gid() == ZERO_LINE_GID]
    assert len(zero) == 1
    assert zero[0] is disp.ref_line_
    np.testing.assert_array_equal(zero[0].get_ydata(), [0, 0])


def test_bias_corp_curve_is_the_pav_fit_minus_the_identity(overconfident):
    y, p = overconfident
    disp = BiasDisplay.from_predictions(y, p, strategy="isotonic")
    x, d = disp.line_.get_xdata(), disp.line_.get_ydata()
    pav = IsotonicRegression(out_of_bounds="clip").fit(p, y)
    np.testing.assert_allclose(d, pav.predict(x) - x, atol=1e-12)
    # The shear keeps straight lines straight: halfway between two drawn
    # points, c(x) - x is halfway between their values.
    middle = (x[:-1] + x[1:]) / 2
    c_middle = np.interp(middle, x, pav.predict(x))
    np.testing.assert_allclose(c_middle - middle, (d[:-1] + d[1:]) / 2, atol=1e-12)


def test_bias_band_is_the_reliability_band_shifted_by_the_forecast(overconfident):
    y, p = overconfident
    kw = {"n_bins": 6, "bands": 0.9, "n_resamples": 200, "random_state": 0}
    disp = BiasDisplay.from_predictions(y, p, **kw)
    reliability = ReliabilityDisplay.from_predictions(y, p, **kw)
    curve = disp.curve
    np.testing.assert_array_equal(curve.lower, reliability.curve.lower)
    vertices = disp.band_.get_paths()[0].vertices
    for x, low, high in zip(curve.forecast, curve.lower, curve.upper, strict=True):
        assert np.any(np.all(np.isclose(vertices, [x, low - x], atol=0), axis=1))
        assert np.any(np.all(np.isclose(vertices, [x, high - x], atol=0), axis=1))
    # The band of a reliability diagram lies around the diagonal; here around 0.
    assert np.all(curve.lower - curve.forecast <= 0.05)
    assert np.all(curve.upper - curve.forecast >= -0.05)


def test_bias_axis_is_symmetric_and_spans_curve_band_and_earlier_models(
    overconfident,
):
    y, p = overconfident
    disp = BiasDisplay.from_predictions(
        y, p, bands=0.9, n_resamples=100, random_state=1, n_bins=5
    )
    low, high = disp.ax_.get_ylim()
    assert low == -high
    curve = disp.curve
    extent = np.max(
        np.abs(
            np.concatenate(
                [
                    curve.observed - curve.forecast,
                    curve.lower - curve.forecast,
                    curve.upper - curve.forecast,
                ]
            )
        )
    )
    assert high >= extent
    # A calibrated model drawn second does not shrink the axis.
    rng = np.random.default_rng(0)
    q = rng.uniform(size=1500)
    second = BiasDisplay.from_predictions(
        rng.uniform(size=1500) < q, q, ax=disp.ax_, name="calibrated"
    )
    assert second.ax_.get_ylim()[1] >= high


def test_bias_diagram_top_label_and_logit_refused(overconfident):
    rng = np.random.default_rng(2)
    prob = rng.dirichlet([1, 1, 1], size=300)
    y = rng.integers(0, 3, size=300)
    disp = BiasDisplay.from_predictions(y, prob, n_bins=5)
    assert disp.ax_.get_ylabel() == "Observed accuracy − confidence"
    with pytest.raises(ValueError, match="logit_scale=True is not offered"):
        BiasDisplay.from_predictions(*overconfident, logit_scale=True)


def test_bias_display_works_from_an_estimator_and_classwise():
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500).fit(X[::2], y[::2])
    disp = BiasDisplay.from_estimator(model, X[1::2], y[1::2], n_bins=4)
    assert isinstance(disp, BiasDisplay)
    grid = BiasDisplay.from_predictions_classwise(
        y[1::2], model.predict_proba(X[1::2]), n_bins=4
    )
    for k, display in enumerate(grid):
        curve = display.curve
        assert isinstance(display, BiasDisplay)
        np.testing.assert_array_equal(
            display.line_.get_ydata(), curve.observed - curve.forecast
        )
        assert display.ax_.get_title() == f"class {k}"


# --- small multiples by group -----------------------------------------------------


def test_one_diagram_per_group_with_the_group_curve(grouped):
    y, p, region, rng = grouped
    w = rng.uniform(0.5, 2.0, size=y.shape[0])
    grid = ReliabilityDisplay.from_predictions_by_group(
        y, p, groups=region, sample_weight=w, strategy="quantile", n_bins=5
    )
    assert [d.ax_.get_title() for d in grid] == [
        f"{g} (n = {np.sum(region == g)})" for g in ("north", "south", "west")
    ]
    assert len({id(d.figure_) for d in grid}) == 1
    for display, g in zip(grid, ("north", "south", "west"), strict=True):
        m = region == g
        curve = reliability_curve(
            y[m], p[m], sample_weight=w[m], strategy="quantile", n_bins=5
        )
        np.testing.assert_array_equal(display.line_.get_xdata(), curve.forecast)
        np.testing.assert_array_equal(display.line_.get_ydata(), curve.observed)
        heights = display.hist_.get_data().values
        assert heights.sum() == pytest.approx(w[m].sum())
    # The legend only once, in the first diagram.
    assert grid[0].ax_.get_legend() is not None
    assert all(d.ax_.get_legend() is None for d in grid[1:])


def test_bias_by_group_shares_one_y_range(grouped):
    y, p, region, _ = grouped
    grid = BiasDisplay.from_predictions_by_group(
        y, p, groups=region, strategy="isotonic"
    )
    limits = {d.ax_.get_ylim() for d in grid}
    assert len(limits) == 1
    low, high = limits.pop()
    assert low == -high
    # The south group (p squared) is drawn well below 0.
    assert np.min(grid[1].line_.get_ydata()) < -0.15


def test_groups_by_column_and_by_bins_are_those_of_the_metric(grouped):
    y, p, region, rng = grouped
    frame = pd.DataFrame({"region": region, "age": rng.normal(50, 10, size=y.size)})
    grid = ReliabilityDisplay.from_predictions_by_group(
        y, p, groups="age", X=frame, bins="quantile", n_groups=3, hist=False
    )
    table = calibration_by_group(
        y, p, groups="age", X=frame, bins="quantile", n_groups=3
    )
    assert [d.ax_.get_title() for d in grid] == [
        f"{g} (n = {n})" for g, n in zip(table["group"], table["count"], strict=True)
    ]
    assert all(d.hist_ is None for d in grid)


def test_a_group_with_one_class_is_drawn_for_the_positive_class(grouped):
    y, p, region, _ = grouped
    y = np.where(region == "west", 0, y)  # no positives in the west
    grid = ReliabilityDisplay.from_predictions_by_group(y, p, groups=region)
    np.testing.assert_array_equal(grid[2].line_.get_ydata(), 0.0)


def test_top_label_by_group_and_bands_reproducible(grouped):
    _, _, region, rng = grouped
    prob = rng.dirichlet([2, 1, 1], size=region.shape[0])
    y = rng.integers(0, 3, size=region.shape[0])
    kw = {"groups": region, "bands": 0.9, "n_resamples": 50, "random_state": 4}
    first = ReliabilityDisplay.from_predictions_by_group(y, prob, **kw)
    again = ReliabilityDisplay.from_predictions_by_group(y, prob, **kw)
    assert all(d.top_label for d in first)
    # A short axis label: the long one ran into the next panel.
    assert {d.hist_ax_.get_xlabel() for d in first} == {"Top-label confidence"}
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a.curve.lower, b.curve.lower)
    # One generator for all groups: the bands are drawn independently.
    assert not np.array_equal(first[0].curve.lower[:3], first[1].curve.lower[:3])


def test_user_axes_and_bad_groups(grouped):
    y, p, region, _ = grouped
    _, axes = plt.subplots(1, 3)
    grid = ReliabilityDisplay.from_predictions_by_group(y, p, groups=region, axes=axes)
    assert [d.ax_ for d in grid] == list(axes)
    with pytest.raises(ValueError, match=r"axes must hold one Axes per group \(3\)"):
        ReliabilityDisplay.from_predictions_by_group(y, p, groups=region, axes=axes[:2])
    with pytest.raises(ValueError, match="groups forms a single group"):
        ReliabilityDisplay.from_predictions_by_group(y, p, groups=["a"] * y.size)
    with pytest.raises(ValueError, match="groups has 3 entries"):
        ReliabilityDisplay.from_predictions_by_group(y, p, groups=["a", "b", "c"])
    # Regression: a group of zero weight was reported as "sample_weight is zero
    # everywhere"; it is named, as calibration_by_group names it.
    w = np.where(region == "west", 0.0, 1.0)
    with pytest.raises(ValueError, match="has a group, 'west', whose rows all have"):
        ReliabilityDisplay.from_predictions_by_group(
            y, p, groups=region, sample_weight=w
        )
