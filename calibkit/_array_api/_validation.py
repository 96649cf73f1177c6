"""Validation of float arrays and probabilities on their device."""

import numpy as np

from calibkit._array_api._namespace import (
    _first_rows,
    _quiet_chunks,
    _Rows,
    reduce_chunks,
    to_host,
)


def check_device_array(X, *, name, space, ndim=(1, 2)):
    """:func:`calibkit._validation.check_float_array` for an array on a device.

    Integer and boolean arrays become the working dtype; float32 and float64
    are kept as they are (no copy). Non-finite values are counted on the
    device; only their number and first rows travel.
    """
    xp = space.xp
    if xp.isdtype(X.dtype, "complex floating"):
        msg = f"{name} holds complex numbers. Complex data not supported."
        raise ValueError(msg)
    if X.dtype not in (xp.float32, xp.float64):  # integers, booleans, float16
        X = xp.astype(X, space.work)
    if X.ndim not in ndim:
        shapes = " or ".join(f"{d}-D" for d in ndim)
        msg = f"{name} must be {shapes}; got an array of shape {tuple(X.shape)}."
        raise ValueError(msg)
    if X.shape[0] == 0:
        msg = f"{name} is empty (shape {tuple(X.shape)}); at least one row is needed."
        raise ValueError(msg)
    if X.ndim == 2 and X.shape[1] == 0:
        msg = (
            f"{name} has 0 feature(s) (shape={tuple(X.shape)}) while a minimum of 1 "
            "is required."
        )
        raise ValueError(msg)
    finite = xp.isfinite(X)
    if X.ndim == 2:
        finite = xp.all(finite, axis=1)
    n_bad = int(xp.sum(xp.astype(~finite, xp.int64)))
    if n_bad:
        bad = to_host(~finite)  # one boolean per row, only to name the rows
        rows_text = ", ".join(map(str, np.flatnonzero(bad)[:5].tolist()))
        msg = (
            f"{name} contains non-finite values (NaN or inf) in {n_bad} rows; "
            f"first at rows {rows_text}."
        )
        raise ValueError(msg)
    return X


def looks_like_probabilities(X, space):
    """Device version of :func:`calibkit._validation.looks_like_probabilities`."""
    xp = space.xp
    if X.ndim == 2 and X.shape[1] < 2:
        return False
    if not (bool(xp.min(X) >= 0) and bool(xp.max(X) <= 1)):
        return False
    if X.ndim == 1:
        return True
    deviation = 0.0
    for rows in _quiet_chunks(X.shape[0], X.shape[1], space):
        sums = xp.sum(xp.astype(X[rows, :], space.work), axis=1)
        deviation = max(deviation, float(xp.max(xp.abs(sums - 1.0))))
    return deviation <= 1e-3


def check_device_probabilities(P, *, name, space, row_sums=True):
    """:func:`calibkit._validation.check_probabilities` on the device.

    Same rules and messages: values in [0, 1]; rows of a 2-D ``P`` summing to
    1 within ``K * 1e-6`` are used as they are, within ``1e-3`` divided by
    their sums (a new array on the device, same dtype, with the warning),
    further off refused.
    """
    import warnings

    from calibkit._validation import (
        ROW_SUM_ATOL,
        InputError,
        external_stacklevel,
        row_sum_noise,
    )
    from calibkit.exceptions import CalibrationWarning

    xp = space.xp
    check_2d = row_sums and P.ndim == 2
    atol = ROW_SUM_ATOL[np.dtype(np.float64)] if check_2d else None
    noise = row_sum_noise(P.shape[1]) if check_2d else None
    n_cols = 1 if P.ndim == 1 else P.shape[1]
    slack = n_cols * float(np.finfo(np.float64).eps)

    def outside(chunk):
        bad = (chunk < 0) | (chunk > 1)
        return xp.any(bad, axis=1) if bad.ndim == 2 else bad

    def deviation(chunk):
        return xp.abs(xp.sum(xp.astype(chunk, space.work), axis=1) - 1.0)

    def off(chunk):
        return ~(deviation(chunk) <= atol + slack)

    def count(mask):
        return xp.sum(xp.astype(mask, space.work))

    def kernel(chunk):
        sums = [count(outside(chunk))]
        if not check_2d:
            return xp.stack(sums), xp.zeros(1, dtype=space.work, device=space.device)
        dev = deviation(chunk)
        far = ~(dev <= atol + slack)
        fix = (dev > noise) & ~far
        largest = xp.max(xp.where(fix, dev, xp.zeros_like(dev)), keepdims=True)
        return xp.stack([*sums, count(far), count(fix)]), largest

    totals, largest = reduce_chunks(space, kernel, P, n_cols=n_cols, maxima=True)
    if totals[0]:
        row = _first_rows(space, outside, P, n_cols=n_cols, limit=1)[0]
        value = np.atleast_1d(to_host(P[row, ...]))
        bad = float(value[(value < 0) | (value > 1)][0])
        raise InputError(
            name,
            f"must hold probabilities in [0, 1]; row {row} has {bad!r} "
            f"({int(totals[0])} rows are outside).",
            hint="Pass logits with {input} where the estimator supports it.",
            fix={"input": "logits"},
        )
    if not check_2d:
        return P
    if totals[1]:
        row = _first_rows(space, off, P, n_cols=n_cols, limit=1)[0]
        first_sum = float(xp.sum(xp.astype(P[row, :], space.work)))
        raise InputError(
            name,
            f"rows must sum to 1 (tolerance {atol:g}); row {row} sums to "
            f"{first_sum:.10g} ({int(totals[1])} rows are off).",
            hint="Renormalise the rows, or pass logits if these are scores.",
        )
    if not totals[2]:
        return P

    def fixable(chunk):
        return deviation(chunk) > noise

    first = _first_rows(space, fixable, P, n_cols=n_cols, limit=1)[0]
    warning = CalibrationWarning(
        argument=name,
        problem=f": {int(totals[2])} rows did not sum to 1 (largest deviation "
        f"{float(largest[0]):.2g}, first at row {first}), as when probabilities "
        f"are saved with few decimals; they were divided by their sums. Rows "
        f"off by more than {atol:g} are refused.",
    )
    warnings.warn(warning, stacklevel=external_stacklevel())
    out = _Rows(space, P.shape, P.dtype)
    for rows in _quiet_chunks(P.shape[0], n_cols, space):
        chunk = xp.astype(P[rows, :], space.work)
        sums = xp.sum(chunk, axis=1, keepdims=True)
        fixed = xp.where(xp.abs(sums - 1.0) > noise, chunk / sums, chunk)
        out.put(rows, xp.astype(fixed, P.dtype))
    return out.result()


def check_device_forecasts(y_prob, *, name, space, input):
    """The float and probability checks of a metric's forecasts on the device."""
    prob = check_device_array(y_prob, name=name, space=space)
    if input == "probabilities":
        prob = check_device_probabilities(prob, name=name, space=space)
    return prob
