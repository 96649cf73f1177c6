"""Weighted pool-adjacent-violators (PAV) with exact ties pooled first.

Rows with equal scores are merged into one point before PAV runs, so that the
fit is a function of the score. Only *exactly* equal scores are merged: values
that differ, however little, stay distinct (scikit-learn merges values within
1e-15 of each other, which changes results on fine-grained scores).

The PAV fit minimises every Bregman loss -- squared error and log-loss alike --
among non-decreasing functions of the score, so it is the log-loss-optimal
monotone recalibration (Brümmer & du Preez, 2013; Jordan et al., 2022).
"""

from dataclasses import dataclass

import numpy as np

from calibkit._chunks import as_float64


@dataclass(frozen=True)
class PAVFit:
    """Result of :func:`pav`.

    Attributes
    ----------
    scores : ndarray of shape (n_distinct,)
        Distinct scores with positive weight, increasing.
    fitted : ndarray of shape (n_distinct,)
        Non-decreasing PAV fit at each distinct score.
    weights : ndarray of shape (n_distinct,)
        Total sample weight at each distinct score.
    targets : ndarray of shape (n_distinct,)
        Weighted mean of ``y`` at each distinct score (before PAV).
    block_starts : ndarray of shape (n_blocks + 1,)
        Index into ``scores`` where each constant block of ``fitted`` starts;
        the last entry is ``n_distinct``.
    """

    scores: np.ndarray
    fitted: np.ndarray
    weights: np.ndarray
    targets: np.ndarray
    block_starts: np.ndarray


@dataclass(frozen=True)
class PooledTies:
    """Rows sorted once by score, exactly equal scores merged.

    Attributes
    ----------
    order : ndarray
        Sorting permutation of the rows.
    starts : ndarray or None
        First sorted row of each distinct score; None when no two scores tie.
    scores : ndarray
        Distinct scores, increasing, float64.
    weight : ndarray or None
        Total weight per distinct score; None when every weight is 1.
    target : ndarray
        Weighted mean of the target per distinct score.
    events : ndarray or None
        Without ties: the sorted 0/1 target itself.
    total_weight, positives_total : float
        Sums of the weights and of the weighted target.
    """

    order: np.ndarray
    starts: np.ndarray | None
    scores: np.ndarray
    weight: np.ndarray | None
    target: np.ndarray
    events: np.ndarray | None
    total_weight: float
    positives_total: float

    def weights_or_ones(self):
        """Weight per distinct score (ones when unweighted)."""
        return np.ones(self.scores.shape[0]) if self.weight is None else self.weight

    def expand(self, values):
        """Per-distinct-score ``values`` as a per-row array in the input order."""
        if self.starts is not None:
            counts = np.diff(self.starts, append=self.order.shape[0])
            values = np.repeat(values, counts)
        per_row = np.empty(self.order.shape[0])
        per_row[self.order] = values
        return per_row


def pool_ties(scores, target, sample_weight=None):
    """Sort by score once and merge rows with exactly equal scores.

    Built for large inputs: a boolean target is gathered as bytes, and when no
    two scores are equal (the common case for continuous forecasts) nothing is
    reduced or copied.

    Parameters
    ----------
    scores : ndarray of shape (n_samples,)
    target : ndarray of shape (n_samples,)
        0/1 labels (bool is cheapest) or values in [0, 1].
    sample_weight : ndarray of shape (n_samples,) or None
        Positive weights: drop zero-weight rows before calling.

    Returns
    -------
    PooledTies
    """
    n = scores.shape[0]
    order = np.argsort(scores)
    sorted_scores = scores[order]
    sorted_target = target[order]
    new_value = np.empty(n, dtype=bool)
    new_value[0] = True
    np.not_equal(sorted_scores[1:], sorted_scores[:-1], out=new_value[1:])
    sorted_w = None if sample_weight is None else sample_weight[order]
    events = None
    if new_value.all():
        starts, weight = None, sorted_w
        events = sorted_target if sorted_target.dtype == bool else None
        distinct = as_float64(sorted_scores)
        positives = sorted_target.astype(np.float64)
        if sorted_w is not None:
            positives *= sorted_w
    else:
        starts = np.flatnonzero(new_value)
        distinct = as_float64(sorted_scores[starts])
        if sorted_w is None:  # tie-group sizes, straight into float64
            weight = np.empty(starts.shape[0])
            np.subtract(starts[1:], starts[:-1], out=weight[:-1])
            weight[-1] = n - starts[-1]
            positives = np.add.reduceat(sorted_target, starts, dtype=np.float64)
        else:
            weight = np.add.reduceat(sorted_w, starts)
            positives = np.add.reduceat(sorted_w * sorted_target, starts)
    total = float(n) if weight is None else float(np.sum(weight))
    positives_total = float(np.sum(positives))
    mean_target = positives if weight is None else positives / weight
    return PooledTies(
        order, starts, distinct, weight, mean_target, events, total, positives_total
    )


