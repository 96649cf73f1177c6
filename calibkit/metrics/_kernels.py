"""Numeric kernels shared by the metrics, the calibrators and the report.

One implementation of each piece of arithmetic that more than one module
needs, so that an accuracy fix lands everywhere at once:

- row weights (``None`` stands for unit weights and is handled here only);
- per-row log-losses (from probabilities and from logits), their weighted sum
  over row chunks, and the one "certain and wrong" warning;
- the Brier kernel;
- the top-label extractor (predicted class and its probability);
- bin totals;
- the binary entropy and the accurate Kullback–Leibler divergence.

Kernels take float32 or float64 chunks and compute in float64; the reductions
run over row chunks (see :func:`calibkit._chunks.reduce_rows`), so a float32
or memory-mapped input is never copied whole. Nothing here validates input:
callers pass validated arrays (see :mod:`calibkit.metrics._inputs`).
"""

import functools
import warnings

import numpy as np
from scipy.special import entr, xlog1py

from calibkit._array_api import is_on_device
from calibkit._array_api import log_loss_sum as device_log_loss_sum
from calibkit._chunks import as_float64, is_dask, reduce_rows, row_chunks
from calibkit._validation import (
    combine_first_bad_rows,
    external_stacklevel,
    first_bad_rows,
)
from calibkit.exceptions import CalibrationWarning

# --- weights ---------------------------------------------------------------------
#
# ``w`` is a float64 array of row weights or ``None`` for unit weights (as in
# scikit-learn). ``None`` is kept rather than replaced by ones so that chunked
# passes never allocate a weight per row; these helpers are the only places
# that branch on it.


def weights_or_ones(w, n_rows):
    """``w``, or unit weights (float64 ones) when ``w`` is None."""
    return np.ones(n_rows) if w is None else w


def total_weight(w, n_rows):
    """Total weight as a Python float (``n_rows`` for unit weights)."""
    return float(n_rows) if w is None else float(np.sum(w))


def weight_rows(w, rows):
    """The weights of ``rows`` (a slice, mask or index array); None stays None."""
    return None if w is None else w[rows]


def weighted(w, values):
    """``w * values`` elementwise (``values`` itself for unit weights)."""
    return values if w is None else w * values


def weighted_sum(w, values):
    """``Σ w·values`` by pairwise summation, as a Python float."""
    return float(np.sum(weighted(w, values)))


def counted_rows(w, n_rows):
    """Boolean mask of the rows that count: positive weight (all, for None)."""
    return np.ones(n_rows, dtype=bool) if w is None else w > 0


def positive_weight_rows(w, *arrays):
    """``arrays`` and ``w`` without the rows of zero weight (as they were if none).

    Rows of zero weight count nowhere; dropping them once keeps them out of
    sorts, bins and PAV blocks.
    """
    if w is None or np.all(w > 0):
        return (*arrays, w)
    keep = np.flatnonzero(w > 0)
    return (*(a[keep] for a in arrays), w[keep])


def scaled_by_power_of_two(values):
    """``(values * 2**-e, e)`` with ``e`` such that the maximum is in [0.5, 1).

    Exact (a power of two); ``e = 0`` when the maximum is 0. Statistics that
    scale with the weights are computed on the scaled values and the scale is
    put back at the end.
    """
    top = float(np.max(values))
    exponent = int(np.frexp(top)[1]) if top > 0 else 0
    return np.ldexp(values, -exponent), exponent


def scaled_to_unit_max(values):
    """``values`` divided by the power of two that brings their maximum to [0.5, 1).

    Results that depend only on ratios of weights are computed on these: the
    scaling is exact (a power of two), weighted sums cannot overflow, and
    weights near the bottom of the float range keep their digits; a weight
    whose ratio to the largest is below the float range becomes the smallest
    positive float. ``None`` (unit weights) stays ``None``.
    """
    if values is None:
        return None
    scaled, _ = scaled_by_power_of_two(values)
    # A positive weight stays positive (its row still counts, e.g. an
    # infinite loss stays infinite) even when its ratio to the largest
    # weight is below the float range.
    return np.where((values > 0) & (scaled == 0), _SMALLEST_WEIGHT, scaled)


