"""Input validation: the one place that turns user input into clean arrays.

Every public function and estimator calls these helpers once, at its entry, and
then works on plain numpy arrays. Messages name the argument, say what is wrong
and where (the first offending row), so that users can fix their data.

Arrays are never modified and never copied when they already have a float
dtype: float32 (and memory-mapped) inputs stay as they are, and the numerics
convert them to float64 one chunk at a time (see :mod:`calibkit._chunks`).
"""

import functools
import importlib
import numbers
import os
import sys
import warnings

import numpy as np

from calibkit._chunks import is_dask, reduce_rows, row_chunks, row_sum
from calibkit.exceptions import CalibrationWarning, InputError, InputTypeError

# scikit-learn's helpers, imported on first use (PEP 562 ``__getattr__`` below)
# so that ``import calibkit.metrics`` and ``calibkit --help`` do not pay for
# importing scikit-learn. Its parameter-constraint helpers and indexing live in
# private modules; this table is the one place that names scikit-learn
# internals, so an upstream move is a one-line fix here.
_SKLEARN = {
    # Parameter constraints, for estimators' ``_parameter_constraints``
    # (estimator modules import scikit-learn anyway); functions declare theirs
    # with options(), interval(), hidden() and count() below.
    "Hidden": ("sklearn.utils._param_validation", "Hidden"),
    "Interval": ("sklearn.utils._param_validation", "Interval"),
    "InvalidParameterError": (
        "sklearn.utils._param_validation",
        "InvalidParameterError",
    ),
    "StrOptions": ("sklearn.utils._param_validation", "StrOptions"),
    # Rows of any array-like (numpy, sparse, pandas, polars, lists) and the fit
    # parameters of those rows, as scikit-learn's own meta-estimators take them.
    "safe_indexing": ("sklearn.utils._indexing", "_safe_indexing"),
    "check_method_params": ("sklearn.utils.validation", "_check_method_params"),
}


