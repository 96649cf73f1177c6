"""Tests of calibkit.plotting: artists and their data, never pixels."""

import inspect
import subprocess
import sys
import textwrap

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import polars as pl
import pytest
from scipy.special import expit
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.exceptions import NotFittedError
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss as sklearn_log_loss
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from calibkit.exceptions import CalibrationWarning
from calibkit.metrics import decompose, reliability_curve
from calibkit.plotting import DecompositionDisplay, ReliabilityDisplay
from calibkit.plotting._reliability import DIAGONAL_GID


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def overconfident():
    """2000 binary rows whose forecasts are too extreme (P(y=1) = expit(z/2))."""
    rng = np.random.default_rng(7)
    z = rng.normal(scale=3.0, size=2000)
    y = (rng.uniform(size=z.shape[0]) < expit(z / 2)).astype(int)
    return y, expit(z)


def legend_texts(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


def diagonals(ax):
    return [line for line in ax.get_lines() if line.get_gid() == DIAGONAL_GID]


# --- ReliabilityDisplay: binned ----------------------------------------------


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_binned_line_is_the_metric_curve(binary_forecasts, strategy):
    y, p, _ = binary_forecasts
    disp = ReliabilityDisplay.from_predictions(y, p, strategy=strategy, n_bins=8)
    curve = reliability_curve(y, p, strategy=strategy, n_bins=8)
    np.testing.assert_array_equal(disp.line_.get_xdata(), curve.forecast)
    np.testing.assert_array_equal(disp.line_.get_ydata(), curve.observed)
    assert disp.line_.get_marker() == "o"
    # Independent check of the points: bin means by brute force.
    for x_bar, y_bar, low, high in zip(
        curve.forecast,
        curve.observed,
        curve.bin_edges[curve.bin_index],
        curve.bin_edges[curve.bin_index + 1],
        strict=True,
    ):
        inside = (p >= low) & ((p < high) | (high == curve.bin_edges[-1]))
        assert x_bar == pytest.approx(p[inside].mean(), rel=1e-12)
        assert y_bar == pytest.approx(y[inside].mean(), rel=1e-12)


def test_artists_labels_and_legend(binary_forecasts):
    y, p, _ = binary_forecasts
    disp = ReliabilityDisplay.from_predictions(y, p, name="model")
    assert disp.ax_.figure is disp.figure_
    assert len(disp.ax_.get_lines()) == 2  # the curve and the diagonal
    assert disp.ref_line_ is diagonals(disp.ax_)[0]
    np.testing.assert_array_equal(disp.ref_line_.get_xdata(), disp.ax_.get_xlim())
    np.testing.assert_array_equal(disp.ref_line_.get_ydata(), disp.ax_.get_ylim())
    assert legend_texts(disp.ax_) == ["model", "Perfectly calibrated"]
    assert disp.ax_.get_ylabel() == "Observed frequency"
    assert disp.hist_ax_.get_xlabel() == "Predicted probability of class 1"
    assert disp.hist_ax_.get_ylabel() == "Count"
    assert disp.band_ is None
    lower, upper = disp.ax_.get_xlim()
    assert lower < 0
    assert upper > 1


def test_histogram_counts_match_bins_and_curve(binary_forecasts):
    y, p, _ = binary_forecasts
    disp = ReliabilityDisplay.from_predictions(y, p, n_bins=10)
    heights, edges, _ = disp.hist_.get_data()
    np.testing.assert_array_equal(edges, np.linspace(0, 1, 11))
    # Brute-force counts, [e_k, e_k+1) with the last bin closed.
    index = np.minimum((p * 10).astype(int), 9)
    np.testing.assert_array_equal(heights, np.bincount(index, minlength=10))
    np.testing.assert_array_equal(heights[disp.curve.bin_index], disp.curve.count)
    assert disp.hist_ax_.get_shared_x_axes().joined(disp.hist_ax_, disp.ax_)


def test_weighted_histogram_equals_repeated_rows(binary_forecasts):
    y, p, w = binary_forecasts
    weighted = ReliabilityDisplay.from_predictions(y, p, sample_weight=w)
    repeated = ReliabilityDisplay.from_predictions(np.repeat(y, w), np.repeat(p, w))
    np.testing.assert_allclose(
        weighted.hist_.get_data()[0], repeated.hist_.get_data()[0], rtol=1e-12
    )
    np.testing.assert_allclose(
        weighted.line_.get_ydata(), repeated.line_.get_ydata(), rtol=1e-12
    )
    assert weighted.hist_ax_.get_ylabel() == "Weight"


def test_hist_bins_option(binary_forecasts):
    y, p, _ = binary_forecasts
    disp = ReliabilityDisplay.from_predictions(y, p, strategy="quantile", hist_bins=4)
    heights, edges, _ = disp.hist_.get_data()
    np.testing.assert_array_equal(edges, [0, 0.25, 0.5, 0.75, 1])
    assert heights.sum() == p.shape[0]
    edges = [0.0, 0.5, 1.0]
    disp = ReliabilityDisplay.from_predictions(y, p, hist_bins=edges)
    assert disp.hist_.get_data()[0].tolist() == [np.sum(p < 0.5), np.sum(p >= 0.5)]


# --- CORP ---------------------------------------------------------------------


def test_corp_curve_is_the_pav_step_graph(overconfident):
    y, p = overconfident
    disp = ReliabilityDisplay.from_predictions(y, p, strategy="isotonic", name="CORP")
    x_line, y_line = disp.line_.get_xdata(), disp.line_.get_ydata()
    curve = disp.curve
    n_blocks = curve.block_starts.shape[0] - 1
    assert x_line.shape == (2 * n_blocks,)
    assert disp.line_.get_marker() in ("None", "", None)
    assert np.all(np.diff(x_line) >= 0)
    assert np.all(np.diff(y_line) >= 0)
    # Flat within each block, at the value scikit-learn's PAV gives there.
    np.testing.assert_array_equal(y_line[0::2], y_line[1::2])
    pav = IsotonicRegression(out_of_bounds="clip").fit(p, y)
    np.testing.assert_allclose(y_line, pav.predict(x_line), atol=1e-12)
    # Every distinct forecast lies on the flat piece of its block.
    block = np.searchsorted(curve.block_starts, np.arange(len(curve.forecast)), "right")
    block -= 1
    assert np.all(x_line[2 * block] <= curve.forecast)
    assert np.all(curve.forecast <= x_line[2 * block + 1])
    np.testing.assert_array_equal(y_line[2 * block], curve.observed)
    assert legend_texts(disp.ax_) == ["CORP", "Perfectly calibrated"]


def test_consistency_band(overconfident):
    y, p = overconfident
    disp = ReliabilityDisplay.from_predictions(
        y, p, n_bins=5, bands=0.9, n_resamples=200, random_state=0, name="m"
    )
    curve = disp.curve
    vertices = disp.band_.get_paths()[0].vertices
    for x, low, high in zip(curve.forecast, curve.lower, curve.upper, strict=True):
        assert np.any(np.all(np.isclose(vertices, [x, low]), axis=1))
        assert np.any(np.all(np.isclose(vertices, [x, high]), axis=1))
    assert "90% consistency band" in legend_texts(disp.ax_)
    assert disp.band_.get_facecolor()[0][:3] == pytest.approx(
        mpl.colors.to_rgb(disp.line_.get_color())
    )


# --- several models, user axes ----------------------------------------------


def test_several_models_on_one_axes(overconfident):
    y, p = overconfident
    first = ReliabilityDisplay.from_predictions(y, p, name="raw")
    n_figures = len(plt.get_fignums())
    second = ReliabilityDisplay.from_predictions(
        y, expit(np.log(p / (1 - p)) / 2), name="tempered", ax=first.ax_
    )
    assert len(plt.get_fignums()) == n_figures
    assert second.ax_ is first.ax_
    assert second.hist_ax_ is first.hist_ax_
    assert len(diagonals(first.ax_)) == 1
    assert legend_texts(first.ax_) == ["raw", "Perfectly calibrated", "tempered"]
    assert first.line_.get_color() != second.line_.get_color()
    for disp in (first, second):
        assert disp.hist_.get_facecolor()[:3] == pytest.approx(
            mpl.colors.to_rgb(disp.line_.get_color())
        )


def test_several_models_list_their_bands_once(overconfident):
    y, p = overconfident
    first = ReliabilityDisplay.from_predictions(
        y, p, bands=0.9, n_resamples=50, random_state=0, name="raw"
    )
    assert legend_texts(first.ax_) == [
        "raw",
        "Perfectly calibrated",
        "90% consistency band",
    ]
    tempered = expit(np.log(p / (1 - p)) / 2)
    for name, q in (("tempered", tempered), ("squared", p**2)):
        ReliabilityDisplay.from_predictions(
            y, q, bands=0.9, n_resamples=50, name=name, ax=first.ax_
        )
    texts = legend_texts(first.ax_)
    assert [t for t in texts if "consistency" in t] == ["90% consistency bands"]
    assert texts == [
        "raw",
        "Perfectly calibrated",
        "90% consistency bands",
        "tempered",
        "squared",
    ]
    # One band per model is still drawn, each in its model's colour.
    bands = [c for c in first.ax_.collections if c.get_gid() == "calibkit-band"]
    assert len(bands) == 3
    handle = first.ax_.get_legend().legend_handles[2]
    assert mpl.colors.to_rgb(handle.get_facecolor()) == pytest.approx((0.5,) * 3)


def test_corp_curve_starts_at_the_lowest_forecast_alone():
    # Forecasts from 0.3 up, the lowest one wrong (a first PAV block at 0):
    # the curve starts there, and nothing else is drawn along the bottom of
    # the diagram to its left (the histogram outline over empty bins was).
    rng = np.random.default_rng(3)
    p = rng.uniform(0.3, 1.0, size=400)
    y = (rng.uniform(size=400) < p).astype(int)
    y[np.argmin(p)] = 0
    _, ax = plt.subplots()
    disp = ReliabilityDisplay.from_predictions(y, p, strategy="isotonic", ax=ax)
    x_line, y_line = disp.line_.get_data()
    assert x_line[0] == p.min()
    assert y_line[0] == 0.0
    for patch in disp.hist_ax_.patches:
        vertices = patch.get_path().vertices
        drawn = vertices[np.isfinite(vertices).all(axis=1)]
        if patch.get_fill():
            assert patch.get_linewidth() == 0
        else:
            assert drawn[:, 0].min() >= 0.3 - 1 / 20  # the bin holding 0.3
    heights, edges, _ = disp.hist_.get_data()
    assert heights.sum() == 400
    assert np.all(heights[edges[1:] <= 0.3] == 0)


def test_user_axes_get_an_inset_histogram(binary_forecasts):
    y, p, _ = binary_forecasts
    fig, ax = plt.subplots()
    disp = ReliabilityDisplay.from_predictions(y, p, ax=ax)
    assert plt.get_fignums() == [fig.number]
    assert disp.ax_ is ax
    assert disp.figure_ is fig
    assert disp.hist_ax_ in ax.child_axes
    assert disp.hist_ax_.get_zorder() < disp.line_.get_zorder()
    assert ax.get_xlabel() == "Predicted probability of class 1"
    again = ReliabilityDisplay.from_predictions(y, p**2, ax=ax)
    assert again.hist_ax_ is disp.hist_ax_
    assert len(ax.child_axes) == 1


def test_hist_false_draws_no_histogram(binary_forecasts):
    y, p, _ = binary_forecasts
    disp = ReliabilityDisplay.from_predictions(y, p, hist=False)
    assert disp.hist_ax_ is None
    assert disp.hist_ is None
    assert len(disp.figure_.axes) == 1
    _, ax = plt.subplots()
    disp = ReliabilityDisplay.from_predictions(y, p, ax=ax, hist=False)
    assert ax.child_axes == []


def test_new_figure_per_call_and_rcparams_untouched(binary_forecasts):
    y, p, _ = binary_forecasts
    before = dict(mpl.rcParams)
    a = ReliabilityDisplay.from_predictions(y, p)
    b = ReliabilityDisplay.from_predictions(y, p, logit_scale=True, bands=0.5)
    assert a.figure_ is not b.figure_
    assert dict(mpl.rcParams) == before


def test_line_kwargs_and_plot_name(binary_forecasts):
    y, p, _ = binary_forecasts
    disp = ReliabilityDisplay.from_predictions(
        y, p, color="red", linestyle=":", marker="s"
    )
    assert disp.line_.get_color() == "red"
    assert disp.line_.get_linestyle() == ":"
    assert disp.line_.get_marker() == "s"
    disp.plot(name="again")
    assert disp.line_.get_label() == "again"


def test_reliability_legend_inside_the_axes(overconfident):
    y, p = overconfident
    disp = ReliabilityDisplay.from_predictions(y, p, bands=0.9, n_resamples=50)
    ReliabilityDisplay.from_predictions(y, p**0.5, name="other", ax=disp.ax_)
    disp.figure_.canvas.draw()
    box = disp.ax_.get_legend().get_window_extent()
    axes_box = disp.ax_.bbox
    assert axes_box.x0 <= box.x0
    assert box.x1 <= axes_box.x1
    assert axes_box.y0 <= box.y0
    assert box.y1 <= axes_box.y1


def test_display_from_a_curve_alone(overconfident):
    y, p = overconfident
    curve = reliability_curve(y, p, strategy="isotonic")
    disp = ReliabilityDisplay(curve, name="saved").plot()
    assert disp.hist_ax_ is None
    assert len(disp.figure_.axes) == 1
    assert disp.ax_.get_xlabel() == "Predicted probability"
    assert legend_texts(disp.ax_) == ["saved", "Perfectly calibrated"]


# --- logit axes ---------------------------------------------------------------


def _log_odds(p):
    return np.log(p) - np.log1p(-p)


def test_logit_scale(overconfident):
    y, p = overconfident
    disp = ReliabilityDisplay.from_predictions(
        y, p, strategy="isotonic", logit_scale=True, bands=0.9, n_resamples=50
    )
    ax = disp.ax_
    assert ax.get_xscale() == ax.get_yscale() == "logit"
    assert disp.hist_ax_.get_xscale() == "logit"
    curve = disp.curve
    # Each axis spans its own data, padded by 5% of the width in log-odds:
    # x the forecasts, y the curve and its band (a narrower range here, as
    # the forecasts are over-confident).
    for limits, values in (
        (ax.get_xlim(), p),
        (ax.get_ylim(), np.concatenate([curve.observed, curve.lower, curve.upper])),
    ):
        inside = values[(values > 0) & (values < 1)]
        lo, hi = _log_odds(inside.min()), _log_odds(inside.max())
        pad = 0.05 * (hi - lo)
        np.testing.assert_allclose(_log_odds(np.array(limits)), [lo - pad, hi + pad])
    assert np.ptp(_log_odds(np.array(ax.get_ylim()))) < np.ptp(
        _log_odds(np.array(ax.get_xlim()))
    )
    (x_low, x_high), (y_low, y_high) = ax.get_xlim(), ax.get_ylim()
    np.testing.assert_allclose(
        disp.ref_line_.get_xdata(), [min(x_low, y_low), max(x_high, y_high)]
    )
    heights, edges, _ = disp.hist_.get_data()
    # Equal widths in log-odds, and every forecast counted.
    widths = np.diff(np.log(edges / (1 - edges)))
    np.testing.assert_allclose(widths, widths[0], rtol=1e-9)
    assert heights.sum() == p.shape[0]
    band_y = disp.band_.get_paths()[0].vertices[:, 1]
    assert np.all((band_y >= y_low) & (band_y <= y_high))


def tick_label_boxes(axis):
    """Window extents of the drawn, non-empty major tick labels of ``axis``."""
    figure = axis.axes.figure
    renderer = figure.canvas.get_renderer()
    low, high = sorted(axis.get_view_interval())
    return [
        tick.label1.get_window_extent(renderer)
        for tick in axis.get_major_ticks()
        if tick.label1.get_visible()
        and tick.label1.get_text()
        and low <= tick.get_loc() <= high
    ]


def overlapping(boxes):
    pairs = [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :]]
    return [(a, b) for a, b in pairs if a.overlaps(b)]


