"""Row chunks for passes over large arrays.

Every pass over the data (solver iterations, metrics) walks the rows in chunks
so that a float32 or memory-mapped input is never copied whole: only one chunk
at a time is converted to float64.
"""

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
