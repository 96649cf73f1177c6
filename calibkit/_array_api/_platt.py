"""Platt scaling on the device: the passes of :func:`calibkit._solvers.fit_platt`.

:func:`calibkit._chunks.reduce_rows` hands a pass over a device array to
:func:`calibkit._array_api._passes.device_reduce_rows`, which looks up the
device version (here) of the numpy kernel it was given and sums it over row
chunks with
:func:`~calibkit._array_api._namespace.reduce_chunks`. So ``fit_platt`` (its
summary, warm start, first pass and Newton passes) runs unchanged on device
scores: one solver. Only the evenly spaced subsamples behind the starting
point and the scale (at most 1/32 of the rows, and 1-D) come to the host.
"""

import numpy as np

from calibkit._array_api._namespace import (
    _column_is,
    _quiet_chunks,
    _Rows,
    array_api_space,
    rows_of,
    take_rows,
    to_host,
)
from calibkit._array_api._transforms import apply_transform


def scores_of(space, values, transform):
    """A chunk's binary log-odds in the working dtype (a 1-D device array).

    ``transform`` as on the host: None (``values`` are the log-odds) or
    :func:`calibkit._transforms.logit_difference` (two-column logits),
    possibly scaled by a power of two.
    """
    return apply_transform(space, values, transform)


def _ones_like(space, s):
    return space.xp.ones(s.shape[0], dtype=space.work, device=space.device)


def _extrema(space, s, masks):
    """``[-min s, max s]`` over each mask in turn (``-inf`` for an empty mask)."""
    xp = space.xp
    out = []
    for mask in masks:
        out += [xp.max(xp.where(mask, -s, -xp.inf)), xp.max(xp.where(mask, s, -xp.inf))]
    return out


def summary_kernel(space, s, positive, w, *, shift, transform):
    """Device version of :func:`calibkit._solvers._summary_kernel`."""
    xp = space.xp
    s = scores_of(space, s, transform)
    d = s - float(shift)
    w = _ones_like(space, s) if w is None else w
    wd = w * d
    pos = xp.astype(positive, space.work)
    sums = [xp.sum(w), xp.sum(wd), xp.sum(wd * d), xp.sum(w * pos), xp.sum(wd * pos)]
    present = w > 0
    maxima = _extrema(space, s, (positive & present, ~positive & present))
    maxima.append(xp.max(xp.abs(s)))
    return xp.stack(sums), xp.stack(maxima)


def _newton_sums(space, s, w, alpha, gamma, center, scale):
    """Device version of :func:`calibkit._solvers._platt_sums`: sums and ``u``."""
    xp = space.xp
    # Python floats: numpy scalars would not mix with every library's arrays.
    alpha, gamma, center, scale = map(float, (alpha, gamma, center, scale))
    u = (s - center) / scale
    z = u * alpha + gamma
    e = xp.exp(-xp.abs(z))  # in (0, 1]
    softplus = xp.log1p(e) + xp.maximum(z, 0.0)
    big = 1.0 / (e + 1.0)  # sigmoid(|z|)
    small = e * big  # sigmoid(-|z|), without cancellation
    p = xp.where(z < 0, small, 1.0 - small)
    curv = big * small
    if w is not None:
        softplus, p, curv = softplus * w, p * w, curv * w
    curv_u = curv * u
    sums = [
        xp.sum(softplus),
        xp.sum(p),
        xp.sum(p * u),
        xp.sum(curv),
        xp.sum(curv_u),
        xp.sum(curv_u * u),
    ]
    return sums, u


def model_kernel(model, space, s, w, *, theta):
    """Device version of :meth:`calibkit._solvers.PlattModel.kernel`."""
    s = scores_of(space, s, model.transform)
    alpha, gamma = (float(v) for v in theta)
    sums, _ = _newton_sums(space, s, w, alpha, gamma, model.center, model.scale)
    return space.xp.stack(sums)


