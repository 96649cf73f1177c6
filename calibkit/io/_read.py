"""Reading tables of predictions: CSV, Parquet, ``.npy`` and ``.npz``."""

import csv
import io
import math
import os
import sys
import zipfile
from pathlib import Path

import numpy as np

from calibkit.io._formats import STDIO, check_input_file, detect_format

__all__ = ["MAX_NPZ_BYTES", "MAX_NPZ_RATIO", "read_table"]

#: Cap on the uncompressed size of a ``.npz`` archive's arrays, when it is also
#: more than :data:`MAX_NPZ_RATIO` times the archive's size (a "zip bomb").
MAX_NPZ_BYTES = 2**30
MAX_NPZ_RATIO = 100

#: Cells read as missing in a CSV file: only empty cells, so that a class
#: named ``NA`` or ``None`` stays a class. (Scores spelled ``NaN`` or ``NA``
#: are still reported as missing.)
_CSV_NA = [""]

_PARQUET_HINT = (
    "Parquet files need pyarrow, which is not installed; install it with "
    "pip install pyarrow (calibkit's parquet extra)."
)


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
    if str(path) != STDIO:
        check_input_file(path, what="input file")
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
