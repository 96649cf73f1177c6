"""Implementation of :mod:`calibkit.io`: formats, tables, columns and safe output."""

import contextlib
import csv
import io
import math
import os
import re
import secrets
import stat
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from calibkit._validation import format_label, name_prefixes

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

#: File extensions understood, and the format each one means.
FORMATS = {".csv": "csv", ".parquet": "parquet", ".npy": "npy", ".npz": "npz"}

#: Standard input or output, read and written as CSV.
STDIO = "-"

#: Cap on the uncompressed size of a ``.npz`` archive's arrays, when it is also
#: more than :data:`MAX_NPZ_RATIO` times the archive's size (a "zip bomb").
MAX_NPZ_BYTES = 2**30
MAX_NPZ_RATIO = 100

#: Cells read as missing in a CSV file: only empty cells, so that a class
#: named ``NA`` or ``None`` stays a class. (Scores spelled ``NaN`` or ``NA``
#: are still reported as missing.)
_CSV_NA = [""]
_NA_TEXT = frozenset(
    {"nan", "-nan", "na", "n/a", "null", "none", "<na>", "#n/a", "#na", "-na"}
)
_INTEGER_LITERAL = re.compile(r"-?(?:0|[1-9][0-9]*)")

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


def read_table(path, *, progress=None, text_columns=()):
    """Read a table of predictions.

    Parameters
    ----------
    path : str or os.PathLike
        File to read (format from the extension, see the module docstring), or
        ``"-"`` for CSV on standard input.
    progress : callable or None, default=None
        Called with the fraction of the file read so far (CSV files only),
        e.g. to draw a progress bar.
    text_columns : iterable of str, default=()
        Columns of a CSV file read as text, exactly as written (used for the
        label column: ``01`` stays ``"01"``, ``NA`` stays ``"NA"``); see
        :func:`label_array` for how they are typed.

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
        For an unknown extension, an unreadable file, duplicate column names,
        sizes that do not match the file, or an empty table.
    ImportError
        For a Parquet file when pyarrow is not installed.

    Notes
    -----
    In a CSV file only empty cells are missing values: a label ``NA`` is a
    class named ``NA``. Duplicate column names are refused (pandas would
    rename the second ``score`` to ``score.1``). Numpy files are checked
    against their size before anything is allocated: a ``.npy`` header must
    not claim more data than the file holds, and a ``.npz`` archive must not
    unpack to more than :data:`MAX_NPZ_BYTES` when that is also more than
    :data:`MAX_NPZ_RATIO` times its size.
    """
    fmt = detect_format(path)
    if str(path) != STDIO and not Path(path).is_file():
        if Path(path).exists():
            msg = f"'{path}' is not a file."
            raise ValueError(msg)
        msg = f"input file '{path}' does not exist."
        raise FileNotFoundError(msg)
    if fmt == "csv":
        frame = _read_csv(path, progress, list(text_columns))
    else:
        reader = {"parquet": _read_parquet, "npy": _read_npy, "npz": _read_npz}[fmt]
        frame = reader(path, progress)
    frame.columns = [str(c) for c in frame.columns]
    _check_unique_names(list(frame.columns), path)
    if frame.shape[0] == 0:
        msg = f"'{path}' holds no rows."
        raise ValueError(msg)
    frame.attrs["source"] = str(path)
    frame.attrs["format"] = fmt
    text_columns = [c for c in text_columns if c in frame.columns]
    if fmt == "csv" and text_columns:
        frame.attrs["text_columns"] = text_columns
    return frame


def _check_unique_names(names, path):
    seen = {}
    for j, name in enumerate(names):
        if name in seen:
            msg = (
                f"'{path}' has two columns named {name!r} (columns {seen[name]} "
                f"and {j}, counted from 0); rename one."
            )
            raise ValueError(msg)
        seen[name] = j


def _csv_header(data):
    """The column names on the first line of CSV bytes (None when empty)."""
    text = data.decode("utf-8-sig", errors="replace")
    return next(csv.reader(io.StringIO(text)), None)


