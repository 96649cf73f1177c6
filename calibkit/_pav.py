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


# --- binary events, unit weights: one plain sort, no permutation --------------

#: Rows per chunk of the bit-twiddling passes (a few hundred kB of temporaries).
_CHUNK = 1 << 16
#: Rows per chunk of the chunked PAV (its temporaries: up to 40 bytes a row).
_PAV_CHUNK = 1 << 16
#: The 63 bits below the sign bit of an int64.
_LOW63 = np.int64(0x7FFF_FFFF_FFFF_FFFF)


def sorted_event_keys(scores, events):
    """Sorted int64 keys that order like ``scores`` and carry ``events``.

    Each float64 score is mapped to an int64 with the same order (negative
    floats get their 63 magnitude bits flipped, -0.0 counts as +0.0), its
    lowest bit is replaced by the event, and the keys are sorted in place: a
    plain sort is several times faster than ``np.argsort`` and needs no index
    array. The event of the ``i``-th smallest score is ``keys[i] & 1`` as long
    as no two scores agree in their other 63 bits; :func:`binary_pav` checks
    that on the way.

    Parameters
    ----------
    scores : ndarray of shape (n_samples,)
        Finite scores; only float64 is handled (else None is returned).
    events : ndarray of bool, shape (n_samples,)

    Returns
    -------
    ndarray of int64, shape (n_samples,), or None
    """
    n = scores.shape[0]
    if scores.dtype != np.float64 or scores.ndim != 1 or n == 0:
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
    return keys


def sorted_events(scores, events):
    """The boolean ``events`` in the order of ``np.sort(scores)``, or None.

    None when the scores are not float64 or two of them agree in all but
    their lowest bit (exact ties, or neighbouring doubles): then the caller
    pools ties the general way. See :func:`sorted_event_keys`.
    """
    keys = sorted_event_keys(scores, events)
    if keys is None or not keys_are_distinct(keys):
        return None
    return (keys & 1).astype(bool)


