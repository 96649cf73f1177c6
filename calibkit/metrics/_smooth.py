"""Smooth ECE (Błasiok & Nakkiran, 2023): calibration error without bins.

The residuals ``x - t`` are smoothed by a Gaussian kernel reflected at 0 and
1; the smooth ECE is the integral over [0, 1] of the absolute smoothed
residual. The bandwidth is chosen automatically as the fixed point
``smECE_sigma = sigma``, so there is no parameter to tune.

One chunked pass over the rows deposits the weights and weighted residuals on
a fine uniform grid (linear "cloud-in-cell" weights); every bandwidth is then
one FFT convolution of the grid, so the search for the fixed point does not
touch the rows again. Memory does not grow with the number of rows.
"""

import functools
import math
import numbers

import numpy as np
from scipy.optimize import brentq

from calibkit._chunks import as_float64, reduce_rows
from calibkit._validation import interval, options, validate_params
from calibkit.metrics._inputs import (
    FORECAST_CONSTRAINTS,
    as_probabilities,
    check_forecasts,
)
from calibkit.metrics._kernels import scaled_to_unit_max, top_label

__all__ = ["smooth_ece"]

#: Most intervals of the grid on [0, 1]. The deposit blurs each row by at most
#: half a grid step; at this step (1.5e-5) the smooth ECE differs from the
#: exact kernel sum by less than 1e-8 for every bandwidth >= MIN_BANDWIDTH
#: (checked against a brute-force sum in the tests).
GRID_INTERVALS = 1 << 16

#: Grid steps per bandwidth: the deposit's error is of order (step / sigma)^3,
#: so a wide kernel needs a coarser grid only, and each bandwidth then costs
#: an FFT of that size (a small group's smooth ECE took 0.24 s on the finest
#: grid, whatever its rows). Grids have at least 2^10 intervals; below
#: sigma = 256 / 2^16 (0.004) every grid is the finest.
_STEPS_PER_BANDWIDTH = 256
_COARSEST_INTERVALS = 1 << 10

#: Up to this many rows a first pass on the coarsest grid finds the bandwidth
#: roughly, and a second pass deposits the rows on the grid that bandwidth
#: needs: cheaper than searching on the finest grid. Above it, the passes over
#: the rows cost more than the FFTs and the rows are deposited once, finely.
_TWO_PASS_ROWS = 1 << 16

#: Smallest automatic bandwidth: the floor of the authors' search (relplot's
#: ``eps=0.001``). A smaller fixed point (an almost calibrated forecast) is
#: reported at this bandwidth.
MIN_BANDWIDTH = 1e-3

#: Tolerance of the fixed-point search on the bandwidth.
_BANDWIDTH_XTOL = 1e-12


