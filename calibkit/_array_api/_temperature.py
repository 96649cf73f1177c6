"""Temperature scaling: the passes of calibkit._solvers.TemperatureModel."""

import numpy as np

from calibkit._array_api._namespace import (
    _quiet_chunks,
    _Rows,
    array_api_space,
    reduce_chunks,
    rows_of,
    take_rows,
    weighted_row_sums,
)
from calibkit._array_api._transforms import apply_transform


def _as_logits(space, z, transform=None):
    """A chunk's logits in the working dtype (a new array), through ``transform``.

    1-D log-odds ``s`` become the two logits ``(0, s)``.
    """
    xp = space.xp
    z = apply_transform(space, z, transform)
    if z.ndim == 1:
        z = xp.stack([xp.zeros_like(z), z], axis=1)
    return z


def _temperature_kernel(z, y, w, *, space, beta, with_limits, eps, transform):
    """Partial sums of :func:`calibkit._solvers._logit_kernel`, in ``space``."""
    xp = space.xp
    beta = None if beta is None else float(beta)  # numpy scalars would take over
    z = _as_logits(space, z, transform)
    k = z.shape[1]
    top = xp.max(z, axis=1)
    true = take_rows(xp, z, y)
    magnitude = xp.max(xp.maximum(xp.abs(top), xp.abs(true)))
    z -= top[:, None]  # z is this chunk's own copy: centred in place
    centered = z
    gap = true - top  # z_y - max z <= 0
    if eps is not None:
        eps_y = xp.take(eps, y)
        other = eps_y / (k - 1)
        gap = (1.0 - eps_y) * gap + other * (xp.sum(centered, axis=1) - gap)
    if beta is None:
        mean = xp.sum(centered, axis=1) / k
        var = xp.sum(centered * centered, axis=1) / k
        terms = [mean - gap, var - mean * mean, -gap]
    else:
        e = xp.exp(beta * centered)
        s0 = xp.sum(e, axis=1)
        e *= centered
        s1 = xp.sum(e, axis=1)
        e *= centered
        s2 = xp.sum(e, axis=1)
        masked = xp.isnan(s1)
        if bool(xp.any(masked)):
            # A logit at -inf after centring has weight exp(-inf) = 0 and adds
            # nothing; only its 0 * -inf = NaN has to go (rare: a row spanning
            # more than the float range).
            e = xp.exp(beta * centered)
            finite = xp.where(e > 0, centered, 0.0)
            e *= finite
            s1 = xp.where(masked, xp.sum(e, axis=1), s1)
            e *= finite
            s2 = xp.where(masked, xp.sum(e, axis=1), s2)
        mean = s1 / s0
        terms = [xp.log(s0) - beta * gap, mean - gap, s2 / s0 - mean * mean]
        if with_limits:
            terms += [xp.sum(centered, axis=1) / k - gap, -gap]
    sums = weighted_row_sums(xp, terms, w)
    if beta is not None and not with_limits:
        return sums
    return sums, xp.reshape(magnitude, (1,))


class TemperaturePasses:
    """The passes of :class:`calibkit._solvers.TemperatureModel` on a device.

    ``evaluate(beta)`` returns ``(L, L', L'')`` as floats for
    :func:`calibkit._newton.minimize_scalar`; ``transform`` is the numpy
    path's chunk transform (probabilities to log-probabilities, the solver's
    rescaling of extreme logits), applied on the device.
    """

    def __init__(self, space, logits, y, w, eps, total_weight, transform=None):
        self.space, self.logits, self.y, self.w = space, logits, y, w
        self.eps, self.total_weight, self.transform = eps, total_weight, transform
        self.n_cols = 4 if logits.ndim == 1 else 2 * logits.shape[1]

    magnitude = None
    first = None

    def _reduce(self, beta, with_limits):
        def kernel(z, y, w):
            return _temperature_kernel(
                z,
                y,
                w,
                space=self.space,
                beta=beta,
                with_limits=with_limits,
                eps=self.eps,
                transform=self.transform,
            )

        maxima = beta is None or with_limits
        result = reduce_chunks(
            self.space,
            kernel,
            self.logits,
            self.y,
            self.w,
            n_cols=self.n_cols,
            maxima=maxima,
        )
        if maxima:
            result, top = result
            self.magnitude = float(top[0])
        return result / self.total_weight

    def limits(self):
        """``L'(0)``, ``L''(0)`` and ``L'(inf)`` in one pass."""
        return self._reduce(None, True)

    def evaluate(self, beta, *, with_limits=False):
        """``L``, ``L'`` and ``L''`` at ``beta`` (and the limits) in one pass."""
        if not with_limits and self.first is not None and self.first[0] == beta:
            values, self.first = self.first[1], None
            return values
        return self._reduce(beta, with_limits)


def temperature_passes(logits, y, sample_weight, eps, total_weight):
    """The device passes of :func:`calibkit._solvers.fit_inverse_temperature`.

    Returns ``passes_for(transform)``, the :class:`TemperaturePasses` of
    ``logits`` through a numpy chunk transform: the one driver in
    :mod:`calibkit._solvers` takes it in place of its numpy models. ``y``
    (class codes), the weights and ``eps`` are host arrays, copied to the
    device once here (``n`` numbers each).
    """
    space = array_api_space(logits)
    y_dev, w_dev = space.labels(y), space.weights(sample_weight)
    eps_dev = None if eps is None else space.asarray(eps, dtype=space.work)

    def passes_for(transform):
        return TemperaturePasses(
            space, logits, y_dev, w_dev, eps_dev, total_weight, transform
        )

    return passes_for


