"""Array API inputs (torch, CuPy, JAX, array-api-strict): computing where they live.

When dispatch is on (:func:`config_context` / :func:`set_config` here, or
scikit-learn's ``set_config(array_api_dispatch=True)``), the reduction
calibrators and the pass-style metrics take arrays of any namespace that
``array-api-compat`` knows and compute in that namespace, on the array's
device. Every pass is a reduction over row chunks, as in
:mod:`calibkit._chunks`: each chunk is converted to the working dtype
(float64 where the device has it) on the device, reduced to a few numbers,
and the partial results are summed on the device; only the small result of
a pass (a loss, a gradient, a Hessian, bin totals) travels to the host,
where the Newton step of :mod:`calibkit._newton` is taken in numpy. The
``(n, K)`` matrix is never copied to the host, and a float32 input is never
copied whole to float64.

On a device without float64 (Apple's MPS) chunks are computed in float32:
each chunk's sums are tree (pairwise) reductions of the library, and the
partial results of the chunks are added in a compensated (Kahan--Babuska)
sum on the device, so that the error does not grow with the number of
chunks.

Nothing here is imported by ``import calibkit`` or ``import
calibkit.metrics``; ``array_api_compat`` is imported on the first call that
finds dispatch on.
"""

import contextlib
import functools
import sys
from dataclasses import dataclass

import numpy as np

from calibkit._chunks import is_dask, row_chunks

_CONFIG = {"array_api_dispatch": False}


def get_config():
    """Current values of calibkit's configuration.

    Returns
    -------
    dict
        ``{"array_api_dispatch": bool}``: whether calibkit's own switch for
        Array API inputs is on (scikit-learn's switch, when on, also enables
        dispatch; see :func:`set_config`).
    """
    return dict(_CONFIG)


def set_config(*, array_api_dispatch=None):
    """Set calibkit's configuration.

    Parameters
    ----------
    array_api_dispatch : bool or None, default=None
        Compute on Array API inputs (torch tensors, CuPy and JAX arrays,
        ``array_api_strict`` arrays) in their own namespace and on their own
        device, and return arrays of that namespace, instead of converting
        them to numpy. Dispatch is also on whenever scikit-learn's
        ``sklearn.set_config(array_api_dispatch=True)`` is (which needs
        ``SCIPY_ARRAY_API=1`` in the environment before scipy is imported;
        calibkit's switch does not). None leaves the value unchanged.

    See Also
    --------
    config_context : The same, for a ``with`` block.
    """
    if array_api_dispatch is not None:
        _CONFIG["array_api_dispatch"] = bool(array_api_dispatch)


@contextlib.contextmanager
def config_context(*, array_api_dispatch=None):
    """Temporarily set calibkit's configuration (see :func:`set_config`).

    Parameters
    ----------
    array_api_dispatch : bool or None, default=None
        As in :func:`set_config`; the previous value is restored on exit.

    Yields
    ------
    None

    Examples
    --------
    >>> import numpy as np
    >>> import calibkit
    >>> with calibkit.config_context(array_api_dispatch=True):
    ...     calibkit.get_config()["array_api_dispatch"]
    True
    """
    old = get_config()
    set_config(array_api_dispatch=array_api_dispatch)
    try:
        yield
    finally:
        set_config(**old)


def dispatch_enabled():
    """Whether calibkit's or scikit-learn's Array API dispatch is on."""
    if _CONFIG["array_api_dispatch"]:
        return True
    sklearn = sys.modules.get("sklearn")
    if sklearn is None:  # never imported: its switch cannot be on
        return False
    return bool(sklearn.get_config().get("array_api_dispatch", False))


@dataclass(frozen=True)
class Space:
    """Namespace, device and working dtype of an Array API input.

    Attributes
    ----------
    xp : module
        The ``array-api-compat`` namespace of the input.
    device : object
        The input's device.
    work : dtype
        Dtype of the chunk computations and accumulators: ``xp.float64``,
        or ``xp.float32`` where the device has no float64.
    """

    xp: object
    device: object
    work: object

    @property
    def compensated(self):
        """Whether sums of chunks need compensation (no float64 accumulators)."""
        return self.work != self.xp.float64

    def asarray(self, values, dtype=None):
        """A host value (numpy array, list, scalar) as an array on the device."""
        if isinstance(values, np.ndarray) and not (
            values.flags.c_contiguous and values.flags.writeable
        ):
            values = np.array(values)  # torch refuses read-only arrays
        return self.xp.asarray(values, dtype=dtype, device=self.device)

    def labels(self, codes):
        """Host class codes (intp) as int64 on the device."""
        return self.asarray(np.asarray(codes, dtype=np.int64), dtype=self.xp.int64)

    def weights(self, w):
        """Host weights (float64 or None) in the working dtype on the device."""
        return None if w is None else self.asarray(w, dtype=self.work)