@pytest.mark.parametrize("width", [3.0, 6.4])
@pytest.mark.parametrize("scale", [0.25, 8.0, 30.0])
def test_logit_tick_labels_do_not_overlap(width, scale):
    # Forecasts from 1e-1 .. 1 - 1e-1 (scale 0.25) to 1e-12 .. 1 - 1e-12:
    # matplotlib's own logit ticks put 1-10^-3, 1-10^-6, 1-10^-9 on top of
    # each other on a short axis.
    rng = np.random.default_rng(1)
    z = rng.normal(scale=scale, size=3000)
    y = (rng.uniform(size=z.size) < expit(z / 3)).astype(int)
    p = expit(np.clip(z, -27, 27))
    disp = ReliabilityDisplay.from_predictions(
        y, p, strategy="quantile", n_bins=15, logit_scale=True
    )
    disp.figure_.set_size_inches(width, width * 1.2)
    disp.figure_.canvas.draw()
    for axis in (disp.ax_.yaxis, disp.hist_ax_.xaxis):
        boxes = tick_label_boxes(axis)
        assert len(boxes) >= 2, axis
        assert overlapping(boxes) == []
    texts = [t.get_text() for t in disp.hist_ax_.get_xticklabels() if t.get_text()]
    assert all(len(text) <= 14 for text in texts), texts


