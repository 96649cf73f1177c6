"""Bins shared by ECE, reliability curves, decompositions and goodness of fit.

One definition of the bins, so that a reliability diagram and a binned
decomposition with the same options group the same rows.
"""

import numbers

import numpy as np

from calibkit._chunks import as_float64


def bin_edges(x, w, n_bins, strategy):
    """Uniform edges on [0, 1], or equal-mass edges at weighted quantiles of x.

    Equal-mass inner edge k is the smallest x whose weighted CDF exceeds
    ``k / n_bins``, so that tied values are never split (which keeps results
    independent of row order); duplicate edges are merged.
    """
    if strategy == "uniform":
        return np.linspace(0.0, 1.0, n_bins + 1)
    order = np.argsort(x, kind="stable")
    ordered = as_float64(x[order])
    cumulative = np.arange(1.0, x.shape[0] + 1.0) if w is None else np.cumsum(w[order])
    levels = cumulative[-1] * np.arange(1, n_bins) / n_bins
    position = np.searchsorted(cumulative, levels, side="right")
    inner = ordered[np.minimum(position, x.shape[0] - 1)]
    edges = np.unique(np.concatenate(([ordered[0]], inner, [ordered[-1]])))
    if edges.shape[0] == 1:  # one distinct forecast: a single closed bin
        edges = np.repeat(edges, 2)
    return edges


def bin_index(x, edges):
    """Bin of each value: ``[e_k, e_{k+1})``, the last bin closed."""
    return np.searchsorted(edges[1:-1], x, side="right")


def check_option(value, name, options):
    """Raise a ValueError unless ``value`` is one of the string ``options``."""
    if not isinstance(value, str) or value not in options:
        listed = ", ".join(repr(o) for o in options)
        msg = f"{name} must be one of {listed}; got {value!r}."
        raise ValueError(msg)


def check_count(value, name, minimum=1):
    """An integer of at least ``minimum`` (TypeError / ValueError otherwise)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        msg = f"{name} must be an integer; got {value!r}."
        raise TypeError(msg)
    if value < minimum:
        msg = f"{name} must be at least {minimum}; got {value}."
        raise ValueError(msg)
    return int(value)