def array_api_space(X):
    """The :class:`Space` of ``X`` when dispatch applies to it, else None.

    Dispatch applies when it is on (:func:`dispatch_enabled`) and ``X`` is an
    Array API array other than a numpy or dask array; numpy inputs keep
    calibkit's numpy path whatever the setting.
    """
    if not dispatch_enabled() or X is None or isinstance(X, np.ndarray | list):
        return None
    if is_dask(X):
        return None
    try:
        import array_api_compat
    except ImportError as exc:  # an optional dependency: say how to get it
        msg = (
            "Array API dispatch is on, which needs the package array-api-compat: "
            "pip install array-api-compat (or calibkit[array-api])."
        )
        raise ImportError(msg) from exc

    if not array_api_compat.is_array_api_obj(X) or array_api_compat.is_numpy_array(X):
        return None
    xp = array_api_compat.array_namespace(X)
    device = array_api_compat.device(X)
    return Space(xp, device, _work_dtype(xp, device))


def _work_dtype(xp, device):
    """float64 where the device supports it, else float32."""
    try:
        info = xp.__array_namespace_info__()
        supported = info.dtypes(device=device, kind="real floating")
        if "float64" not in supported:
            return xp.float32
    except (AttributeError, TypeError):  # an older namespace without inspection
        pass
    try:
        xp.zeros(1, dtype=xp.float64, device=device)
    except (TypeError, ValueError, RuntimeError):
        return xp.float32
    return xp.float64


def to_host(values):
    """An Array API array (or None) as a numpy array, copied to the host.

    Only for small results, labels and weights, and for the methods that sort
    (isotonic, CORP) and so need all rows on the host.
    """
    if values is None or isinstance(values, np.ndarray):
        return values
    import array_api_compat

    if array_api_compat.is_torch_array(values):
        return values.detach().cpu().numpy()
    if array_api_compat.is_cupy_array(values):
        return values.get()
    if array_api_compat.is_array_api_strict_namespace(
        array_api_compat.array_namespace(values)
    ):
        return np.from_dlpack(values)
    return np.asarray(values)


def is_on_device(value):
    """Whether ``value`` is an Array API array that is not a numpy array."""
    if value is None or isinstance(value, np.ndarray | list | tuple) or is_dask(value):
        return False
    import array_api_compat

    return array_api_compat.is_array_api_obj(value) and not (
        array_api_compat.is_numpy_array(value)
    )


def host_labels(y):
    """Labels for calibkit's label encoding: device arrays copied to the host."""
    return to_host(y) if is_on_device(y) else y


#: Bytes of working-dtype temporaries per chunk on an accelerator (CUDA, MPS,
#: ...). Larger than :data:`calibkit._chunks.CHUNK_BYTES`: each chunk costs a
#: few kernel launches, and the partial results stay on the device.
CHUNK_BYTES = 1 << 25

#: The same on a CPU device (torch on the CPU, array-api-strict): chunks that
#: stay in the caches, as numpy's do (measured with torch 2.13 at 5e4 x 100
#: float32 logits: a temperature pass takes 0.49 s with 1 MiB chunks and
#: 1.06 s with 32 MiB ones; numpy 0.29 s).
CPU_CHUNK_BYTES = 1 << 21

_ACCELERATORS = ("cuda", "gpu", "mps", "xpu", "tpu", "rocm", "hip", "metal")


def chunk_rows(n_rows, n_cols, space=None):
    """Row slices for a pass over an Array API input on ``space``'s device."""
    size = CPU_CHUNK_BYTES
    if space is not None and any(a in str(space.device).lower() for a in _ACCELERATORS):
        size = CHUNK_BYTES
    return row_chunks(n_rows, n_cols, chunk_bytes=size)


