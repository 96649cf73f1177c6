"""Smooth ECE: against a brute-force kernel sum, against relplot (the authors'
package), and the usual invariances."""

import itertools

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.signal import fftconvolve
from scipy.special import logit
from scipy.stats import norm

from calibkit.metrics import reliability_curve, smooth_ece


def _brute_force(x, t, w, sigma):
    """(1/W) ∫_0^1 |Σ w_i K(s, x_i)(x_i - t_i)| ds, the reflected kernel summed
    image by image and the integral by adaptive quadrature."""
    r = w * (x - t)

    def signed(s):
        images = np.arange(-6, 7)[:, None] * 2.0
        kernel = norm.pdf(s - x - images, scale=sigma)
        kernel += norm.pdf(s + x - images, scale=sigma)
        return float(np.sum(kernel * r))

    edges = np.linspace(0.0, 1.0, max(20, int(0.3 / sigma)) + 1)
    total = sum(
        quad(lambda s: abs(signed(s)), a, b, limit=200, epsabs=1e-13)[0]
        for a, b in itertools.pairwise(edges)
    )
    return total / w.sum()


def _synthetic(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.beta(2.0, 3.0, n)
    t = (rng.random(n) < x**1.5).astype(float)
    return x, t


@pytest.mark.parametrize("sigma", [0.004, 0.03, 0.6])
def test_matches_brute_force_kernel_sum(sigma):
    x, t = _synthetic(25, seed=1)
    x[:2] = [0.0, 1.0]  # the end points count twice in the reflected kernel
    w = np.random.default_rng(2).uniform(0.2, 3.0, x.shape[0])
    expected = _brute_force(x, t, w, sigma)
    got = smooth_ece(t, x, bandwidth=sigma, sample_weight=w)
    assert got == pytest.approx(expected, abs=1e-9)


def _real_forecasts():
    """Out-of-fold probabilities of a strongly regularised logistic regression on
    two features of the breast cancer data (under-confident: in [0.04, 0.95]).

    relplot deposits a forecast of exactly 0 or 1 on an end node that its
    reflection does not double, so it gives such rows half their weight at
    any mesh; models that output exact 0/1 (naive Bayes) are therefore not
    compared here.
    """
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    X, y = load_breast_cancer(return_X_y=True)
    model = LogisticRegression(C=1e-3, max_iter=1000)
    p = cross_val_predict(model, X[:, :2], y, cv=3, method="predict_proba")[:, 1]
    return p, y.astype(float)


@pytest.fixture
def fine_relplot(monkeypatch):
    """relplot's own estimator with its meshes refined (1e5 grid points, 1e5
    evaluation points) so that its discretisation error is below 1e-7, and
    its ``np.convolve`` replaced by ``scipy.signal.fftconvolve`` (the same
    sums, faster)."""
    relplot = pytest.importorskip("relplot")
    from relplot import kernels, metrics

    class FineKernel(kernels.ReflectedGaussianKernel):
        def apply(self, f, y, x_eval, eval_points=None):
            return super().apply(f, y, x_eval, eval_points=200_000)

        def convolve(self, values, eval_points):
            ker = self.kernel_ev(eval_points)
            extended = np.concatenate([values[::-1][:-1], values, values[::-1][1:]])
            full = fftconvolve(extended, ker, mode="valid")
            return full[eval_points // 2 : eval_points // 2 + eval_points]

    monkeypatch.setattr(metrics, "_get_default_kernel", lambda: FineKernel)
    monkeypatch.setattr(relplot.config, "smECE_mesh_pts", 100_001)
    return relplot


@pytest.mark.parametrize("data", ["synthetic", "logistic"])
def test_agrees_with_relplot(fine_relplot, data):
    x, t = _synthetic(3000, seed=3) if data == "synthetic" else _real_forecasts()
    for sigma in (0.02, 0.07):
        expected = fine_relplot.smECE_sigma(x, t, sigma)
        assert smooth_ece(t, x, bandwidth=sigma) == pytest.approx(expected, abs=1e-6)
    # The automatic bandwidth is the fixed point of relplot's own smECE_sigma.
    value = smooth_ece(t, x)
    bandwidth = reliability_curve(t, x, strategy="smooth").bandwidth
    assert value == pytest.approx(bandwidth, abs=1e-12)
    # relplot cuts its kernel at +-0.5 (4 sigma at sigma = 0.12, the
    # logistic model's bandwidth): 1e-6 holds below sigma = 0.1 only.
    tolerance = 1e-6 if bandwidth < 0.1 else 2e-5
    assert fine_relplot.smECE_sigma(x, t, bandwidth) == pytest.approx(
        bandwidth, abs=tolerance
    )


def test_relplot_default_meshes_within_their_discretisation():
    """At its default meshes relplot is within a few 1e-4 of the exact value,
    and its bisection (step 2**-10) stops just above the fixed point."""
    relplot = pytest.importorskip("relplot")
    x, t = _synthetic(2000, seed=4)
    assert relplot.smECE_sigma(x, t, 0.05) == pytest.approx(
        smooth_ece(t, x, bandwidth=0.05), abs=5e-4
    )
    _, width = relplot.smECE(x, t, return_width=True)
    bandwidth = smooth_ece(t, x)
    assert -5e-4 < width - bandwidth < 2.0**-10 + 5e-4


def test_weights_equal_repeated_rows():
    x, t = _synthetic(60, seed=5)
    counts = np.random.default_rng(6).integers(0, 4, x.shape[0])
    weighted = smooth_ece(t, x, sample_weight=counts)
    repeated = smooth_ece(np.repeat(t, counts), np.repeat(x, counts))
    assert weighted == pytest.approx(repeated, abs=1e-12)


def test_logits_equal_probabilities_and_order_does_not_matter():
    x, t = _synthetic(80, seed=7)
    x = np.clip(x, 1e-6, 1 - 1e-6)
    order = np.random.default_rng(8).permutation(x.shape[0])
    value = smooth_ece(t, x)
    assert smooth_ece(t, logit(x), input="logits") == pytest.approx(value, abs=1e-12)
    assert smooth_ece(t[order], x[order]) == pytest.approx(value, abs=1e-12)


def test_top_label_and_classwise():
    rng = np.random.default_rng(9)
    prob = rng.dirichlet([2.0, 1.0, 1.0], 150)
    y = np.array([rng.choice(3, p=row) for row in prob])
    predicted = prob.argmax(axis=1)
    confidence = prob.max(axis=1)
    correct = (predicted == y).astype(int)
    assert smooth_ece(y, prob) == pytest.approx(
        smooth_ece(correct, confidence, labels=[0, 1]), abs=1e-12
    )
    per_class = [smooth_ece((y == k).astype(int), prob[:, k]) for k in range(3)]
    assert smooth_ece(y, prob, multiclass="classwise") == pytest.approx(
        np.mean(per_class), abs=1e-12
    )


def test_calibrated_forecast_scores_near_zero():
    rng = np.random.default_rng(10)
    x = rng.random(20_000)
    t = (rng.random(x.shape[0]) < x).astype(int)
    assert smooth_ece(t, x) < 0.015
    assert smooth_ece(t, np.clip(x + 0.1, 0, 1)) > 0.07


def test_smooth_curve_matches_kernel_ratio():
    x, t = _synthetic(40, seed=11)
    curve = reliability_curve(t, x, strategy="smooth", bandwidth=0.08)
    assert curve.bandwidth == 0.08
    images = np.arange(-6, 7)[:, None, None] * 2.0
    s = curve.forecast[:, None]
    kernel = norm.pdf(s - x - images, scale=0.08) + norm.pdf(s + x - images, scale=0.08)
    kernel = kernel.sum(axis=0)
    expected = s[:, 0] - kernel @ (x - t) / kernel.sum(axis=1)
    np.testing.assert_allclose(curve.observed, expected, atol=1e-7)
    assert curve.count is None
    assert curve.to_frame().columns.tolist() == ["forecast", "observed", "weight"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"bandwidth": 0.0}, ValueError, "'bandwidth' parameter of smooth_ece"),
        ({"bandwidth": "silverman"}, ValueError, "'bandwidth' parameter"),
        ({"multiclass": "ovr"}, ValueError, "'multiclass' parameter"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        smooth_ece([0, 1], [0.2, 0.7], **kwargs)


def test_smooth_curve_has_no_bands():
    with pytest.raises(ValueError, match="bands are not available"):
        reliability_curve([0, 1], [0.2, 0.7], strategy="smooth", bands=0.9)


@pytest.mark.parametrize(
    ("n", "power"), [(3, 1.5), (40, 1.5), (2000, 1.5), (20000, 1.0), (70000, 1.0)]
)
def test_grid_sized_to_the_bandwidth_gives_the_finest_grid_value(n, power):
    # Few rows are searched on a coarse grid first and finished on the grid
    # their bandwidth needs; the result is that of the finest grid (itself
    # checked against the brute-force sum above). power=1: calibrated, a
    # small bandwidth that needs the finest grid.
    from calibkit.metrics._inputs import check_forecasts
    from calibkit.metrics._smooth import (
        GRID_INTERVALS,
        _SmoothFit,
        automatic_bandwidth,
        smoothing_grid,
    )

    x, _ = _synthetic(n, seed=n)
    t = (np.random.default_rng(n).random(n) < x**power).astype(int)
    grid = smoothing_grid(check_forecasts(t, x, labels=[0, 1]), m=GRID_INTERVALS)
    finest = _SmoothFit(grid, automatic_bandwidth(grid))
    assert smooth_ece(t, x, labels=[0, 1]) == pytest.approx(finest.ece, abs=1e-9)
    curve = reliability_curve(t, x, strategy="smooth", labels=[0, 1])
    assert curve.bandwidth == pytest.approx(finest.sigma, abs=1e-9)


@pytest.mark.parametrize("bandwidth", [5e-324, 1e-300, 1e300])
def test_extreme_given_bandwidths_are_finite(bandwidth):
    y, p = [0, 1, 1, 0, 1], [0.1, 0.4, 0.8, 0.3, 0.9]
    value = smooth_ece(y, p, bandwidth=bandwidth)
    assert np.isfinite(value)
    assert 0.0 <= value <= 1.0


@pytest.mark.parametrize("scale", [1e200, 1e-300, 5e-324])
def test_smooth_ece_does_not_depend_on_the_scale_of_the_weights(scale):
    # Subnormal weights (5e-324) once underflowed in the linear deposit: the
    # smooth ECE came out 0.07 off.
    x, t = _synthetic(60, seed=4)
    w = np.random.default_rng(4).integers(1, 4, x.shape[0]).astype(float)
    expected = smooth_ece(t, x, sample_weight=w)
    got = smooth_ece(t, x, sample_weight=w * scale)
    assert got == pytest.approx(expected, abs=1e-12)