def first_kernel(space, s, positive, w, *, theta, center, scale, transform):
    """Device version of :func:`calibkit._solvers._first_platt_kernel`."""
    xp = space.xp
    s = scores_of(space, s, transform)
    alpha, gamma = (float(v) for v in theta)
    newton, u = _newton_sums(space, s, w, alpha, gamma, center, scale)
    if w is None:
        members = (positive, ~positive)
        w = _ones_like(space, s)
    else:
        present = w > 0
        members = (positive & present, ~positive & present)
    w_pos = xp.where(members[0], w, 0.0)
    wu = w * u
    sums = [xp.sum(w), xp.sum(wu), xp.sum(wu * u), xp.sum(w_pos), xp.sum(w_pos * u)]
    maxima = [*_extrema(space, s, members), xp.max(xp.abs(s))]
    return xp.stack([*newton, *sums]), xp.stack(maxima)


def host_rows(X, rows, transform):
    """Log-odds of rows ``rows`` (a slice or host indices) of a device array.

    Computed on the device through ``transform`` (see :func:`scores_of`) and
    copied to the host as float64: for the evenly spaced subsamples behind the
    solvers' starting points and scales (1-D, at most 100,000 numbers).
    """
    space = array_api_space(X)
    if isinstance(rows, slice):
        chunk = X[rows, ...]
    else:
        index = space.asarray(np.asarray(rows, dtype=np.int64), dtype=space.xp.int64)
        chunk = space.xp.take(X, index, axis=0)
    return np.asarray(to_host(scores_of(space, chunk, transform)), dtype=np.float64)


def one_vs_rest_log_odds(X):
    """Per-class log-odds of logits ``X`` (n, K) on the device, shape (K, n).

    As :func:`calibkit._transforms.log_odds_from_logits` (the same sorted sums,
    so a row's log-odds do not depend on the order of its columns), in
    ``X``'s dtype unless a value exceeds it (then in the working dtype).
    """
    return _class_columns(X, _log_odds_of_logits)


def _log_odds_of_logits(space, chunk):
    xp = space.xp
    k = chunk.shape[1]
    z = xp.astype(chunk, space.work)
    top = xp.argmax(z, axis=1)
    z_max = take_rows(xp, z, top)
    diff = z - z_max[:, None]
    shifted = xp.exp(diff)
    total = xp.sum(xp.sort(shifted, axis=1), axis=1)
    log_others = xp.log(total[:, None] - shifted)
    is_top = _column_is(xp, top, k, space)
    masked = xp.where(is_top, -xp.inf, z)
    runner = xp.max(masked, axis=1)
    rest = xp.sort(xp.exp(masked - runner[:, None]), axis=1)
    lse_others = runner + xp.log(xp.sum(rest, axis=1))
    return xp.where(is_top, (z_max - lse_others)[:, None], diff - log_others)


def one_vs_rest_probability_log_odds(X):
    """Per-class exact log-odds ``log p - log1p(-p)`` of ``X`` (n, K), shape (K, n).

    As :func:`calibkit.calibrators._base.one_vs_rest_scores` with ``exact``:
    ``-inf`` at 0 and ``+inf`` at 1, in ``X``'s dtype unless a finite value
    exceeds it (then in the working dtype).
    """
    from calibkit._transforms import exact_log_odds

    return _class_columns(
        X, lambda space, chunk: apply_transform(space, chunk, exact_log_odds)
    )


def _class_columns(X, scores_of):
    """``scores_of(space, chunk)`` of each chunk of rows, as (K, n) columns.

    In ``X``'s dtype unless a finite value exceeds its range (then in the
    working dtype, like the host's scores).
    """
    space = array_api_space(X)
    xp = space.xp
    parts, wide = [], False
    for rows in _quiet_chunks(X.shape[0], 2 * X.shape[1], space):
        out = scores_of(space, X[rows, :])
        if X.dtype != space.work:
            finite = xp.where(xp.isfinite(out), xp.abs(out), 0.0)
            wide = wide or bool(xp.max(finite) > float(np.finfo(np.float32).max))
        parts.append(out.T)
    scores = xp.concat(parts, axis=1)
    return scores if wide else xp.astype(scores, X.dtype)