def keys_are_distinct(keys, start=0, stop=None):
    """Whether no two neighbouring sorted keys of ``keys[start:stop]`` (and the
    one after) agree above their lowest bit."""
    stop = keys.shape[0] if stop is None else stop
    for first in range(start, stop, _CHUNK):
        chunk = keys[first : min(first + _CHUNK, stop) + 1]
        differ = chunk[1:] ^ chunk[:-1]
        differ >>= 1
        if not differ.all():
            return False
    return True


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
    events : ndarray of shape (n_blocks,)
        Events per block (float64, exact).
    """

    starts: np.ndarray
    fitted: np.ndarray
    counts: np.ndarray
    events: np.ndarray

    def per_row(self, start, stop):
        """The fitted frequency of sorted rows ``start`` to ``stop`` (excluded)."""
        first = np.searchsorted(self.starts, start, side="right") - 1
        last = np.searchsorted(self.starts, stop - 1, side="right")
        sizes = np.diff(np.clip(self.starts[first : last + 1], start, stop))
        return np.repeat(self.fitted[first:last], sizes)


def key_events(keys, start, stop):
    """Events (bool) of sorted keys ``start`` to ``stop`` (excluded)."""
    low_bytes = keys.view(np.uint8)[(0 if np.little_endian else 7) :: 8]
    return np.bitwise_and(low_bytes[start:stop], 1).view(bool)


def binary_pav(keys):
    """PAV of the events of sorted keys (:func:`sorted_event_keys`), weights 1.

    Works through the rows in chunks and keeps only a stack of blocks: PAV of
    a chunk gives blocks that the PAV of all rows never splits, so the blocks
    of all chunks, as weighted points, are pooled once more at the end.
    Inside a chunk, neighbouring rows with the same event always share a block
    (the last row of a block lies at or below the block mean, the first row
    at or above it), so each run of equal events enters PAV as one point
    weighted by its length. Events and rows per block are summed exactly, and
    the frequencies are their correctly rounded ratios, whatever order PAV
    summed in; blocks of equal frequency are merged.

    Parameters
    ----------
    keys : ndarray of int64, shape (n_samples,)
        Sorted keys whose lowest bit is the event (a bool array of events in
        score order is accepted too).

    Returns
    -------
    BinaryPAV or None
        None when two keys agree above their lowest bit (ties: not pooled).
    """
    n = keys.shape[0]
    events_of_keys = keys.dtype != bool
    positives, counts = [], []
    for start in range(0, n, _PAV_CHUNK):
        stop = min(start + _PAV_CHUNK, n)
        if events_of_keys:
            if not keys_are_distinct(keys, start, stop):
                return None
            events = key_events(keys, start, stop)
        else:
            events = keys[start:stop]
        chunk_positives, chunk_counts = _pav_of_runs(events)
        positives.append(chunk_positives)
        counts.append(chunk_counts)
    positives, counts = np.concatenate(positives), np.concatenate(counts)
    if len(positives) > 1:  # pool the chunks' blocks
        positives, counts, _ = _pav_of_blocks(positives, counts)
    fitted = positives / counts
    starts = np.zeros(counts.shape[0] + 1, dtype=np.int64)
    starts[1:] = np.cumsum(counts)  # exact: integers below 2**53
    return BinaryPAV(starts, fitted, counts, positives)


def _pav_of_runs(events):
    """Exact ``(events, rows)`` per PAV block of one chunk of 0/1 events."""
    n = events.shape[0]
    edge = np.empty(n + 1, dtype=bool)
    edge[0] = edge[n] = True
    np.not_equal(events[1:], events[:-1], out=edge[1:n])
    bounds = np.flatnonzero(edge)
    del edge
    target = events[bounds[:-1]].astype(np.float64)
    weight = np.empty(target.shape[0])
    np.subtract(bounds[1:], bounds[:-1], out=weight)
    del bounds
    return _pav_of_blocks(target * weight, weight, target=target)[:2]


def _pav_of_blocks(positives, counts, target=None):
    """Pool weighted points with exact ``positives`` out of ``counts`` by PAV.

    Returns the exact sums per block and the index of each block's first
    point, merging blocks of equal frequency (PAV may have split them by a
    rounding of its running means). ``target`` is ``positives / counts`` when
    the caller has it; it is overwritten.
    """
    if target is None:
        target = positives / counts
    weight = counts.copy()
    first = _pava_in_place(target, weight)[:-1]
    positives = np.add.reduceat(positives, first)
    counts = np.add.reduceat(counts, first)
    fitted = positives / counts
    if np.any(fitted[1:] < fitted[:-1]):  # a rounding decided a pooling: redo
        positives, counts, again = _pav_of_blocks(positives, counts)  # pragma: no cover
        return positives, counts, first[again]  # pragma: no cover
    same = fitted[1:] == fitted[:-1]
    if same.any():
        merged = np.flatnonzero(np.concatenate([[True], ~same]))
        positives = np.add.reduceat(positives, merged)
        counts = np.add.reduceat(counts, merged)
        first = first[merged]
    return positives, counts, first


def _pava_in_place(target, weight):
    """Block boundaries of PAV (``n_blocks + 1`` indices), reusing the arrays.

    SciPy's public :func:`scipy.optimize.isotonic_regression` copies both
    arrays; its compiled kernel works in place, so it is used when present.
    """
    try:
        from scipy.optimize._pava_pybind import pava
    except ImportError:  # pragma: no cover - a SciPy without the private kernel
        from scipy.optimize import isotonic_regression

        return isotonic_regression(target, weights=weight).blocks
    indices = np.full(target.shape[0] + 1, -1, dtype=np.intp)
    _, _, indices, n_blocks = pava(target, weight, indices)
    return indices[: n_blocks + 1]


# --- out of core: external merge sort of keys, PAV on a block stack -----------


def out_of_core_binary_pav(scores, events, *, memory_budget, directory=None):
    """PAV of 0/1 ``events`` on ``scores`` too large to sort in memory.

    The rows are read in chunks that fit ``memory_budget``; each chunk's keys
    (:func:`sorted_event_keys`) are sorted and written to a temporary ``.npy``
    file; the files are merged in buffers, and each merged buffer's runs are
    pooled by PAV onto a stack of blocks (events, rows, first and last key),
    which is pooled again whenever it grows: PAV never splits a block of a
    contiguous part of the rows. The scores at the block ends are then read
    back in one more pass over ``scores`` (a key keeps all but the lowest bit).
    Equal to the in-memory :func:`binary_pav`.

    Parameters
    ----------
    scores : ndarray or numpy.memmap of float64, shape (n_samples,)
        Distinct finite scores (no two agreeing in all but their lowest bit).
    events : ndarray or numpy.memmap of bool, shape (n_samples,)
    memory_budget : int
        Bytes for the sort buffers (the block stack comes on top; it holds 32
        bytes per block).
    directory : str or None
        Where the sorted runs are written (a temporary directory inside it).

    Returns
    -------
    PAVBlocks

    Raises
    ------
    ValueError
        If two scores agree in all but their lowest bit (ties), or the scores
        are not float64.
    """
    import tempfile
    from pathlib import Path

    n = scores.shape[0]
    # A chunk holds its scores, their keys and the events (17 bytes a row), the
    # merge two copies of its buffers and the PAV chunk temporaries: 48 a row.
    chunk_rows = max(2, int(memory_budget) // 48)
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        runs = []
        for start in range(0, n, chunk_rows):
            part = np.asarray(scores[start : start + chunk_rows])
            keys = sorted_event_keys(
                part, np.asarray(events[start : start + chunk_rows])
            )
            if keys is None:
                raise ValueError("scores must be a 1-D float64 array.")
            path = Path(tmp) / f"run{len(runs)}.npy"
            np.save(path, keys)
            del keys, part
            runs.append(np.load(path, mmap_mode="r"))
        buffer_rows = max(2, int(memory_budget) // (48 * len(runs)))
        stack = _BlockStack()
        for merged in _merge_runs(runs, buffer_rows):
            stack.push(merged)
        del runs
    positives, counts, first_keys, last_keys = stack.pooled()
    wanted = np.concatenate([first_keys, last_keys])
    found = _scores_of_keys(scores, wanted)
    # Events and rows per block are whole numbers below 2**53: exact.
    return PAVBlocks(
        found[: first_keys.shape[0]],
        found[first_keys.shape[0] :],
        positives,
        counts - positives,
    )


class _BlockStack:
    """PAV blocks of the rows seen so far: exact events and rows, end keys."""

    #: Blocks held before the stack is pooled again.
    limit = 1 << 16

    def __init__(self):
        self.limit = type(self).limit
        self.parts = []
        self.size = 0
        self.last_key = None

    def push(self, keys):
        """Pool the next sorted ``keys`` (all above the previous ones)."""
        if self.last_key is not None and not (keys[0] ^ self.last_key) >> 1:
            raise ValueError(_TIES_MESSAGE)
        fit = binary_pav(keys)
        if fit is None:
            raise ValueError(_TIES_MESSAGE)
        self.last_key = keys[-1]
        self.parts.append(
            (fit.events, fit.counts, keys[fit.starts[:-1]], keys[fit.starts[1:] - 1])
        )
        self.size += fit.counts.shape[0]
        if self.size > self.limit:
            self.parts = [self.pooled()]
            self.size = self.parts[0][0].shape[0]
            self.limit = max(self.limit, 2 * self.size)  # amortised: no re-pooling

    def pooled(self):
        """``(events, rows, first key, last key)`` per block of all rows."""
        positives, counts, first_keys, last_keys = (
            np.concatenate(column) for column in zip(*self.parts, strict=True)
        )
        positives, counts, first = _pav_of_blocks(positives, counts)
        last = np.append(first[1:], last_keys.shape[0]) - 1
        return positives, counts, first_keys[first], last_keys[last]


_TIES_MESSAGE = (
    "scores hold ties (or values one unit in the last place apart); the "
    "out-of-core fit needs distinct scores."
)


def _scores_of_keys(scores, keys):
    """The scores whose keys (:func:`sorted_event_keys`) are ``keys``, in one
    pass over ``scores``: each key leaves two candidates (its lowest bit)."""
    upper = keys & -2
    candidates = np.concatenate([upper, upper | 1])
    candidates ^= (candidates >> 63) & _LOW63  # back to the bits of a float
    values = np.unique(candidates.view(np.float64))
    present = np.zeros(values.shape[0], dtype=bool)
    for start in range(0, scores.shape[0], _PAV_CHUNK):
        part = np.asarray(scores[start : start + _PAV_CHUNK]) + 0.0
        where = np.minimum(np.searchsorted(values, part), values.shape[0] - 1)
        present[where[values[where] == part]] = True
    pairs = candidates.view(np.float64).reshape(2, -1)
    return np.where(present[np.searchsorted(values, pairs[1])], pairs[1], pairs[0])


# --- PAV of sorted pieces: Dask partitions and out-of-core merges -------------
#
# Rows sorted by score arrive in pieces (a Dask partition after a sort, a
# buffer of an external merge). Each piece's PAV blocks are blocks of the PAV
# of all rows, because PAV never splits a block of a contiguous run of points
# -- once the points are well defined: rows of equal score are one point, and
# a tie may straddle two pieces. So each piece hands over its first and last
# point unpooled, PAV blocks of the points in between, and the pieces'
# entries are pooled once more after ties across their boundaries are merged.


@dataclass(frozen=True)
class PAVBlocks:
    """PAV blocks with exact per-block sums, for fits assembled from pieces.

    Attributes
    ----------
    first_scores, last_scores : ndarray of shape (n_blocks,)
        Smallest and largest score of each block, increasing.
    positives, negatives : ndarray of shape (n_blocks,)
        Weight of the events and of the non-events of each block.
    """

    first_scores: np.ndarray
    last_scores: np.ndarray
    positives: np.ndarray
    negatives: np.ndarray

    @property
    def weights(self):
        """Total weight of each block."""
        return self.positives + self.negatives

    @property
    def fitted(self):
        """Event frequency of each block (non-decreasing)."""
        return self.positives / self.weights

    def knots(self, interpolation):
        """Scores and fitted values at the knots of the isotonic map.

        ``"step"``: each block's first score; ``"linear"``: both ends of each
        block (one knot for a block of one distinct score), as
        :class:`~calibkit.IsotonicCalibration` keeps them.
        """
        fitted = self.fitted
        if interpolation == "step":
            return self.first_scores.copy(), fitted
        both = self.last_scores != self.first_scores
        counts = 1 + both.astype(np.intp)
        xs = np.empty(int(counts.sum()))
        ends = np.cumsum(counts)
        xs[ends - counts] = self.first_scores
        xs[ends[both] - 1] = self.last_scores[both]
        return xs, np.repeat(fitted, counts)

    def block_of(self, scores):
        """Index of the block holding each of ``scores`` (scores of the fit)."""
        return np.maximum(np.searchsorted(self.first_scores, scores, "right") - 1, 0)


def piece_entries(scores, target, weight=None):
    """Entries of one piece of rows sorted by score, for :func:`pool_entries`.

    Parameters
    ----------
    scores : ndarray of shape (n,)
        Sorted (non-decreasing) finite scores.
    target : ndarray of shape (n,)
        0/1 events (bool or numbers).
    weight : ndarray of shape (n,) or None
        Non-negative weights; rows of weight 0 are ignored.

    Returns
    -------
    tuple of four ndarrays
        ``(first_scores, last_scores, positives, negatives)`` of the piece's
        first point, the PAV blocks of its inner points and its last point.
    """
    scores = as_float64(scores)
    target = np.asarray(target, dtype=bool) if target.dtype != bool else target
    if weight is not None:
        kept = weight > 0
        if not kept.all():
            scores, target, weight = scores[kept], target[kept], weight[kept]
        weight = as_float64(weight)
    n = scores.shape[0]
    if n == 0:
        return tuple(np.empty(0) for _ in range(4))
    new_value = np.empty(n, dtype=bool)
    new_value[0] = True
    np.not_equal(scores[1:], scores[:-1], out=new_value[1:])
    starts = np.flatnonzero(new_value)
    distinct = scores[starts]
    if weight is None:
        positives = np.add.reduceat(target, starts, dtype=np.float64)
        rows = np.diff(np.append(starts, n)).astype(np.float64)
        negatives = rows - positives  # exact: integers
    else:
        positives = np.add.reduceat(np.where(target, weight, 0.0), starts)
        negatives = np.add.reduceat(np.where(target, 0.0, weight), starts)
    if distinct.shape[0] <= 2:
        return distinct, distinct.copy(), positives, negatives
    inner = slice(1, -1)
    first, last, pos, neg = _pool_points(
        distinct[inner], distinct[inner], positives[inner], negatives[inner]
    )
    ends = [np.array([0]), np.array([-1])]
    return tuple(
        np.concatenate([column[ends[0]], middle, column[ends[1]]])
        for column, middle in zip(
            (distinct, distinct, positives, negatives),
            (first, last, pos, neg),
            strict=True,
        )
    )


def _pool_points(first, last, positives, negatives):
    """PAV of weighted points (or blocks) in score order: the pooled sums.

    PAV pools by rounded running means; its blocks' exact sums may then give
    two neighbours equal (or, by an ulp, decreasing) frequencies. Those are
    merged, as :func:`_pav_of_blocks` does for the in-memory fits, so that the
    fitted values (:attr:`PAVBlocks.fitted`) strictly increase.
    """
    weight = positives + negatives
    starts = _pava_in_place(positives / weight, weight)[:-1]
    while True:
        pos = np.add.reduceat(positives, starts)
        neg = np.add.reduceat(negatives, starts)
        fitted = pos / (pos + neg)
        rising = fitted[1:] > fitted[:-1]
        if rising.all():
            break
        starts = starts[np.concatenate([[True], rising])]
    lasts = np.append(starts[1:], first.shape[0]) - 1
    return first[starts], last[lasts], pos, neg


def pool_entries(entries):
    """The PAV blocks of all rows from the entries of consecutive pieces.

    Parameters
    ----------
    entries : list of tuples
        :func:`piece_entries` of pieces in score order (empty pieces allowed).

    Returns
    -------
    PAVBlocks
    """
    first, last, positives, negatives = (
        np.concatenate(column) for column in zip(*entries, strict=True)
    )
    if first.shape[0] == 0:
        msg = "no rows with positive weight to fit."
        raise ValueError(msg)
    # A tie across pieces: equal scores are one point. Only the unpooled end
    # points of neighbouring pieces can share a score.
    tied = first[1:] == last[:-1]
    if tied.any():
        keep = np.flatnonzero(np.concatenate([[True], ~tied]))
        ends = np.append(keep[1:], first.shape[0]) - 1
        first, last = first[keep], last[ends]
        positives = np.add.reduceat(positives, keep)
        negatives = np.add.reduceat(negatives, keep)
    return PAVBlocks(*_pool_points(first, last, positives, negatives))


class EntryStack:
    """Entries of the pieces pushed so far, pooled whenever they grow.

    All but the last entry are pooled (the last point may tie with the next
    piece): PAV never splits a block of the points before it.
    """

    #: Entries held before the stack is pooled again.
    limit = 1 << 16

    def __init__(self):
        self.limit = type(self).limit
        self.parts = []
        self.size = 0

    def push(self, entries):
        """Add the :func:`piece_entries` of the next piece."""
        self.parts.append(entries)
        self.size += entries[0].shape[0]
        if self.size <= self.limit:
            return
        columns = [np.concatenate(column) for column in zip(*self.parts, strict=True)]
        # The points of the last score may still take rows of a tie from the
        # next piece: they stay unpooled; all earlier points are complete.
        held = int(np.searchsorted(columns[0], columns[1][-1], side="left"))
        parts = [tuple(c[held:] for c in columns)]
        if held:
            blocks = pool_entries([tuple(c[:held] for c in columns)])
            parts.insert(
                0,
                (
                    blocks.first_scores,
                    blocks.last_scores,
                    blocks.positives,
                    blocks.negatives,
                ),
            )
        self.parts = parts
        self.size = sum(part[0].shape[0] for part in parts)
        self.limit = max(self.limit, 2 * self.size)

    def blocks(self):
        """PAVBlocks of all rows pushed."""
        return pool_entries(self.parts)


def out_of_core_pav(
    scores, events, sample_weight=None, *, memory_budget, directory=None
):
    """Exact PAV blocks of rows too many to sort in memory (ties pooled).

    Unweighted float64 scores take :func:`out_of_core_binary_pav` (sorted
    keys, 8 bytes a row on disk); when two scores tie (or share all but their
    lowest bit), or with weights, the rows are sorted by an external merge
    sort of ``(score, event, weight)`` runs whose merged pieces are pooled by
    :class:`EntryStack`, which merges equal scores across pieces.

    Parameters
    ----------
    scores : array of shape (n_samples,)
        Finite scores; anything sliceable in row ranges (a ``np.memmap``).
    events : array of shape (n_samples,)
        0/1 events (bool or numbers).
    sample_weight : array of shape (n_samples,) or None
        Non-negative weights.
    memory_budget : int
        Bytes for the sort buffers; the blocks come on top (32 bytes each).
    directory : str or None
        Where the sorted runs are written (a temporary directory inside it).

    Returns
    -------
    PAVBlocks
    """
    if sample_weight is None and getattr(scores, "dtype", None) == np.float64:
        try:
            fit = out_of_core_binary_pav(
                scores, events, memory_budget=memory_budget, directory=directory
            )
        except ValueError:  # ties or neighbouring doubles: pooled below
            pass
        else:
            return fit
    return _out_of_core_pooled(
        scores, events, sample_weight, int(memory_budget), directory
    )


def _out_of_core_pooled(scores, events, sample_weight, memory_budget, directory):
    """:func:`out_of_core_pav` by sorted runs of scores, events and weights."""
    import tempfile

    n = scores.shape[0]
    width = 2 if sample_weight is None else 3
    # A chunk holds its scores, the sorting permutation, the sorted rows and
    # the tie-pooling temporaries: about 64 bytes a row.
    chunk_rows = max(2, memory_budget // 64)
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        runs = []
        for start in range(0, n, chunk_rows):
            rows = slice(start, min(start + chunk_rows, n))
            part = as_float64(np.asarray(scores[rows]))
            order = np.argsort(part, kind="stable")
            # One file a run (score, event[, weight] as float64 columns):
            # files are few, and a merge moves whole rows.
            run = np.empty((order.shape[0], width))
            run[:, 0] = part[order]
            run[:, 1] = np.asarray(events[rows])[order] != 0
            if sample_weight is not None:
                run[:, 2] = as_float64(np.asarray(sample_weight[rows]))[order]
            del part, order
            runs.append(_saved(run, f"{tmp}/run{len(runs)}.npy"))
        # A merge reads a buffer of every run: with more runs than the budget
        # gives buffers of _MERGE_ROWS rows, groups of runs are merged to
        # longer runs on disk first (the passes of an external merge sort).
        fan_in = max(2, memory_budget // (64 * _MERGE_ROWS))
        while len(runs) > fan_in:
            merged = []
            for i in range(0, len(runs), fan_in):
                group = runs[i : i + fan_in]
                if len(group) > 1:
                    group = [_merged_run(group, memory_budget, tmp, f"{i}_{len(runs)}")]
                merged.extend(group)
            runs = merged
        buffer_rows = max(2, memory_budget // (64 * max(1, len(runs))))
        stack = EntryStack()
        for piece in _merge_runs(runs, buffer_rows):
            weight = None if width == 2 else piece[:, 2]
            stack.push(piece_entries(piece[:, 0], piece[:, 1] != 0, weight))
        del runs
    return stack.blocks()


#: Rows per run and merge round at least, budget permitting.
_MERGE_ROWS = 4096


def _saved(array, path):
    """``array`` written to ``path`` and mapped back (a plain ndarray view:
    slicing a np.memmap costs microseconds of Python per slice)."""
    np.save(path, array)
    return np.asarray(np.load(path, mmap_mode="r"))


def _merged_run(runs, memory_budget, tmp, name):
    """The ``runs`` merged into one run, a ``.npy`` file in ``tmp``."""
    from numpy.lib.format import open_memmap

    n = sum(run.shape[0] for run in runs)
    shape = (n, runs[0].shape[1])
    out = open_memmap(f"{tmp}/merged{name}.npy", "w+", np.float64, shape)
    at = 0
    buffer_rows = max(2, memory_budget // (64 * len(runs)))
    for piece in _merge_runs(runs, buffer_rows):
        out[at : at + piece.shape[0]] = piece
        at += piece.shape[0]
    return np.asarray(out)


def _merge_runs(runs, buffer_rows):
    """Yield the rows of all sorted ``runs`` in sorted pieces.

    A run is a 1-D array of sorted keys (:func:`out_of_core_binary_pav`) or
    a 2-D array of rows sorted by column 0, the score
    (:func:`_out_of_core_pooled`). Each round reads up to ``buffer_rows`` rows
    of every run and emits those whose key is not above the smallest of the
    buffers' last keys: nothing later in any run is below it. Equal scores
    may be split between two pieces (:class:`EntryStack` merges them).
    """
    taken = [0] * len(runs)
    while True:
        active = [i for i, run in enumerate(runs) if taken[i] < run.shape[0]]
        if not active:
            return
        keys = {}
        for i in active:
            buffer = runs[i][taken[i] : taken[i] + buffer_rows]
            keys[i] = buffer if buffer.ndim == 1 else buffer[:, 0]
        threshold = min(key[-1] for key in keys.values())
        parts = []
        for i, key in keys.items():
            stop = int(np.searchsorted(key, threshold, side="right"))
            parts.append(np.asarray(runs[i][taken[i] : taken[i] + stop]))
            taken[i] += stop
        rows = np.concatenate(parts)
        if rows.ndim == 1:
            rows.sort()
            yield rows
        else:
            yield rows[np.argsort(rows[:, 0], kind="stable")]