def test_matplotlib_logit_ticks_would_overlap():
    # The check above can fail: matplotlib's own locator on the same axis
    # does overlap (so the test measures something).
    from matplotlib.ticker import LogitFormatter, LogitLocator

    rng = np.random.default_rng(1)
    z = rng.normal(scale=30.0, size=3000)
    y = (rng.uniform(size=z.size) < expit(z / 3)).astype(int)
    disp = ReliabilityDisplay.from_predictions(
        y, expit(np.clip(z, -27, 27)), strategy="quantile", logit_scale=True
    )
    disp.figure_.set_size_inches(3.0, 3.6)
    disp.hist_ax_.xaxis.set_major_locator(LogitLocator())
    disp.hist_ax_.xaxis.set_major_formatter(LogitFormatter())
    disp.figure_.canvas.draw()
    assert overlapping(tick_label_boxes(disp.hist_ax_.xaxis))


def test_logit_limits_cover_every_model(overconfident):
    y, p = overconfident
    tempered = expit(np.log(p / (1 - p)) * 3)
    first = ReliabilityDisplay.from_predictions(y, p, logit_scale=True)
    ReliabilityDisplay.from_predictions(y, tempered, logit_scale=True, ax=first.ax_)
    linear = ReliabilityDisplay.from_predictions(y, p**2, ax=first.ax_)
    assert linear.hist_.get_data()[0].sum() == p.shape[0]
    low, high = first.ax_.get_xlim()
    # The curves and the central 99% of every model's forecasts are in view.
    for forecasts in (p, tempered):
        central = np.quantile(forecasts, [0.005, 0.995])
        assert low < central[0]
        assert central[1] < high
    assert low < first.curve.forecast.min()
    assert first.curve.forecast.max() < high
    y_low, y_high = first.ax_.get_ylim()
    np.testing.assert_allclose(
        first.ref_line_.get_xdata(), [min(low, y_low), max(high, y_high)]
    )