def infinite_score_masks(values, transform):
    """Host booleans: rows whose log-odds are ``-inf`` and ``+inf``.

    Computed on the device; one boolean per row each comes back (the rows set
    apart from the sigmoid are chosen on the host, with the labels).
    """
    space = array_api_space(values)
    xp = space.xp
    n = values.shape[0]
    low, high = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    n_cols = 2 if values.ndim == 1 else 2 * values.shape[1]
    for rows in _quiet_chunks(n, n_cols, space):
        s = scores_of(space, rows_of(values, rows), transform)
        low[rows], high[rows] = to_host(s == -xp.inf), to_host(s == xp.inf)
    return low, high


def finite_scores(values, transform, keep):
    """The log-odds of the rows ``keep`` (host indices), as a device vector."""
    space = array_api_space(values)
    xp = space.xp
    index = space.asarray(np.asarray(keep, dtype=np.int64), dtype=xp.int64)
    return scores_of(space, xp.take(values, index, axis=0), transform)


def infinite_rows(values, transform=None):
    """Host booleans: rows whose log-odds are not finite (1-D or per-class)."""
    space = array_api_space(values)
    xp = space.xp
    if transform is None and values.ndim == 2:  # (K, n) per-class scores
        return to_host(~xp.all(xp.isfinite(values), axis=0))
    bad = np.zeros(values.shape[0], dtype=bool)
    for rows in _quiet_chunks(values.shape[0], 2, space):
        s = scores_of(space, rows_of(values, rows), transform)
        bad[rows] = to_host(~xp.isfinite(s))
    return bad


def platt_proba(
    X, transform, coef, intercept, scores=None, zero_proba=None, one_proba=None
):
    """Platt's probabilities on the device, in ``X``'s dtype.

    Binary: ``sigmoid(coef * s + intercept)`` of the log-odds ``s`` of ``X``
    (through ``transform``). Multiclass: the one-vs-rest sigmoids of the
    per-class log-odds ``scores`` (K, n), renormalised in log space. With
    ``zero_proba`` and ``one_proba`` (probabilities: the fitted probabilities
    of inputs of exactly 0 and 1), log-odds ``-inf`` and ``+inf`` get them.
    """
    space = array_api_space(X)
    xp = space.xp
    n = X.shape[0]
    exact = zero_proba is not None
    if scores is None:
        a, b = float(coef[0]), float(intercept[0])
        out = _Rows(space, (n, 2), X.dtype)
        for rows in _quiet_chunks(n, 2, space):
            s = scores_of(space, rows_of(X, rows), transform)
            if exact:
                low, high = s == -xp.inf, s == xp.inf
                s = xp.where(low | high, 0.0, s)
            z = xp.where(xp.isinf(s) & (a == 0.0), b, a * s + b)
            e = xp.exp(-xp.abs(z))
            small = e / (1.0 + e)  # sigmoid(-|z|)
            p_pos = xp.where(z < 0, small, 1.0 / (1.0 + e))
            p_neg = xp.where(z < 0, 1.0 / (1.0 + e), small)
            if exact:
                for group, p in ((low, zero_proba[0]), (high, one_proba[0])):
                    p_pos = xp.where(group, float(p), p_pos)
                    p_neg = xp.where(group, 1.0 - float(p), p_neg)
            out.put(rows, xp.astype(xp.stack([p_neg, p_pos], axis=1), X.dtype))
        return out.result()
    k = scores.shape[0]

    def vector(values):
        return space.asarray(np.asarray(values, np.float64), space.work)

    a, b = vector(coef), vector(intercept)
    out = _Rows(space, (n, k), X.dtype)
    for rows in _quiet_chunks(n, 2 * k, space):
        s = xp.astype(scores[:, rows], space.work).T
        if exact:
            low, high = s == -xp.inf, s == xp.inf
            s = xp.where(low | high, 0.0, s)
        z = a * s + b
        log_p = -xp.logaddexp(xp.zeros_like(z), -z)
        if exact:
            log_p = xp.where(low, vector(np.log(zero_proba)), log_p)
            log_p = xp.where(high, vector(np.log(one_proba)), log_p)
        top = xp.max(log_p, axis=1, keepdims=True)
        e = xp.exp(log_p - top)
        out.put(rows, xp.astype(e / xp.sum(e, axis=1, keepdims=True), X.dtype))
    return out.result()
