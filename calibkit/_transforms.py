"""Stable maps between probabilities, log-probabilities, logits and log-odds.

All functions work on float64 chunks (see :mod:`calibkit._chunks`) and return
new arrays; they never modify their input.
"""

import numpy as np
from scipy.special import logsumexp

#: Value standing in for ``log(0)`` where only the order of the scores
#: matters (isotonic calibration) or for a calibrator fitted on logits. It lies
#: below the log of the smallest positive double (about -744.4), so exact zeros
#: stay strictly below every positive probability. Platt and temperature
#: scaling on probabilities do not use it: they give exact zeros a fitted
#: probability of their own (see :func:`exact_log_probabilities`).
LOG_ZERO = -750.0


def exact_log_probabilities(p):
    """Log-probabilities with ``-inf`` at exact zeros, one column per class.

    1-D ``p`` (probability of class 1) gives the columns
    ``(log1p(-p), log(p))``; a 2-D ``p`` gives ``log(p)``.
    """
    with np.errstate(divide="ignore"):
        if p.ndim == 1:
            return np.stack([np.log1p(-p), np.log(p)], axis=1)
        return np.log(p)


def floored_log_probabilities(p, *, floor=None):
    """:func:`exact_log_probabilities` raised to ``floor`` except at exact zeros.

    Exact zeros stay ``-inf``; ``floor=None`` leaves every value as it is.
    """
    out = exact_log_probabilities(p)
    if floor is not None:
        np.maximum(out, floor, out=out, where=~np.isneginf(out))
    return out


def floored_log_odds(p, *, floor=None):
    """Log-odds of 1-D ``p`` from :func:`floored_log_probabilities`."""
    out = floored_log_probabilities(p, floor=floor)
    return out[:, 1] - out[:, 0]


def exact_log_odds(p):
    """``log(p) - log1p(-p)``: ``-inf`` at ``p == 0`` and ``+inf`` at ``p == 1``."""
    with np.errstate(divide="ignore"):
        return np.log(p) - np.log1p(-p)


def safe_log(p):
    """``log(p)`` with exact zeros mapped to :data:`LOG_ZERO` instead of -inf."""
    with np.errstate(divide="ignore"):
        out = np.log(p)
    np.maximum(out, LOG_ZERO, out=out)
    return out


def safe_log1m(p):
    """``log(1 - p)`` via ``log1p(-p)``, with ``p == 1`` mapped to :data:`LOG_ZERO`."""
    with np.errstate(divide="ignore"):
        out = np.log1p(-p)
    np.maximum(out, LOG_ZERO, out=out)
    return out


def log_odds(p):
    """``log(p / (1 - p))`` computed as ``log(p) - log1p(-p)``.

    Exact 0 and 1 map to ``LOG_ZERO`` and ``-LOG_ZERO`` (finite, order kept).
    """
    return safe_log(p) - safe_log1m(p)


def binary_logits(s):
    """Two-column logits ``(0, s)`` for 1-D log-odds ``s``."""
    out = np.zeros((s.shape[0], 2))
    out[:, 1] = s
    return out


def logit_difference(z):
    """Log-odds ``z[:, 1] - z[:, 0]`` of two-column logits.

    ``+-inf`` where the difference exceeds the float64 range (a row spanning
    more than about 1.8e308); see :func:`halved_logit_difference`.
    """
    with np.errstate(over="ignore"):
        return z[:, 1] - z[:, 0]


def halved_logit_difference(z):
    """Half the log-odds of two-column logits, finite for all finite ``z``.

    Halving is exact for numbers of this size, so where
    :func:`logit_difference` overflows this gives the log-odds to full
    precision, in units of two.
    """
    return z[:, 1] * 0.5 - z[:, 0] * 0.5


def log_odds_from_logits(z, *, half=False):
    """Per-class log-odds ``z_k - logsumexp(z_{-k})`` of the softmax of each row.

    Parameters
    ----------
    z : ndarray of shape (n, K), K >= 2
    half : bool, default=False
        Return half the log-odds, computed from halved terms so that they are
        finite for every finite ``z``.

    Returns
    -------
    ndarray of shape (n, K)
        ``log(p_k / (1 - p_k))`` with ``p = softmax(z)``, computed without
        forming ``1 - p_k`` (which would cancel when ``p_k`` is close to 1).
        Without ``half``, ``+-inf`` where the log-odds exceed the float64
        range (a row spanning more than about 1.8e308).
    """
    n = z.shape[0]
    top = np.argmax(z, axis=1)
    rows = np.arange(n)
    z_max = z[rows, top]
    # ``z - z_max`` overflows to -inf only where the true value is below
    # -1.8e308: its weight exp(-inf) = 0 is then exact.
    with np.errstate(over="ignore", divide="ignore"):
        diff = z - z_max[:, None]
        shifted = np.exp(diff)
        # Summed in sorted order, so that a row's log-odds do not depend on
        # the order of its columns (renaming classes must not move a score
        # by an ulp: isotonic fits pool exact ties only).
        total = np.sort(shifted, axis=1).sum(axis=1)
        # Non-top columns: the other terms include the top one (worth 1), so
        # ``total - shifted_k >= 1`` and the subtraction loses no accuracy.
        log_others = np.log(total[:, None] - shifted)
        # Top column: sum the other terms directly, relative to the runner-up.
        masked = z.copy()
        masked[rows, top] = -np.inf
        lse_others = logsumexp(np.sort(masked, axis=1), axis=1)
        if half:
            out = (z * 0.5 - z_max[:, None] * 0.5) - log_others * 0.5
            out[rows, top] = z_max * 0.5 - lse_others * 0.5
        else:
            out = diff - log_others
            out[rows, top] = z_max - lse_others
    return out


def row_softmax(z, temperature=1.0):
    """Row-wise ``softmax(z / temperature)`` of a float64 array (new array).

    The row maximum is subtracted *before* dividing by ``temperature``, so that
    logits near the float64 limits never overflow to ``inf - inf``: ``z - max``
    is at most 0, and when it overflows to ``-inf`` (``z = -1.7e308`` next to
    ``max = 1.7e308``) its weight ``exp(-inf)`` is exactly 0.
    """
    with np.errstate(over="ignore"):
        shifted = z - z.max(axis=1, keepdims=True)
        if temperature != 1.0:
            shifted /= temperature
    np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return shifted
