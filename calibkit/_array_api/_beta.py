"""Beta calibration on the device: the passes of ``calibrators._beta.fit_beta``.

Device versions of its three numpy kernels (summary, moments, Newton pass),
registered with :func:`calibkit._array_api._platt.device_reduce_rows`, so the
one solver runs unchanged on device inputs; and the predictions. Inputs are
probabilities (exact 0 and 1 give ``-inf`` logs, as on the host) or logits.
"""

import numpy as np

from calibkit._array_api._namespace import (
    _quiet_chunks,
    _Rows,
    array_api_space,
    ldexp,
    rows_of,
)


def log_pair(space, x, kind):
    """Device version of ``calibkit.calibrators._beta.log_pair`` (working dtype)."""
    xp = space.xp
    x = xp.astype(x, space.work)
    if kind == "probabilities":
        return xp.log(x), xp.log1p(-x)
    if kind == "two_probabilities":
        return xp.log(x[:, 1]), xp.log(x[:, 0])
    if kind == "two_logits":
        x = x[:, 1] - x[:, 0]
    tail = xp.log1p(xp.exp(-xp.abs(x)))  # softplus(+-s) - max(+-s, 0)
    return xp.minimum(x, 0.0) - tail, xp.minimum(-x, 0.0) - tail


def _features(space, x, kind, parameters):
    """Raw features (non-finite rows at 0), the finite-row mask, ``l1``, ``l0``."""
    from calibkit.calibrators._beta import _DESIGNS

    xp = space.xp
    l1, l0 = log_pair(space, x, kind)
    finite = xp.isfinite(l1) & xp.isfinite(l0)
    raw = _DESIGNS[parameters][0](xp.where(finite, l1, 0.0), xp.where(finite, l0, 0.0))
    return raw, finite, l1, l0


def _masked_sum(xp, w, mask):
    return xp.sum(xp.where(mask, w, 0.0))


def _extrema(xp, values, mask):
    """``[-min, max]`` of ``values`` over ``mask`` (``-inf`` if empty)."""
    return [
        xp.max(xp.where(mask, -values, -xp.inf)),
        xp.max(xp.where(mask, values, -xp.inf)),
    ]


def _weights(space, w, n):
    ones = space.xp.ones(n, dtype=space.work, device=space.device)
    return ones if w is None else w


def summary_kernel(space, x, positive, w, *, kind, parameters):
    """Device version of ``calibkit.calibrators._beta._summary_kernel``."""
    xp = space.xp
    raw, finite, l1, l0 = _features(space, x, kind, parameters)
    w = _weights(space, w, l1.shape[0])
    present = w > 0
    low, high = present & (l1 == -xp.inf), present & (l0 == -xp.inf)
    fin = present & finite
    s = l1 - l0
    sums = [
        xp.sum(w),
        _masked_sum(xp, w, positive),
        _masked_sum(xp, w, fin),
        _masked_sum(xp, w, fin & positive),
        _masked_sum(xp, w, low),
        _masked_sum(xp, w, low & positive),
        _masked_sum(xp, w, high),
        _masked_sum(xp, w, high & positive),
    ]
    maxima = [*_extrema(xp, s, fin & positive), *_extrema(xp, s, fin & ~positive)]
    maxima += [*_extrema(xp, l1, fin), *_extrema(xp, l0, fin)]
    maxima += [xp.max(xp.where(finite, xp.abs(f), 0.0)) for f in raw]
    return xp.stack(sums), xp.stack(maxima)


def moments_kernel(space, x, w, *, kind, parameters, exponents):
    """Device version of ``calibkit.calibrators._beta._moments_kernel``."""
    xp = space.xp
    raw, finite, l1, _ = _features(space, x, kind, parameters)
    w = xp.where(finite, _weights(space, w, l1.shape[0]), 0.0)
    sums, squares = [], []
    for f, e in zip(raw, exponents, strict=True):
        wf = w * ldexp(f, -int(e))
        sums.append(xp.sum(wf))
        squares.append(xp.sum(wf * ldexp(f, -int(e))))
    return xp.stack([xp.sum(w), *sums, *squares])


