"""Bins shared by ECE, reliability curves, decompositions and goodness of fit.

One definition of the bins, so that a reliability diagram and a binned
decomposition with the same options group the same rows.
"""

from dataclasses import dataclass

import numpy as np

from calibkit._chunks import as_float64
from calibkit.metrics._kernels import weight_rows, weights_or_ones

# Up to this many levels, equal-mass edges are found by one searchsorted of
# all the levels; above it, by counting the levels between consecutive rows
# (memory O(n) however many bins are asked for).
_DENSE_LEVELS = 1 << 16


@dataclass(frozen=True)
class Bins:
    """Rows grouped into bins, with only the non-empty bins stored.

    Attributes
    ----------
    n_bins : int
        Number of bins, empty ones included (``len(edges) - 1``).
    number : ndarray of shape (n_filled,), dtype int64
        Increasing bin numbers of the bins that hold a row.
    lower, upper : ndarray of shape (n_filled,)
        Edges of those bins: ``[lower, upper)``, the last bin closed.
    row : ndarray of shape (n_rows,), dtype intp
        Position in ``number`` of each row's bin.
    """

    n_bins: int
    number: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    row: np.ndarray


class Binning:
    """Bins ``[e_k, e_{k+1})`` on [0, 1] (the last one closed) without
    materialising empty bins: memory and time do not grow with ``n_bins``.

    ``"uniform"``: the edges of ``np.linspace(0, 1, n_bins + 1)``, computed
    one at a time (``k * (1 / n_bins)``, exactly as ``linspace`` does).
    ``"quantile"``: equal-mass edges at weighted quantiles of ``x`` (at most
    one per distinct value, so O(n) of them).
    """

    def __init__(self, x, w, n_bins, strategy):
        self.strategy = strategy
        if strategy == "uniform":
            self.edges = None
            self.n_bins = int(n_bins)
            self._step = 1.0 / n_bins
        else:
            self.edges = _quantile_edges(x, w, n_bins)
            self.n_bins = self.edges.shape[0] - 1

    def edge(self, k):
        """Edges number ``k`` (int array), as float64."""
        if self.edges is not None:
            return self.edges[k]
        k = np.asarray(k, dtype=np.int64)
        return np.where(k >= self.n_bins, 1.0, k.astype(np.float64) * self._step)

    def number(self, x):
        """Bin number of each value of ``x`` (int64)."""
        x = as_float64(x)
        if self.edges is not None:
            return np.searchsorted(self.edges[1:-1], x, side="right").astype(np.int64)
        last = self.n_bins - 1
        # In float64 (exact for these integers) and in place: two temporaries
        # of the size of x, for the chunked passes of the metrics.
        k = np.multiply(x, self.n_bins)
        with np.errstate(invalid="ignore"):
            np.floor(k, out=k)
            np.clip(k, 0, last, out=k)
        edge = np.empty_like(k)
        # floor(x n) may be one off the bin of the rounded linspace edges:
        # bin = number of inner edges e_1 .. e_{n-1} at or below x. Edge j is
        # j * (1 / n), as edge() computes it.
        for _ in range(2):
            np.multiply(k, self._step, out=edge)
            k -= (k > 0) & (x < edge)
            np.add(k, 1.0, out=edge)
            edge *= self._step
            k += (k < last) & (x >= edge)
        return k.astype(np.int64)

    def assign(self, x):
        """:class:`Bins` of the values ``x``."""
        number = self.number(x)
        filled = np.unique(number)
        return Bins(
            n_bins=self.n_bins,
            number=filled,
            lower=self.edge(filled),
            upper=self.edge(filled + 1),
            row=np.searchsorted(filled, number),
        )

    def all_edges(self):
        """Every edge, empty bins included (O(n_bins) for ``"uniform"``)."""
        if self.edges is not None:
            return self.edges
        return np.linspace(0.0, 1.0, self.n_bins + 1)


def _quantile_edges(x, w, n_bins):
    """Equal-mass edges: inner edge k is the smallest x whose weighted CDF
    exceeds ``k / n_bins``, so that tied values are never split (results do
    not depend on row order); duplicate edges are merged."""
    order = np.argsort(x, kind="stable")
    ordered = as_float64(x[order])
    n = x.shape[0]
    cumulative = np.cumsum(weights_or_ones(weight_rows(w, order), n))
    total = cumulative[-1]
    # A CDF within its summation error of a level counts as equal to it, so
    # that scaling all weights (1 -> 1e200) cannot move an edge.
    slack = 2.0 * n * np.finfo(np.float64).eps * total
    if n_bins - 1 <= _DENSE_LEVELS:
        levels = total * np.arange(1, n_bins) / n_bins + slack
        position = np.searchsorted(cumulative, levels, side="right")
        inner = ordered[np.minimum(position, n - 1)]
    else:
        # Row j is an edge when some level falls in [C_{j-1}, C_j).
        below = _levels_below(cumulative, total, n_bins, slack)
        before = np.concatenate(([0], below[:-1]))
        inner = ordered[below > before]
    edges = np.unique(np.concatenate(([ordered[0]], inner, [ordered[-1]])))
    if edges.shape[0] == 1:  # one distinct forecast: a single closed bin
        edges = np.repeat(edges, 2)
    return edges


def _levels_below(values, total, n_bins, slack):
    """How many levels ``total * k / n_bins + slack`` (k = 1 .. n_bins - 1) are
    below each value, rounded exactly as the dense path rounds them."""

    def level(k):
        return total * k.astype(np.float64) / n_bins + slack

    last = n_bins - 1
    k = np.clip(np.floor(values / total * n_bins), 0, last).astype(np.int64)
    for _ in range(3):
        k -= (k >= 1) & (level(k) >= values)
        k += (k < last) & (level(k + 1) < values)
    return k


def bin_edges(x, w, n_bins, strategy):
    """All edges: uniform on [0, 1], or equal-mass at weighted quantiles of x."""
    return Binning(x, w, n_bins, strategy).all_edges()


def bin_index(x, edges):
    """Bin of each value: ``[e_k, e_{k+1})``, the last bin closed."""
    return np.searchsorted(edges[1:-1], x, side="right")