def test_logit_scale_on_user_axes(overconfident):
    y, p = overconfident
    _, ax = plt.subplots()
    disp = ReliabilityDisplay.from_predictions(y, p, ax=ax, logit_scale=True)
    assert disp.hist_ax_ in ax.child_axes
    assert disp.hist_ax_.get_xscale() == "logit"
    assert disp.hist_.get_data()[0].sum() == p.shape[0]


@pytest.mark.parametrize("classwise", [False, True])
@pytest.mark.parametrize(
    ("y", "p"),
    [
        # Every forecast exactly 0 or 1: nothing to place on a logit axis.
        ([0, 0, 1], [0.0, 0.0, 0.0]),
        ([0, 1, 1, 0], [0.0, 1.0, 1.0, 0.0]),
        # Forecasts 300 decades from 1/2 (regression: matplotlib's autoscale
        # overflowed in 10**x and warned before calibkit set the limits).
        ([0, 1, 0, 1, 0], [1.0, 0.94, 1e-300, 0.22, 1e-300]),
        ([0, 1, 0], [5e-324, 1.0 - 2.0**-53, 1e-300]),
    ],
)
def test_logit_axis_limits_with_extreme_forecasts(y, p, classwise):
    # Warnings are errors here: matplotlib's "Data has no values between 0
    # and 1" and numpy's overflow must not reach the user.
    p = np.asarray(p)
    if classwise:
        displays = ReliabilityDisplay.from_predictions_classwise(
            y, np.column_stack([1 - p, p]), logit_scale=True
        )
    else:
        displays = [ReliabilityDisplay.from_predictions(y, p, logit_scale=True)]
    for disp in displays:
        low, high = disp.ax_.get_xlim()
        # Inside the documented range: at most 1e-12 .. 1 - 1e-12, padded by
        # 5% of the width in log-odds.
        floor = expit(-np.log(1e12 - 1) - 0.05 * 2 * np.log(1e12 - 1))
        for lo, hi in (disp.ax_.get_xlim(), disp.ax_.get_ylim()):
            # (1 - 1e-12 is 1e-12 from 1 only to about 1e-4, relatively)
            assert floor * (1 - 1e-3) <= lo < hi <= 1 - floor * (1 - 1e-3)
        assert disp.hist_ax_.get_xlim() == pytest.approx((low, high))
        assert disp.hist_.get_data()[0].sum() == len(y)
        disp.figure_.canvas.draw()


# --- multiclass ---------------------------------------------------------------


def test_top_label_diagram(multiclass_forecasts):
    y, P, _ = multiclass_forecasts
    labels = np.array(["ant", "bee", "cat", "dog"])[y]
    disp = ReliabilityDisplay.from_predictions(labels, P, n_bins=5)
    confidence = P.max(axis=1)
    correct = np.argmax(P, axis=1) == y
    expected = reliability_curve(correct, confidence, n_bins=5)
    np.testing.assert_allclose(disp.line_.get_xdata(), expected.forecast, rtol=1e-14)
    np.testing.assert_allclose(disp.line_.get_ydata(), expected.observed, rtol=1e-14)
    heights, edges, _ = disp.hist_.get_data()
    np.testing.assert_array_equal(heights, np.histogram(confidence, edges)[0])
    assert disp.hist_ax_.get_xlabel().startswith("Confidence")
    assert disp.ax_.get_ylabel() == "Observed accuracy"


def test_top_label_from_dataframe(multiclass_forecasts):
    y, P, _ = multiclass_forecasts
    reference = ReliabilityDisplay.from_predictions(y, P)
    for frame in (pd.DataFrame(P), pl.DataFrame(P)):
        disp = ReliabilityDisplay.from_predictions(pd.Series(y), frame)
        np.testing.assert_array_equal(
            disp.line_.get_ydata(), reference.line_.get_ydata()
        )
        np.testing.assert_array_equal(
            disp.hist_.get_data()[0], reference.hist_.get_data()[0]
        )


def test_classwise_grid(multiclass_forecasts):
    y, P, _ = multiclass_forecasts
    labels = np.array(["ant", "bee", "cat", "dog"])[y]
    grid = ReliabilityDisplay.from_predictions_classwise(
        labels, P, n_bins=5, name="net"
    )
    assert len(grid) == 4
    assert len({id(d.figure_) for d in grid}) == 1
    assert len(grid[0].figure_.axes) == 8  # a diagram and a histogram per class
    for k, disp in enumerate(grid):
        expected = reliability_curve(y == k, P[:, k], n_bins=5)
        np.testing.assert_allclose(disp.line_.get_ydata(), expected.observed)
        np.testing.assert_allclose(disp.line_.get_xdata(), expected.forecast)
        heights, edges, _ = disp.hist_.get_data()
        np.testing.assert_array_equal(heights, np.histogram(P[:, k], edges)[0])
        assert disp.ax_.get_title() == f"class {['ant', 'bee', 'cat', 'dog'][k]}"
    assert legend_texts(grid[0].ax_) == ["net", "Perfectly calibrated"]
    assert all(d.ax_.get_legend() is None for d in grid[1:])


def test_classwise_on_user_axes_and_without_hist(multiclass_forecasts):
    y, P, w = multiclass_forecasts
    _, axes = plt.subplots(2, 2)
    grid = ReliabilityDisplay.from_predictions_classwise(
        y, P, sample_weight=w, axes=axes, hist=False, strategy="isotonic"
    )
    assert [d.ax_ for d in grid] == list(axes.ravel())
    assert all(d.hist_ax_ is None for d in grid)
    expected = reliability_curve(y == 2, P[:, 2], sample_weight=w, strategy="isotonic")
    np.testing.assert_array_equal(grid[2].curve.observed, expected.observed)
    grid = ReliabilityDisplay.from_predictions_classwise(y, P, hist=False, ncols=3)
    assert len(grid[0].figure_.axes) == 4


# --- from_estimator -----------------------------------------------------------


@pytest.fixture(scope="module")
def cancer_model():
    X, y = load_breast_cancer(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X[::2], y[::2])
    return model, X[1::2], y[1::2]


