"""Writing files safely: atomic replacement, tables, several texts at once."""

import contextlib
import os
import re
import secrets
import stat
import sys
import tempfile
from pathlib import Path

import numpy as np

from calibkit.io._formats import STDIO, detect_format
from calibkit.io._read import _pyarrow_parquet

__all__ = ["atomic_output", "write_table"]

_CSV_WRITE_ROWS = 50_000

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


def write_texts(outputs):
    """Write ``(path, text)`` pairs all or none.

    Each text goes to a temporary file next to its path; only when every one
    is written are they renamed into place (renames do not fail for want of
    space), and an error before that deletes them all.

    Parameters
    ----------
    outputs : list of (path, str)
        Files and their UTF-8 contents.
    """
    with contextlib.ExitStack() as stack:
        for path, text in outputs:
            tmp = stack.enter_context(atomic_output(path))
            tmp.write_text(text, encoding="utf-8")


def write_bytes(path, data):
    """Write ``data`` to ``path`` atomically; return ``path``."""
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)
    return path