@validate_params(
    {
        **FORECAST_CONSTRAINTS,
        "bandwidth": [
            options({"auto"}),
            interval(numbers.Real, 0, None, closed="neither"),
        ],
        "multiclass": [options({"top_label", "classwise"})],
    }
)
def smooth_ece(
    y_true,
    y_prob,
    *,
    bandwidth="auto",
    multiclass="top_label",
    sample_weight=None,
    labels=None,
    pos_label=None,
    input="probabilities",
):
    """Smooth expected calibration error, with the automatic bandwidth.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        Observed labels.
    y_prob : array-like of shape (n_samples,) or (n_samples, n_classes)
        1-D: probability of the positive class. 2-D: one column per class,
        rows summing to 1.
    bandwidth : "auto" or float, default="auto"
        Standard deviation :math:`\\sigma` of the Gaussian kernel, in
        probability units. ``"auto"``: the fixed point :math:`\\sigma^*` with
        :math:`\\mathrm{smECE}_{\\sigma^*} = \\sigma^*` (see Notes).
    multiclass : {"top_label", "classwise"}, default="top_label"
        ``"top_label"``: the confidence of the predicted class against
        whether it was observed. ``"classwise"``: the mean over classes of the
        smooth ECE of each column ``p_k`` against ``1{y = k}`` (each with its
        own automatic bandwidth). A 1-D binary ``y_prob`` is scored as the
        probability of the positive class, whatever ``multiclass`` says.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative row weights (integer weights equal repeated rows).
    labels : array-like, default=None
        All class labels, when ``y_true`` does not contain every class.
    pos_label : label, default=None
        The class a 1-D ``y_prob`` refers to.
    input : {"probabilities", "logits"}, default="probabilities"
        What ``y_prob`` holds; logits are read through their softmax (1-D
        log-odds through the sigmoid).

    Returns
    -------
    float
        The smooth ECE, in probability units (between 0 and 1).

    See Also
    --------
    expected_calibration_error : The binned ECE.
    reliability_curve : ``strategy="smooth"`` gives the smoothed curve and
        the bandwidth.

    Notes
    -----
    With forecasts :math:`x_i`, outcomes :math:`t_i`, weights :math:`w_i`
    (:math:`W = \\sum_i w_i`) and the Gaussian kernel reflected at 0 and 1,

    .. math::

        K_\\sigma(s, x) = \\sum_{k \\in \\mathbb{Z}} \\varphi_\\sigma(s - x - 2k)
        + \\varphi_\\sigma(s + x - 2k),

    whose integral over :math:`s \\in [0, 1]` is 1 for every :math:`x`,

    .. math::

        \\mathrm{smECE}_\\sigma = \\frac{1}{W} \\int_0^1 \\Big| \\sum_i w_i
        K_\\sigma(s, x_i)(x_i - t_i) \\Big| \\, ds.

    It is the mean absolute gap of the smoothed reliability curve
    ``reliability_curve(..., strategy="smooth")``, weighted by the smoothed
    density of the forecasts. :math:`\\mathrm{smECE}_\\sigma` decreases with
    :math:`\\sigma`, so the automatic bandwidth, the unique
    :math:`\\sigma^*` with :math:`\\mathrm{smECE}_{\\sigma^*} = \\sigma^*`, is
    found by a bracketing root search (to 1e-12). The authors' package
    ``relplot`` stops its bisection at a step of :math:`2^{-10}`, so its
    value can differ from this one by about 1e-3; at equal bandwidth the two
    agree to 1e-6. The bandwidth is floored at 1e-3 as in ``relplot``.

    The integral is computed on a uniform grid (rows deposited on their two
    nearest nodes, kernel applied by FFT on the reflected, periodic grid) of
    :math:`2^{10}` to :math:`2^{16}` intervals, with a step of at most
    :math:`\\sigma / 256`, within 1e-8 of the exact kernel sum.

    References
    ----------
    .. [1] Błasiok, J., & Nakkiran, P. (2023). Smooth ECE: Principled
       reliability diagrams via kernel smoothing. ICLR 2024.
       doi:10.48550/arXiv.2309.12236

    Examples
    --------
    >>> from calibkit.metrics import smooth_ece
    >>> y = [0, 0, 1, 1, 1, 0, 1, 1]
    >>> p = [0.1, 0.3, 0.4, 0.6, 0.8, 0.5, 0.9, 0.7]
    >>> round(smooth_ece(y, p), 4)
    0.1232
    >>> round(smooth_ece(y, p, bandwidth=0.1), 4)
    0.1284
    """
    fc = check_forecasts(
        y_true,
        y_prob,
        sample_weight=sample_weight,
        labels=labels,
        pos_label=pos_label,
        input=input,
        lazy=True,
    )
    return _smooth_ece(as_probabilities(fc, input), bandwidth, multiclass)


def _smooth_ece(fc, bandwidth="auto", multiclass="top_label"):
    """Smooth ECE of validated probabilities (binary, top-label or class-wise)."""
    if fc.is_binary or multiclass == "top_label":
        return smooth_fit(fc, bandwidth).ece
    values = [smooth_fit(fc, bandwidth, column=k).ece for k in range(fc.n_classes)]
    return float(np.mean(values))