def test_from_estimator_binary(cancer_model):
    model, X, y = cancer_model
    disp = ReliabilityDisplay.from_estimator(model, X, y, n_bins=5)
    expected = reliability_curve(y, model.predict_proba(X)[:, 1], n_bins=5)
    np.testing.assert_array_equal(disp.line_.get_ydata(), expected.observed)
    assert disp.line_.get_label() == "Pipeline"
    negative = ReliabilityDisplay.from_estimator(model, X, y, pos_label=0, name="neg")
    expected = reliability_curve(y == 0, model.predict_proba(X)[:, 0])
    np.testing.assert_allclose(negative.line_.get_ydata(), expected.observed)
    assert negative.hist_ax_.get_xlabel() == "Predicted probability of class 0"


def test_from_estimator_multiclass_string_labels():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    model = LogisticRegression(max_iter=1000).fit(X, names)
    disp = ReliabilityDisplay.from_estimator(model, X, names, strategy="isotonic")
    P = model.predict_proba(X)
    correct = model.classes_[P.argmax(axis=1)] == names
    expected = reliability_curve(correct, P.max(axis=1), strategy="isotonic")
    np.testing.assert_allclose(disp.curve.observed, expected.observed)
    one = ReliabilityDisplay.from_estimator(model, X, names, pos_label="virginica")
    expected = reliability_curve(names == "virginica", P[:, 2])
    np.testing.assert_allclose(one.curve.observed, expected.observed)


@pytest.mark.parametrize(
    ("estimator", "error", "match"),
    [
        (LogisticRegression(), NotFittedError, "not fitted"),
        (LinearSVC(), TypeError, "LinearSVC has no predict_proba"),
    ],
)
def test_from_estimator_rejects(estimator, error, match):
    X, y = load_iris(return_X_y=True)
    with pytest.raises(error, match=match):
        ReliabilityDisplay.from_estimator(estimator, X, y)


def test_from_estimator_unknown_pos_label(cancer_model):
    model, X, y = cancer_model
    with pytest.raises(ValueError, match=r"pos_label=5 is not one of the classes"):
        ReliabilityDisplay.from_estimator(model, X, y, pos_label=5)


# --- inputs -------------------------------------------------------------------


@pytest.mark.parametrize(
    "convert",
    [
        list,
        pd.Series,
        pl.Series,
        lambda a: a.astype(np.float32) if a.dtype.kind == "f" else a,
    ],
    ids=["list", "pandas", "polars", "float32"],
)
def test_input_containers(binary_forecasts, convert):
    y, p, _ = binary_forecasts
    reference = ReliabilityDisplay.from_predictions(y, p)
    disp = ReliabilityDisplay.from_predictions(convert(y), convert(p))
    np.testing.assert_allclose(
        disp.line_.get_ydata(), reference.line_.get_ydata(), rtol=1e-6
    )
    np.testing.assert_array_equal(
        disp.hist_.get_data()[0], reference.hist_.get_data()[0]
    )


def test_inputs_not_mutated(binary_forecasts):
    y, p, w = binary_forecasts
    copies = y.copy(), p.copy(), w.copy()
    ReliabilityDisplay.from_predictions(y, p, sample_weight=w, logit_scale=True)
    for original, copy in zip((y, p, w), copies, strict=True):
        np.testing.assert_array_equal(original, copy)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"strategy": "kmeans"}, ValueError, "'strategy' parameter of .* must be"),
        ({"n_bins": 0}, ValueError, "'n_bins' parameter of .* must be an int"),
        ({"bands": 2}, ValueError, "'bands' parameter of .* must be None or a float"),
        ({"y_prob": [0.2, 1.5, 0.3]}, ValueError, "y_prob must hold probabilities"),
        ({"y_true": [0, 1]}, ValueError, "Inconsistent numbers of samples"),
    ],
)
def test_from_predictions_bad_input(kwargs, error, match):
    arguments = {"y_true": [0, 1, 1], "y_prob": [0.2, 0.6, 0.3], **kwargs}
    with pytest.raises(error, match=match):
        ReliabilityDisplay.from_predictions(**arguments)


def test_classwise_bad_input(multiclass_forecasts):
    y, P, _ = multiclass_forecasts
    with pytest.raises(ValueError, match=r"y_prob must be 2-D .* class-wise grid"):
        ReliabilityDisplay.from_predictions_classwise(y > 0, P[:, 0])
    _, axes = plt.subplots(1, 3)
    with pytest.raises(ValueError, match=r"axes must hold one Axes per class \(4\)"):
        ReliabilityDisplay.from_predictions_classwise(y, P, axes=axes)
    with pytest.raises(ValueError, match="y_prob has 4 columns but there are 3"):
        ReliabilityDisplay.from_predictions_classwise(np.minimum(y, 2), P)


# --- DecompositionDisplay -----------------------------------------------------


@pytest.fixture
def three_models(overconfident):
    y, p = overconfident
    logit = np.log(p / (1 - p))
    return y, {
        "raw": p,
        "tempered": expit(logit / 2),
        "base rate": np.full_like(p, y.mean()),
    }


def entropy_of_base_rate(y):
    rate = np.mean(y)
    return -(rate * np.log(rate) + (1 - rate) * np.log1p(-rate))


def test_bars_show_the_decomposition(three_models):
    y, models = three_models
    disp = DecompositionDisplay.from_predictions(y, models)
    assert [t.get_text() for t in disp.ax_.get_yticklabels()] == list(models)
    assert legend_texts(disp.ax_) == [
        "UNC: uncertainty",
        "− DSC: discrimination",
        "+ MCB: miscalibration",
        "= score",
    ]
    assert disp.ax_.get_xlabel() == "Log-loss (nats)"
    for i, p in enumerate(models.values()):
        d = decompose(y, p)
        unc, dsc, mcb, score = (disp.bars_[t][i] for t in disp.bars_)
        # Independent references: sklearn's log-loss and the entropy of ȳ.
        assert score.get_width() == pytest.approx(sklearn_log_loss(y, p), rel=1e-9)
        assert unc.get_width() == pytest.approx(entropy_of_base_rate(y), rel=1e-12)
        assert dsc.get_width() == pytest.approx(d.discrimination, rel=1e-12)
        assert mcb.get_width() == pytest.approx(d.miscalibration, rel=1e-12)
        # The waterfall: DSC and MCB start where UNC - DSC ends.
        assert dsc.get_x() == pytest.approx(unc.get_width() - dsc.get_width())
        assert mcb.get_x() == dsc.get_x()
        assert mcb.get_x() + mcb.get_width() == pytest.approx(score.get_width())
        assert unc.get_x() == score.get_x() == 0
        assert disp.ax_.get_yticks()[i] == pytest.approx(
            np.mean([b.get_y() + b.get_height() / 2 for b in (unc, dsc, mcb, score)])
        )


