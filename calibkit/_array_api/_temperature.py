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


def ldexp(z, exponent):
    """``z * 2**exponent`` (exact, barring subnormals), as :func:`numpy.ldexp`.

    In two factors, so that each is a finite float64 for any exponent that
    :func:`calibkit._solvers.scale_exponent` gives.
    """
    if exponent == 0:
        return z
    half = int(exponent) // 2
    return (z * 2.0**half) * 2.0 ** (int(exponent) - half)


def _as_logits(space, z, exponent=0):
    """A chunk in the working dtype (a new array), 1-D log-odds as ``(0, s)``.

    Multiplied by ``2**exponent`` (see :func:`ldexp`).
    """
    xp = space.xp
    z = ldexp(xp.astype(z, space.work, copy=True), exponent)
    if z.ndim == 1:
        z = xp.stack([xp.zeros_like(z), z], axis=1)
    return z


def _temperature_kernel(z, y, w, *, space, beta, with_limits, eps, exponent):
    """Partial sums of :func:`calibkit._solvers._logit_kernel`, in ``space``."""
    xp = space.xp
    beta = None if beta is None else float(beta)  # numpy scalars would take over
    z = _as_logits(space, z, exponent)
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
    :func:`calibkit._newton.minimize_scalar`; ``exponent`` scales the logits
    by ``2**exponent`` (the solver's rescaling of extreme logits).
    """

    def __init__(self, space, logits, y, w, eps, total_weight, exponent=0):
        self.space, self.logits, self.y, self.w = space, logits, y, w
        self.eps, self.total_weight, self.exponent = eps, total_weight, exponent
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
                exponent=self.exponent,
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

    Returns ``passes_at(exponent)``, the :class:`TemperaturePasses` of
    ``logits * 2**exponent``: the one driver in :mod:`calibkit._solvers`
    takes it in place of its numpy models. ``y`` (class codes), the weights
    and ``eps`` are host arrays, copied to the device once here (``n``
    numbers each).
    """
    space = array_api_space(logits)
    y_dev, w_dev = space.labels(y), space.weights(sample_weight)
    eps_dev = None if eps is None else space.asarray(eps, dtype=space.work)

    def passes_at(exponent):
        return TemperaturePasses(
            space, logits, y_dev, w_dev, eps_dev, total_weight, exponent
        )

    return passes_at


def take_subsample(X, idx):
    """Rows ``idx`` (host integers) of a device array, on the device."""
    space = array_api_space(X)
    rows = space.asarray(np.asarray(idx, dtype=np.int64), dtype=space.xp.int64)
    return space.xp.take(X, rows, axis=0)


def tempered_softmax(X, temperature, n_classes):
    """``softmax(X / temperature)`` on the device, in ``X``'s dtype, by chunks.

    1-D ``X`` holds log-odds ``s`` (logits ``(0, s)``). The limits ``T = 0``
    (one-hot at the maximum, ties shared) and ``T = inf`` (uniform) included.
    """
    space = array_api_space(X)
    xp = space.xp
    temperature = float(temperature)
    out = _Rows(space, (X.shape[0], n_classes), X.dtype)
    for rows in _quiet_chunks(X.shape[0], 2 * n_classes, space):
        z = _as_logits(space, rows_of(X, rows))
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