def _quiet_chunks(n_rows, n_cols, space):
    """:func:`chunk_rows`, with numpy's floating-point warnings off meanwhile.

    array-api-strict computes with numpy, which warns on ``log(0)`` and
    ``0 * inf``; the kernels handle those values themselves (as the numpy
    kernels do under ``np.errstate``), and torch never warns.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        yield from chunk_rows(n_rows, n_cols, space)


def rows_of(values, rows):
    """Rows ``rows`` (a slice) of a 1-D or 2-D array, or None."""
    if values is None:
        return None
    return values[rows] if values.ndim == 1 else values[rows, :]


class _Rows:
    """An output array filled chunk by chunk on the device.

    Written in place where arrays are mutable; JAX's are not, so its chunks
    are concatenated at the end instead.
    """

    def __init__(self, space, shape, dtype):
        import array_api_compat

        self.xp = space.xp
        self.parts = [] if array_api_compat.is_jax_namespace(space.xp) else None
        if self.parts is None:
            self.out = space.xp.empty(shape, dtype=dtype, device=space.device)

    def put(self, rows, values):
        if self.parts is None:
            self.out[rows, ...] = values
        else:
            self.parts.append(values)

    def result(self):
        if self.parts is None:
            return self.out
        return self.xp.concat(self.parts, axis=0)


def reduce_chunks(space, kernel, *arrays, n_cols, maxima=False):
    """Sum ``kernel(*chunks)`` over row chunks, on the device; result on the host.

    ``kernel`` returns a 1-D array of partial sums in ``space.work`` (with
    ``maxima``, a pair ``(sums, maxima)`` whose second part is combined by
    ``max``). Partial sums are added on the device -- in a compensated sum
    when the working dtype is float32 -- and copied to the host once.

    Returns
    -------
    ndarray (float64), or a pair of them with ``maxima``
    """
    xp = space.xp
    total = compensation = top = None
    for rows in _quiet_chunks(arrays[0].shape[0], n_cols, space):
        part = kernel(*(rows_of(a, rows) for a in arrays))
        if maxima:
            part, high = part
            top = high if top is None else xp.maximum(top, high)
        if total is None:
            total = part
            compensation = xp.zeros_like(part) if space.compensated else None
        elif compensation is None:
            total = total + part
        else:  # Kahan-Babuska (Neumaier): the rounding error of each addition
            new = total + part
            big = xp.abs(total) >= xp.abs(part)
            compensation = compensation + xp.where(
                big, (total - new) + part, (part - new) + total
            )
            total = new
    if compensation is not None:
        total = total + compensation
    sums = np.asarray(to_host(total), dtype=np.float64)
    if maxima:
        return sums, np.asarray(to_host(top), dtype=np.float64)
    return sums


def weighted_row_sums(xp, terms, w):
    """``[sum_i w_i terms[j][i]]_j`` for a list of per-row terms (1-D array)."""
    stacked = xp.stack(terms)
    if w is None:
        return xp.sum(stacked, axis=1)
    return xp.sum(stacked * w[None, :], axis=1)


def take_rows(xp, z, y):
    """``z[i, y_i]`` per row of a 2-D chunk."""
    return xp.take_along_axis(z, y[:, None], axis=1)[:, 0]


def row_logsumexp_softmax(xp, a):
    """Softmax of the rows of ``a`` (maximum subtracted first; ``-inf`` gives 0)."""
    top = xp.max(a, axis=1, keepdims=True)
    e = xp.exp(a - top)
    return e / xp.sum(e, axis=1, keepdims=True)


# --------------------------------------------------------------------------
# Validation of a float array on its device
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# Temperature scaling: the passes of calibkit._solvers.TemperatureModel
# --------------------------------------------------------------------------


def _as_logits(space, z, scale):
    """A chunk in the working dtype (a new array), 1-D log-odds as ``(0, s)``."""
    xp = space.xp
    z = xp.astype(z, space.work, copy=True)
    if scale != 1.0:
        z = z * float(scale)
    if z.ndim == 1:
        z = xp.stack([xp.zeros_like(z), z], axis=1)
    return z


def _temperature_kernel(z, y, w, *, space, beta, with_limits, eps, scale):
    """Partial sums of :func:`calibkit._solvers._logit_kernel`, in ``space``."""
    xp = space.xp
    beta = None if beta is None else float(beta)  # numpy scalars would take over
    z = _as_logits(space, z, scale)
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
    :func:`calibkit._newton.minimize_scalar`.
    """

    def __init__(self, space, logits, y, w, eps, total_weight, scale=1.0):
        self.space, self.logits, self.y, self.w = space, logits, y, w
        self.eps, self.total_weight, self.scale = eps, total_weight, scale
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
                scale=self.scale,
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


