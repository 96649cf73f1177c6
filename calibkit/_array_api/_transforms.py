"""The calibrators' per-chunk transforms, applied on the device.

The numpy solvers and calibrators describe their features by a transform of
each float64 chunk (:mod:`calibkit._transforms`, a calibrator's own, or one
scaled by :func:`calibkit._solvers.scaled_transform`). :func:`apply_transform`
maps a device chunk through the device version of the same function, so that
a solver's pass sees the same numbers on the device as on the host.
"""

import functools

from calibkit._array_api._namespace import ldexp


def split_scaled(transform):
    """``(transform, exponent)`` of a :func:`calibkit._solvers.scaled_transform`.

    ``exponent`` is 0 for a transform that is not scaled.
    """
    from calibkit._solvers import _scaled

    if isinstance(transform, functools.partial) and transform.func is _scaled:
        return transform.keywords["transform"], transform.keywords["exponent"]
    return transform, 0


def _log(xp, p):
    return xp.log(p)  # -inf at exact zeros (numpy's warning is off in chunks)


def _exact_log_probabilities(xp, p):
    if p.ndim == 1:
        return xp.stack([xp.log1p(-p), _log(xp, p)], axis=1)
    return _log(xp, p)


def _floored_log_probabilities(xp, p, *, floor=None):
    out = _exact_log_probabilities(xp, p)
    if floor is None:
        return out
    return xp.where(out == -xp.inf, out, xp.maximum(out, float(floor)))


def _floored_log_odds(xp, p, *, floor=None):
    out = _floored_log_probabilities(xp, p, floor=floor)
    return out[:, 1] - out[:, 0]


def _safe_log(xp, p):
    from calibkit._transforms import LOG_ZERO

    return xp.maximum(_log(xp, p), LOG_ZERO)


def _safe_log1m(xp, p):
    from calibkit._transforms import LOG_ZERO

    return xp.maximum(xp.log1p(-p), LOG_ZERO)


def _log_softmax(xp, z):
    shifted = z - xp.max(z, axis=1, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))


def _softplus(xp, s):
    return xp.logaddexp(xp.zeros_like(s), s)


@functools.cache
def _device_functions():
    """``{numpy transform: device version (xp, chunk, **keywords)}``."""
    from calibkit import _transforms as t
    from calibkit.calibrators import _base, _scaling, _temperature

    return {
        _base._exact_two_column_log_odds: lambda xp, p: (
            _log(xp, p[:, 1]) - _log(xp, p[:, 0])
        ),
        t.binary_logits: lambda xp, s: xp.stack([xp.zeros_like(s), s], axis=1),
        t.logit_difference: lambda xp, z: z[:, 1] - z[:, 0],
        t.exact_log_probabilities: _exact_log_probabilities,
        t.floored_log_probabilities: _floored_log_probabilities,
        t.floored_log_odds: _floored_log_odds,
        t.exact_log_odds: lambda xp, p: _log(xp, p) - xp.log1p(-p),
        t.safe_log: _safe_log,
        t.log_odds: lambda xp, p: _safe_log(xp, p) - _safe_log1m(xp, p),
        _temperature._binary_log_probabilities: lambda xp, p: xp.stack(
            [_safe_log1m(xp, p), _safe_log(xp, p)], axis=1
        ),
        _scaling._log_softmax: _log_softmax,
        _scaling._binary_log_softmax: lambda xp, s: xp.stack(
            [-_softplus(xp, s), -_softplus(xp, -s)], axis=1
        ),
    }


def device_function(transform):
    """The device version of a numpy chunk transform (None stays None).

    Raises NotImplementedError for a transform without one.
    """
    if transform is None:
        return None
    keywords = {}
    if isinstance(transform, functools.partial):
        keywords, transform = transform.keywords, transform.func
    try:
        found = _device_functions()[transform]
    except (KeyError, TypeError):
        raise NotImplementedError(f"no device version of {transform!r}") from None
    return functools.partial(found, **keywords) if keywords else found


def apply_transform(space, chunk, transform):
    """A device chunk in the working dtype (a new array), through ``transform``.

    ``transform`` is a numpy chunk transform, possibly scaled by a power of
    two (:func:`split_scaled`); None leaves the values as they are.
    """
    xp = space.xp
    inner, exponent = split_scaled(transform)
    x = xp.astype(chunk, space.work, copy=True)
    found = device_function(inner)
    if found is not None:
        x = found(xp, x)
    return ldexp(x, exponent)
