"""Reading and writing saved predictions: CSV, Parquet, ``.npy`` and ``.npz``.

Files are tables with named columns. The format follows the file extension:

=============  ===============================================================
extension      table
=============  ===============================================================
``.csv``       a header line with the column names (``-`` is CSV on stdin or
               stdout)
``.parquet``   any Parquet file; needs pyarrow (``pip install pyarrow``)
``.npy``       a structured array (one field per column), a 2-D array (columns
               ``"0"``, ``"1"``, ...) or a 1-D array (one column ``"0"``)
``.npz``       one column per 1-D array, named by its key; a 2-D array under key
               ``k`` gives the columns ``k_0``, ``k_1``, ...
=============  ===============================================================

Written ``.npy`` files are structured arrays, so that column names survive
(``np.load(path)["calibrated_1"]``); ``.npz`` files hold one 1-D array per
column. Files are loaded with ``allow_pickle=False``: loading never executes
code.

Every output is written to a temporary file next to the target and renamed
over it at the end (:func:`atomic_output`), so a failure never leaves a
truncated file and an existing file is only replaced on success. Standard
output (``-``) is written in one go after everything else has succeeded.

Rows in messages are counted from 0, as in numpy and pandas; for CSV files the
line of the file is given as well (the header is line 1).
"""

from calibkit._lazy import lazy_names

__all__ = [
    "FORMATS",
    "atomic_output",
    "check_distinct_paths",
    "detect_format",
    "label_array",
    "match_columns",
    "read_table",
    "score_array",
    "select_columns",
    "write_table",
]

# Imported on first use (numpy, pandas and pyarrow with them), so that the
# command line's ``--help`` stays instant. One line per name: where it lives.
__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "FORMATS": "calibkit.io._formats",
        "atomic_output": "calibkit.io._write",
        "check_distinct_paths": "calibkit.io._formats",
        "detect_format": "calibkit.io._formats",
        "label_array": "calibkit.io._columns",
        "match_columns": "calibkit.io._columns",
        "read_table": "calibkit.io._read",
        "score_array": "calibkit.io._columns",
        "select_columns": "calibkit.io._columns",
        "write_table": "calibkit.io._write",
    },
)