def fit_inverse_temperature(
    logits, y, *, sample_weight=None, transform=None, max_iter=100, eps=None
):
    """:func:`calibkit._solvers.fit_inverse_temperature` for logits on a device.

    ``logits`` is an Array API array; ``y`` (class codes) and
    ``sample_weight`` are host arrays and are copied to the device once (``n``
    numbers each). Same solver, same starting point (the fit on an evenly
    spaced subsample of rows) and same result, to rounding.
    """
    import dataclasses

    from calibkit._newton import minimize_scalar
    from calibkit._solvers import (
        MIN_SUBSAMPLE_ROWS,
        SUBSAMPLE_ROWS,
        _first_pass,
        scale_exponent,
    )

    if transform is not None:  # pragma: no cover - callers pass logits only
        raise NotImplementedError("transforms of device arrays")
    space = array_api_space(logits)
    weight = float(logits.shape[0]) if sample_weight is None else sample_weight.sum()
    y_dev, w_dev = space.labels(y), space.weights(sample_weight)
    eps_dev = None if eps is None else space.asarray(eps, dtype=space.work)

    beta = None
    n = logits.shape[0]
    n_sub = min(SUBSAMPLE_ROWS, n // 32)
    if n_sub >= MIN_SUBSAMPLE_ROWS:
        idx = np.linspace(0, n - 1, n_sub).astype(np.intp)
        weights = None if sample_weight is None else sample_weight[idx]
        if weights is None or np.any(weights > 0):
            rows = space.asarray(idx.astype(np.int64), dtype=space.xp.int64)
            try:
                sub = fit_inverse_temperature(
                    space.xp.take(logits, rows, axis=0),
                    y[idx],
                    sample_weight=weights,
                    max_iter=max_iter,
                    eps=eps,
                )
            except ValueError:
                sub = None
            if sub is not None and sub.status == "optimum" and sub.converged:
                beta = float(sub.theta[0])

    def passes_at(scale):
        return TemperaturePasses(space, logits, y_dev, w_dev, eps_dev, weight, scale)

    passes = passes_at(1.0)
    limits = _first_pass(passes, beta)
    exponent = scale_exponent(passes.magnitude)
    if exponent:
        passes = passes_at(2.0**-exponent)
        beta = None if beta is None else float(np.ldexp(beta, exponent))
        limits = _first_pass(passes, beta)
    solution = minimize_scalar(passes, beta, limits, max_iter=max_iter, n_iter=0)
    with np.errstate(over="ignore"):
        beta = float(np.ldexp(solution.theta[0], -exponent))
    magnitude = np.ldexp(passes.magnitude, exponent)
    if solution.status == "optimum" and not 0.0 < beta < np.inf:
        msg = (
            f"The logits in X are too close to zero (largest magnitude about "
            f"{magnitude:.3g}) for the inverse temperature to be represented in "
            "float64; multiply them by a constant (the temperature is "
            "scale-equivariant)."
        )
        raise ValueError(msg)
    if solution.status == "optimum" and beta < np.finfo(np.float64).tiny:
        msg = (
            f"The logits in X are too large (largest magnitude about "
            f"{magnitude:.3g}) for the fitted temperature (above 4.4e307) to be "
            "represented in float64; divide them by a constant (the temperature "
            "is scale-equivariant)."
        )
        raise ValueError(msg)
    return dataclasses.replace(solution, theta=np.array([beta]))


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
        z = _as_logits(space, rows_of(X, rows), 1.0)
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


def host_float64(values):
    """``values`` (host or device, 1-D) as a float64 numpy array on the host."""
    return np.asarray(to_host(values) if is_on_device(values) else values, np.float64)


def _first_rows(space, mask_kernel, *arrays, n_cols, limit=5):
    """Indices of the first ``limit`` rows where ``mask_kernel(*chunks)`` holds.

    A second pass, made only to name rows in an error or warning.
    """
    found = []
    for rows in _quiet_chunks(arrays[0].shape[0], n_cols, space):
        mask = to_host(mask_kernel(*(rows_of(a, rows) for a in arrays)))
        found += (rows.start + np.flatnonzero(mask)[: limit - len(found)]).tolist()
        if len(found) >= limit:
            break
    return found


# --------------------------------------------------------------------------
# Probabilities on a device: check_probabilities
# --------------------------------------------------------------------------


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


def softmax_probabilities(z):
    """Probabilities of logits on the device, in their dtype (chunked).

    1-D log-odds give the sigmoid (a 1-D array); 2-D logits the row softmax.
    """
    space = array_api_space(z)
    xp = space.xp
    if z.ndim == 2:
        return tempered_softmax(z, 1.0, z.shape[1])
    out = _Rows(space, z.shape, z.dtype)
    for rows in _quiet_chunks(z.shape[0], 2, space):
        s = xp.astype(z[rows], space.work)
        e = xp.exp(-xp.abs(s))
        p = xp.where(s >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        out.put(rows, xp.astype(p, z.dtype))
    return out.result()


# --------------------------------------------------------------------------
# Metrics: the kernels of calibkit.metrics._kernels, on the device
# --------------------------------------------------------------------------


def _column_is(xp, y, k, space):
    """Boolean ``(n, k)`` mask of each row's class column."""
    columns = xp.arange(k, dtype=xp.int64, device=space.device)
    return columns[None, :] == y[:, None]


def _row_log_losses(space, prob, y, input):
    """Per-row log-loss of a chunk (``inf`` where certain and wrong)."""
    xp = space.xp
    z = xp.astype(prob, space.work)
    if input == "logits":
        if z.ndim == 1:
            signed = xp.where(y == 1, -z, z)
            return xp.logaddexp(xp.zeros_like(signed), signed)
        top = xp.argmax(z, axis=1)
        z_max = take_rows(xp, z, top)
        others = xp.exp(z - z_max[:, None])
        others = xp.where(_column_is(xp, top, z.shape[1], space), 0.0, others)
        return (z_max - take_rows(xp, z, y)) + xp.log1p(xp.sum(others, axis=1))
    if z.ndim == 1:
        return xp.where(y == 1, -xp.log(z), -xp.log1p(-z))
    return -xp.log(take_rows(xp, z, y))


def log_loss_sum(prob, y, w, *, input="probabilities"):
    """:func:`calibkit.metrics._kernels.log_loss_sum` for ``prob`` on a device."""
    space = array_api_space(prob)
    xp = space.xp
    y_dev, w_dev = space.labels(y), space.weights(w)
    n_cols = 1 if prob.ndim == 1 else prob.shape[1]

    def infinite(chunk, labels, weights):
        loss = _row_log_losses(space, chunk, labels, input)
        bad = xp.isinf(loss)
        return bad if weights is None else bad & (weights > 0)

    def kernel(chunk, labels, weights):
        loss = _row_log_losses(space, chunk, labels, input)
        bad = xp.isinf(loss)
        if weights is not None:
            bad = bad & (weights > 0)
            loss = weights * loss
        good = xp.where(bad, xp.zeros_like(loss), loss)
        if weights is not None:  # 0 * inf on rows of zero weight
            good = xp.where(weights > 0, good, xp.zeros_like(good))
        return xp.stack([xp.sum(good), xp.sum(xp.astype(bad, space.work))])

    total, n_inf = reduce_chunks(space, kernel, prob, y_dev, w_dev, n_cols=n_cols)
    first = []
    if n_inf:
        first = _first_rows(space, infinite, prob, y_dev, w_dev, n_cols=n_cols)
    return float(total), int(n_inf), first


def brier_sum(prob, y, w):
    """Weighted sum of the squared errors of ``prob`` on a device."""
    space = array_api_space(prob)
    xp = space.xp

    def kernel(chunk, labels, weights):
        q = xp.astype(chunk, space.work)
        if q.ndim == 1:
            error = q - xp.astype(labels, space.work)
            rows = error * error
        else:
            error = xp.where(_column_is(xp, labels, q.shape[1], space), q - 1.0, q)
            rows = xp.sum(error * error, axis=1)
        return xp.reshape(xp.sum(rows if weights is None else weights * rows), (1,))

    n_cols = 1 if prob.ndim == 1 else prob.shape[1]
    args = (prob, space.labels(y), space.weights(w))
    return float(reduce_chunks(space, kernel, *args, n_cols=n_cols)[0])


def _top_label_chunk(space, chunk):
    """Predicted class and its probability per row of a chunk (working dtype)."""
    xp = space.xp
    q = xp.astype(chunk, space.work)
    if q.ndim == 1:
        complement = 1.0 - q
        return xp.astype(q > complement, xp.int64), xp.maximum(q, complement)
    predicted = xp.argmax(q, axis=1)
    return predicted, take_rows(xp, q, predicted)


def top_label_outcomes(prob, y):
    """Top-label confidence and correctness per row, computed on the device.

    Returns two float64 numpy vectors (``n`` numbers each): the reduction of
    the ``(n, K)`` forecasts to what the binned and sorting-based methods
    need, for the paths that run on the host (weights, equal-mass bins,
    isotonic curves).
    """
    space = array_api_space(prob)
    xp = space.xp
    y_dev = space.labels(y)
    n_cols = 1 if prob.ndim == 1 else prob.shape[1]
    x = np.empty(prob.shape[0])
    t = np.empty(prob.shape[0])
    for rows in _quiet_chunks(prob.shape[0], n_cols, space):
        predicted, confidence = _top_label_chunk(space, rows_of(prob, rows))
        x[rows] = to_host(confidence)
        t[rows] = to_host(xp.astype(predicted == y_dev[rows], space.work))
    return x, t


def _bin_numbers(space, x, n_bins):
    """:meth:`calibkit.metrics._binning.Binning.number` (uniform) on the device."""
    xp = space.xp
    last = float(n_bins - 1)
    step = 1.0 / n_bins
    k = xp.clip(xp.floor(x * float(n_bins)), 0.0, last)
    for _ in range(2):
        k = k - xp.astype((k > 0) & (x < k * step), space.work)
        k = k + xp.astype((k < last) & (x >= (k + 1.0) * step), space.work)
    return k


def uniform_bin_totals(prob, y, n_bins, *, top):
    """Per-bin ``[count, sum x, sum t]`` of unit-weight rows, on the device.

    As :func:`calibkit.metrics._reliability._streamed_bins`: equal-width bins
    on [0, 1], top-label (``top``) or the 1-D forecast itself. Each chunk's
    bins are counted by a product with the one-hot bin matrix (the standard
    has no ``bincount``).
    """
    space = array_api_space(prob)
    xp = space.xp
    centers = xp.arange(n_bins, dtype=space.work, device=space.device)

    def kernel(chunk, labels):
        if top:
            predicted, x = _top_label_chunk(space, chunk)
            t = xp.astype(predicted == labels, space.work)
        else:
            x, t = xp.astype(chunk, space.work), xp.astype(labels, space.work)
        onehot = xp.astype(_bin_numbers(space, x, n_bins)[:, None] == centers, x.dtype)
        return xp.reshape(xp.stack([xp.ones_like(x), x, t]) @ onehot, (-1,))

    n_cols = (1 if prob.ndim == 1 else prob.shape[1]) + n_bins
    totals = reduce_chunks(space, kernel, prob, space.labels(y), n_cols=n_cols)
    return totals.reshape(3, n_bins)


# --------------------------------------------------------------------------
# Information quantities on the device
# --------------------------------------------------------------------------

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


# --------------------------------------------------------------------------
# Vector and matrix scaling (Dirichlet calibration): the passes of
# calibkit._softmax_models on the device
# --------------------------------------------------------------------------


def _device_transform(transform):
    """The device counterpart of a calibrator's per-chunk numpy transform.

    Only the transforms of logits exist here (the calibrators take
    probabilities on the host): ``(0, s)`` for 1-D log-odds, and Dirichlet
    calibration's log-softmax.
    """
    from calibkit._transforms import binary_logits
    from calibkit.calibrators._scaling import _binary_log_softmax, _log_softmax

    if transform is None or transform is binary_logits:
        return None
    if transform in (_log_softmax, _binary_log_softmax):
        return "log_softmax"
    raise NotImplementedError(f"no device version of {transform!r}")


def _features(space, z, transform):
    """A chunk's features in the working dtype: logits or their log-softmax."""
    xp = space.xp
    x = _as_logits(space, z, 1.0)
    if transform == "log_softmax":
        shifted = x - xp.max(x, axis=1, keepdims=True)
        x = shifted - xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))
    return x


