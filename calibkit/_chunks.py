"""Row chunks for passes over large arrays.

Every pass over the data (solver iterations, metrics) walks the rows in chunks
so that a float32 or memory-mapped input is never copied whole: only one chunk
at a time is converted to float64.

:func:`reduce_rows` runs such a pass as a reduction: a kernel maps each chunk to
a small array of partial results, which are combined (summed by default).
When the first array is a ``dask.array``, each of its row blocks is reduced in
a task where the block lives and only the partial results travel.
"""

import functools
import itertools

import numpy as np

#: Bytes of float64 work space a chunk may occupy (per temporary array).
CHUNK_BYTES = 1 << 20


def row_chunks(n_rows, n_cols=1, *, chunk_bytes=None):
    """Yield slices that cover ``range(n_rows)`` in consecutive chunks.

    Parameters
    ----------
    n_rows : int
        Number of rows to cover.
    n_cols : int, default=1
        Number of columns per row; chunks hold about ``chunk_bytes / (8 * n_cols)``
        rows so that a float64 temporary of one chunk stays near ``chunk_bytes``.
    chunk_bytes : int or None
        Target size in bytes of one float64 chunk; default :data:`CHUNK_BYTES`
        (read at call time).

    Yields
    ------
    slice
        ``slice(start, stop)`` with ``stop - start >= 1``.
    """
    if chunk_bytes is None:
        chunk_bytes = CHUNK_BYTES
    rows_per_chunk = max(1, int(chunk_bytes // (8 * max(1, n_cols))))
    for start in range(0, n_rows, rows_per_chunk):
        yield slice(start, min(start + rows_per_chunk, n_rows))


def as_float64(chunk):
    """Return ``chunk`` as a float64 array (a copy only when its dtype differs)."""
    return np.asarray(chunk, dtype=np.float64)


def row_sum(a):
    """Row sums of a 2-D array, by the fastest numpy route for its width.

    ``a.sum(axis=1)`` is slow on narrow rows; ``einsum`` is several times faster
    there and slower on wide rows.
    """
    return np.einsum("ij->i", a) if a.shape[1] <= 256 else a.sum(axis=1)


def row_max(a):
    """Row maxima of a 2-D array; a loop over columns is faster on narrow rows."""
    if a.shape[1] > 16:
        return a.max(axis=1)
    out = a[:, 0].copy()
    for j in range(1, a.shape[1]):
        np.maximum(out, a[:, j], out=out)
    return out


def is_dask(array):
    """Whether ``array`` is a ``dask.array.Array`` (without importing dask)."""
    return type(array).__module__.startswith("dask.") and hasattr(array, "blocks")


def combine_sum_max(a, b):
    """Combine partial results stacked as ``[sums, maxima]``."""
    return np.stack([a[0] + b[0], np.maximum(a[1], b[1])])


def _reduce_in_memory(kernel, arrays, n_cols, combine, offset):
    first = arrays[0]
    result = None
    for rows in row_chunks(first.shape[0], n_cols):
        chunks = [None if a is None else a[rows] for a in arrays]
        where = slice(rows.start + offset, rows.stop + offset)
        part = kernel(where, *chunks)
        result = part if result is None else combine(result, part)
    return result


def _on_device(values):
    """Whether ``values`` is an Array API array on a device (dispatch on)."""
    if isinstance(values, np.ndarray) or is_dask(values):
        return False
    from calibkit._array_api import dispatch_enabled, is_on_device

    return dispatch_enabled() and is_on_device(values)


def reduce_rows(kernel, *arrays, n_cols=None, combine=np.add):
    """Combine ``kernel(rows, *chunks)`` over row chunks of ``arrays``.

    Parameters
    ----------
    kernel : callable
        ``kernel(rows, *chunks) -> ndarray``: ``rows`` is the slice of global
        row indices of the chunk; ``chunks`` are the corresponding rows of
        ``arrays`` (``None`` stays ``None``). Must not modify its inputs.
    *arrays : ndarray, dask array or None
        Arrays with the same number of rows. When the first is a dask array,
        the others are sliced to its row blocks.
    n_cols : int or None
        Row width used to size chunks; default: the first array's.
    combine : callable, default=np.add
        Associative combination of two partial results.

    Returns
    -------
    ndarray
        The combined partial results.
    """
    first = arrays[0]
    if n_cols is None:
        n_cols = 1 if first.ndim == 1 else first.shape[1]
    if _on_device(first):  # the device version of the kernel, where X lives
        from calibkit._array_api._passes import device_reduce_rows

        return device_reduce_rows(kernel, arrays, n_cols, combine)
    if not is_dask(first):
        return _reduce_in_memory(kernel, arrays, n_cols, combine, 0)
    import dask

    if first.ndim == 2:
        first = first.rechunk({1: -1})
    bounds = np.cumsum((0, *first.chunks[0]))
    parts = []
    for i, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        block_arrays = [first.blocks[i]]
        block_arrays += [None if a is None else a[lo:hi] for a in arrays[1:]]
        parts.append(
            dask.delayed(_reduce_in_memory)(
                kernel, block_arrays, n_cols, combine, int(lo)
            )
        )
    return dask.delayed(functools.reduce)(combine, parts).compute()