_SMALLEST_WEIGHT = np.nextafter(0.0, 1.0)


# --- log-loss --------------------------------------------------------------------


def observed_log_losses(prob, y):
    """``-ln q(y)`` per row of a chunk of probabilities (inf where q(y) = 0).

    A 1-D ``prob`` is the probability of class 1: a negative row's loss is
    ``-log1p(-p)``, accurate for tiny p.
    """
    if prob.ndim == 1:
        p = as_float64(prob)
        with np.errstate(divide="ignore"):
            return np.where(y == 1, -np.log(p), -np.log1p(-p))
    observed = as_float64(prob[np.arange(y.shape[0]), y])
    with np.errstate(divide="ignore"):
        return -np.log(observed)


def logit_log_losses(logits, y):
    """``logsumexp(z) - z_y`` per row, without cancellation for tiny losses."""
    z = as_float64(logits)
    if z.ndim == 1:
        # Log-odds s are the logits (0, s): the loss is softplus(-s) or softplus(s).
        signed = np.where(y == 1, -z, z)
        return np.logaddexp(0.0, signed)
    rows = np.arange(z.shape[0])
    top = np.argmax(z, axis=1)
    z_max = z[rows, top]
    others = np.exp(z - z_max[:, None])
    # Excluding the arg-max term (exp(0) = 1) lets log1p keep losses far below
    # the float spacing of 1, where log(sum) - z_y would round to zero.
    others[rows, top] = 0.0
    return (z_max - z[rows, y]) + np.log1p(others.sum(axis=1))


def _log_loss_kernel(rows, prob, y, w, *, row_losses):
    """[weighted loss of finite rows, number and first indices of infinite rows]."""
    # over: logits spanning more than the float range give exp(-inf) = 0 for
    # the far classes (exact) or an observed-class loss beyond 1.8e308 (inf,
    # reported as certain and wrong).
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        loss = row_losses(prob, y)
    counted = counted_rows(w, loss.shape[0])
    infinite = counted & np.isinf(loss)
    finite = counted & ~infinite
    total = weighted_sum(weight_rows(w, finite), loss[finite])
    return np.concatenate([[total], first_bad_rows(rows, infinite)])


def _combine_total_and_rows(a, b):
    return np.concatenate([[a[0] + b[0]], combine_first_bad_rows(a[1:], b[1:])])


def log_loss_sum(prob, y, w, *, input="probabilities"):
    """Weighted sum of the log-losses of the rows, in one pass over row chunks.

    Parameters
    ----------
    prob : ndarray or dask array of shape (n,) or (n, K)
        Probabilities (1-D: of class 1), or logits with ``input="logits"``.
    y : ndarray of shape (n,)
        Class codes (0/1 for 1-D ``prob``).
    w : ndarray of shape (n,) or None
        Row weights; rows of zero weight are skipped (their loss may be inf).
    input : {"probabilities", "logits"}

    Returns
    -------
    total : float
        Weighted sum of the finite losses.
    n_infinite : int
        Number of counted rows whose loss is infinite (certain and wrong).
    first_rows : list of int
        Indices of the first of those rows.
    """
    if is_on_device(prob):
        return device_log_loss_sum(prob, y, w, input=input)
    row_losses = logit_log_losses if input == "logits" else observed_log_losses
    kernel = functools.partial(_log_loss_kernel, row_losses=row_losses)
    n_cols = 1 if prob.ndim == 1 else prob.shape[1]
    result = reduce_rows(
        kernel, prob, y, w, n_cols=n_cols, combine=_combine_total_and_rows
    )
    first = [int(r) for r in result[2:] if np.isfinite(r)]
    return float(result[0]), int(result[1]), first