def _softmax_residual(space, a, y, eps):
    """Per-row loss, ``q = softmax(a)`` and ``r = q - t`` (one-hot or smoothed)."""
    xp = space.xp
    k = a.shape[1]
    top = xp.max(a, axis=1)
    e = xp.exp(a - top[:, None])
    total = xp.sum(e, axis=1)
    q = e / total[:, None]
    truth = take_rows(xp, a, y)
    onehot = xp.astype(_column_is(xp, y, k, space), a.dtype)
    if eps is None:
        return xp.log(total) + top - truth, q, q - onehot
    eps_y = xp.take(eps, y)
    share = eps_y / (k - 1)
    rest = xp.sum(a - top[:, None], axis=1) - (truth - top)
    loss = xp.log(total) - (1.0 - eps_y) * (truth - top) - share * rest
    r = q - share[:, None] - (1.0 - eps_y - share)[:, None] * onehot
    return loss, q, r


def _curvature_times(xp, q, da):
    s = q * da
    return s - q * xp.sum(s, axis=1, keepdims=True)


def _weights(space, w, n):
    return xp_ones(space, n) if w is None else w


def xp_ones(space, n):
    """Unit weights in the working dtype on the device."""
    return space.xp.ones(n, dtype=space.work, device=space.device)


class _DeviceScalingModel:
    """Passes of a :mod:`calibkit._softmax_models` scaling model on a device.

    Mixed into a subclass of the numpy model, whose set-up (parameter count,
    penalty, gauge) is reused; the kernels run on the device and return
    sums that :meth:`evaluate` assembles into the dense Hessian on the host.
    """

    def _device_setup(self, space, logits, y, w, transform):
        self.space = space
        self.device_arrays = (logits, space.labels(y), space.weights(w))
        self.device_transform = _device_transform(transform)
        self.device_eps = (
            None if self.eps is None else space.asarray(self.eps, dtype=space.work)
        )

    def _reduce(self, kernel, n_cols):
        sums = reduce_chunks(self.space, kernel, *self.device_arrays, n_cols=n_cols)
        return sums / self.total_weight

    def _chunk(self, z, w):
        x = _features(self.space, z, self.device_transform)
        return x, _weights(self.space, w, x.shape[0])

    def _theta(self, theta):
        return self.space.asarray(np.asarray(theta, np.float64), self.space.work)

    def evaluate(self, theta):
        """Mean loss (plus penalty), gradient and dense Hessian: one pass."""
        theta = np.asarray(theta, np.float64)
        means = self._reduce(
            functools.partial(self.device_kernel, theta=theta), self.n_cols
        )
        loss, grad, hess = self.assemble(means)
        hess = 0.5 * (hess + hess.T)
        value, pgrad, pdiag = self.penalty(theta)
        hess[np.diag_indices_from(hess)] += pdiag
        return float(loss) + value, grad + pgrad, hess