def pav(scores, y, sample_weight=None):
    """Weighted isotonic (non-decreasing) regression of ``y`` on ``scores``.

    Parameters
    ----------
    scores : ndarray of shape (n_samples,)
        Finite scores; only their order and exact ties matter.
    y : ndarray of shape (n_samples,)
        Targets, typically 0/1 indicators.
    sample_weight : ndarray of shape (n_samples,) or None
        Non-negative weights; zero-weight rows are ignored.

    Returns
    -------
    PAVFit
    """
    if sample_weight is not None and not np.all(sample_weight > 0):
        kept = sample_weight > 0
        scores, y, sample_weight = scores[kept], y[kept], sample_weight[kept]
    pooled = pool_ties(scores, y, sample_weight)
    weights = pooled.weights_or_ones()
    result = isotonic_fit(pooled.target, weights)
    return PAVFit(
        scores=pooled.scores,
        fitted=result.x,
        weights=weights,
        targets=pooled.target,
        block_starts=np.asarray(result.blocks, dtype=np.intp),
    )


def isotonic_fit(target, weights=None):
    """PAV of per-point targets (already pooled), kept inside [0, 1].

    Returns scipy's result (``x``, ``blocks``, ``weights`` per block). When the
    targets lie in [0, 1], ``x`` is clipped to [0, 1]: block means of such
    values lie there, and clipping only removes rounding excursions such as
    1 + 1e-16, which would break log-losses.
    """
    # scipy.optimize takes a fifth of a second to import: only when needed.
    from scipy.optimize import isotonic_regression

    result = isotonic_regression(target, weights=weights, increasing=True)
    if target.min() >= 0.0 and target.max() <= 1.0:
        np.clip(result.x, 0.0, 1.0, out=result.x)
    return result


# --- binary events, unit weights: two plain sorts, no permutation --------------

#: Rows per chunk of the bit-twiddling passes (a few hundred kB of temporaries).
_CHUNK = 1 << 16
#: The 63 bits below the sign bit of an int64.
_LOW63 = np.int64(0x7FFF_FFFF_FFFF_FFFF)


def sorted_events(scores, events):
    """The 0/1 ``events`` in the order of ``np.sort(scores)``, without an argsort.

    Each float64 score is mapped to an int64 with the same order (negative
    floats get their 63 magnitude bits flipped), its lowest bit is replaced by
    the event, and the keys are sorted in place: a plain sort is several times
    faster than ``np.argsort`` and needs no index array. The dropped bit is
    harmless when no two scores agree in their other 63 bits, which the sorted
    keys tell; otherwise (exact ties, or scores one unit in the last place
    apart) this returns None and the caller pools ties the general way.

    Parameters
    ----------
    scores : ndarray of shape (n_samples,)
        Finite scores; only float64 is handled (else None is returned).
    events : ndarray of shape (n_samples,)
        Boolean events.

    Returns
    -------
    ndarray of bool, shape (n_samples,), or None
    """
    n = scores.shape[0]
    if scores.dtype != np.float64 or scores.ndim != 1 or n < 2:
        return None
    keys = np.add(scores, 0.0).view(np.int64)  # -0.0 becomes +0.0: a new array
    for start in range(0, n, _CHUNK):
        chunk = keys[start : start + _CHUNK]
        sign = chunk >> 63  # -1 for negative floats, else 0
        sign &= _LOW63
        chunk ^= sign
        chunk &= -2
        np.bitwise_or(chunk, events[start : start + _CHUNK], out=chunk)
    keys.sort()
    ordered = np.empty(n, dtype=bool)
    for start in range(0, n, _CHUNK):
        chunk = keys[start : start + _CHUNK + 1]  # one row of overlap
        differ = chunk[1:] ^ chunk[:-1]
        differ >>= 1
        if not differ.all():  # two keys agree above the event bit
            return None
        np.bitwise_and(chunk[:_CHUNK], 1, out=chunk[:_CHUNK], casting="unsafe")
        ordered[start : start + _CHUNK] = chunk[:_CHUNK]
    return ordered


