"""Information quantities (entropy, KL divergence, cross-entropy) on the device."""

from calibkit._array_api._namespace import (
    _first_rows,
    array_api_space,
    reduce_chunks,
)

# Coefficients of the atanh series of calibkit.metrics._kernels._t_minus_log1p.
_ATANH = [1.0 / c for c in range(25, 1, -2)]


def _xlogy(xp, a, b):
    """``a log b`` with ``0 log b = 0``."""
    return xp.where(a == 0, xp.zeros_like(a), a * xp.log(xp.where(a == 0, 1.0, b)))


def _xlog1py(xp, a, b):
    """``a log1p(b)`` with ``0 log1p(b) = 0``."""
    safe = xp.where(a == 0, xp.zeros_like(b), b)
    return xp.where(a == 0, xp.zeros_like(a), a * xp.log1p(safe))


def _generalised_kl(xp, a, b, diff):
    """:func:`calibkit.metrics._kernels.generalised_kl` with ``where``s."""
    positive = a > 0
    t = diff / xp.where(positive, a, 1.0)
    near = positive & (xp.abs(t) <= 0.25)
    far = positive & ~near
    t = xp.where(near, t, 0.0)
    u = t / (2.0 + t)
    u2 = u * u
    series = xp.zeros_like(u)
    for coefficient in _ATANH:
        series = series * u2 + coefficient
    near_value = a * (t * t / (2.0 + t) - 2.0 * u * u2 * series)
    a_far = xp.where(far, a, 1.0)
    b_far = xp.where(far, b, 1.0)
    far_value = a_far * (xp.log(a_far) - xp.log(b_far)) + diff
    return xp.where(near, near_value, xp.where(far, far_value, b))


def _row_terms(space, name, p, q):
    xp = space.xp
    if name == "entropy":
        if p.ndim == 1:
            return -_xlogy(xp, p, p) - _xlog1py(xp, 1.0 - p, -p)
        return -xp.sum(_xlogy(xp, p, p), axis=1)
    if name == "cross_entropy":
        if p.ndim == 1:
            return -_xlogy(xp, p, q) - _xlog1py(xp, 1.0 - p, -q)
        return -xp.sum(_xlogy(xp, p, q), axis=1)
    if p.ndim == 1:  # Bernoulli KL, each half without cancellation
        p_c, q_c = 1.0 - p, 1.0 - q
        diff = xp.where(q < 0.5, q - p, p_c - q_c)
        return _generalised_kl(xp, p, q, diff) + _generalised_kl(xp, p_c, q_c, -diff)
    diff = q - p
    return xp.sum(_generalised_kl(xp, p, q, diff), axis=1) - xp.sum(diff, axis=1)


def _impossible(space, p, q):
    xp = space.xp
    if p.ndim == 1:
        return ((p > 0) & (q == 0)) | ((p < 1) & (q == 1))
    return xp.any((p > 0) & (q == 0), axis=1)


def mean_information_terms(p, q, w, names):
    """Weighted sums of the per-row information terms and the impossible rows.

    Returns ``(sums, n_impossible, first_rows)`` as
    :func:`calibkit.metrics._information._mean_terms` needs them.
    """
    space = array_api_space(p)
    xp = space.xp
    w_dev = space.weights(w)
    n_cols = 1 if p.ndim == 1 else p.shape[1]

    def impossible(p_chunk, q_chunk, weights):
        a, b = xp.astype(p_chunk, space.work), xp.astype(q_chunk, space.work)
        bad = _impossible(space, a, b)
        return bad if weights is None else bad & (weights > 0)

    def kernel(p_chunk, q_chunk, weights):
        a = xp.astype(p_chunk, space.work)
        b = None if q_chunk is None else xp.astype(q_chunk, space.work)
        sums = []
        for name in names:
            values = _row_terms(space, name, a, b)
            if weights is not None:
                values = xp.where(weights > 0, weights * values, 0.0)
            sums.append(xp.sum(values))
        bad = xp.zeros(1, dtype=space.work, device=space.device)[0]
        if b is not None:
            hit = _impossible(space, a, b)
            if weights is not None:
                hit = hit & (weights > 0)
            bad = xp.sum(xp.astype(hit, space.work))
        return xp.stack([*sums, bad])

    result = reduce_chunks(space, kernel, p, q, w_dev, n_cols=n_cols)
    n_bad = int(result[-1])
    first = []
    if n_bad:
        first = _first_rows(space, impossible, p, q, w_dev, n_cols=n_cols)
    return result[:-1], n_bad, first
