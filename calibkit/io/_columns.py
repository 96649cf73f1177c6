"""Columns of a table: which are the scores, the labels, and which class each
score column is for (label inference from column names)."""

import re

import numpy as np

from calibkit._validation import format_label, name_prefixes
from calibkit.io._formats import describe_path

__all__ = [
    "check_column",
    "label_array",
    "match_columns",
    "score_array",
    "select_columns",
]

_NA_TEXT = frozenset(
    {"nan", "-nan", "na", "n/a", "null", "none", "<na>", "#n/a", "#na", "-na"}
)
_INTEGER_LITERAL = re.compile(r"-?(?:0|[1-9][0-9]*)")

_MAX_LISTED = 8


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
                f"column {taken[0]!r} is the label, weight, group or model column "
                "and cannot also be a prediction column."
            )
            raise ValueError(msg)
        return list(columns)
    if prefix is not None:
        matching = [c for c in frame.columns if c.startswith(prefix)]
        chosen = [c for c in matching if c not in exclude]
        if not chosen:
            others = (
                f" besides {_listed(matching)} (not scores: the label, weight, "
                "group or model column)"
                if matching
                else ""
            )
            msg = (
                f"no column of {_source(frame)} starts with {prefix!r}{others}; "
                f"columns are {_listed(frame.columns)}."
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


def group_array(frame, column, *, role="group column"):
    """The group labels in ``column``, checked for missing values.

    Typed as :func:`label_array` types labels (whole-number floats become
    integers, text keeps its spelling).

    Parameters
    ----------
    frame : pandas.DataFrame
    column : str
    role : str, default="group column"
        What the column is, in messages (the command line says ``--groups``).

    Returns
    -------
    ndarray of shape (n_rows,)

    Raises
    ------
    ValueError
        For a missing column or a missing value (the message gives its row).
    """
    check_column(frame, column, role=role)
    missing = frame[column].isna().to_numpy()
    if column in frame.attrs.get("text_columns", ()):
        # Not in place: pandas may hand out a read-only mask.
        missing = missing | _is_na_text(frame[column].to_numpy(dtype=object))
    if missing.any():
        row, k = int(np.flatnonzero(missing)[0]), int(missing.sum())
        msg = (
            f"{role} {column!r} of {_source(frame)} has {k} missing "
            f"value{'s' if k > 1 else ''}, the first at {_where(frame, row)}; "
            "give those rows a value of their own or drop them."
        )
        raise ValueError(msg)
    return label_array(frame, column)


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
    return "the table" if source is None else describe_path(source)


def _where(frame, row):
    if frame.attrs.get("format") == "csv":
        return f"row {row} (line {row + 2} of the file)"
    return f"row {row}"


def _listed(names):
    names = [str(n) for n in names]
    shown = ", ".join(repr(n) for n in names[:_MAX_LISTED])
    more = len(names) - _MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "") if names else "(none)"


# --- the prediction columns of a file, for a calibrator or from labels -------


def prediction_columns(
    frame, *, columns=None, prefix=None, exclude=(), classes=None, y=None, stored=None
):
    """The prediction columns of ``frame``, matched to the classes.

    Parameters
    ----------
    frame : pandas.DataFrame
        A table from :func:`~calibkit.io.read_table`.
    columns, prefix, exclude
        As in :func:`select_columns`.
    classes, y
        As in :func:`match_columns`.
    stored : list of str or None, default=None
        A calibrator's own columns (see :func:`stored_columns`), used when
        neither ``columns`` nor ``prefix`` is given; they are saved in the
        order of its classes.

    Returns
    -------
    classes : ndarray
    columns : list of str
        One column per class in the order of ``classes`` (or the single
        column of a binary problem).
    """
    if columns is None and prefix is None and stored is not None:
        chosen = select_columns(frame, columns=stored, exclude=exclude)
        return np.asarray(classes), chosen
    chosen = select_columns(frame, columns=columns, prefix=prefix, exclude=exclude)
    return match_columns(
        chosen,
        classes=classes,
        y=y,
        prefix=prefix,
        explicit=columns is not None,
        positional_names=bool(frame.attrs.get("positional_names")),
    )


def stored_columns(calibrator, metadata, path):
    """The columns a calibrator was fitted on.

    Parameters
    ----------
    calibrator : fitted calibrator
    metadata : dict
        The metadata saved with it (``calibkit fit`` records ``"columns"``).
    path : str or os.PathLike
        The calibrator file, for messages.

    Returns
    -------
    list of str
        Its ``feature_names_in_`` when it has them, else the recorded columns.

    Raises
    ------
    ValueError
        When the file records no columns, or not a list of names.
    """
    names = getattr(calibrator, "feature_names_in_", None)
    if names is not None:
        return [str(n) for n in names]
    stored = metadata.get("columns")
    if stored is None:
        msg = (
            f"'{path}' does not record its prediction columns (it was "
            "not saved by 'calibkit fit'); pass --columns or --prefix."
        )
        raise ValueError(msg)
    if not isinstance(stored, list) or not all(isinstance(c, str) for c in stored):
        msg = f"'{path}': metadata 'columns' must be a list of column names."
        raise ValueError(msg)
    return stored


def check_n_columns(columns, calibrator):
    """Refuse a number of prediction columns the calibrator does not take."""
    expected = calibrator.n_features_in_
    if len(columns) != expected:
        msg = (
            f"the calibrator takes {expected} prediction column(s) but "
            f"{len(columns)} were selected ({', '.join(columns[:6])}"
            f"{' ...' if len(columns) > 6 else ''})."
        )
        raise ValueError(msg)


def check_known_labels(y, classes, column):
    """Refuse labels in ``column`` that are not among a calibrator's ``classes``."""
    unseen = _unseen(y, classes)
    if unseen.any():
        values = [format_label(v) for v in np.unique(y[unseen])[:5]]
        known = ", ".join(format_label(c) for c in classes)
        msg = (
            f"label column {column!r} has values not seen when the calibrator was "
            f"fitted: {values} (first at row {int(np.flatnonzero(unseen)[0])}); "
            f"the calibrator knows [{known}]."
        )
        raise ValueError(msg)


def _unseen(y, classes):
    """Rows whose label is not among ``classes`` (strings never equal numbers)."""
    textual = {y.dtype.kind in "OUS", np.asarray(classes).dtype.kind in "OUS"}
    if len(textual) == 2:
        return np.ones(y.shape[0], dtype=bool)
    return ~np.isin(y, classes)