def _vector_logits(xp, x, theta, k):
    return theta[:k] * x + theta[k:]


def vector_scaling_model(space, logits, y, sample_weight, **options):
    """A :class:`calibkit._softmax_models.VectorScalingModel` on the device."""
    from calibkit._softmax_models import VectorScalingModel

    class DeviceVectorScalingModel(_DeviceScalingModel, VectorScalingModel):
        def device_kernel(self, z, y, w, *, theta):
            xp = self.space.xp
            x, w = self._chunk(z, w)
            k = self.n_classes
            a = _vector_logits(xp, x, self._theta(theta), k)
            loss, q, r = _softmax_residual(self.space, a, y, self.device_eps)
            v = xp.concat([q * x, q], axis=1)
            hess = (v * w[:, None]).T @ v
            qx = q * x
            return xp.concat(
                [
                    xp.reshape(w @ loss, (1,)),
                    w @ (r * x),
                    w @ r,
                    xp.reshape(hess, (-1,)),
                    w @ (qx * x),
                    w @ qx,
                    w @ q,
                ]
            )

        def assemble(self, means):
            k, p = self.n_classes, self.n_params
            loss, grad = means[0], means[1 : p + 1]
            hess = -means[p + 1 : p + 1 + p * p].reshape(p, p)
            qxx, qx, q = means[p + 1 + p * p :].reshape(3, k)
            diag = np.arange(k)
            hess[diag, diag] += qxx
            hess[diag, diag + k] += qx
            hess[diag + k, diag] += qx
            hess[diag + k, diag + k] += q
            return loss, grad, hess

        def grad_kernel(self, z, y, w, *, theta):
            xp = self.space.xp
            x, w = self._chunk(z, w)
            k = self.n_classes
            a = _vector_logits(xp, x, self._theta(theta), k)
            loss, q, r = _softmax_residual(self.space, a, y, self.device_eps)
            c = q * (1.0 - q) * w[:, None]
            cx = c * x
            parts = [w @ (r * x), w @ r]
            parts += [xp.sum(cx * x, axis=0), xp.sum(c, axis=0), xp.sum(cx, axis=0)]
            return xp.concat([xp.reshape(w @ loss, (1,)), *parts])

        def hessp_kernel(self, z, y, w, *, theta, d):
            xp = self.space.xp
            x, w = self._chunk(z, w)
            k = self.n_classes
            _, q, _ = _softmax_residual(
                self.space, _vector_logits(xp, x, self._theta(theta), k), y, None
            )
            d = self._theta(d)
            s = _curvature_times(xp, q, d[:k] * x + d[k:])
            return xp.concat([w @ (s * x), w @ s])

    transform = options.pop("transform", None)
    model = DeviceVectorScalingModel(logits, y, sample_weight, **options)
    model._device_setup(space, logits, y, sample_weight, transform)
    return model