def __getattr__(name):
    if name in _SKLEARN:
        module, attribute = _SKLEARN[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


#: Largest ``|row sum - 1|`` of a probability row that is accepted, by input
#: precision. Accepted rows off by more than rounding noise are renormalised
#: (see :func:`check_probabilities`): probabilities saved with 6 decimals sum to
#: 1 within ``K * 5e-7``, with 4 decimals within ``K * 5e-5``. Rows further off
#: are refused.
ROW_SUM_ATOL = {np.dtype(np.float64): 1e-3, np.dtype(np.float32): 1e-3}

#: Per class, the ``|row sum - 1|`` read as rounding noise (see
#: :func:`row_sum_noise`): float32 precision, whatever the dtype, since float32
#: model outputs are often stored as float64.
_NOISE_PER_CLASS = 1e-6


_MAX_LISTED = 5

#: Largest accepted total sample weight. Weighted sums of losses (at most about
#: 750 nats per row) and of squared standardised scores stay finite below it.
MAX_TOTAL_WEIGHT = 1e250


def to_numpy(X):
    """Return ``X`` as a numpy array without copying when possible.

    Accepts numpy arrays (memory maps included), lists, and pandas or polars
    Series and DataFrames.
    """
    if isinstance(X, np.ndarray):
        return X
    convert = getattr(X, "to_numpy", None)
    if callable(convert):  # pandas and polars Series/DataFrames
        return np.asarray(convert())
    return np.asarray(X)


def _first_rows(mask, n=_MAX_LISTED):
    """Indices of the first ``n`` rows where a boolean row mask is true."""
    return np.flatnonzero(mask)[:n].tolist()


def check_float_array(X, *, name, ndim=(1, 2), finite=True):
    """Validate a numeric array of scores, logits or probabilities.

    Parameters
    ----------
    X : array-like or dask array
        Input values; numpy, list, pandas, polars or ``dask.array``.
    name : str
        Argument name used in error messages.
    ndim : tuple of int, default=(1, 2)
        Accepted numbers of dimensions.
    finite : bool, default=True
        Reject NaN and infinite values.

    Returns
    -------
    ndarray or dask array
        float32 or float64 array. float32/float64 inputs are returned without a
        copy; integers and booleans become float64. A dask array stays lazy:
        dtype and shape are metadata, and finiteness is a reduction over its
        blocks.

    Raises
    ------
    TypeError
        When ``X`` is not numeric.
    ValueError
        When ``X`` is empty, has the wrong number of dimensions, or contains
        non-finite values.
    """
    lazy = is_dask(X)
    if hasattr(X, "toarray") or hasattr(X, "tocsr"):
        msg = f"{name} is a sparse matrix; sparse input is not supported."
        raise TypeError(msg)
    if not lazy:
        X = to_numpy(X)
    if X.dtype.kind == "c":
        # ValueError (not TypeError) is what scikit-learn raises for complex data.
        msg = f"{name} holds complex numbers. Complex data not supported."
        raise ValueError(msg)
    if X.dtype.kind in "biu":
        X = X.astype(np.float64)
    elif X.dtype.kind == "f":
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
    elif X.dtype.kind == "O" and not lazy:
        X = _object_to_float(X, name=name)
    else:
        msg = f"{name} must hold numbers; got an array of dtype {X.dtype}."
        raise TypeError(msg)
    if X.ndim not in ndim:
        shapes = " or ".join(f"{d}-D" for d in ndim)
        msg = f"{name} must be {shapes}; got an array of shape {X.shape}."
        raise ValueError(msg)
    if lazy and any(np.isnan(d) for d in X.shape):
        msg = (
            f"{name} has an unknown number of rows ({X.shape}); call "
            "compute_chunk_sizes() on it first."
        )
        raise ValueError(msg)
    if X.shape[0] == 0:
        msg = f"{name} is empty (shape {X.shape}); at least one row is needed."
        raise ValueError(msg)
    if X.size == 0:
        msg = (
            f"{name} has 0 feature(s) (shape={X.shape}) while a minimum of 1 is "
            "required."
        )
        raise ValueError(msg)
    if finite:
        check_finite(X, name=name)
    return X


def _missing_mask(values):
    """Where an object array holds a missing value: None, NaN, pandas.NA or NaT.

    Elementwise, because ``pd.NA != pd.NA`` is NA, whose truth value raises.
    """
    import pandas as pd

    return np.asarray(pd.isna(values), dtype=bool)


def _object_to_float(X, *, name):
    """float64 from an object array; missing values (pandas nullable dtypes give
    ``pd.NA``) are reported by row rather than as "not numbers"."""
    try:
        return X.astype(np.float64)
    except (TypeError, ValueError):
        pass
    missing = _missing_mask(X)
    if missing.any():
        if missing.ndim == 2:
            missing = missing.any(axis=1)
        filled = np.where(_missing_mask(X), np.nan, X)
        try:
            filled.astype(np.float64)
        except (TypeError, ValueError):
            pass
        else:
            rows = ", ".join(map(str, _first_rows(missing)))
            msg = (
                f"{name} has missing values (NA or None) in {int(missing.sum())} "
                f"rows; first at rows {rows}."
            )
            raise ValueError(msg)
    msg = f"{name} must hold numbers; got values of type object that are not."
    raise TypeError(msg)


def first_bad_rows(rows, bad):
    """Count and first global row indices of a chunk's bad rows (inf-padded)."""
    first = np.full(_MAX_LISTED, np.inf)
    found = rows.start + np.flatnonzero(bad)[:_MAX_LISTED]
    first[: found.shape[0]] = found
    return np.concatenate([[np.count_nonzero(bad)], first])


def combine_first_bad_rows(a, b):
    """Combine two outputs of :func:`first_bad_rows`."""
    return np.concatenate(
        [[a[0] + b[0]], np.sort(np.concatenate([a[1:], b[1:]]))[:_MAX_LISTED]]
    )


def _nonfinite_rows(rows, chunk):
    finite = np.isfinite(chunk)
    if finite.ndim == 2:
        finite = finite.all(axis=1)
    return first_bad_rows(rows, ~finite)


def check_finite(X, *, name):
    """Raise a ValueError naming the first rows of ``X`` that hold NaN or inf."""
    result = reduce_rows(_nonfinite_rows, X, combine=combine_first_bad_rows)
    n_bad = int(result[0])
    if n_bad:
        first = [int(r) for r in result[1:] if np.isfinite(r)]
        rows_text = ", ".join(map(str, first))
        msg = (
            f"{name} contains non-finite values (NaN or inf) in {n_bad} rows; "
            f"first at rows {rows_text}."
        )
        raise ValueError(msg)


def row_sum_noise(n_classes):
    """Largest ``|row sum - 1|`` of ``n_classes`` probabilities read as noise.

    ``n_classes * 1e-6``: the rounding of a float32 softmax (float32 outputs
    are often stored as float64) or of 6 saved decimals. It does not depend on
    the dtype, so that the same values give the same results in float32 and
    float64, and float32 outputs are not copied.
    """
    return n_classes * _NOISE_PER_CLASS


def rows_off_sum(sums, atol, n_cols):
    """Rows whose sum is further than ``atol`` from 1 (NaN sums included).

    The slack of ``n_cols`` ulps of 1 is the rounding of the sum itself, so
    that a row written as summing to exactly ``1 - atol`` is not refused.
    """
    return ~(np.abs(sums - 1.0) <= atol + n_cols * np.finfo(np.float64).eps)


def _probability_violations(rows, chunk, noise, atol):
    """[rows outside [0, 1], first such row, rows off sum, first such row, its sum,
    rows to renormalise, first such row, largest deviation among them]."""
    outside = (chunk < 0) | (chunk > 1)
    if outside.ndim == 2:
        outside = outside.any(axis=1)
    out = np.array([outside.sum(), np.inf, 0.0, np.inf, np.nan, 0.0, np.inf, 0.0])
    if outside.any():
        out[1] = rows.start + np.argmax(outside)
    if atol is not None and chunk.ndim == 2:
        sums = row_sum(np.asarray(chunk, dtype=np.float64))
        deviation = np.abs(sums - 1.0)
        off = rows_off_sum(sums, atol, chunk.shape[1])
        if off.any():
            first = np.argmax(off)
            out[2:5] = off.sum(), rows.start + first, sums[first]
        renormalise = (deviation > noise) & ~off
        if renormalise.any():
            out[5:] = (
                renormalise.sum(),
                rows.start + np.argmax(renormalise),
                deviation[renormalise].max(),
            )
    return out


def _combine_violations(a, b):
    first_sum = a if a[3] <= b[3] else b
    return np.array(
        [
            a[0] + b[0],
            min(a[1], b[1]),
            a[2] + b[2],
            first_sum[3],
            first_sum[4],
            a[5] + b[5],
            min(a[6], b[6]),
            max(a[7], b[7]),
        ]
    )


def check_probabilities(P, *, name, row_sums=True, warn=True):
    """Check that ``P`` holds probabilities; renormalise rows rounded in a file.

    Values must lie in [0, 1]. The rows of a 2-D ``P`` with K columns must sum
    to one:

    - within :func:`row_sum_noise` (``K * 1e-6``: float32 rounding, or
      most rows saved with 6 decimals): used as they are, whatever the dtype;
    - within :data:`ROW_SUM_ATOL` (``1e-3``), e.g. probabilities saved with 4
      decimals: divided by their sums, in a new array of the same dtype, and a
      :class:`~calibkit.exceptions.CalibrationWarning` says how many rows and
      the largest deviation;
    - further off: ``ValueError``.

    Parameters
    ----------
    P : ndarray or dask array
        Output of :func:`check_float_array`.
    name : str
        Argument name for messages.
    row_sums : bool, default=True
        Whether to check the row sums of a 2-D ``P``.
    warn : bool, default=True
        Warn when rows are renormalised.

    Returns
    -------
    ndarray or dask array
        ``P`` itself when no row needed renormalising (no copy); otherwise a
        new array of the same dtype with the off rows divided by their sums
        (the caller's array is never modified). Callers must use the
        returned array.

    Raises
    ------
    ValueError
        For values outside [0, 1] or rows further than ``ROW_SUM_ATOL`` from 1.
    """
    check_2d = row_sums and P.ndim == 2
    atol = ROW_SUM_ATOL[P.dtype] if check_2d else None
    noise = row_sum_noise(P.shape[1]) if check_2d else None
    kernel = functools.partial(_probability_violations, noise=noise, atol=atol)
    violations = reduce_rows(kernel, P, combine=_combine_violations)
    n_out, first_out, n_off, first_off, first_sum = violations[:5]
    n_fix, first_fix, largest = violations[5:]
    if n_out:
        row = int(first_out)
        value = np.atleast_1d(np.asarray(P[row]))
        bad = float(value[(value < 0) | (value > 1)][0])
        raise InputError(
            name,
            f"must hold probabilities in [0, 1]; row {row} has {bad!r} "
            f"({int(n_out)} rows are outside).",
            hint="Pass logits with {input} where the estimator supports it.",
            fix={"input": "logits"},
        )
    if n_off:
        raise InputError(
            name,
            f"rows must sum to 1 (tolerance {atol:g}); row {int(first_off)} "
            f"sums to {first_sum:.10g} ({int(n_off)} rows are off).",
            hint="Renormalise the rows, or pass logits if these are scores.",
        )
    if not n_fix:
        return P
    if warn:
        warning = CalibrationWarning(
            argument=name,
            problem=f": {int(n_fix)} rows did not sum to 1 (largest deviation "
            f"{largest:.2g}, first at row {int(first_fix)}), as when probabilities "
            "are saved with few decimals; they were divided by their sums. Rows "
            f"off by more than {atol:g} are refused.",
        )
        warnings.warn(warning, stacklevel=external_stacklevel())
    return _renormalised(P, noise)


def _renormalised(P, noise):
    """A copy of ``P`` (same dtype) whose rows off by more than ``noise`` are
    divided by their sums; a dask array stays lazy."""
    if is_dask(P):
        sums = P.astype(np.float64).sum(axis=1, keepdims=True)
        return (P / sums).astype(P.dtype)
    out = np.array(P, copy=True)
    for rows in row_chunks(P.shape[0], P.shape[1]):
        chunk = np.asarray(P[rows], dtype=np.float64)
        sums = row_sum(chunk)
        fix = np.flatnonzero(np.abs(sums - 1.0) > noise)
        if fix.size:
            out[rows][fix] = chunk[fix] / sums[fix, None]
    return out


def external_stacklevel():
    """``stacklevel`` for a warning that points at the first frame outside calibkit.

    Call it as the argument of ``warnings.warn``: the count starts at the
    function that warns and walks out through calibkit's own frames, so the
    warning names the user's line however deep the check sits.
    """
    package = os.path.dirname(os.path.abspath(__file__)) + os.sep
    # The wrapper of validate_params sits between a public function and its
    # caller: it is walked through as if it were calibkit's. Until scikit-learn
    # is imported, no frame can be in it.
    checker = sys.modules.get("sklearn.utils._param_validation")
    wrapper = os.path.abspath(checker.__file__) if checker is not None else None
    frame = sys._getframe(1)
    level = 1
    while frame is not None and (
        os.path.abspath(frame.f_code.co_filename).startswith(package)
        or os.path.abspath(frame.f_code.co_filename) == wrapper
    ):
        frame = frame.f_back
        level += 1
    return level


def _range_and_row_sums(rows, chunk):
    """Maxima of [-min, max, |row sum - 1|] over a chunk."""
    deviation = 0.0
    if chunk.ndim == 2:
        deviation = np.abs(row_sum(np.asarray(chunk, dtype=np.float64)) - 1.0).max()
    return np.array([-chunk.min(), chunk.max(), deviation], dtype=np.float64)


def looks_like_probabilities(X):
    """Whether ``X`` could be probabilities: in [0, 1] and, if 2-D, rows summing to 1.

    Used to warn users who pass probabilities as logits; never to guess.
    """
    if X.ndim == 2 and X.shape[1] < 2:
        return False
    if not is_dask(X):
        # Logits almost always leave [0, 1] within their first rows: then no
        # pass over the whole input is needed to say no.
        head = X[:256]
        if head.min() < 0 or head.max() > 1:
            return False
    neg_min, high, deviation = reduce_rows(_range_and_row_sums, X, combine=np.maximum)
    return -neg_min >= 0 and high <= 1 and deviation <= ROW_SUM_ATOL[X.dtype]


def check_sample_weight(sample_weight, n_samples, *, name="sample_weight"):
    """Validate sample weights.

    Parameters
    ----------
    sample_weight : array-like of shape (n_samples,) or None
        Non-negative finite weights, not all zero. ``None`` means unit weights.
    n_samples : int
        Expected length.
    name : str, default="sample_weight"
        Argument name for messages.

    Returns
    -------
    ndarray of shape (n_samples,) and dtype float64, or None
    """
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Number):
        problem = f"must be an array of length {n_samples} or None; got a scalar."
        raise InputTypeError(name, problem)
    w = check_float_array(sample_weight, name=name, ndim=(1,))
    w = np.asarray(w, dtype=np.float64)
    if w.shape[0] != n_samples:
        problem = f"has {w.shape[0]} entries but there are {n_samples} samples."
        raise InputError(name, problem)
    negative = w < 0
    if negative.any():
        row = _first_rows(negative, 1)[0]
        problem = (
            f"must be non-negative; {int(negative.sum())} entries are "
            f"negative, first at row {row} ({float(w[row])!r})."
        )
        raise InputError(name, problem)
    if not np.any(w > 0):
        problem = "is zero everywhere; at least one sample needs a positive weight."
        raise InputError(name, problem)
    with np.errstate(over="ignore"):
        total = float(np.sum(w))
    if not total <= MAX_TOTAL_WEIGHT:
        # Weighted sums of losses and squared scores would overflow to inf and
        # then to NaN. Every result but the frequency-based smoothing depends
        # only on relative weights, so the user can rescale without loss.
        problem = (
            f"sums to {total:.3g}, above the supported total of "
            f"{MAX_TOTAL_WEIGHT:.0e} (weighted sums would overflow);"
        )
        raise InputError(name, problem, hint="divide the weights by a constant.")
    return w