def grid_intervals(sigma):
    """Intervals of a grid fine enough for bandwidth ``sigma``: a power of two
    with at most ``sigma / _STEPS_PER_BANDWIDTH`` per step, within
    [_COARSEST_INTERVALS, GRID_INTERVALS]."""
    needed = _STEPS_PER_BANDWIDTH / float(sigma)
    if needed >= GRID_INTERVALS:  # also inf, for a subnormal sigma
        return GRID_INTERVALS
    return max(_COARSEST_INTERVALS, 1 << max(0, math.ceil(math.log2(needed))))


def smooth_fit(fc, bandwidth="auto", *, column=None):
    """The :class:`_SmoothFit` of validated probabilities, at ``bandwidth`` or
    at the automatic one, on a grid fine enough for that bandwidth.

    ``column`` is as in :func:`smoothing_grid`. For an automatic bandwidth on
    few rows, the bandwidth is first found on the coarsest grid, and found
    again on the grid that half of it needs, until the grid is fine enough
    for half the bandwidth found on it.
    """
    if bandwidth != "auto":
        grid = smoothing_grid(fc, column=column, m=grid_intervals(bandwidth))
        return _SmoothFit(grid, bandwidth)
    if fc.y.shape[0] > _TWO_PASS_ROWS:
        grid = smoothing_grid(fc, column=column)
        return _SmoothFit(grid, automatic_bandwidth(grid))
    m = _COARSEST_INTERVALS
    grid = smoothing_grid(fc, column=column, m=m)
    sigma = automatic_bandwidth(grid)
    while grid_intervals(sigma / 2) > m:  # m grows: at most 7 rounds
        m = grid_intervals(sigma / 2)
        grid = smoothing_grid(fc, column=column, m=m)
        sigma = automatic_bandwidth(grid)
    return _SmoothFit(grid, sigma)


# --- the grid -------------------------------------------------------------------


class SmoothingGrid:
    """Weights and weighted residuals ``x - t`` deposited on a uniform grid.

    Attributes
    ----------
    mass, residual : ndarray of shape (GRID_INTERVALS + 1,)
        Weight ``w`` and weighted residual ``w (x - t)`` deposited on each
        node (each row on its two nearest nodes, linearly).
    mass_spread, residual_spread : ndarray of shape (GRID_INTERVALS + 1,)
        Second-order correction of the deposit: the same values times
        ``h^2 u (1 - u) / 2`` (``u``: a row's position between its nodes,
        ``h``: the grid step), the variance the linear deposit adds.
    total : float
        Total weight (of the weights as deposited).
    exponent : int
        The weights were deposited divided by ``2**exponent``.
    nodes : ndarray of shape (GRID_INTERVALS + 1,)
        The nodes, ``linspace(0, 1, GRID_INTERVALS + 1)``.
    """

    def __init__(self, mass, residual, mass_spread, residual_spread, exponent=0):
        self.exponent = exponent
        self.mass = mass
        self.residual = residual
        self.mass_spread = mass_spread
        self.residual_spread = residual_spread
        self.total = float(mass.sum())
        self.nodes = np.linspace(0.0, 1.0, mass.shape[0])
        self._spectra = {}

    def smoothed(self, name, sigma):
        """``sum_i K_sigma(s_j, x_i) v_i`` at every node ``s_j``, for the
        deposited ``v = w`` (``name="mass"``) or ``v = w (x - t)``
        (``name="residual"``).

        The linear deposit of a row at ``x = s_j + u h`` equals, to second
        order in ``h``, the row itself plus ``h^2 u (1 - u) / 2`` times the
        kernel's second derivative; the ``*_spread`` deposit holds these
        terms, which are subtracted (the error is then of order
        ``(h / sigma)^3``). The spectra of the deposits do not depend on the
        bandwidth: they are computed once, so the bandwidth search costs one
        inverse FFT per bandwidth.
        """
        if name not in self._spectra:
            values, spread = getattr(self, name), getattr(self, f"{name}_spread")
            self._spectra[name] = (
                np.fft.rfft(_mirrored(values)),
                np.fft.rfft(_mirrored(spread)),
            )
        values_spectrum, spread_spectrum = self._spectra[name]
        m = self.mass.shape[0] - 1
        kernel, curvature = _kernel_spectra(m, float(sigma))
        total = values_spectrum * kernel
        total -= spread_spectrum * curvature
        return np.fft.irfft(total, 2 * m)[: m + 1]