def matrix_scaling_model(space, logits, y, sample_weight, **options):
    """A :class:`calibkit._softmax_models.MatrixScalingModel` on the device."""
    from calibkit._softmax_models import MatrixScalingModel

    def split(xp, theta, k):
        return xp.reshape(theta[: k * k], (k, k)), theta[k * k :]

    class DeviceMatrixScalingModel(_DeviceScalingModel, MatrixScalingModel):
        def device_kernel(self, z, y, w, *, theta):
            xp = self.space.xp
            x, w = self._chunk(z, w)
            n, k = x.shape
            weights, bias = split(xp, self._theta(theta), k)
            loss, q, r = _softmax_residual(
                self.space, x @ weights.T + bias, y, self.device_eps
            )
            ones = xp.ones((n, 1), dtype=x.dtype, device=self.space.device)
            x1 = xp.concat([x, ones], axis=1)
            grad = xp.reshape((r * w[:, None]).T @ x1, (-1,))
            u = xp.reshape(q[:, :, None] * x1[:, None, :], (n, -1))
            hess = (u * w[:, None]).T @ u
            # The block diagonal sum_i w q_c x x^T for every class c at once.
            wq = q * w[:, None]
            blocks = _class_blocks(xp, wq, x1)
            return xp.concat(
                [xp.reshape(w @ loss, (1,)), grad, xp.reshape(hess, (-1,)), blocks]
            )

        def assemble(self, means):
            k, p = self.n_classes, self.n_params
            size = k + 1
            loss, grad = means[0], means[1 : p + 1]
            hess = -means[p + 1 : p + 1 + p * p].reshape(p, p)
            blocks = means[p + 1 + p * p :].reshape(k, size, size)
            for c in range(k):
                block = slice(c * size, (c + 1) * size)
                hess[block, block] += blocks[c]
            order = self._order
            return loss, grad[order], hess[np.ix_(order, order)]

        def grad_kernel(self, z, y, w, *, theta):
            xp = self.space.xp
            x, w = self._chunk(z, w)
            k = self.n_classes
            weights, bias = split(xp, self._theta(theta), k)
            loss, q, r = _softmax_residual(
                self.space, x @ weights.T + bias, y, self.device_eps
            )
            r = r * w[:, None]
            c = q * (1.0 - q) * w[:, None]
            parts = [
                xp.reshape(w @ loss, (1,)),
                xp.reshape(r.T @ x, (-1,)),
                xp.sum(r, axis=0),
                xp.reshape(c.T @ (x * x), (-1,)),
                xp.sum(c, axis=0),
            ]
            return xp.concat(parts)

        def hessp_kernel(self, z, y, w, *, theta, d):
            xp = self.space.xp
            x, w = self._chunk(z, w)
            k = self.n_classes
            weights, bias = split(xp, self._theta(theta), k)
            _, q, _ = _softmax_residual(self.space, x @ weights.T + bias, y, None)
            d_weights, d_bias = split(xp, self._theta(d), k)
            s = _curvature_times(xp, q, x @ d_weights.T + d_bias) * w[:, None]
            return xp.concat([xp.reshape(s.T @ x, (-1,)), xp.sum(s, axis=0)])

    transform = options.pop("transform", None)
    model = DeviceMatrixScalingModel(logits, y, sample_weight, **options)
    model._device_setup(space, logits, y, sample_weight, transform)
    return model