def warn_certain_and_wrong(n_rows, first_rows, consequence):
    """The one warning for forecasts that gave the observed class probability 0.

    ``consequence`` completes the message with what it means for the result
    (e.g. "the log-loss is infinite."). The warning points at the user's line.
    """
    rows_text = ", ".join(map(str, first_rows))
    msg = (
        f"{n_rows} rows gave probability 0 to the observed class (first at rows "
        f"{rows_text}); these forecasts were certain and wrong: {consequence}"
    )
    warnings.warn(msg, CalibrationWarning, stacklevel=external_stacklevel())


# --- Brier -----------------------------------------------------------------------


def squared_errors(prob, y):
    """Per row: ``(p - y)²`` for 1-D ``prob``, ``Σ_k (q_k - 1{y = k})²`` for 2-D."""
    if prob.ndim == 1:
        return (as_float64(prob) - y) ** 2
    # A float64 copy of the chunk: the caller's array is never written.
    error = np.array(prob, dtype=np.float64)
    error[np.arange(y.shape[0]), y] -= 1.0
    return np.einsum("ij,ij->i", error, error)


def brier_kernel(rows, prob, y, w):
    """Weighted sum of squared errors of a chunk, for :func:`reduce_rows`."""
    return np.array([weighted_sum(w, squared_errors(prob, y))])


# --- top label -------------------------------------------------------------------


def top_label(prob):
    """Predicted class (arg-max, first on ties) and its probability, per row.

    A 1-D ``prob`` p stands for the rows ``(1 - p, p)``: class 1 is predicted
    only when strictly more likely, so 0.5 predicts class 0. Works in row
    chunks (a dask array is reduced where its blocks live, and only the two
    vectors travel).

    Returns
    -------
    predicted : ndarray of shape (n,), dtype intp
    confidence : ndarray of shape (n,), dtype float64
    """
    if prob.ndim == 1:
        p = as_float64(prob)
        complement = 1.0 - p
        predicted = (p > complement).astype(np.intp)
        return predicted, np.maximum(p, complement, out=complement)
    if is_dask(prob):
        predicted = np.asarray(prob.argmax(axis=1), dtype=np.intp)
        return predicted, np.asarray(prob.max(axis=1), dtype=np.float64)
    n, n_classes = prob.shape
    predicted = np.empty(n, dtype=np.intp)
    confidence = np.empty(n)
    for rows in row_chunks(n, n_classes):
        chunk = prob[rows]
        top = np.argmax(chunk, axis=1)
        predicted[rows] = top
        confidence[rows] = chunk[np.arange(top.shape[0]), top]
    return predicted, confidence


# --- bins ------------------------------------------------------------------------


def bin_totals(x, t, w, bins):
    """Weight, row count, weighted sums of x and t of each non-empty bin.

    ``bins`` is a :class:`~calibkit.metrics._binning.Bins` of the rows.
    """
    m = bins.number.shape[0]
    index = bins.row
    count = np.bincount(index, minlength=m)
    weight = count.astype(np.float64) if w is None else np.bincount(index, w, m)
    sum_x = np.bincount(index, weights=weighted(w, x), minlength=m)
    sum_t = np.bincount(index, weights=weighted(w, t), minlength=m)
    return weight, count, sum_x, sum_t


# --- entropy and Kullback–Leibler divergence --------------------------------------

# Terms p·φ(t), t = (q - p)/p, use the series below for |t| at most this; beyond
# it, p·ln(p/q) - p + q loses at most a factor ~10 to cancellation.
_NEAR = 0.25
# Coefficients 1/3, 1/5, ..., 1/25 of the atanh series, for Horner's rule.
_ATANH_COEFFICIENTS = 1.0 / np.arange(25, 1, -2)