@dataclass(frozen=True)
class BinaryPAV:
    """Result of :func:`binary_pav`.

    Attributes
    ----------
    starts : ndarray of shape (n_blocks + 1,)
        Sorted row where each PAV block starts; the last entry is the number
        of rows.
    fitted : ndarray of shape (n_blocks,)
        Event frequency of each block, increasing: its events divided by its
        rows, correctly rounded.
    counts : ndarray of shape (n_blocks,)
        Rows per block (float64, exact).
    """

    starts: np.ndarray
    fitted: np.ndarray
    counts: np.ndarray


def binary_pav(events):
    """PAV of 0/1 ``events`` already in score order, every weight 1.

    Neighbouring rows with the same event always share a PAV block (the last
    row of a block lies at or below the block mean, the first row at or above
    it), so each run of equal events enters PAV as one point weighted by its
    length. The block frequencies are then recomputed from the integer counts,
    so that they are exact ratios whatever order PAV summed in, and blocks
    whose frequencies are equal are merged.

    Parameters
    ----------
    events : ndarray of bool, shape (n_samples,)
        Events in increasing order of the (distinct) scores.

    Returns
    -------
    BinaryPAV
    """
    n = events.shape[0]
    change = np.flatnonzero(events[1:] != events[:-1])
    bounds = np.empty(change.shape[0] + 2, dtype=np.int64)
    bounds[0], bounds[-1] = 0, n
    np.add(change, 1, out=bounds[1:-1])
    del change
    target = events[bounds[:-1]].astype(np.float64)
    weight = np.empty(target.shape[0])
    np.subtract(bounds[1:], bounds[:-1], out=weight)
    fit = _pava_in_place(target, weight)
    blocks, block_x, counts = fit
    starts = bounds[blocks]
    del bounds
    # Block means times sizes are integers, off by far less than 1/2.
    fitted = np.rint(block_x * counts)
    fitted /= counts
    distinct = np.empty(fitted.shape[0], dtype=bool)
    distinct[0] = True
    np.not_equal(fitted[1:], fitted[:-1], out=distinct[1:])
    if not distinct.all():
        first = np.flatnonzero(distinct)
        counts = np.add.reduceat(counts, first)
        fitted = fitted[first]
        starts = np.append(starts[first], n)
    return BinaryPAV(starts, fitted, counts)


def _pava_in_place(target, weight):
    """``(blocks, block means, block weights)`` of PAV, reusing the arrays.

    SciPy's public :func:`scipy.optimize.isotonic_regression` copies both
    arrays; its compiled kernel works in place, so it is used when present.
    """
    try:
        from scipy.optimize._pava_pybind import pava
    except ImportError:  # pragma: no cover - a SciPy without the private kernel
        from scipy.optimize import isotonic_regression

        res = isotonic_regression(target, weights=weight)
        blocks = res.blocks
        return blocks, res.x[blocks[:-1]], res.weights
    indices = np.full(target.shape[0] + 1, -1, dtype=np.intp)
    x, w, indices, n_blocks = pava(target, weight, indices)
    blocks = indices[: n_blocks + 1]
    return blocks, x[blocks[:-1]], w[:n_blocks]