def take_subsample(X, idx):
    """Rows ``idx`` (host integers) of a device array, on the device."""
    space = array_api_space(X)
    rows = space.asarray(np.asarray(idx, dtype=np.int64), dtype=space.xp.int64)
    return space.xp.take(X, rows, axis=0)


def tempered_softmax(X, temperature, n_classes, *, transform=None, zero_logit=None):
    """``softmax(X / temperature)`` on the device, in ``X``'s dtype, by chunks.

    1-D ``X`` holds log-odds ``s`` (logits ``(0, s)``). The limits ``T = 0``
    (one-hot at the maximum, ties shared) and ``T = inf`` (uniform) included.
    ``transform`` (a numpy chunk transform, e.g. probabilities to
    log-probabilities) is applied first; with ``zero_logit``, entries at
    ``-inf`` (exact zeros) get that logit instead of ``-inf / T``.
    """
    space = array_api_space(X)
    xp = space.xp
    temperature = float(temperature)
    out = _Rows(space, (X.shape[0], n_classes), X.dtype)
    for rows in _quiet_chunks(X.shape[0], 2 * n_classes, space):
        z = _as_logits(space, rows_of(X, rows), transform)
        if zero_logit is not None and temperature > 0.0:
            zero = z == -xp.inf
            z = xp.where(zero, float(zero_logit), xp.where(zero, 0.0, z) / temperature)
            temperature = 1.0
        top = xp.max(z, axis=1, keepdims=True)
        if temperature == np.inf:
            p = xp.ones_like(z) / n_classes
        elif temperature == 0.0:
            p = xp.astype(z == top, space.work)
            p = p / xp.sum(p, axis=1, keepdims=True)
        else:
            e = xp.exp((z - top) / temperature)
            p = e / xp.sum(e, axis=1, keepdims=True)
        out.put(rows, xp.astype(p, X.dtype))
    return out.result()


def zero_scan_kernel(space, lp, y, w, *, transform):
    """Device version of :func:`calibkit._solvers._zero_scan_kernel`."""
    xp = space.xp
    lp = _as_logits(space, lp, transform)
    zero = lp == -xp.inf
    present = (
        xp.ones(lp.shape[0], dtype=xp.bool, device=space.device) if w is None else w > 0
    )
    w = xp.ones(lp.shape[0], dtype=space.work, device=space.device) if w is None else w
    zero_f = xp.astype(zero, space.work)
    truth_zero = present & (take_rows(xp, zero_f, y) > 0)
    other = present & xp.any(zero, axis=1) & ~truth_zero
    finite = xp.where(zero | ~present[:, None], xp.inf, lp)
    zeros_per_row = xp.sum(xp.where(present[:, None], zero_f, 0.0), axis=1)
    sums = [
        xp.sum(xp.where(truth_zero, w, 0.0)),
        xp.sum(xp.where(other, w, 0.0)),
        xp.sum(zeros_per_row),
        xp.sum(w * zeros_per_row),
    ]
    unused = xp.full((3,), -xp.inf, dtype=space.work, device=space.device)
    maxima = xp.concat([unused, xp.reshape(-xp.min(finite), (1,))])
    return xp.stack(sums), maxima


def zero_logit_kernel(model, space, lp, y, w, *, theta):
    """Device version of :meth:`calibkit._solvers.ZeroLogitModel.kernel`."""
    xp = space.xp
    beta, c = float(theta[0]), float(theta[1])
    options = model.options
    lp = _as_logits(space, lp, options["transform"])
    k = lp.shape[1]
    zero = lp == -xp.inf
    ell = xp.where(zero, 0.0, lp)
    m = xp.sum(xp.astype(zero, space.work), axis=1)
    truth_zero = take_rows(xp, xp.astype(zero, space.work), y) > 0
    top_logit = beta * xp.max(lp, axis=1)
    shift = xp.where(m > 0, xp.maximum(top_logit, c), top_logit)
    e = xp.where(zero, 0.0, xp.exp(beta * ell - shift[:, None]))
    # c <= shift on rows with a zero; elsewhere m = 0 and exp must not overflow.
    e_zero = m * xp.exp(xp.minimum(c - shift, 0.0))
    s_nonzero = xp.sum(e, axis=1)
    total = s_nonzero + e_zero
    q_zero, q_nonzero = e_zero / total, s_nonzero / total
    e = e / total[:, None]
    mu = xp.sum(e * ell, axis=1)
    d = ell - mu[:, None]
    var = xp.sum(e * d * d, axis=1) + q_zero * mu * mu
    true_l = xp.where(truth_zero, 0.0, take_rows(xp, ell, y))
    truth_f = xp.astype(truth_zero, space.work)
    eps, zero_prior = options["eps"], options["zero_prior"]
    if eps is None and zero_prior is None:
        t_l, t_zero = true_l, truth_f
    elif eps is None:
        d_pos, d_neg = (float(v) for v in zero_prior)
        has_zero = m > 0
        mean_l = xp.sum(ell, axis=1) / (k - m)
        t_zero = xp.where(truth_zero, 1.0 - d_pos, xp.where(has_zero, d_neg, 0.0 * m))
        scale = xp.where(has_zero, 1.0 - d_neg, 1.0 + 0.0 * m)
        t_l = xp.where(truth_zero, d_pos * mean_l, scale * true_l)
    else:
        e_row = xp.take(space.asarray(eps, dtype=space.work), y)
        other = e_row / (k - 1)
        t_l = other * xp.sum(ell, axis=1) + (1.0 - e_row - other) * true_l
        t_zero = other * m + (1.0 - e_row - other) * truth_f
    loss = shift + xp.log(total) - beta * t_l - c * t_zero
    terms = [loss, mu - t_l, q_zero - t_zero, var, -mu * q_zero, q_zero * q_nonzero]
    return weighted_row_sums(xp, terms, w)
