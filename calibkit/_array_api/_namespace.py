"""Namespace, device and chunked reductions of an Array API input."""

from dataclasses import dataclass

import numpy as np

from calibkit._array_api._config import dispatch_enabled
from calibkit._chunks import is_dask, row_chunks


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


def _column_is(xp, y, k, space):
    """Boolean ``(n, k)`` mask of each row's class column."""
    columns = xp.arange(k, dtype=xp.int64, device=space.device)
    return columns[None, :] == y[:, None]


def xp_ones(space, n):
    """Unit weights in the working dtype on the device."""
    return space.xp.ones(n, dtype=space.work, device=space.device)


def ldexp(z, exponent):
    """``z * 2**exponent`` (exact, barring subnormals), as :func:`numpy.ldexp`.

    In two factors, so that each is a finite float64 for any exponent that
    :func:`calibkit._solvers.scale_exponent` gives.
    """
    if exponent == 0:
        return z
    half = int(exponent) // 2
    return (z * 2.0**half) * 2.0 ** (int(exponent) - half)
