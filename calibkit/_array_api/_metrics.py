"""Metrics: the kernels of calibkit.metrics._kernels, on the device."""

import numpy as np

from calibkit._array_api._namespace import (
    _column_is,
    _first_rows,
    _quiet_chunks,
    _Rows,
    array_api_space,
    reduce_chunks,
    rows_of,
    take_rows,
    to_host,
)
from calibkit._array_api._temperature import tempered_softmax


def softmax_probabilities(z):
    """Probabilities of logits on the device, in their dtype (chunked).

    1-D log-odds give the sigmoid (a 1-D array); 2-D logits the row softmax.
    """
    space = array_api_space(z)
    xp = space.xp
    if z.ndim == 2:
        return tempered_softmax(z, 1.0, z.shape[1])
    out = _Rows(space, z.shape, z.dtype)
    for rows in _quiet_chunks(z.shape[0], 2, space):
        s = xp.astype(z[rows], space.work)
        e = xp.exp(-xp.abs(s))
        p = xp.where(s >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        out.put(rows, xp.astype(p, z.dtype))
    return out.result()


def _row_log_losses(space, prob, y, input):
    """Per-row log-loss of a chunk (``inf`` where certain and wrong)."""
    xp = space.xp
    z = xp.astype(prob, space.work)
    if input == "logits":
        if z.ndim == 1:
            signed = xp.where(y == 1, -z, z)
            return xp.logaddexp(xp.zeros_like(signed), signed)
        top = xp.argmax(z, axis=1)
        z_max = take_rows(xp, z, top)
        others = xp.exp(z - z_max[:, None])
        others = xp.where(_column_is(xp, top, z.shape[1], space), 0.0, others)
        return (z_max - take_rows(xp, z, y)) + xp.log1p(xp.sum(others, axis=1))
    if z.ndim == 1:
        return xp.where(y == 1, -xp.log(z), -xp.log1p(-z))
    return -xp.log(take_rows(xp, z, y))


def log_loss_sum(prob, y, w, *, input="probabilities"):
    """:func:`calibkit.metrics._kernels.log_loss_sum` for ``prob`` on a device."""
    space = array_api_space(prob)
    xp = space.xp
    y_dev, w_dev = space.labels(y), space.weights(w)
    n_cols = 1 if prob.ndim == 1 else prob.shape[1]

    def infinite(chunk, labels, weights):
        loss = _row_log_losses(space, chunk, labels, input)
        bad = xp.isinf(loss)
        return bad if weights is None else bad & (weights > 0)

    def kernel(chunk, labels, weights):
        loss = _row_log_losses(space, chunk, labels, input)
        bad = xp.isinf(loss)
        if weights is not None:
            bad = bad & (weights > 0)
            loss = weights * loss
        good = xp.where(bad, xp.zeros_like(loss), loss)
        if weights is not None:  # 0 * inf on rows of zero weight
            good = xp.where(weights > 0, good, xp.zeros_like(good))
        return xp.stack([xp.sum(good), xp.sum(xp.astype(bad, space.work))])

    total, n_inf = reduce_chunks(space, kernel, prob, y_dev, w_dev, n_cols=n_cols)
    first = []
    if n_inf:
        first = _first_rows(space, infinite, prob, y_dev, w_dev, n_cols=n_cols)
    return float(total), int(n_inf), first


def brier_sum(prob, y, w):
    """Weighted sum of the squared errors of ``prob`` on a device."""
    space = array_api_space(prob)
    xp = space.xp

    def kernel(chunk, labels, weights):
        q = xp.astype(chunk, space.work)
        if q.ndim == 1:
            error = q - xp.astype(labels, space.work)
            rows = error * error
        else:
            error = xp.where(_column_is(xp, labels, q.shape[1], space), q - 1.0, q)
            rows = xp.sum(error * error, axis=1)
        return xp.reshape(xp.sum(rows if weights is None else weights * rows), (1,))

    n_cols = 1 if prob.ndim == 1 else prob.shape[1]
    args = (prob, space.labels(y), space.weights(w))
    return float(reduce_chunks(space, kernel, *args, n_cols=n_cols)[0])


def _top_label_chunk(space, chunk):
    """Predicted class and its probability per row of a chunk (working dtype)."""
    xp = space.xp
    q = xp.astype(chunk, space.work)
    if q.ndim == 1:
        complement = 1.0 - q
        return xp.astype(q > complement, xp.int64), xp.maximum(q, complement)
    predicted = xp.argmax(q, axis=1)
    return predicted, take_rows(xp, q, predicted)


def top_label_outcomes(prob, y):
    """Top-label confidence and correctness per row, computed on the device.

    Returns two float64 numpy vectors (``n`` numbers each): the reduction of
    the ``(n, K)`` forecasts to what the binned and sorting-based methods
    need, for the paths that run on the host (weights, equal-mass bins,
    isotonic curves).
    """
    space = array_api_space(prob)
    xp = space.xp
    y_dev = space.labels(y)
    n_cols = 1 if prob.ndim == 1 else prob.shape[1]
    x = np.empty(prob.shape[0])
    t = np.empty(prob.shape[0])
    for rows in _quiet_chunks(prob.shape[0], n_cols, space):
        predicted, confidence = _top_label_chunk(space, rows_of(prob, rows))
        x[rows] = to_host(confidence)
        t[rows] = to_host(xp.astype(predicted == y_dev[rows], space.work))
    return x, t


def _bin_numbers(space, x, n_bins):
    """:meth:`calibkit.metrics._binning.Binning.number` (uniform) on the device."""
    xp = space.xp
    last = float(n_bins - 1)
    step = 1.0 / n_bins
    k = xp.clip(xp.floor(x * float(n_bins)), 0.0, last)
    for _ in range(2):
        k = k - xp.astype((k > 0) & (x < k * step), space.work)
        k = k + xp.astype((k < last) & (x >= (k + 1.0) * step), space.work)
    return k


def uniform_bin_totals(prob, y, n_bins, *, top, sample_weight=None):
    """Per-bin ``[count, sum x, sum t]`` (and ``sum w``), on the device.

    As :func:`calibkit.metrics._reliability._streamed_bins`: equal-width bins
    on [0, 1], top-label (``top``) or the 1-D forecast itself. Each chunk's
    bins are counted by a product with the one-hot bin matrix (the standard
    has no ``bincount``). With ``sample_weight`` (host float64), the rows are
    ``[count of rows of positive weight, mean x, mean t, sum w]`` (weighted
    means): the weights are divided by a power of two (exact) that brings
    the largest to [0.5, 1) before they go to the device, and ``sum w`` is
    multiplied back, so that weights from 1e-300 to 1e300 neither underflow
    nor overflow.
    """
    space = array_api_space(prob)
    xp = space.xp
    centers = xp.arange(n_bins, dtype=space.work, device=space.device)
    exponent = 0
    if sample_weight is not None:
        largest = float(np.max(sample_weight)) if sample_weight.size else 0.0
        exponent = int(np.frexp(largest)[1]) if largest > 0 else 0
        sample_weight = np.ldexp(sample_weight, -exponent)

    def kernel(chunk, labels, w):
        if top:
            predicted, x = _top_label_chunk(space, chunk)
            t = xp.astype(predicted == labels, space.work)
        else:
            x, t = xp.astype(chunk, space.work), xp.astype(labels, space.work)
        onehot = xp.astype(_bin_numbers(space, x, n_bins)[:, None] == centers, x.dtype)
        if w is None:
            return xp.reshape(xp.stack([xp.ones_like(x), x, t]) @ onehot, (-1,))
        rows = [xp.astype(w > 0, space.work), w * x, w * t, w]
        return xp.reshape(xp.stack(rows) @ onehot, (-1,))

    n_cols = (1 if prob.ndim == 1 else prob.shape[1]) + n_bins
    args = (prob, space.labels(y), space.weights(sample_weight))
    totals = reduce_chunks(space, kernel, *args, n_cols=n_cols)
    if sample_weight is None:
        return totals.reshape(3, n_bins)
    count, sum_x, sum_t, weight = totals.reshape(4, n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):  # empty bins: unused
        means = [sum_x / weight, sum_t / weight]
    return np.stack([count, *means, np.ldexp(weight, exponent)])