def _mirrored(values):
    """Values on nodes 0..m extended to the period-2 grid of the reflection.

    Node j and its mirror -j (mod 2m) both carry node j's value; the end
    nodes are their own mirrors, so they count twice, as the reflected kernel
    of a forecast at exactly 0 or 1 does.
    """
    m = values.shape[0] - 1
    extended = np.zeros(2 * m)
    extended[: m + 1] = values
    extended[m:] += values[:0:-1]
    extended[0] += values[0]
    return extended


def _kernel_spectra(m, sigma):
    """DFTs of the period-2 Gaussian kernel sampled at step ``1/m`` (densities),
    and of its second derivative.

    The periodic kernel (all its images) has Fourier coefficients
    ``exp(-(pi q sigma)^2 / 2)`` at frequency ``q / 2``; the DFT of its samples
    is ``m`` times these plus aliases of frequency ``q + 2 m l``, which weigh
    below ``exp(-(2 pi m sigma)^2 / 2)``: nothing at ``sigma >= 1e-3``.
    """
    angular = np.pi * np.arange(m + 1)
    with np.errstate(over="ignore"):  # a huge sigma: exp(-inf) = 0 is exact
        kernel = m * np.exp(-0.5 * (angular * sigma) ** 2)
    return kernel, -(angular**2) * kernel


def _deposit_kernel(rows, prob, y, w, *, column, m):
    """``[mass, residual, mass_spread, residual_spread]`` on the nodes, one chunk."""
    if prob.ndim == 1:
        x, t = as_float64(prob), y.astype(np.float64)
    elif column is None:
        predicted, x = top_label(prob)
        t = (predicted == y).astype(np.float64)
    else:
        x, t = as_float64(prob[:, column]), (y == column).astype(np.float64)
    position = x * m
    node = np.minimum(position.astype(np.intp), m - 1)
    upper = position - node
    weight = np.ones_like(x) if w is None else as_float64(w)
    spread = 0.5 * upper * (1.0 - upper) / (m * m)
    n_nodes = m + 1
    out = np.empty((4, n_nodes))
    for i, value in enumerate(
        (weight, weight * (x - t), weight * spread, weight * (x - t) * spread)
    ):
        out[i] = np.bincount(node, value * (1.0 - upper), n_nodes)
        out[i] += np.bincount(node + 1, value * upper, n_nodes)
    return out


def smoothing_grid(fc, *, column=None, m=GRID_INTERVALS):
    """Deposit validated forecasts (probabilities) on the grid, one chunked pass.

    ``column=None``: a 1-D forecast as it is, a 2-D one by its top label;
    ``column=k``: column k of a 2-D forecast against ``1{y = k}``.
    """
    kernel = functools.partial(_deposit_kernel, column=column, m=m)
    n_cols = 1 if fc.is_binary else fc.prob.shape[1]
    # Deposited at a unit maximum (an exact power of two): subnormal weights
    # would lose their digits, or underflow to 0, in the linear deposit.
    weight, exponent = fc.sample_weight, 0
    if weight is not None:
        exponent = int(np.frexp(float(np.max(weight)))[1])
        weight = scaled_to_unit_max(weight)
    parts = reduce_rows(kernel, fc.prob, fc.y, weight, n_cols=n_cols)
    return SmoothingGrid(*parts, exponent=exponent)