def _read_csv(path, progress, text_columns):
    import pandas as pd

    pandas_major = int(pd.__version__.split(".")[0])
    # Every printed number must read back as the exact double, so that
    # calibrated files match the Python API: pandas 3 parses exactly by default
    # (and deprecates the option); earlier versions need "round_trip".
    options = {} if pandas_major >= 3 else {"float_precision": "round_trip"}
    # One pass over the whole file to infer each column's type, so that a
    # column is never split into chunks of different types.
    options["low_memory"] = False
    options["keep_default_na"] = False
    options["na_values"] = _CSV_NA
    if text_columns:
        options["dtype"] = dict.fromkeys(text_columns, str)
    try:
        if str(path) == STDIO:
            stream = getattr(sys.stdin, "buffer", None)
            data = stream.read() if stream is not None else sys.stdin.read().encode()
            header = _csv_header(data.split(b"\n", 1)[0])
            frame = pd.read_csv(io.BytesIO(data), **options)
        else:
            with open(path, "rb") as raw:
                header = _csv_header(raw.readline())
                raw.seek(0)
                source = raw if progress is None else _ProgressReader(raw, progress)
                frame = pd.read_csv(source, **options)
    except pd.errors.EmptyDataError:
        msg = f"'{path}' is empty; a CSV file needs a header line with column names."
        raise ValueError(msg) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        msg = f"'{path}' is not a readable CSV file: {first_line}"
        raise ValueError(msg) from None
    if header is not None and len(header) == frame.shape[1]:
        # pandas renames a repeated name ("score" -> "score.1"): check the
        # names as written.
        _check_unique_names([h.strip() for h in header], path)
    return frame


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
    _check_unique_names([str(c) for c in table.column_names], path)
    return table.to_pandas()


_MAGIC = {".npy": b"\x93NUMPY", ".npz": b"PK"}


def _npy_header(handle, where):
    """Shape and dtype from a ``.npy`` header; the handle is left at the data."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(handle)
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(handle)
        else:
            shape, _, dtype = fmt.read_array_header_2_0(handle)
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        msg = f"{where} is not a readable numpy file: {exc}"
        raise ValueError(msg) from None
    return shape, dtype


def _check_npy_size(shape, dtype, available, where):
    """Refuse a header that claims more bytes than there are to read."""
    if dtype.hasobject:
        msg = (
            f"{where} holds Python objects, which calibkit does not load "
            "(loading them could run code); save numbers or fixed-width "
            "strings instead."
        )
        raise ValueError(msg)
    claimed = dtype.itemsize * math.prod(shape)
    if claimed > available:
        msg = (
            f"{where} is not a readable numpy file: its header claims an array "
            f"of shape {shape} and dtype {dtype} ({claimed} bytes), but only "
            f"{available} bytes follow."
        )
        raise ValueError(msg)


def _check_magic(path):
    expected = _MAGIC[Path(path).suffix.lower()]
    with open(path, "rb") as handle:
        head = handle.read(len(expected))
    if head != expected:
        kind = "a .npy array" if expected == _MAGIC[".npy"] else "a .npz archive"
        msg = f"'{path}' is not a readable numpy file: it does not start like {kind}."
        raise ValueError(msg)


def _load_numpy(path):
    """np.load without pickles, with numpy's and zipfile's errors as ValueError."""
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
    except (OSError, EOFError, zipfile.BadZipFile, MemoryError) as exc:
        msg = f"'{path}' is not a readable numpy file: {exc}"
        raise ValueError(msg) from None


def _read_npy(path, progress):
    _check_magic(path)
    with open(path, "rb") as handle:
        shape, dtype = _npy_header(handle, f"'{path}'")
        available = os.fstat(handle.fileno()).st_size - handle.tell()
    _check_npy_size(shape, dtype, available, f"'{path}'")
    array = _load_numpy(path)
    if not isinstance(array, np.ndarray):
        msg = f"'{path}' is not a .npy array (is it a .npz archive?)."
        raise ValueError(msg)
    return _frame_from_columns(_npy_columns(array, path), path)


def _npy_columns(array, path):
    if array.dtype.names is not None:
        if array.ndim != 1:
            msg = (
                f"'{path}' holds a structured array of shape {array.shape}; 1-D needed."
            )
            raise ValueError(msg)
        columns = {}
        for name in array.dtype.names:
            _merge(columns, _expand(name, array[name], path), path)
        return columns
    if array.ndim == 1:
        return {"0": array}
    if array.ndim == 2:
        return {str(j): array[:, j] for j in range(array.shape[1])}
    msg = f"'{path}' holds an array of shape {array.shape}; a 1-D or 2-D array needed."
    raise ValueError(msg)


def _check_npz_sizes(path):
    """Check every member's declared sizes before anything is decompressed."""
    size = os.stat(path).st_size
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            total = sum(info.file_size for info in members)
            if total > MAX_NPZ_BYTES and total > MAX_NPZ_RATIO * size:
                msg = (
                    f"'{path}' unpacks to {total} bytes, more than {MAX_NPZ_RATIO} "
                    f"times its size and than calibkit's limit of {MAX_NPZ_BYTES} "
                    "bytes; it is not read (a corrupt or malicious archive?)."
                )
                raise ValueError(msg)
            for info in members:
                where = f"'{path}'[{info.filename!r}]"
                with archive.open(info) as member:
                    shape, dtype = _npy_header(member, where)
                    available = info.file_size - member.tell()
                _check_npy_size(shape, dtype, available, where)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        msg = f"'{path}' is not a readable numpy file: {exc}"
        raise ValueError(msg) from None