def binary_entropy(p, p_complement=None):
    """Entropy of Bernoulli(p) in nats, 0 ln 0 = 0.

    ``p_complement`` is 1 - p when known more accurately than by subtraction;
    without it the complement's term is ``-(1 - p)·log1p(-p)``, which keeps
    its relative accuracy for tiny p.
    """
    if p_complement is None:
        return entr(p) - xlog1py(1.0 - p, -p)
    return entr(p) + entr(p_complement)


def kl_rows(p, q):
    """KL(p_i ‖ q_i) per row in nats; a 1-D input is the rows (1 - p, p).

    +inf where q gives probability 0 to an outcome that p makes possible.
    Rows are used as given, not renormalised.
    """
    if p.ndim == 1:
        return bernoulli_kl(p, q)
    diff = q - p
    # Σ_k (p_k ln(p_k/q_k) - p_k + q_k) - Σ_k (q_k - p_k) = Σ_k p_k ln(p_k/q_k).
    return generalised_kl(p, q, diff).sum(axis=1) - diff.sum(axis=1)


def bernoulli_kl(a, b, a_complement=None, b_complement=None):
    """KL(Bernoulli(a) ‖ Bernoulli(b)) in nats, elementwise.

    The complements 1 - a and 1 - b may be given when they are known more
    accurately than by subtraction (frequencies summed from their own rows).
    The difference b - a is taken on the side where the values are small,
    hence exactly, and each half of the divergence is a non-negative
    :func:`generalised_kl` term: no cancellation when a ≈ b.
    """
    a, b = np.broadcast_arrays(
        np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    )
    a_c = 1.0 - a if a_complement is None else np.broadcast_to(a_complement, a.shape)
    b_c = 1.0 - b if b_complement is None else np.broadcast_to(b_complement, b.shape)
    diff = np.where(b < 0.5, b - a, a_c - b_c)
    with np.errstate(divide="ignore", invalid="ignore"):
        return generalised_kl(a, b, diff) + generalised_kl(a_c, b_c, -diff)


def generalised_kl(a, b, diff):
    """Elementwise ``a ln(a/b) - a + b`` (>= 0), given ``diff = b - a``.

    Written as :math:`a\\,\\varphi(t)` with :math:`t = (b - a)/a` and
    :math:`\\varphi(t) = t - \\ln(1 + t) \\ge 0`: for :math:`|t| \\le 1/4` from
    the atanh series of :func:`_t_minus_log1p` (no cancellation, about 1e-15
    relative), elsewhere as :math:`a(\\ln a - \\ln b) + (b - a)`. Checked
    against 50-digit arithmetic in ``tests/test_kernels.py``.
    """
    out = np.array(b, dtype=np.float64, copy=True)  # the value where a == 0
    positive = a > 0
    with np.errstate(over="ignore"):  # a subnormal a: |t| = inf takes the far path
        t = np.divide(diff, a, out=np.zeros_like(out), where=positive)
    near = positive & (np.abs(t) <= _NEAR)
    far = positive & ~near
    out[near] = a[near] * _t_minus_log1p(t[near])
    a_far, b_far = a[far], b[far]
    # Logs of each side rather than of a/b, which can overflow for tiny b.
    with np.errstate(divide="ignore"):
        out[far] = a_far * (np.log(a_far) - np.log(b_far)) + diff[far]
    return out


def _t_minus_log1p(t):
    """``t - log1p(t)`` for ``|t| <= 1/4`` without cancellation.

    With u = t/(2 + t), log1p(t) = 2 atanh(u) = 2(u + u³/3 + u⁵/5 + ...) and
    t - 2u = t²/(2 + t), so t - log1p(t) = t²/(2 + t) - 2u³(1/3 + u²/5 + ...).
    For |t| <= 1/4, u² <= 1/49 and twelve terms reach double precision.
    """
    u = t / (2.0 + t)
    u2 = u * u
    series = np.zeros_like(u)
    for coefficient in _ATANH_COEFFICIENTS:
        series = series * u2 + coefficient
    return t * t / (2.0 + t) - 2.0 * u * u2 * series