# --- smooth ECE at a bandwidth, and the fixed point -----------------------------


class _SmoothFit:
    """Smoothed residual at the nodes, and the smooth ECE, at one bandwidth."""

    def __init__(self, grid, sigma):
        self.grid = grid
        self.sigma = float(sigma)
        self.signed = grid.smoothed("residual", self.sigma)
        self.ece = _integral_of_abs(self.signed) / grid.total


def _integral_of_abs(values):
    """Integral over [0, 1] of ``|g|`` from its values at the nodes.

    The piecewise-linear interpolant L is integrated exactly (an interval
    where g changes sign contributes ``h (a^2 + b^2) / (2 (|a| + |b|))``).
    ``|g| - |L|`` integrates to ``-(h^2 / 12) ∫ sign(g) g''``, which is
    ``(h^2 / 6) Σ |g'(z)|`` over the sign changes z (``g' = 0`` at 0 and 1 for
    a reflected kernel); that term is added, with ``|g'(z)| ≈ (|a| + |b|) / h``,
    leaving an error of higher order in ``h``.
    """
    h = 1.0 / (values.shape[0] - 1)
    # Scaled to a maximum of 1: the squares below would overflow for weighted
    # sums near 1e200 (the result is linear in the values).
    scale = float(np.max(np.abs(values), initial=0.0))
    if not 0.0 < scale < np.inf:
        return scale
    values = values / scale
    a, b = np.abs(values[:-1]), np.abs(values[1:])
    same = np.signbit(values[:-1]) == np.signbit(values[1:])
    crossing = ~same & (a + b > 0)
    a_cross, b_cross = a[crossing], b[crossing]
    inside = 0.5 * h * (np.sum(a[same]) + np.sum(b[same]))
    kinks = np.sum(
        0.5 * h * (a_cross**2 + b_cross**2) / (a_cross + b_cross)
        + (h / 6.0) * (a_cross + b_cross)
    )
    return float(inside + kinks) * scale


def automatic_bandwidth(grid):
    """The fixed point ``smECE_sigma = sigma`` in [MIN_BANDWIDTH, 1]."""

    def gap(sigma):
        return _SmoothFit(grid, sigma).ece - sigma

    if gap(1.0) >= 0:
        return 1.0
    if gap(MIN_BANDWIDTH) <= 0:
        return MIN_BANDWIDTH
    return float(brentq(gap, MIN_BANDWIDTH, 1.0, xtol=_BANDWIDTH_XTOL))


def smooth_curve(fc, bandwidth, n_points):
    """Points of the smoothed reliability curve on ``n_points`` forecasts.

    Returns the ``forecast``, ``observed`` and ``weight`` fields of a
    :class:`~calibkit.metrics.ReliabilityCurve`, and the bandwidth. Points
    where the smoothed density is below 1e-6 of its maximum (no forecasts
    nearby: the ratio there is noise) are left out.
    """
    fit = smooth_fit(fc, bandwidth)
    grid = fit.grid
    if grid.mass.shape[0] <= GRID_INTERVALS:
        # The curve is interpolated between nodes (an error of order
        # (step / sigma)^2, no correction term as for the integral): drawn
        # from the finest grid.
        grid = smoothing_grid(fc)
        fit = _SmoothFit(grid, fit.sigma)
    density = grid.smoothed("mass", fit.sigma)
    forecast = np.linspace(0.0, 1.0, n_points)
    dens = np.interp(forecast, grid.nodes, density)
    signed = np.interp(forecast, grid.nodes, fit.signed)
    keep = dens > 1e-6 * dens.max()
    forecast, dens, signed = forecast[keep], dens[keep], signed[keep]
    return {
        "forecast": forecast,
        "observed": forecast - signed / dens,
        "weight": np.ldexp(dens, grid.exponent) / (n_points - 1),
    }, fit.sigma
