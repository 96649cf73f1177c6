"""Exact isotonic fits of Dask arrays: a distributed sort, PAV per partition.

The rows are sorted by score across partitions by Dask's own shuffle
(``dask.dataframe`` ``sort_values``); each sorted partition is pooled by PAV
where it lives (:func:`~calibkit._pav.piece_entries`: its first and last
point unpooled, PAV blocks in between), and only those blocks travel to the
client, where ties across partitions are merged and the blocks pooled once
more (:func:`~calibkit._pav.pool_entries`). PAV never splits a block of a
contiguous run of points, so the result is the exact isotonic fit of all rows
although no worker holds them all.
"""

import numpy as np

from calibkit._pav import piece_entries, pool_entries


def as_row_blocks(values, like):
    """``values`` (numpy or dask, 1-D) as a dask array with the row blocks of
    ``like``."""
    import dask.array as da

    from calibkit._chunks import is_dask

    if is_dask(values):
        return values.rechunk(like.chunks[0])
    return da.from_array(np.asarray(values), chunks=like.chunks[0])


def dask_pav(scores, events, sample_weight=None):
    """PAV blocks of 0/1 ``events`` on the scores of a 1-D dask array.

    Parameters
    ----------
    scores : dask.array.Array of shape (n_samples,)
        Finite scores (float64).
    events : ndarray or dask array of shape (n_samples,)
        0/1 events (bool or numbers).
    sample_weight : ndarray or dask array of shape (n_samples,) or None
        Non-negative weights; zero-weight rows are ignored.

    Returns
    -------
    PAVBlocks
    """
    import dask
    import dask.dataframe as dd

    columns = [scores.astype(np.float64), as_row_blocks(events, scores) != 0]
    names = ["score", "event"]
    if sample_weight is not None:
        columns.append(as_row_blocks(sample_weight, scores).astype(np.float64))
        names.append("weight")
    series = [
        dd.from_dask_array(column, columns=name)
        for column, name in zip(columns, names, strict=True)
    ]
    frame = dd.concat(series, axis=1)
    ordered = frame.sort_values("score")
    pieces = [dask.delayed(_partition_entries)(part) for part in ordered.to_delayed()]
    return pool_entries(list(dask.compute(*pieces)))


def _partition_entries(frame):
    """:func:`~calibkit._pav.piece_entries` of one sorted partition."""
    weight = frame["weight"].to_numpy() if "weight" in frame.columns else None
    return piece_entries(
        frame["score"].to_numpy(dtype=np.float64),
        frame["event"].to_numpy(dtype=bool),
        weight,
    )