def model_kernel(model, space, x, positive, w, *, theta):
    """Device version of ``calibkit.calibrators._beta.BetaModel.kernel``."""
    xp = space.xp
    raw, finite, _, _ = _features(space, x, model.kind, model.parameters)
    s = model.summary
    columns = [
        (ldexp(f, -int(e)) - float(center)) / float(scale)
        for f, e, center, scale in zip(raw, s.exponents, s.center, s.scale, strict=True)
    ]
    theta = [float(v) for v in theta]
    z = xp.zeros_like(columns[0]) + (theta[-1] if model.intercept else 0.0)
    for u, alpha in zip(columns, theta, strict=False):
        z = z + alpha * u
    e = xp.exp(-xp.abs(z))
    big = 1.0 / (1.0 + e)  # sigmoid(|z|)
    small = e * big  # sigmoid(-|z|)
    t_pos, t_neg = (float(v) for v in model.targets)
    t = t_neg + (t_pos - t_neg) * xp.astype(positive, space.work)
    loss = xp.log1p(e) + xp.maximum(z, 0.0) - t * z
    residual = xp.where(z >= 0.0, big, small) - t
    w = xp.where(finite, _weights(space, w, z.shape[0]), 0.0)
    loss, residual, curv = loss * w, residual * w, small * big * w
    if model.intercept:
        columns = [*columns, None]
    p = len(columns)
    grad = [xp.sum(residual if u is None else residual * u) for u in columns]
    hess = [[None] * p for _ in range(p)]
    for i, u in enumerate(columns):
        weighted = curv if u is None else curv * u
        for j in range(i, p):
            v = columns[j]
            hess[i][j] = hess[j][i] = xp.sum(weighted if v is None else weighted * v)
    return xp.stack([xp.sum(loss), *grad, *(h for row in hess for h in row)])


def count_saturated(space, chunk):
    """Device version of ``calibkit.calibrators._base._count_saturated``."""
    xp = space.xp
    saturated = (chunk == 0) | (chunk == 1) if chunk.ndim == 1 else chunk == 0
    return xp.reshape(xp.sum(xp.astype(saturated, space.work)), (1,))


def _map(xp, a, b, c, l1, l0):
    """``a ln p - b ln(1 - p) + c`` with a zero coefficient dropping its term.

    ``a``, ``b``, ``c``: Python floats, or device vectors (one per class).
    """
    if isinstance(a, float):
        first = a * l1 if a != 0.0 else xp.zeros_like(l1)
        second = b * l0 if b != 0.0 else xp.zeros_like(l0)
        return first - second + c
    return xp.where(a != 0.0, a * l1, 0.0) - xp.where(b != 0.0, b * l0, 0.0) + c


def beta_proba(
    X, kind, a, b, c, *, binary, zero_proba=None, one_proba=None, scores=None
):
    """Beta calibration's probabilities on the device, in ``X``'s dtype.

    ``binary``: the map of ``log_pair(X, kind)``. Multiclass:
    one-vs-rest maps of ``X``'s columns (probabilities, ``kind`` is
    ``"probabilities"``) or of the per-class log-odds ``scores`` (K, n),
    renormalised in log space. ``zero_proba``/``one_proba``: the fitted
    probabilities of rows at exactly 0 and 1 (None: the map's limits).
    """
    space = array_api_space(X)
    xp = space.xp
    n = X.shape[0]

    def vector(values):
        return space.asarray(np.asarray(values, np.float64), space.work)

    if binary:
        out = _Rows(space, (n, 2), X.dtype)
        for rows in _quiet_chunks(n, 4, space):
            l1, l0 = log_pair(space, rows_of(X, rows), kind)
            z = _map(xp, float(a[0]), float(b[0]), float(c[0]), l1, l0)
            e = xp.exp(-xp.abs(z))
            small, big = e / (1.0 + e), 1.0 / (1.0 + e)
            p_pos = xp.where(z < 0, small, big)
            if zero_proba is not None:
                p_pos = xp.where(l1 == -xp.inf, float(zero_proba[0]), p_pos)
                p_pos = xp.where(l0 == -xp.inf, float(one_proba[0]), p_pos)
                p_neg = 1.0 - p_pos
            else:
                p_neg = xp.where(z < 0, big, small)
            out.put(rows, xp.astype(xp.stack([p_neg, p_pos], axis=1), X.dtype))
        return out.result()
    k = X.shape[1]
    a, b, c = vector(a), vector(b), vector(c)
    out = _Rows(space, (n, k), X.dtype)
    for rows in _quiet_chunks(n, 4 * k, space):
        if scores is None:
            l1, l0 = log_pair(space, X[rows, :], "probabilities")
        else:
            l1, l0 = log_pair(space, scores[:, rows].T, "logits")
        log_p = -xp.logaddexp(xp.zeros_like(l1), -_map(xp, a, b, c, l1, l0))
        if zero_proba is not None:
            log_p = xp.where(l1 == -xp.inf, vector(np.log(zero_proba)), log_p)
            log_p = xp.where(l0 == -xp.inf, vector(np.log(one_proba)), log_p)
        top = xp.max(log_p, axis=1, keepdims=True)
        e = xp.exp(log_p - top)
        out.put(rows, xp.astype(e / xp.sum(e, axis=1, keepdims=True), X.dtype))
    return out.result()