def _class_blocks(xp, wq, x1):
    """``[sum_i wq[i, c] x1_i x1_i^T for c]``, flattened (``k (k+1)^2`` values)."""
    blocks = [(x1 * wq[:, c : c + 1]).T @ x1 for c in range(wq.shape[1])]
    return xp.reshape(xp.stack(blocks), (-1,))


def scaling_model(kind, logits, y, sample_weight, **options):
    """The device model of vector (``kind="vector"``) or matrix scaling."""
    space = array_api_space(logits)
    if kind == "vector":
        options.pop("reg", None)
        return vector_scaling_model(space, logits, y, sample_weight, **options)
    return matrix_scaling_model(space, logits, y, sample_weight, **options)


def affine_softmax(X, transform, coef, intercept):
    """``softmax(W x + b)`` (``coef`` 1-D: ``w * x + b``) of ``X`` on its device.

    In ``X``'s dtype, chunk by chunk; ``transform`` as for the models.
    """
    space = array_api_space(X)
    xp = space.xp
    kind = _device_transform(transform)
    coef_dev = space.asarray(np.asarray(coef, np.float64), space.work)
    bias = space.asarray(np.asarray(intercept, np.float64), space.work)
    k = bias.shape[0]
    out = _Rows(space, (X.shape[0], k), X.dtype)
    for rows in _quiet_chunks(X.shape[0], 2 * k, space):
        x = _features(space, rows_of(X, rows), kind)
        a = x * coef_dev + bias if coef_dev.ndim == 1 else x @ coef_dev.T + bias
        out.put(rows, xp.astype(row_logsumexp_softmax(xp, a), X.dtype))
    return out.result()


def held_out_loss(X, y, w, transform, coef, intercept):
    """Weighted sum of the log-losses of ``softmax(W x + b)`` (cross-validation)."""
    space = array_api_space(X)
    xp = space.xp
    kind = _device_transform(transform)
    coef_dev = space.asarray(np.asarray(coef, np.float64), space.work)
    bias = space.asarray(np.asarray(intercept, np.float64), space.work)

    def kernel(z, labels, weights):
        x = _features(space, z, kind)
        a = x * coef_dev + bias if coef_dev.ndim == 1 else x @ coef_dev.T + bias
        loss, _, _ = _softmax_residual(space, a, labels, None)
        return xp.reshape(weights @ loss, (1,))

    args = (X, space.labels(y), space.weights(np.asarray(w, np.float64)))
    return float(reduce_chunks(space, kernel, *args, n_cols=2 * bias.shape[0])[0])


def fold_keys(X, y, transform):
    """Per row: the true class's feature and the row sum (two host vectors)."""
    space = array_api_space(X)
    xp = space.xp
    kind = _device_transform(transform)
    y_dev = space.labels(y)
    keys = np.empty((X.shape[0], 2))
    n_cols = 2 * (1 if X.ndim == 1 else X.shape[1])
    for rows in _quiet_chunks(X.shape[0], n_cols, space):
        x = _features(space, rows_of(X, rows), kind)
        pair = xp.stack([take_rows(xp, x, y_dev[rows]), xp.sum(x, axis=1)], axis=1)
        keys[rows] = to_host(pair)
    return keys
