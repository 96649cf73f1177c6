"""Reading and writing saved predictions: CSV, Parquet, ``.npy`` and ``.npz``.

Files are tables with named columns. The format follows the file extension:

=============  ===============================================================
extension      table
=============  ===============================================================
``.csv``       a header line with the column names (``-`` is CSV on stdin or
               stdout)
``.parquet``   any Parquet file; needs pyarrow (``pip install calibkit[parquet]``)
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

import contextlib
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

__all__ = [
    "FORMATS",
    "atomic_output",
    "detect_format",
    "label_array",
    "read_table",
    "score_array",
    "select_columns",
    "write_table",
]

#: File extensions understood, and the format each one means.
FORMATS = {".csv": "csv", ".parquet": "parquet", ".npy": "npy", ".npz": "npz"}

#: Standard input or output, read and written as CSV.
STDIO = "-"

_MAX_LISTED = 8
_CSV_WRITE_ROWS = 50_000
_PARQUET_HINT = (
    "Parquet files need pyarrow, which is not installed; install it with "
    "pip install 'calibkit[parquet]' (or pip install pyarrow)."
)


def detect_format(path):
    """The format of ``path`` from its extension.

    Parameters
    ----------
    path : str or os.PathLike
        A file name, or ``"-"`` for standard input/output (CSV).

    Returns
    -------
    str
        ``"csv"``, ``"parquet"``, ``"npy"`` or ``"npz"``.

    Raises
    ------
    ValueError
        For an extension not in :data:`FORMATS`.

    Examples
    --------
    >>> detect_format("scores.parquet")
    'parquet'
    >>> detect_format("-")
    'csv'
    """
    if str(path) == STDIO:
        return "csv"
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        known = ", ".join(FORMATS)
        shown = f"extension '{suffix}'" if suffix else "no extension"
        msg = (
            f"unknown file format for '{path}' ({shown}); use one of {known}, "
            "or '-' for CSV on standard input/output."
        )
        raise ValueError(msg)
    return FORMATS[suffix]


# --- reading ----------------------------------------------------------------


def read_table(path, *, progress=None):
    """Read a table of predictions.

    Parameters
    ----------
    path : str or os.PathLike
        File to read (format from the extension, see the module docstring), or
        ``"-"`` for CSV on standard input.
    progress : callable or None, default=None
        Called with the fraction of the file read so far (CSV files only),
        e.g. to draw a progress bar.

    Returns
    -------
    pandas.DataFrame
        Columns named by strings. ``frame.attrs["source"]`` is the path and
        ``frame.attrs["format"]`` the format, for messages.

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ValueError
        For an unknown extension, an unreadable file, or an empty table.
    ImportError
        For a Parquet file when pyarrow is not installed.
    """
    fmt = detect_format(path)
    if str(path) != STDIO and not Path(path).is_file():
        if Path(path).exists():
            msg = f"'{path}' is not a file."
            raise ValueError(msg)
        msg = f"input file '{path}' does not exist."
        raise FileNotFoundError(msg)
    reader = {
        "csv": _read_csv,
        "parquet": _read_parquet,
        "npy": _read_npy,
        "npz": _read_npz,
    }[fmt]
    frame = reader(path, progress)
    frame.columns = [str(c) for c in frame.columns]
    if frame.shape[0] == 0:
        msg = f"'{path}' holds no rows."
        raise ValueError(msg)
    frame.attrs["source"] = str(path)
    frame.attrs["format"] = fmt
    return frame


def _read_csv(path, progress):
    import pandas as pd

    pandas_major = int(pd.__version__.split(".")[0])
    # Every printed number must read back as the exact double, so that
    # calibrated files match the Python API: pandas 3 parses exactly by default
    # (and deprecates the option); earlier versions need "round_trip".
    options = {} if pandas_major >= 3 else {"float_precision": "round_trip"}
    # One pass over the whole file to infer each column's type, so that a
    # column is never split into chunks of different types.
    options["low_memory"] = False
    try:
        if str(path) == STDIO:
            return pd.read_csv(getattr(sys.stdin, "buffer", sys.stdin), **options)
        if progress is None:
            return pd.read_csv(path, **options)
        with open(path, "rb") as raw:
            return pd.read_csv(_ProgressReader(raw, progress), **options)
    except pd.errors.EmptyDataError:
        msg = f"'{path}' is empty; a CSV file needs a header line with column names."
        raise ValueError(msg) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        msg = f"'{path}' is not a readable CSV file: {first_line}"
        raise ValueError(msg) from None


class _ProgressReader:
    """A binary file wrapper that reports the fraction read to a callback."""

    def __init__(self, raw, progress):
        self._raw = raw
        self._progress = progress
        self._size = max(1, os.fstat(raw.fileno()).st_size)

    def read(self, size=-1):
        data = self._raw.read(size)
        self._progress(min(1.0, self._raw.tell() / self._size))
        return data

    def __iter__(self):
        return iter(self._raw)

    def __getattr__(self, name):
        return getattr(self._raw, name)


def _pyarrow_parquet():
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(_PARQUET_HINT) from None
    return pq


def _read_parquet(path, progress):
    pq = _pyarrow_parquet()
    import pyarrow as pa

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        msg = f"'{path}' is not a readable Parquet file: {exc}"
        raise ValueError(msg) from None
    return table.to_pandas()


_MAGIC = {".npy": b"\x93NUMPY", ".npz": b"PK"}


def _load_numpy(path):
    expected = _MAGIC[Path(path).suffix.lower()]
    with open(path, "rb") as handle:
        head = handle.read(len(expected))
    if head != expected:
        kind = "a .npy array" if expected == _MAGIC[".npy"] else "a .npz archive"
        msg = f"'{path}' is not a readable numpy file: it does not start like {kind}."
        raise ValueError(msg)
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            msg = (
                f"'{path}' holds Python objects, which calibkit does not load "
                "(loading them could run code); save numbers or fixed-width "
                "strings instead."
            )
        else:
            msg = f"'{path}' is not a readable numpy file: {exc}"
        raise ValueError(msg) from None
    except (OSError, EOFError) as exc:
        msg = f"'{path}' is not a readable numpy file: {exc}"
        raise ValueError(msg) from None


def _read_npy(path, progress):
    array = _load_numpy(path)
    if not isinstance(array, np.ndarray):
        msg = f"'{path}' is not a .npy array (is it a .npz archive?)."
        raise ValueError(msg)
    return _frame_from_columns(_npy_columns(array, path))


def _npy_columns(array, path):
    if array.dtype.names is not None:
        if array.ndim != 1:
            msg = (
                f"'{path}' holds a structured array of shape {array.shape}; 1-D needed."
            )
            raise ValueError(msg)
        columns = {}
        for name in array.dtype.names:
            columns.update(_expand(name, array[name], path))
        return columns
    if array.ndim == 1:
        return {"0": array}
    if array.ndim == 2:
        return {str(j): array[:, j] for j in range(array.shape[1])}
    msg = f"'{path}' holds an array of shape {array.shape}; a 1-D or 2-D array needed."
    raise ValueError(msg)


def _read_npz(path, progress):
    columns = {}
    with _load_numpy(path) as archive:
        for key in archive.files:
            columns.update(_expand(key, archive[key], f"{path}[{key!r}]"))
    if not columns:
        msg = f"'{path}' holds no arrays."
        raise ValueError(msg)
    lengths = {name: values.shape[0] for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{k}: {n}" for k, n in lengths.items())
        msg = f"the arrays in '{path}' have different numbers of rows ({listed})."
        raise ValueError(msg)
    return _frame_from_columns(columns)


def _expand(name, values, where):
    """Columns of one named array: itself when 1-D, ``name_j`` when 2-D."""
    if values.ndim == 1:
        return {name: values}
    if values.ndim == 2:
        return {f"{name}_{j}": values[:, j] for j in range(values.shape[1])}
    msg = f"{where} has shape {values.shape}; only 1-D and 2-D arrays are columns."
    raise ValueError(msg)


def _frame_from_columns(columns):
    import pandas as pd

    return pd.DataFrame({name: np.asarray(values) for name, values in columns.items()})


# --- columns ----------------------------------------------------------------


def select_columns(frame, *, columns=None, prefix=None, exclude=()):
    """Names of the prediction columns of ``frame``.

    Parameters
    ----------
    frame : pandas.DataFrame
        A table from :func:`read_table`.
    columns : list of str or None, default=None
        Explicit column names, in this order.
    prefix : str or None, default=None
        Take every column whose name starts with ``prefix``, in file order.
    exclude : iterable of str, default=()
        Columns never taken by ``prefix`` or by the default (e.g. the label).

    Returns
    -------
    list of str
        ``columns`` when given; else the columns starting with ``prefix``;
        else every column not in ``exclude``.

    Raises
    ------
    ValueError
        When a named column is missing, both ``columns`` and ``prefix`` are
        given, or no column is selected.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"id": [1], "logit_a": [0.5], "logit_b": [1.0]})
    >>> select_columns(frame, prefix="logit_")
    ['logit_a', 'logit_b']
    """
    if columns and prefix is not None:
        msg = "give either the columns or a column prefix, not both."
        raise ValueError(msg)
    exclude = set(exclude)
    if columns:
        for name in columns:
            check_column(frame, name, role="prediction column")
        return list(columns)
    if prefix is not None:
        chosen = [c for c in frame.columns if c.startswith(prefix) and c not in exclude]
        if not chosen:
            msg = (
                f"no column of {_source(frame)} starts with {prefix!r}; columns are "
                f"{_listed(frame.columns)}."
            )
            raise ValueError(msg)
        return chosen
    chosen = [c for c in frame.columns if c not in exclude]
    if not chosen:
        msg = f"{_source(frame)} has no prediction columns besides {_listed(exclude)}."
        raise ValueError(msg)
    return chosen


def check_column(frame, name, *, role="column"):
    """Raise a ValueError when ``frame`` has no column ``name``.

    Parameters
    ----------
    frame : pandas.DataFrame
    name : str
    role : str, default="column"
        What the column is for, in the message (e.g. ``"label column"``).
    """
    if name not in frame.columns:
        msg = (
            f"{role} {name!r} not found in {_source(frame)}; columns are "
            f"{_listed(frame.columns)}."
        )
        raise ValueError(msg)


def score_array(frame, columns):
    """The numeric values of ``columns`` as an array, checked cell by cell.

    Parameters
    ----------
    frame : pandas.DataFrame
        A table from :func:`read_table`.
    columns : list of str
        Columns to take.

    Returns
    -------
    ndarray of shape (n_rows,) or (n_rows, len(columns))
        float64, or float32 when every column is float32; 1-D for one column.

    Raises
    ------
    ValueError
        For a missing column, or a cell that is not a finite number; the
        message names the column, the value and its row.
    """
    values = []
    for name in columns:
        check_column(frame, name, role="prediction column")
        values.append(_numeric_column(frame, name))
    if len(values) == 1:
        return values[0]
    dtype = np.result_type(*values)
    out = np.empty((frame.shape[0], len(values)), dtype=dtype)
    for j, column in enumerate(values):
        out[:, j] = column
    return out


def _numeric_column(frame, name):
    import pandas as pd

    series = frame[name]
    raw = series.to_numpy()
    if raw.dtype.kind == "b":
        msg = f"column {name!r} of {_source(frame)} holds booleans, not scores."
        raise ValueError(msg)
    if raw.dtype.kind in "iu":
        return raw.astype(np.float64)
    if raw.dtype.kind == "f" and raw.dtype.itemsize >= 4:
        values = raw if raw.dtype.itemsize in (4, 8) else raw.astype(np.float64)
    else:
        numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
        bad = np.isnan(numbers) & series.notna().to_numpy()
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            msg = (
                f"column {name!r} of {_source(frame)} has a value that is not a "
                f"number, {raw[row]!r}, at {_where(frame, row)} "
                f"({int(bad.sum())} such cells)."
            )
            raise ValueError(msg)
        values = numbers
    finite = np.isfinite(values)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        what = "missing (empty or NaN)" if np.isnan(values[row]) else "infinite"
        msg = (
            f"column {name!r} of {_source(frame)} has a {what} value at "
            f"{_where(frame, row)} ({int((~finite).sum())} non-finite cells)."
        )
        raise ValueError(msg)
    return values


def label_array(frame, column):
    """The class labels in ``column``, checked for missing values.

    Whole-number floats (as in a float ``.npy`` array, or a CSV column written
    as ``1.0``) are read as integers, so that class ``1.0`` and class ``1`` are
    the same label everywhere.

    Parameters
    ----------
    frame : pandas.DataFrame
    column : str

    Returns
    -------
    ndarray of shape (n_rows,)
        Integers, booleans, floats or strings (object array).

    Raises
    ------
    ValueError
        For a missing column or a missing label (the message gives its row).
    """
    check_column(frame, column, role="label column")
    series = frame[column]
    missing = series.isna().to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        msg = (
            f"label column {column!r} of {_source(frame)} has a missing value at "
            f"{_where(frame, row)} ({int(missing.sum())} missing labels)."
        )
        raise ValueError(msg)
    labels = series.to_numpy()
    if labels.dtype.kind == "f":
        if not np.isfinite(labels).all():
            row = int(np.flatnonzero(~np.isfinite(labels))[0])
            msg = (
                f"label column {column!r} of {_source(frame)} has an infinite "
                f"value at {_where(frame, row)}."
            )
            raise ValueError(msg)
        if np.all(labels == np.round(labels)) and np.all(np.abs(labels) < 2**53):
            labels = labels.astype(np.int64)
    return labels


def _source(frame):
    source = frame.attrs.get("source")
    if source is None:
        return "the table"
    return "standard input" if source == STDIO else f"'{source}'"


def _where(frame, row):
    if frame.attrs.get("format") == "csv":
        return f"row {row} (line {row + 2} of the file)"
    return f"row {row}"


def _listed(names):
    names = [str(n) for n in names]
    shown = ", ".join(repr(n) for n in names[:_MAX_LISTED])
    more = len(names) - _MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "") if names else "(none)"


# --- writing ----------------------------------------------------------------


@contextlib.contextmanager
def atomic_output(path):
    """Write to a temporary file next to ``path``; rename it over ``path`` on success.

    Parameters
    ----------
    path : str or os.PathLike
        The final file name.

    Yields
    ------
    pathlib.Path
        Temporary file (in the same directory, so the rename is atomic) to
        write to. On an exception it is deleted and ``path`` is left as it was.

    Raises
    ------
    FileNotFoundError
        When the directory of ``path`` does not exist.
    ValueError
        When ``path`` is an existing directory.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_output(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    path = Path(path)
    directory = path.parent
    if not directory.is_dir():
        msg = f"output directory '{directory}' does not exist (writing '{path}')."
        raise FileNotFoundError(msg)
    if path.is_dir():
        msg = f"output '{path}' is a directory; give a file name."
        raise ValueError(msg)
    handle, name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=directory
    )
    os.close(handle)
    tmp = Path(name)
    try:
        yield tmp
        # mkstemp creates files readable by the owner only; give the result
        # the mode a plainly created file (or the replaced file) would have.
        os.chmod(tmp, _target_mode(path))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _target_mode(path):
    with contextlib.suppress(FileNotFoundError):
        return path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_table(frame, path, *, progress=None):
    """Write a table atomically in the format of ``path``'s extension.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns named by strings.
    path : str or os.PathLike
        Output file, or ``"-"`` for CSV on standard output.
    progress : callable or None, default=None
        Called with the fraction of rows written (CSV only).

    Raises
    ------
    ValueError
        For an unknown extension or column names the format cannot store.
    ImportError
        For Parquet output when pyarrow is not installed.

    Notes
    -----
    Floats are written in the shortest form that reads back to the same double
    (CSV) or in binary (other formats), so a written file reproduces the
    values exactly.
    """
    fmt = detect_format(path)
    if str(path) == STDIO:
        frame.to_csv(sys.stdout, index=False)
        return
    if fmt == "parquet":
        pq = _pyarrow_parquet()
    with atomic_output(path) as tmp:
        if fmt == "csv":
            _write_csv(frame, tmp, progress)
        elif fmt == "parquet":
            import pyarrow as pa

            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp)
        elif fmt == "npy":
            with open(tmp, "wb") as handle:
                np.save(handle, _structured(frame), allow_pickle=False)
        else:
            arrays = {name: _plain_column(frame[name]) for name in frame.columns}
            with open(tmp, "wb") as handle:
                np.savez(handle, **arrays)


def _write_csv(frame, tmp, progress):
    n_rows = frame.shape[0]
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        if progress is None:
            frame.to_csv(handle, index=False)
            return
        for start in range(0, max(n_rows, 1), _CSV_WRITE_ROWS):
            block = frame.iloc[start : start + _CSV_WRITE_ROWS]
            block.to_csv(handle, index=False, header=start == 0)
            progress(min(1.0, (start + block.shape[0]) / max(n_rows, 1)))


def _plain_column(series):
    """A column as a numpy array that needs no pickling (strings fixed-width)."""
    values = series.to_numpy()
    if values.dtype.kind == "O":
        return values.astype(str)
    return values


def _structured(frame):
    columns = {name: _plain_column(frame[name]) for name in frame.columns}
    dtype = [(name, values.dtype) for name, values in columns.items()]
    out = np.empty(frame.shape[0], dtype=dtype)
    for name, values in columns.items():
        out[name] = values
    return out