def test_from_decompositions_matches_from_predictions(three_models):
    y, models = three_models
    listed = [decompose(y, p, score="brier") for p in models.values()]
    disp = DecompositionDisplay.from_decompositions(listed)
    assert disp.names == ["model 0", "model 1", "model 2"]
    assert disp.ax_.get_xlabel() == "Brier score"
    other = DecompositionDisplay.from_predictions(
        y, list(models.values()), score="brier"
    )
    for term in disp.bars_:
        widths = [bar.get_width() for bar in disp.bars_[term]]
        assert widths == [bar.get_width() for bar in other.bars_[term]]


def test_negative_binned_miscalibration_goes_left(three_models):
    y, models = three_models
    coarse = np.round(models["tempered"], 1)
    decomposition = decompose(y, coarse, strategy="uniform", n_bins=3, score="brier")
    disp = DecompositionDisplay.from_decompositions({"coarse": decomposition})
    bar = disp.bars_["miscalibration"][0]
    assert bar.get_width() == pytest.approx(decomposition.miscalibration, rel=1e-12)
    assert bar.get_x() + bar.get_width() == pytest.approx(decomposition.score)
    if decomposition.miscalibration < 0:
        label = [t for t in disp.ax_.texts if t.get_text().startswith("−0.0")]
        assert label[-1].xy[0] == pytest.approx(bar.get_x())


@pytest.mark.parametrize("kind", ["bars", "mcb_dsc"])
def test_legend_and_labels_inside_the_figure(three_models, kind):
    y, models = three_models
    disp = DecompositionDisplay.from_predictions(y, models, kind=kind)
    disp.figure_.canvas.draw()
    renderer = disp.figure_.canvas.get_renderer()
    figure_box = disp.figure_.bbox
    artists = [*disp.ax_.texts, disp.ax_.xaxis.label, disp.ax_.yaxis.label]
    if disp.ax_.get_legend() is not None:
        artists.append(disp.ax_.get_legend())
    for artist in artists:
        if hasattr(artist, "get_text") and not artist.get_text():
            continue  # an unset axis label has an empty box
        box = artist.get_window_extent(renderer)
        assert figure_box.x0 - 1 <= box.x0
        assert box.x1 <= figure_box.x1 + 1
        assert figure_box.y0 - 1 <= box.y0
        assert box.y1 <= figure_box.y1 + 1


def test_infinite_score_reaches_the_edge(overconfident):
    y, p = overconfident
    certain = p.copy()
    certain[np.flatnonzero(y == 1)[0]] = 0.0
    with pytest.warns(CalibrationWarning, match="probability 0"):
        disp = DecompositionDisplay.from_predictions(y, {"ok": p, "certain": certain})
    right = disp.ax_.get_xlim()[1]
    score_bar = disp.bars_["score"][1]
    assert score_bar.get_x() + score_bar.get_width() == pytest.approx(right)
    texts = [t.get_text() for t in disp.ax_.texts]
    assert "= inf" in texts
    assert "+inf" in texts
    with pytest.warns(CalibrationWarning):
        scatter = DecompositionDisplay.from_predictions(
            y, {"ok": p, "certain": certain}, kind="mcb_dsc"
        )
    assert len(scatter.scatter_.get_offsets()) == 1
    assert "certain" in scatter.ax_.get_title()


def test_mcb_dsc_plot(three_models):
    y, models = three_models
    fig, ax = plt.subplots()
    disp = DecompositionDisplay.from_predictions(y, models, kind="mcb_dsc", ax=ax)
    assert disp.ax_ is ax
    assert plt.get_fignums() == [fig.number]
    decompositions = [decompose(y, p) for p in models.values()]
    expected = [(d.discrimination, d.miscalibration) for d in decompositions]
    np.testing.assert_allclose(disp.scatter_.get_offsets(), expected)
    assert [t.get_text() for t in ax.texts[-3:]] == list(models)
    unc = decompositions[0].uncertainty
    levels = []
    for line in disp.iso_lines_:
        x, y_line = line.get_xdata(), line.get_ydata()
        levels.append(y_line[0] - x[0] + unc)  # MCB - DSC + UNC = score
        assert y_line[1] - x[1] + unc == pytest.approx(levels[-1])
    assert len(levels) >= 3
    assert np.all(np.diff(levels) > 0)
    # A model's score lies between the iso-score lines around it.
    scores = [d.score for d in decompositions]
    assert min(levels) <= min(scores)
    assert max(scores) <= max(levels)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda y, m: DecompositionDisplay.from_predictions(y, m, kind="pie"),
            ValueError,
            "kind must be 'bars' or 'mcb_dsc'; got 'pie'",
        ),
        (
            lambda y, m: DecompositionDisplay.from_predictions(y, m["raw"]),
            TypeError,
            "y_probs must be a dict of name to value or a list",
        ),
        (
            lambda y, m: DecompositionDisplay.from_predictions(y, {}),
            ValueError,
            "y_probs is empty",
        ),
        (
            lambda y, m: DecompositionDisplay.from_decompositions({"a": 0.5}),
            TypeError,
            "'a' is a float",
        ),
        (
            lambda y, m: DecompositionDisplay.from_decompositions(
                [decompose(y, m["raw"]), decompose(y, m["raw"], score="brier")]
            ),
            ValueError,
            "decompositions mix scores",
        ),
        (
            lambda y, m: DecompositionDisplay.from_decompositions(
                [decompose(y, m["raw"]), decompose(y[:500], m["raw"][:500])],
                kind="mcb_dsc",
            ),
            ValueError,
            "needs decompositions of the same labels",
        ),
    ],
)
def test_decomposition_display_bad_input(three_models, call, error, match):
    y, models = three_models
    with pytest.raises(error, match=match):
        call(y, models)


# --- optional matplotlib ------------------------------------------------------


