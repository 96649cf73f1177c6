"""File formats and paths: which format a name means, and checks on paths."""

import os
import stat
from pathlib import Path

__all__ = [
    "FORMATS",
    "STDIO",
    "check_distinct_paths",
    "check_input_file",
    "check_output_path",
    "describe_path",
    "detect_format",
]

#: File extensions understood, and the format each one means.
FORMATS = {".csv": "csv", ".parquet": "parquet", ".npy": "npy", ".npz": "npz"}

#: Standard input or output, read and written as CSV.
STDIO = "-"


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


def describe_path(path):
    """How messages name a file: ``'path'``, or standard input for ``-``."""
    return "standard input" if str(path) == STDIO else f"'{path}'"


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


def check_input_file(path, *, what):
    """Raise unless ``path`` is an existing regular file (or a link to one).

    The one existence check for every file calibkit reads (tables and
    calibrator files), so that they fail alike.

    Parameters
    ----------
    path : str or os.PathLike
    what : str
        What the file is, for the message (``"input file"``).

    Raises
    ------
    FileNotFoundError
        When nothing exists at ``path``.
    ValueError
        When ``path`` exists but is a directory or another non-file.

    Examples
    --------
    >>> import tempfile
    >>> check_input_file(tempfile.gettempdir(), what="input file")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: input file '...' is not a file: it is a directory.
    """
    path = Path(path)
    if path.is_file():
        return
    if path.is_dir():
        msg = f"{what} '{path}' is not a file: it is a directory."
        raise ValueError(msg)
    if path.exists():
        msg = f"{what} '{path}' is not a file."
        raise ValueError(msg)
    msg = f"{what} '{path}' does not exist."
    raise FileNotFoundError(msg)


def check_output_path(path, *, name, stdout=False):
    """Refuse an output path whose directory is missing, or ``-`` where a file
    is needed.

    Parameters
    ----------
    path : str, os.PathLike or None
        The output; ``None`` (no output asked for) passes.
    name : str
        What the output is, for the message (e.g. an option, ``"--json"``).
    stdout : bool, default=False
        Whether ``"-"`` (standard output) is allowed.

    Raises
    ------
    ValueError
        For ``"-"`` when ``stdout`` is False.
    FileNotFoundError
        When the directory of ``path`` does not exist.
    """
    if path is None:
        return
    if str(path) == STDIO:
        if stdout:
            return
        msg = f"{name} cannot be standard output ('-'); give a file name."
        raise ValueError(msg)
    parent = Path(path).parent
    if not parent.is_dir():
        msg = f"{name}: directory '{parent}' does not exist."
        raise FileNotFoundError(msg)
