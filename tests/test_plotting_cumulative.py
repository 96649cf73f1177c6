"""CumulativeDisplay: the curve, the significance band and the legend."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import norm
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

from calibkit.metrics import cumulative_calibration, smooth_ece
from calibkit.plotting import CumulativeDisplay, ReliabilityDisplay


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _forecasts(seed, power=1.0, n=600):
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    return rng.random(n) < p**power, p


def _sup_abs_quantile(level):
    """The paper's tail series of sup|B| on [0, 1], solved for the quantile."""
    k = np.arange(60)

    def tail(g):
        return 4.0 * np.sum((-1.0) ** k * norm.sf((2 * k + 1) * g)) - (1 - level)

    return brentq(tail, 0.5, 10.0)


def test_curve_band_and_label():
    y, p = _forecasts(0, power=1.3)
    result = cumulative_calibration(y, p)
    disp = CumulativeDisplay.from_predictions(y, p, name="m", statistic="ecce_mad")
    x_data, y_data = disp.line_.get_data()
    np.testing.assert_allclose(x_data, [0.0, *result.cumulative_weight])
    np.testing.assert_allclose(y_data, [0.0, *result.cumulative_difference])
    label = disp.line_.get_label()
    assert label.startswith("m: ECCE-MAD ")
    assert f"p = {result.ecce_mad_pvalue:.2g}" in label
    vertices = disp.band_.get_paths()[0].vertices
    half = _sup_abs_quantile(0.95) * result.sigma
    assert vertices[:, 1].max() == pytest.approx(half, rel=1e-9)
    assert vertices[:, 1].min() == pytest.approx(-half, rel=1e-9)
    # The curve leaves the band exactly when the ECCE-MAD p-value is below 5 %.
    assert (result.ecce_mad > half) == (result.ecce_mad_pvalue < 0.05)


@pytest.mark.parametrize("seed", range(6))
def test_band_matches_the_test(seed):
    y, p = _forecasts(seed, power=1.15, n=300)
    result = cumulative_calibration(y, p)
    half = CumulativeDisplay(result).plot(level=0.9).band_.get_paths()[0].vertices
    outside = result.ecce_mad > half[:, 1].max()
    assert outside == (result.ecce_mad_pvalue < 0.1)


def test_several_models_one_legend_entry_each():
    y, p = _forecasts(1)
    first = CumulativeDisplay.from_predictions(y, p, name="raw")
    CumulativeDisplay.from_predictions(y, np.sqrt(p), name="sqrt", ax=first.ax_)
    labels = [t.get_text() for t in first.ax_.get_legend().get_texts()]
    assert len(labels) == 3
    assert sum(label.startswith("raw: ECCE-R") for label in labels) == 1
    assert sum(label.startswith("sqrt: ECCE-R") for label in labels) == 1
    assert "95% significance bands" in labels
    zero_lines = [line for line in first.ax_.get_lines() if line.get_gid()]
    assert len(zero_lines) == 1


def test_from_estimator_and_no_band():
    X, y = load_breast_cancer(return_X_y=True)
    model = LogisticRegression(C=1e-3, max_iter=1000).fit(X[::2, :2], y[::2])
    disp = CumulativeDisplay.from_estimator(
        model, X[1::2, :2], y[1::2], level=None, color="k"
    )
    assert disp.line_.get_label().startswith("LogisticRegression: ECCE-R")
    assert disp.band_ is None
    assert disp.line_.get_color() == "k"
    assert disp.figure_ is disp.ax_.figure


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"statistic": "ks"}, ValueError, "statistic must be one of"),
        ({"level": 1.5}, ValueError, "level must be in"),
        ({"level": "0.9"}, TypeError, "level must be a number in"),
        ({"level": np.nan}, ValueError, "level must be in"),
        ({"ax": "axes"}, TypeError, "ax must be a matplotlib Axes"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        CumulativeDisplay.from_predictions([0, 1, 1], [0.2, 0.6, 0.7], **kwargs)


def test_reliability_display_draws_the_smooth_curve():
    y, p = _forecasts(2, power=1.4)
    disp = ReliabilityDisplay.from_predictions(y, p, strategy="smooth")
    assert disp.curve.strategy == "smooth"
    assert disp.line_.get_marker() in ("None", None, "")
    assert disp.curve.bandwidth == pytest.approx(smooth_ece(y, p), abs=1e-12)


def test_mapping_of_models_draws_them_on_one_axes():
    y, p = _forecasts(2, power=1.2)
    models = {"raw": p, "sqrt": np.sqrt(p), "square": p**2}
    drawn = CumulativeDisplay.from_predictions(y, models, statistic="ecce_mad")
    assert list(drawn) == list(models)
    ax = drawn["raw"].ax_
    assert all(d.ax_ is ax for d in drawn.values())
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert [label.split(":")[0] for label in labels] == [
        "raw",
        "95% significance bands",
        "sqrt",
        "square",
    ]
    assert len({d.line_.get_color() for d in drawn.values()}) == 3
    assert len([line for line in ax.get_lines() if line.get_gid()]) == 1
    for name, q in models.items():
        alone = CumulativeDisplay.from_predictions(
            y, q, name=name, statistic="ecce_mad"
        )
        assert drawn[name].line_.get_label() == alone.line_.get_label()
        np.testing.assert_array_equal(
            drawn[name].line_.get_xydata(), alone.line_.get_xydata()
        )
        np.testing.assert_array_equal(
            drawn[name].band_.get_paths()[0].vertices,
            alone.band_.get_paths()[0].vertices,
        )


@pytest.mark.parametrize(
    ("y_prob", "kwargs", "error", "match"),
    [
        ({}, {}, ValueError, "y_prob is an empty mapping"),
        ({"a": [0.2, 0.6, 0.7]}, {"name": "m"}, ValueError, "name='m' cannot be"),
        ({"a": None}, {}, TypeError, r"y_prob\['a'\] must be an array"),
        ({"a": [0.2, 0.6, 0.7]}, {"statistic": "ks"}, ValueError, "statistic must"),
    ],
)
def test_bad_mapping_of_models(y_prob, kwargs, error, match):
    with pytest.raises(error, match=match):
        CumulativeDisplay.from_predictions([0, 1, 1], y_prob, **kwargs)
    assert plt.get_fignums() == []