def test_matplotlib_is_optional():
    script = textwrap.dedent(
        """
        import sys
        import calibkit, calibkit.metrics
        assert "matplotlib" not in sys.modules, "import calibkit imported matplotlib"
        sys.modules["matplotlib"] = None  # as if it were not installed
        try:
            import calibkit.plotting
        except ImportError as exc:
            print(exc)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "pip install matplotlib" in result.stdout


# --- options checked before anything is drawn ----------------------------------


def _no_figures():
    return plt.get_fignums() == []


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"ax": "XXX"}, TypeError, r"ax must be a matplotlib Axes or None; got 'XXX'"),
        ({"ax": 3}, TypeError, r"ax must be a matplotlib Axes"),
        (
            {"foo": 1, "bar": 2},
            TypeError,
            r"Unknown keyword arguments .*\['bar', 'foo'\]",
        ),
        ({"color": "notacolor"}, ValueError, r"Invalid keyword argument .*notacolor"),
        ({"hist_bins": 10**8}, ValueError, r"hist_bins must be between 1 and 10000"),
        ({"hist_bins": 0}, ValueError, r"hist_bins must be between 1 and 10000"),
        ({"hist_bins": 2.5}, TypeError, r"hist_bins must be None, an integer"),
        ({"hist_bins": [0, 0.5, 0.4]}, ValueError, r"finite and increasing"),
    ],
)
def test_bad_drawing_options_raise_before_drawing(
    binary_forecasts, options, error, match
):
    # These raised "cannot create weak reference to 'str'", AttributeError from
    # Line2D.set() after the figure was made, or MemoryError.
    y, p, _ = binary_forecasts
    with pytest.raises(error, match=match):
        ReliabilityDisplay.from_predictions(y, p, **options)
    assert _no_figures()
    curve = reliability_curve(y, p)
    display = ReliabilityDisplay(curve, y_prob=p)
    with pytest.raises(error, match=match):
        display.plot(**options)
    assert _no_figures()


def test_classwise_and_decomposition_displays_check_their_axes():
    rng = np.random.default_rng(0)
    p = rng.dirichlet([1, 1, 1], size=60)
    y = rng.integers(0, 3, size=60)
    with pytest.raises(TypeError, match=r"axes\[1\] must be a matplotlib Axes"):
        ReliabilityDisplay.from_predictions_classwise(y, p, axes=[None, "x", None])
    with pytest.raises(TypeError, match=r"Unknown keyword arguments .*\['colour'\]"):
        ReliabilityDisplay.from_predictions_classwise(y, p, colour="red")
    with pytest.raises(TypeError, match=r"ax must be a matplotlib Axes"):
        DecompositionDisplay.from_predictions(y, {"m": p}, ax="XXX")
    with pytest.raises(TypeError, match=r"ax must be a matplotlib Axes"):
        DecompositionDisplay.from_decompositions([decompose(y, p)], ax=[1])
    assert _no_figures()


def test_valid_line_keywords_and_aliases_still_reach_the_line(binary_forecasts):
    y, p, _ = binary_forecasts
    disp = ReliabilityDisplay.from_predictions(y, p, lw=3, c="red", linestyle=":")
    assert disp.line_.get_linewidth() == 3
    assert disp.line_.get_color() == "red"


def test_huge_n_bins_draws_only_the_bins_with_rows(binary_forecasts):
    # n_bins=10**6 on a few hundred rows took minutes and gigabytes (a
    # histogram of 10**6 bins); now the curve has a point per non-empty bin
    # and the histogram falls back to 20 bins.
    y, p, _ = binary_forecasts
    disp = ReliabilityDisplay.from_predictions(y, p, n_bins=10**9)
    assert disp.curve.n_bins == 10**9
    assert disp.line_.get_xdata().shape[0] == np.unique(p).shape[0]
    stairs = list(disp.hist_ax_.patches)
    assert len(stairs) == 2  # the filled and the outlined stairs
    assert stairs[0].get_data().edges.shape == (21,)
    assert stairs[0].get_data().values.sum() == p.shape[0]
    disp = DecompositionDisplay.from_predictions(
        y, {"m": p}, strategy="uniform", n_bins=10**9
    )
    assert np.isfinite(disp.decompositions[0].score)


# --- keyword-only ax, style keywords, reserved keywords -------------------------


@pytest.mark.parametrize("display_class", [ReliabilityDisplay, DecompositionDisplay])
def test_plot_takes_ax_by_keyword(display_class):
    parameter = inspect.signature(display_class.plot).parameters["ax"]
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
    assert parameter.default is None


def _two_displays(y, p):
    return [
        ReliabilityDisplay(reliability_curve(y, p), y_prob=p),
        DecompositionDisplay([decompose(y, p)], names=["m"]),
    ]


def test_positional_ax_still_works_with_a_future_warning(binary_forecasts):
    y, p, _ = binary_forecasts
    for display in _two_displays(y, p):
        _, ax = plt.subplots()
        name = type(display).__name__
        with pytest.warns(
            FutureWarning, match=rf"Passing ax positionally to {name}\.plot\(\)"
        ) as record:
            assert display.plot(ax) is display
        assert record[0].filename == __file__  # points at the caller's line
        assert display.ax_ is ax
        assert ax.get_lines() or ax.patches  # drawn where asked


def test_positional_ax_cannot_be_doubled(binary_forecasts):
    y, p, _ = binary_forecasts
    for display in _two_displays(y, p):
        _, ax = plt.subplots()
        with pytest.raises(TypeError, match="takes ax as its only positional"):
            display.plot(ax, ax=ax)
        with pytest.raises(TypeError, match="got 2 positional arguments"):
            display.plot(ax, "bars")


@pytest.mark.parametrize(
    ("kwargs", "linewidth", "markersize", "color"),
    [
        ({}, None, 4.0, None),
        ({"ms": 9}, None, 9.0, None),  # alias of a default: raised before
        ({"markersize": 9, "lw": 3}, 3.0, 9.0, None),
        ({"c": "red", "linewidth": 2}, 2.0, 4.0, "red"),
        ({"color": "tab:green", "ms": 0}, None, 0.0, "tab:green"),
    ],
)
def test_style_keywords_override_the_defaults(
    binary_forecasts, kwargs, linewidth, markersize, color
):
    y, p, _ = binary_forecasts
    disp = ReliabilityDisplay.from_predictions(y, p, **kwargs)
    line = disp.line_
    assert line.get_markersize() == markersize
    assert line.get_marker() == "o"
    if linewidth is not None:
        assert line.get_linewidth() == linewidth
    if color is not None:
        assert line.get_color() == color
        # The band and the histogram follow the curve's colour.
        assert mpl.colors.same_color(disp.hist_.get_facecolor()[:3], color)


def test_style_keywords_on_the_corp_curve_and_the_legend(overconfident):
    y, p = overconfident
    disp = ReliabilityDisplay.from_predictions(
        y, p, strategy="isotonic", bands=0.9, n_resamples=50, lw=4, c="purple"
    )
    assert disp.line_.get_marker() == "None"  # no default marker on a CORP curve
    assert disp.line_.get_linewidth() == 4
    assert mpl.colors.same_color(disp.band_.get_facecolor()[0][:3], "purple")
    labelled = ReliabilityDisplay.from_predictions(y, p, name="model", label="mine")
    assert labelled.line_.get_label() == "mine"  # an explicit label wins


@pytest.mark.parametrize(
    "kwargs", [{"c": "red", "color": "blue"}, {"lw": 1, "linewidth": 2}]
)
def test_conflicting_aliases_raise_before_drawing(binary_forecasts, kwargs):
    y, p, _ = binary_forecasts
    with pytest.raises(TypeError, match=r"Conflicting keyword arguments .*aliases"):
        ReliabilityDisplay.from_predictions(y, p, **kwargs)
    assert _no_figures()


@pytest.mark.parametrize(
    "keyword", ["xdata", "ydata", "data", "axes", "figure", "transform"]
)
def test_reserved_keywords_do_not_reach_matplotlib(
    binary_forecasts, multiclass_forecasts, cancer_model, keyword
):
    # Each would draw other points, on other axes or in other coordinates than
    # the display's curve (or, for data=, look the arrays up elsewhere).
    y, p, _ = binary_forecasts
    other_ax = plt.figure().add_subplot()
    values = {
        "xdata": [0.0, 1.0],
        "ydata": [1.0, 0.0],
        "data": {"x": [0.0]},
        "axes": other_ax,
        "figure": other_ax.figure,
        "transform": other_ax.transAxes,
    }
    bad = {keyword: values[keyword]}
    match = rf"Keyword arguments \['{keyword}'\] cannot be passed to a display"
    plt.close("all")
    calls = [
        lambda: ReliabilityDisplay.from_predictions(y, p, **bad),
        lambda: ReliabilityDisplay(reliability_curve(y, p), y_prob=p).plot(**bad),
        lambda: ReliabilityDisplay.from_estimator(*cancer_model, **bad),
    ]
    if keyword != "axes":  # the class-wise grid's own option (one per class)
        y3, p3, _ = multiclass_forecasts
        calls.append(
            lambda: ReliabilityDisplay.from_predictions_classwise(y3, p3, **bad)
        )
    for call in calls:
        with pytest.raises(TypeError, match=match):
            call()
        assert _no_figures()


# --- many models in one call ---------------------------------------------------


@pytest.mark.parametrize("display_class", ["ReliabilityDisplay", "BiasDisplay"])
@pytest.mark.parametrize("strategy", ["uniform", "isotonic"])
def test_mapping_of_models_draws_them_on_one_axes(
    overconfident, display_class, strategy
):
    from calibkit import plotting

    cls = getattr(plotting, display_class)
    y, p = overconfident
    models = {
        "raw": p,
        "tempered": expit(np.log(p / (1 - p)) / 2),
        "squared": p**2,
    }
    options = {"strategy": strategy, "bands": 0.9, "n_resamples": 50}
    drawn = cls.from_predictions(y, models, random_state=0, **options)
    assert list(drawn) == list(models)
    ax = drawn["raw"].ax_
    assert all(
        d.ax_ is ax and d.hist_ax_ is drawn["raw"].hist_ax_ for d in drawn.values()
    )
    texts = legend_texts(ax)
    assert [t for t in texts if t in models] == list(models)
    assert [t for t in texts if "consistency" in t] == ["90% consistency bands"]
    assert len(texts) == 5  # three curves, the reference line, the bands
    curves = [line for line in ax.get_lines() if line.get_label() in models]
    assert [line.get_label() for line in curves] == list(models)
    assert len({line.get_color() for line in curves}) == 3
    bands = [c for c in ax.collections if c.get_gid() == "calibkit-band"]
    assert len(bands) == 3
    assert len(drawn["raw"].hist_ax_.patches) == 6  # filled + outline per model
    # Each model is drawn exactly as a call with its forecasts alone.
    for name, q in models.items():
        alone = cls.from_predictions(y, q, random_state=0, name=name, **options)
        np.testing.assert_array_equal(
            drawn[name].line_.get_xydata(), alone.line_.get_xydata()
        )
        np.testing.assert_array_equal(
            drawn[name].band_.get_paths()[0].vertices,
            alone.band_.get_paths()[0].vertices,
        )
        np.testing.assert_array_equal(
            drawn[name].hist_.get_data()[0], alone.hist_.get_data()[0]
        )


def test_mapping_of_models_on_a_given_axes(overconfident):
    y, p = overconfident
    fig, ax = plt.subplots()
    drawn = ReliabilityDisplay.from_predictions(
        y, {"a": p, "b": p**2}, ax=ax, hist=False, color="k"
    )
    assert plt.get_fignums() == [fig.number]
    assert [d.ax_ for d in drawn.values()] == [ax, ax]
    assert legend_texts(ax) == ["a", "Perfectly calibrated", "b"]
    assert [d.line_.get_color() for d in drawn.values()] == ["k", "k"]
    assert len(diagonals(ax)) == 1


@pytest.mark.parametrize(
    ("y_prob", "kwargs", "error", "match"),
    [
        ({}, {}, ValueError, "y_prob is an empty mapping"),
        ({"a": [0.2, 0.7, 0.6]}, {"name": "m"}, ValueError, "name='m' cannot be"),
        ({"a": [0.2, 0.7, 0.6], "b": None}, {}, TypeError, r"y_prob\['b'\] must be an"),
        ({"a": "0.2 0.7 0.6"}, {}, TypeError, r"y_prob\['a'\] must be an array"),
        ({"a": 0.5}, {}, TypeError, r"y_prob\['a'\] must be an array"),
        ({"a": {"b": [0.2, 0.7, 0.6]}}, {}, TypeError, r"got dict"),
    ],
)
def test_bad_mapping_of_models(y_prob, kwargs, error, match):
    with pytest.raises(error, match=match):
        ReliabilityDisplay.from_predictions([0, 1, 1], y_prob, **kwargs)
    assert plt.get_fignums() == []


def test_bad_model_in_mapping_is_named_and_nothing_is_drawn():
    y_prob = {"good": [0.2, 0.7, 0.6], "bad": [0.2, 1.5, 0.6]}
    with pytest.raises(ValueError, match="y_prob") as excinfo:
        ReliabilityDisplay.from_predictions([0, 1, 1], y_prob)
    assert excinfo.value.__notes__ == ["(in the forecasts of model 'bad' of y_prob)"]
    assert plt.get_fignums() == []