def _read_npz(path, progress):
    _check_magic(path)
    _check_npz_sizes(path)
    columns = {}
    archive = _load_numpy(path)
    with archive:
        for key in archive.files:
            try:
                values = archive[key]
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
                msg = f"'{path}'[{key!r}] is not a readable numpy array: {exc}"
                raise ValueError(msg) from None
            _merge(columns, _expand(key, values, f"{path}[{key!r}]"), path)
    if not columns:
        msg = f"'{path}' holds no arrays."
        raise ValueError(msg)
    lengths = {name: values.shape[0] for name, values in columns.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{k}: {n}" for k, n in lengths.items())
        msg = f"the arrays in '{path}' have different numbers of rows ({listed})."
        raise ValueError(msg)
    return _frame_from_columns(columns, path)


def _merge(columns, new, path):
    """Add ``new`` columns, refusing a name already taken (``k_0`` twice)."""
    for name, values in new.items():
        if name in columns:
            msg = f"'{path}' has two columns named {name!r}; rename one array."
            raise ValueError(msg)
        columns[name] = values


def _expand(name, values, where):
    """Columns of one named array: itself when 1-D, ``name_j`` when 2-D."""
    if values.ndim == 1:
        return {name: values}
    if values.ndim == 2:
        return {f"{name}_{j}": values[:, j] for j in range(values.shape[1])}
    msg = f"{where} has shape {values.shape}; only 1-D and 2-D arrays are columns."
    raise ValueError(msg)


def _frame_from_columns(columns, path):
    import pandas as pd

    frame = pd.DataFrame({name: np.asarray(values) for name, values in columns.items()})
    # A plain 2-D array's columns are named by position ("0", "1", ...): such
    # names never identify classes (see match_columns).
    if list(columns) == [str(j) for j in range(len(columns))]:
        frame.attrs["positional_names"] = True
    return frame


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
        Columns that are not scores (the label, the weights): never taken by
        ``prefix`` or by the default, and refused in ``columns``.

    Returns
    -------
    list of str
        ``columns`` when given; else the columns starting with ``prefix``;
        else every column not in ``exclude``.

    Raises
    ------
    ValueError
        When a named column is missing, named twice or in ``exclude``, both
        ``columns`` and ``prefix`` are given, no column is selected, or the
        default picks a column that looks like a row identifier (integer
        values, all distinct).

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
    exclude = [c for c in exclude if c is not None]
    if columns:
        for name in columns:
            check_column(frame, name, role="prediction column")
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        if repeated:
            msg = f"prediction column(s) {_listed(repeated)} are selected twice."
            raise ValueError(msg)
        taken = [c for c in columns if c in exclude]
        if taken:
            msg = (
                f"column {taken[0]!r} is the label or weight column and cannot also "
                "be a prediction column."
            )
            raise ValueError(msg)
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
    for name in chosen:
        if _looks_like_identifier(frame[name]):
            msg = (
                f"column {name!r} of {_source(frame)} holds distinct whole numbers, "
                "like a row identifier, and would be read as scores; select the "
                "score columns with --columns or --prefix."
            )
            raise ValueError(msg)
    return chosen


def _looks_like_identifier(series):
    """Integer values (or whole floats), all distinct, in at least 3 rows."""
    values = series.to_numpy()
    if values.shape[0] < 3:
        return False
    if values.dtype.kind in "iu":
        pass
    elif values.dtype.kind == "f":
        finite = np.isfinite(values)
        if not finite.all() or np.any(values != np.round(values)):
            return False
    else:
        return False
    return np.unique(values).shape[0] == values.shape[0]


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


_NOT_NUMBERS = {
    "c": "complex numbers",
    "M": "dates and times",
    "m": "time differences",
    "b": "booleans",
}
_INFERRED_NOT_NUMBERS = {
    "complex": "complex numbers",
    "datetime": "dates and times",
    "datetime64": "dates and times",
    "date": "dates and times",
    "time": "dates and times",
    "timedelta": "time differences",
    "timedelta64": "time differences",
    "period": "periods",
    "interval": "intervals",
    "boolean": "booleans",
    "bytes": "bytes",
}


def _not_numbers(series, raw):
    """What a column holds when it is not real numbers (complex, dates...)."""
    import pandas as pd

    kind = getattr(series.dtype, "kind", "O")
    if kind in _NOT_NUMBERS:
        return _NOT_NUMBERS[kind]
    if raw.dtype.kind in _NOT_NUMBERS:
        return _NOT_NUMBERS[raw.dtype.kind]
    if raw.dtype.kind == "O":
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        return _INFERRED_NOT_NUMBERS.get(inferred)
    return None


def _numeric_column(frame, name):
    import pandas as pd

    series = frame[name]
    raw = series.to_numpy()
    what = _not_numbers(series, raw)
    if what is not None:
        # Converting would drop the imaginary part or count nanoseconds since
        # 1970: refuse, as the Python API does.
        msg = f"column {name!r} of {_source(frame)} holds {what}, not scores."
        raise ValueError(msg)
    if raw.dtype.kind in "iu":
        return raw.astype(np.float64)
    if raw.dtype.kind == "f" and raw.dtype.itemsize >= 4:
        values = raw if raw.dtype.itemsize in (4, 8) else raw.astype(np.float64)
    else:
        numbers = pd.to_numeric(series, errors="coerce").to_numpy(
            dtype=np.float64, copy=True
        )
        missing = series.isna().to_numpy() | _is_na_text(raw)
        bad = np.isnan(numbers) & ~missing
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            msg = (
                f"column {name!r} of {_source(frame)} has a value that is not a "
                f"number, {raw[row]!r}, at {_where(frame, row)} "
                f"({int(bad.sum())} such cells)."
            )
            raise ValueError(msg)
        numbers[missing] = np.nan
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


def _is_na_text(raw):
    """Cells spelled like a missing value (``NaN``, ``NA``, ``null``...)."""
    if raw.dtype.kind not in "OUS":
        return np.zeros(raw.shape[0], dtype=bool)
    return np.array(
        [isinstance(v, str) and v.strip().lower() in _NA_TEXT for v in raw], dtype=bool
    )


def label_array(frame, column):
    """The class labels in ``column``, checked for missing values.

    Labels read as text from a CSV file (``read_table(...,
    text_columns=[column])``) are typed by one rule: when every value is an
    integer literal without leading zeros (``0``, ``7``, ``-3``) that fits in
    64 bits, the labels are integers; otherwise they are the strings exactly as
    written (``01`` and ``1`` are two classes, ``NA`` is a class, ``1.0`` is
    the string ``"1.0"``). Only an empty cell is a missing label. Labels from
    typed formats (Parquet, numpy, a DataFrame) keep their type, except that
    whole-number floats are read as integers, so that class ``1.0`` and class
    ``1`` are the same label everywhere.

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
    if column in frame.attrs.get("text_columns", ()):
        return _typed_text_labels(series.to_numpy(dtype=object))
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
    elif labels.dtype.kind in "US":
        labels = labels.astype(str).astype(object)
    return labels


def _typed_text_labels(text):
    """Integers when every label is a canonical integer literal, else strings."""
    distinct = set(text.tolist())
    if all(_INTEGER_LITERAL.fullmatch(v) for v in distinct):
        values = [int(v) for v in distinct]
        if all(-(2**63) <= v < 2**63 for v in values):
            return text.astype(np.int64)
    return text


def _label_from_text(text, kind):
    """The label of numpy ``kind`` written as ``text``, or None."""
    if kind in "iu" and _INTEGER_LITERAL.fullmatch(text):
        value = int(text)
        return value if -(2**63) <= value < 2**63 else None
    return None


def match_columns(
    columns,
    *,
    classes=None,
    y=None,
    prefix=None,
    explicit=False,
    positional_names=False,
):
    """Match prediction columns to classes, by name when the names say.

    One rule for every subcommand of the command line:

    - a column named ``<prefix><label>`` (``prefix`` being ``--prefix``, or a
      common prefix of the columns ending at a non-alphanumeric character
      such as ``logit_``, or nothing) is the column of that label. When every
      column is named after a distinct class, the columns are reordered to
      the order of the classes, whatever their order in the file;
    - a single column is the score of the greater of two classes; it is
      refused when its name says it is the other class's;
    - when no name identifies a class, several columns are accepted only in
      an order the user stated (``explicit=True``: ``--columns a,b,c`` in
      the sorted order of the labels); a ``--prefix`` or the default
      selection is refused, since the file's order says nothing;
    - names that identify some classes but not all are refused; but when
      every column is ``<prefix><text>`` with one prefix and the text labels
      of ``y`` are among them, the others name classes without rows here
      (integer names always may).

    Labels match names by their text (``str`` of the label): label ``1``
    matches ``p_1``, the string label ``"01"`` matches ``p_01`` only.

    Parameters
    ----------
    columns : list of str
        The selected prediction columns, in file (or stated) order.
    classes : array-like or None, default=None
        The known classes (e.g. a fitted calibrator's ``classes_``).
    y : ndarray or None, default=None
        The labels, when ``classes`` is None: the classes are those named by
        the columns (which must include every label in ``y``), or else the
        sorted distinct labels.
    prefix : str or None, default=None
        The ``--prefix`` given, if any.
    explicit : bool, default=False
        Whether the user listed the columns (their order is then meaningful).
    positional_names : bool, default=False
        Column names that are positions in an array (``"0"``, ``"1"`` of a
        2-D ``.npy``), which never identify classes.

    Returns
    -------
    classes : ndarray
        The classes, sorted.
    ordered : list of str
        The columns, one per class in the order of ``classes`` (or the single
        column of a binary problem).

    Raises
    ------
    ValueError
        When the columns cannot be matched to the classes with certainty.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array(["bird", "cat", "dog", "cat"], dtype=object)
    >>> classes, ordered = match_columns(
    ...     ["logit_dog", "logit_cat", "logit_bird"], y=y, prefix="logit_"
    ... )
    >>> ordered
    ['logit_bird', 'logit_cat', 'logit_dog']
    """
    columns = list(columns)
    present = np.unique(y) if classes is None else np.asarray(classes)
    kind = present.dtype.kind
    # Integer columns may name classes absent from y (a rare class missing
    # from a test set); any other label must be one that was seen.
    candidates = None
    if classes is not None or kind not in "iu":
        candidates = {format_label(c): c for c in present.tolist()}

    def labels_for(pfx):
        return [_one_label(name[len(pfx) :], candidates, kind) for name in columns]

    full, partial = [], None
    if not positional_names:
        for pfx in name_prefixes(columns, prefix or ""):
            found = labels_for(pfx)
            values = [f[1] for f in found if f is not None]
            if (
                values
                and len(values) == len(columns)
                and len(set(values)) == len(values)
            ):
                full.append((pfx, values))
            elif values and partial is None:
                partial = (pfx, found)
    if not full and classes is None and kind not in "iu" and not positional_names:
        # Text labels: every column <prefix><label>, the labels of y among
        # them, names a class even when it has no rows here (a test subset
        # without a rare class). A prefix is required, so that plain names
        # such as "id" or "score" are never taken for classes.
        seen = set(candidates)
        for pfx in name_prefixes(columns, prefix or ""):
            suffixes = [name[len(pfx) :] for name in columns]
            if (
                pfx
                and all(suffixes)
                and len(set(suffixes)) == len(suffixes)
                and seen <= set(suffixes)
            ):
                full.append((pfx, suffixes))
    if partial is None and not full and not positional_names:
        # A name such as "logit_cat" among others without the same prefix
        # still names a label: look after every separator of each name.
        found = []
        for name in columns:
            cuts = [0] + [i + 1 for i, ch in enumerate(name) if not ch.isalnum()]
            hit = None
            for cut in cuts:
                hit = _one_label(name[cut:], candidates, kind)
                if hit is not None:
                    break
            found.append(hit)
        if any(f is not None for f in found):
            partial = (None, found)
    listed = ", ".join(columns[:6]) + (" ..." if len(columns) > 6 else "")
    known = [format_label(v) for v in present[:8]]

    if len(columns) == 1:
        if len(present) == 1 and classes is None:
            msg = (
                f"the labels hold one class only ({known[0]}), so the single "
                f"prediction column ({columns[0]}) cannot be matched to a class; "
                "at least two classes are needed (to evaluate a subset with one "
                "class, pass the --calibrator fitted on both)."
            )
            raise ValueError(msg)
        if len(present) != 2 and classes is None:
            msg = (
                f"one prediction column ({columns[0]}) means a binary problem, but "
                f"the labels have {len(present)} distinct value(s): {known}. Give "
                "one column per class."
            )
            raise ValueError(msg)
        named = {v for _, values in full for v in values}
        if named and len(present) == 2 and present.tolist()[1] not in named:
            msg = (
                f"the single prediction column {columns[0]!r} is named for label "
                f"{format_label(next(iter(named)))}, but one column is read as the "
                f"score of the greater label {format_label(present[1])}; select the "
                f"column of label {format_label(present[1])}, or give both columns."
            )
            raise ValueError(msg)
        return present, columns

    if full:
        mappings = {tuple(values) for _, values in full}
        if len(mappings) > 1:
            msg = (
                f"the names of the prediction columns ({listed}) match the labels "
                "in more than one way; rename them <prefix><label>."
            )
            raise ValueError(msg)
        values = full[0][1]
        if kind == "O":
            named = np.array(values, dtype=object)
        elif kind in "US":  # wide enough for labels longer than those of y
            named = np.array([str(v) for v in values])
        else:
            named = np.array(values, dtype=present.dtype)
        if classes is None:
            unseen = ~np.isin(y, named) if kind != "O" else _not_in(y, named)
            if unseen.any():
                missing = [format_label(v) for v in np.unique(y[unseen])[:5]]
                msg = (
                    f"the labels include {missing} (first at row "
                    f"{int(np.flatnonzero(unseen)[0])}), which no prediction "
                    f"column is named for ({listed})."
                )
                raise ValueError(msg)
        elif len(values) != len(present):
            msg = (
                f"the prediction columns ({listed}) are named for "
                f"{len(values)} classes, but the calibrator has {len(present)}: "
                f"{known}."
            )
            raise ValueError(msg)
        order = np.argsort(named, kind="stable")
        return named[order], [columns[i] for i in order]

    if partial is not None:
        pfx, found = partial
        named = [c for c, f in zip(columns, found, strict=True) if f is not None]
        other = [c for c, f in zip(columns, found, strict=True) if f is None]
        msg = (
            f"some prediction columns are named after labels ({', '.join(named[:4])}) "
            f"and some are not ({', '.join(other[:4])}); the columns cannot be "
            "matched to the labels with certainty. Name every column "
            "<prefix><label>, or select only such columns."
        )
        raise ValueError(msg)
    if len(columns) != len(present):
        msg = (
            f"{len(columns)} prediction columns ({listed}) but "
            f"{len(present)} classes {known}; give one column per class, named "
            "<prefix><label>."
        )
        raise ValueError(msg)
    if not explicit:
        msg = (
            f"the names of the prediction columns ({listed}) do not say which "
            f"class each one is for; name them <prefix><label> (e.g. "
            f"{(prefix or 'score_') + known[0]}), or list them with --columns in "
            f"the sorted order of the labels {known}."
        )
        raise ValueError(msg)
    return present, columns


def _one_label(text, candidates, kind):
    """``(True, label)`` when ``text`` is a label's text, else None."""
    if candidates is not None:
        return (True, candidates[text]) if text in candidates else None
    value = _label_from_text(text, kind)
    return None if value is None else (True, value)


def _not_in(y, named):
    names = set(named.tolist())
    return np.array([v not in names for v in y.tolist()], dtype=bool)


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


_TMP_MARK = ".calibkit-tmp-"


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
        When ``path`` is an existing directory, block device or socket.

    Notes
    -----
    - A symbolic link is followed: the file it points to is replaced, the link
      stays a link.
    - A character device (``/dev/null``) or a named pipe is never replaced:
      the finished output, staged in the system's temporary directory, is
      copied into it.
    - A replaced file keeps its permission bits.
    - The temporary file is ``.<name>.calibkit-tmp-<pid>-<random>``. Should
      the process be killed before it can delete it, the next write to the
      same ``path`` deletes temporaries whose process is gone.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_output(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    path = Path(os.path.realpath(path))
    directory = path.parent
    if not directory.is_dir():
        msg = f"output directory '{directory}' does not exist (writing '{path}')."
        raise FileNotFoundError(msg)
    special = _special_kind(path)
    if special is not None and special not in ("character device", "named pipe"):
        msg = f"output '{path}' is a {special}; give a file name."
        raise ValueError(msg)
    # A device or pipe is written through, so its temporary need not share its
    # directory (and must not litter /dev); a file's must, for an atomic rename.
    if special is None:
        _remove_stale_temporaries(path)
    else:
        directory = Path(tempfile.gettempdir())
    name = f".{path.name}{_TMP_MARK}{os.getpid()}-{secrets.token_hex(4)}"
    tmp = directory / name
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        yield tmp
        if special is not None:
            # Never swap out a device node or a pipe: write through to it.
            with open(tmp, "rb") as src, open(path, "wb") as dst:
                while chunk := src.read(2**20):
                    dst.write(chunk)
            tmp.unlink()
        else:
            # The temporary is readable by the owner only; give the result
            # the mode a plainly created file (or the replaced file) would have.
            os.chmod(tmp, _target_mode(path))
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _special_kind(path):
    """What ``path`` is when it exists and is not a regular file, else None."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    for test, kind in (
        (stat.S_ISREG, None),
        (stat.S_ISDIR, "directory"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISFIFO, "named pipe"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISSOCK, "socket"),
    ):
        if test(mode):
            if kind == "directory":
                msg = f"output '{path}' is a directory; give a file name."
                raise ValueError(msg)
            return kind
    return "special file"


def _remove_stale_temporaries(path):
    """Delete temporaries of ``path`` left by processes that no longer run."""
    pattern = re.compile(re.escape(f".{path.name}{_TMP_MARK}") + r"(\d+)-[0-9a-f]+")
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match and not _process_alive(int(match.group(1))):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def _process_alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process, or cannot tell: leave it alone
    return True


def check_distinct_paths(inputs, outputs):
    """Refuse an output that is one of the inputs, or another output.

    Parameters
    ----------
    inputs : dict
        ``{description: path}`` of files read (``None`` and ``"-"`` skipped).
    outputs : dict
        ``{description: path}`` of files to write.

    Raises
    ------
    ValueError
        When an output is the same file as an input or as another output
        (same resolved path, or same device and inode, so hard links and
        symbolic links count).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> data = pathlib.Path(tempfile.mkdtemp()) / "scores.csv"
    >>> _ = data.write_text("y,score")
    >>> check_distinct_paths(
    ...     {"PREDICTIONS": data}, {"--output": data}
    ... )  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: --output '...scores.csv' is the same file as PREDICTIONS; ...
    >>> check_distinct_paths({"PREDICTIONS": data}, {"--output": data.parent / "o.csv"})
    """
    seen = []
    for role, path in [*inputs.items(), *outputs.items()]:
        if path is None or str(path) == STDIO:
            continue
        key = _file_key(path)
        for other_role, other_key in seen:
            if key == other_key and (role in outputs or other_role in outputs):
                msg = (
                    f"{role} '{path}' is the same file as {other_role}; writing "
                    "it would destroy it. Choose another file name."
                )
                raise ValueError(msg)
        seen.append((role, key))


def _file_key(path):
    try:
        info = os.stat(path)
    except OSError:
        return ("path", os.path.realpath(path))
    if stat.S_ISCHR(info.st_mode) or stat.S_ISFIFO(info.st_mode):
        # /dev/null may be both --json and --report; nothing is destroyed.
        return ("special", os.path.realpath(path), object())
    return ("inode", info.st_dev, info.st_ino)


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