def check_consistent_length(**arrays):
    """Raise a ValueError when named arrays have different numbers of rows.

    ``None`` values are skipped. Usage: ``check_consistent_length(X=X, y=y)``.
    """
    # shape[0]: Array API arrays (array-api-strict) need not have len().
    lengths = {
        k: v.shape[0] if hasattr(v, "shape") else len(v)
        for k, v in arrays.items()
        if v is not None
    }
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{k} has {n}" for k, n in lengths.items())
        msg = f"Inconsistent numbers of samples: {listed}."
        raise ValueError(msg)


def check_labels(y, *, name="y"):
    """Validate a 1-D array of class labels (ints, strings, booleans, ...).

    Returns
    -------
    ndarray of shape (n_samples,)
    """
    if y is None:
        msg = (
            f"{name} is None: this estimator requires y to be passed, but the "
            "target y is None."
        )
        raise ValueError(msg)
    y = to_numpy(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        msg = f"{name} must be 1-D class labels; got an array of shape {y.shape}."
        raise ValueError(msg)
    if y.shape[0] == 0:
        msg = f"{name} is empty; at least one sample is needed."
        raise ValueError(msg)
    if y.dtype.kind == "f":
        bad = ~np.isfinite(y)
        if bad.any():
            msg = (
                f"{name} contains {int(bad.sum())} missing or non-finite labels; "
                f"first at row {_first_rows(bad, 1)[0]}."
            )
            raise ValueError(msg)
    elif y.dtype.kind == "O":
        missing = _missing_mask(y)
        if missing.any():
            msg = (
                f"{name} contains {int(missing.sum())} missing labels; first at row "
                f"{_first_rows(missing, 1)[0]}."
            )
            raise ValueError(msg)
    return y


def check_classification_labels(y, *, name="y"):
    """Reject continuous targets: calibrators need class labels.

    Floats are accepted when they are whole numbers (e.g. 0.0 and 1.0).
    """
    if y.dtype.kind == "f" and np.any(y != np.round(y)):
        msg = (
            f"Unknown label type: {name} holds continuous values (e.g. "
            f"{format_label(y[y != np.round(y)][0])}); class labels are needed."
        )
        raise ValueError(msg)


def _unique_codes(y):
    """Sorted unique labels and codes; O(n) counting for small-range integers."""
    if y.dtype.kind in "biu" and y.shape[0] > 0:
        low, high = int(y.min()), int(y.max())
        # uint64 labels above the intp range (hashed ids) are sorted below.
        small = high <= np.iinfo(np.intp).max
        if small and high - low <= max(1024, y.shape[0]):
            # Chunk by chunk, so that only the codes take 8 bytes a row:
            # np.bincount would copy read-only labels (a memmap) whole, and
            # narrow ones would be widened whole to intp.
            present = np.zeros(high - low + 1, dtype=bool)
            for rows in row_chunks(y.shape[0]):
                present[_label_offsets(y[rows], low)] = True
            classes = (np.flatnonzero(present) + low).astype(y.dtype)
            if low == 0 and y.dtype == np.intp and present.all():
                # Labels 0 .. K-1, all present: they are their own codes. A
                # read-only view, so that no caller can write into the input.
                codes = y.view()
                codes.flags.writeable = False
                return classes, codes
            lookup = np.cumsum(present) - 1
            codes = np.empty(y.shape[0], dtype=np.intp)
            for rows in row_chunks(y.shape[0]):
                codes[rows] = lookup[_label_offsets(y[rows], low)]
            return classes, codes
    # unique + searchsorted needs less memory than return_inverse.
    classes = np.unique(y)
    return classes, np.searchsorted(classes, y).astype(np.intp, copy=False)


def _label_offsets(chunk, low):
    """``chunk - low`` as intp indices (``chunk`` itself when it is one)."""
    if low == 0 and chunk.dtype == np.intp:
        return chunk
    offsets = chunk.astype(np.intp)
    offsets -= low
    return offsets


def _are_codes(y, classes):
    """Whether ``y`` (intp) holds codes into ``classes = 0 .. K-1`` already."""
    k = classes.shape[0]
    return (
        y.dtype == np.intp
        and y.shape[0] > 0
        and classes.dtype.kind in "iu"
        and classes[0] == 0
        and classes[-1] == k - 1
        and y.min() >= 0
        and y.max() < k
    )


def encode_labels(y, *, classes=None, name="y"):
    """Encode labels as integer codes into ``classes``.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels.
    classes : array-like or None
        Known classes (e.g. ``classes_`` of a fitted estimator, or the user's
        ``labels``). ``None`` takes the sorted unique values of ``y``.
    name : str, default="y"
        Argument name for messages.

    Returns
    -------
    classes : ndarray
        Sorted classes.
    codes : ndarray of shape (n_samples,), dtype intp
        ``classes[codes] == y``.
    """
    return encode_checked_labels(check_labels(y, name=name), classes=classes, name=name)


def encode_checked_labels(y, *, classes=None, name="y"):
    """:func:`encode_labels` of labels already returned by :func:`check_labels`.

    For callers that validated ``y`` themselves, so that labels are checked
    once per call.
    """
    try:
        if classes is None:
            return _unique_codes(y)
        classes = np.asarray(classes)
        sorted_classes = np.unique(classes)
        if sorted_classes.shape[0] != classes.shape[0]:
            msg = f"The classes given for {name} contain duplicates: {classes!r}."
            raise ValueError(msg)
        if _are_codes(y, sorted_classes):
            codes = y.view()  # read only: labels 0 .. K-1 are their own codes
            codes.flags.writeable = False
            return sorted_classes, codes
        codes = np.searchsorted(sorted_classes, y)
    except TypeError:
        msg = (
            f"{name} mixes label types that cannot be compared "
            "(e.g. strings and numbers)."
        )
        raise TypeError(msg) from None
    codes = np.minimum(codes, sorted_classes.shape[0] - 1)
    unseen = sorted_classes[codes] != y
    if np.any(unseen):
        values = np.unique(y[unseen])[:_MAX_LISTED].tolist()
        msg = (
            f"{name} has labels not among the known classes {sorted_classes.tolist()}: "
            f"{values} (first at row {_first_rows(unseen, 1)[0]})."
        )
        raise ValueError(msg)
    return sorted_classes, codes.astype(np.intp, copy=False)


def check_n_classes(classes, *, name="y", minimum=2):
    """Raise a ValueError when fewer than ``minimum`` classes are present."""
    if len(classes) < minimum:
        msg = (
            f"{name} has {len(classes)} class "
            f"({', '.join(format_label(c) for c in classes)}); at least "
            f"{minimum} classes are needed."
        )
        raise ValueError(msg)


def format_label(label):
    """A class label as users wrote it: ``1`` rather than ``np.int64(1)``."""
    item = getattr(label, "item", None)
    return str(item() if callable(item) else label)


def name_prefixes(names, given=""):
    """Prefixes that column ``names`` may share before a label.

    ``given`` (a prefix the user stated, or "") and every longer common prefix
    of ``names`` that ends at a non-alphanumeric character (``logit_`` of
    ``logit_cat``, ``logit_dog``).
    """
    common = os.path.commonprefix(list(names))  # noqa: RUF071 (not paths)
    return [given] + [
        common[: i + 1]
        for i in range(len(given), len(common))
        if not common[i].isalnum()
    ]


def check_column_order(X, classes, *, name):
    """Refuse a DataFrame whose columns are named after the classes, out of order.

    Columns are read by position, one per class in the order of ``classes``.
    When their names say otherwise -- each is ``<prefix><label>`` for a
    different class, but not in that order -- reading them by position would
    give each class another class's column, a silently wrong answer.

    Parameters
    ----------
    X : object
        The user's input, before conversion (only a DataFrame has names).
    classes : array-like
        The classes, in the order the columns are read.
    name : str
        Argument name for messages.
    """
    columns = getattr(X, "columns", None)
    if columns is None or len(columns) != len(classes) or len(classes) < 2:
        return
    names = [str(c) for c in columns]
    texts = [format_label(c) for c in classes]
    if len(set(texts)) != len(texts):
        return
    for prefix in name_prefixes(names):
        suffixes = [n[len(prefix) :] for n in names]
        if sorted(suffixes) != sorted(texts):
            continue
        if suffixes != texts:
            listed = columns.tolist() if hasattr(columns, "tolist") else list(columns)
            by_text = dict(zip(suffixes, listed, strict=True))
            order = [by_text[text] for text in texts]
            msg = (
                f"{name}'s columns are named after the classes but are not in the "
                f"order of the classes: {names}. Columns are read by position, one "
                f"per class in the order {texts}; select them in that order, e.g. "
                f"{name}[{order}]."
            )
            raise ValueError(msg)
        return


# --- parameter validation of public functions --------------------------------

#: Largest accepted count (``n_bins``, ``n_resamples``): bin numbers and uniform
#: edges stay exact floats.
MAX_COUNT = 2**53


class _Deferred:
    """A scikit-learn parameter constraint, built when first needed.

    Declaring a function's constraints (at import) then imports nothing;
    :func:`validate_params` builds them at the function's first call.
    """

    __slots__ = ("_args", "_build", "_kwargs")

    def __init__(self, build, *args, **kwargs):
        self._build = build
        self._args = args
        self._kwargs = kwargs

    def resolve(self):
        """The scikit-learn constraint (imports scikit-learn)."""
        return self._build(*map(_resolved, self._args), **self._kwargs)

    def __repr__(self):
        shown = [repr(a) for a in self._args]
        shown += [f"{k}={v!r}" for k, v in self._kwargs.items()]
        return f"{self._build.__name__}({', '.join(shown)})"


def _resolved(constraint):
    return constraint.resolve() if isinstance(constraint, _Deferred) else constraint


def _sklearn_constraint(name):
    """A builder of scikit-learn's constraint class ``name``, imported when called."""

    def build(*args, **kwargs):
        return __getattr__(name)(*args, **kwargs)

    build.__name__ = name
    return build


def options(values):
    """Constraint: one of the strings ``values`` (scikit-learn's ``StrOptions``)."""
    return _Deferred(_sklearn_constraint("StrOptions"), set(values))


def interval(type, left, right, *, closed):
    """Constraint: a number of ``type`` between ``left`` and ``right``
    (scikit-learn's ``Interval``; ``closed`` is ``"left"``, ``"right"``,
    ``"both"`` or ``"neither"``)."""
    return _Deferred(_sklearn_constraint("Interval"), type, left, right, closed=closed)


def hidden(constraint):
    """Constraint: ``constraint``, accepted but not listed in error messages
    (scikit-learn's ``Hidden``; e.g. a deprecated option)."""
    return _Deferred(_sklearn_constraint("Hidden"), constraint)


@functools.cache
def _count_type():
    class _Count(__getattr__("Interval")):
        """An integer interval that refuses booleans: ``n_bins=True`` is a
        mistake, not one bin (scikit-learn's ``Interval(Integral, ...)``
        accepts it)."""

        def is_satisfied_by(self, val):
            return not isinstance(val, bool | np.bool_) and super().is_satisfied_by(val)

    _Count.__qualname__ = "_Count"
    return _Count


def _count(minimum):
    return _count_type()(numbers.Integral, minimum, MAX_COUNT, closed="both")


def count(minimum=1):
    """Constraint: an integer (not a boolean) from ``minimum`` to :data:`MAX_COUNT`."""
    return _Deferred(_count, minimum)


def _resolved_constraints(parameter_constraints):
    return {
        name: [_resolved(c) for c in constraints]
        if isinstance(constraints, list)
        else constraints
        for name, constraints in parameter_constraints.items()
    }


def validate_params(parameter_constraints):
    """Check the arguments of a public function against declared constraints.

    The one parameter-validation mechanism of calibkit: scikit-learn's, as its
    estimators use through ``_parameter_constraints``. A bad option or count
    raises :class:`~sklearn.utils._param_validation.InvalidParameterError` (a
    ``ValueError`` and a ``TypeError``) naming the argument and the function.
    Nested calls of decorated functions skip their own checks.

    scikit-learn is imported, and the constraints are built, at the first call
    of the decorated function, not when it is defined: importing
    :mod:`calibkit.metrics` does not import scikit-learn.

    Parameters
    ----------
    parameter_constraints : dict
        ``{argument name: list of constraints}`` as in scikit-learn: types,
        ``None``, ``"boolean"``, ``"array-like"``, and :func:`options`,
        :func:`interval`, :func:`hidden` and :func:`count` for scikit-learn's
        ``StrOptions``, ``Interval`` and ``Hidden`` (scikit-learn's own
        objects work too, but importing them imports scikit-learn). Array
        contents are checked in the function (row by row, with the first bad
        row in the message).

    Returns
    -------
    callable
        The decorator.
    """

    def decorator(func):
        # Where scikit-learn's decorator records the constraints (tests and
        # tools introspect them); it records the built ones at the first call.
        func._skl_parameter_constraints = parameter_constraints
        checked = None

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            nonlocal checked
            if checked is None:
                from sklearn.utils._param_validation import (
                    validate_params as sklearn_validate_params,
                )

                checked = sklearn_validate_params(
                    _resolved_constraints(parameter_constraints),
                    prefer_skip_nested_validation=True,
                )(func)
            return checked(*args, **kwargs)

        return wrapper

    return decorator
