"""Property-based fuzz of the public surface and of the command line (issue 10).

Every public function, calibrator, display, scorer and the ``calibkit`` command
get random dtypes, shapes, magnitudes (1e-300 … 1e308), NaN/inf, odd labels
and odd weights. The property: a call either returns a result whose floats are
finite (or a documented ``inf``), whose probabilities lie in [0, 1] with rows
summing to 1, and which leaves its inputs unchanged; or it raises
``ValueError``/``TypeError`` with a message. Warnings other than calibkit's
and scikit-learn's (a numpy ``RuntimeWarning`` means a silent inf/NaN path)
are failures. The command exits 0 or 2, never with a traceback, and on exit 2
creates no output file and changes no input file.

CI runs a few examples per target (deterministic, see ``tests/conftest.py``).
A long run: ``HYPOTHESIS_PROFILE=fuzz-long pytest tests/test_fuzz.py``.
To list every distinct failure of a long run instead of stopping at the first,
set ``FUZZ_RECORD=path.jsonl``: each failure is then appended to that file
(signature, message, example) and the test goes on.
"""

import contextlib
import copy
import csv
import dataclasses
import io
import json
import math
import os
import tempfile
import warnings
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import calibkit as ck
from calibkit import cli, report
from calibkit import exceptions as ck_exceptions
from calibkit import metrics as ckm
from calibkit.cli import _console as cli_console
from calibkit.metrics import get_scorer, get_scorer_names, make_calibration_scorer

pl = pytest.importorskip("polars")
matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from calibkit import plotting  # noqa: E402

LONG = os.environ.get("HYPOTHESIS_PROFILE", "") == "fuzz-long"
RECORD = os.environ.get("FUZZ_RECORD")

_HEALTH = [
    HealthCheck.too_slow,
    HealthCheck.filter_too_much,
    HealthCheck.data_too_large,
    HealthCheck.function_scoped_fixture,
]


def fuzz_settings(n_ci):
    """``n_ci`` examples in CI; the profile's number in a long run."""
    if LONG:
        return settings(deadline=None, suppress_health_check=_HEALTH)
    return settings(max_examples=n_ci, deadline=None, suppress_health_check=_HEALTH)


# --- the property -------------------------------------------------------------------


class FuzzError(AssertionError):
    """A broken property; ``signature`` groups failures with one cause."""

    def __init__(self, signature, detail):
        super().__init__(f"[{signature}] {detail}")
        self.signature = signature
        self.detail = detail


def _fail(signature, detail):
    raise FuzzError(signature, detail)


def _allowed_warning(category):
    if issubclass(category, ck_exceptions.CalibrationWarning):
        return True
    return category.__module__.split(".")[0] == "sklearn"


def snapshot(obj):
    """A copy of an input, to check afterwards that the call left it unchanged."""
    if isinstance(obj, np.ndarray):
        return ("ndarray", obj.copy(), obj.flags.writeable)
    if isinstance(obj, pd.Series | pd.DataFrame):
        return ("pandas", obj.copy(deep=True))
    if isinstance(obj, pl.Series | pl.DataFrame):
        return ("polars", obj.clone())
    if isinstance(obj, dict):
        return ("dict", {k: snapshot(v) for k, v in obj.items()})
    return ("other", copy.deepcopy(obj), repr(obj))


def unchanged(obj, snap):
    kind = snap[0]
    if kind == "ndarray":
        old = snap[1]
        if obj.dtype != old.dtype or obj.shape != old.shape:
            return False
        if obj.flags.writeable != snap[2]:
            return False
        if obj.dtype.kind == "O":
            return repr(obj.tolist()) == repr(old.tolist())
        return obj.tobytes() == old.tobytes()
    if kind == "pandas":
        old = snap[1]
        same_dtypes = (
            repr(obj.dtypes) == repr(old.dtypes)
            if isinstance(obj, pd.DataFrame)
            else obj.dtype == old.dtype
        )
        return same_dtypes and obj.equals(old) and obj.index.equals(old.index)
    if kind == "polars":
        old = snap[1]
        # equals() cannot compare object columns; compare the values' reprs.
        return repr(obj.schema if isinstance(obj, pl.DataFrame) else obj.dtype) == repr(
            old.schema if isinstance(old, pl.DataFrame) else old.dtype
        ) and repr(
            obj.to_dict(as_series=False)
            if isinstance(obj, pl.DataFrame)
            else obj.to_list()
        ) == repr(
            old.to_dict(as_series=False)
            if isinstance(old, pl.DataFrame)
            else old.to_list()
        )
    if kind == "dict":
        return set(obj) == set(snap[1]) and all(
            unchanged(obj[k], v) for k, v in snap[1].items()
        )
    return repr(obj) == snap[2]


def record_or_raise(failure, example):
    if RECORD is None:
        raise failure
    entry = {
        "signature": failure.signature,
        "detail": str(failure)[:2000],
        "example": example[:4000],
    }
    with open(RECORD, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")


def record_with_inputs(failure, inputs):
    """:func:`record_or_raise` with the call's inputs added to the detail."""
    described = describe(inputs)
    detail = f"{failure.detail}\ninputs:\n{described}"
    record_or_raise(FuzzError(failure.signature, detail), described)


def _short(obj, limit=600):
    text = repr(obj)
    return text if len(text) <= limit else text[:limit] + "…"


def describe(inputs):
    return "\n".join(f"  {name} = {_short(value)}" for name, value in inputs.items())


def check_call(name, call, inputs, check=None):
    """Run ``call()`` and check the fuzz property.

    ``inputs`` maps names to the objects passed (checked for mutation);
    ``check(result)`` checks the result (raises ``FuzzError``).
    Returns the result, or None when the call raised an accepted error.
    """
    snaps = {k: snapshot(v) for k, v in inputs.items()}
    result = None
    try:
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    result = call()
                except (ValueError, TypeError) as exc:
                    if not str(exc).strip():
                        _fail(
                            f"{name}: empty {type(exc).__name__} message",
                            repr(exc),
                        )
                    result = None
                except FuzzError:
                    raise
                except Exception as exc:
                    where = _origin(exc)
                    _fail(
                        f"{name}: {type(exc).__name__} at {where}",
                        f"{type(exc).__name__}: {exc}",
                    )
            for w in caught:
                if not _allowed_warning(w.category):
                    _fail(
                        f"{name}: {w.category.__name__} at "
                        f"{Path(w.filename).name}:{w.lineno}",
                        f"{w.category.__name__}: {w.message}",
                    )
            for key, snap in snaps.items():
                if not unchanged(inputs[key], snap):
                    _fail(f"{name}: mutates {key}", f"{key} changed by the call")
            if result is not None and check is not None:
                check(result)
        finally:
            plt.close("all")
    except FuzzError as failure:
        record_with_inputs(failure, inputs)
    return result


def _origin(exc):
    tb = exc.__traceback__
    last = None
    while tb is not None:
        if "calibkit" in tb.tb_frame.f_code.co_filename:
            last = tb
        tb = tb.tb_next
    if last is None:
        return "?"
    return f"{Path(last.tb_frame.f_code.co_filename).name}:{last.tb_lineno}"


def walk_floats(obj, path="result"):
    """Yield ``(path, float)`` for every float in a result."""
    if obj is None or isinstance(obj, str | bytes | bool | np.bool_):
        return
    if isinstance(obj, float | np.floating | int | np.integer):
        yield path, float(obj)
        return
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "fiu":
            for value in np.asarray(obj, dtype=np.float64).ravel():
                yield path, float(value)
        elif obj.dtype.kind == "c":
            yield path, complex(obj.ravel()[0]) if obj.size else 0.0
        return
    if isinstance(obj, pd.DataFrame):
        for column in obj.columns:
            yield from walk_floats(obj[column].to_numpy(), f"{path}.{column}")
        return
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for field in dataclasses.fields(obj):
            yield from walk_floats(getattr(obj, field.name), field.name)
        if hasattr(obj, "to_dict"):
            yield from walk_floats(obj.to_dict(), path)
        return
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from walk_floats(value, str(key))
        return
    if isinstance(obj, list | tuple):
        for value in obj:
            yield from walk_floats(value, path)


def check_finite(name, result, allow_inf=()):
    """Every float finite; ``+inf`` only in the fields named in ``allow_inf``."""
    for path, value in walk_floats(result):
        if isinstance(value, complex):
            _fail(f"{name}: complex in {path}", f"{path} = {value!r}")
        if math.isnan(value):
            _fail(f"{name}: NaN in {path}", f"{path} is NaN")
        if math.isinf(value) and not (value > 0 and path in allow_inf):
            _fail(f"{name}: {value} in {path}", f"{path} = {value}")


def check_in(name, what, values, low, high, tol=1e-9):
    values = np.asarray(values, dtype=np.float64)
    if values.size and (np.any(values < low - tol) or np.any(values > high + tol)):
        _fail(
            f"{name}: {what} outside [{low}, {high}]",
            f"{what} = {values.min()!r} .. {values.max()!r}",
        )


def check_probabilities(name, proba, n_rows=None):
    proba = np.asarray(proba)
    if proba.dtype.kind != "f":
        _fail(f"{name}: probabilities of dtype {proba.dtype}", repr(proba.dtype))
    if n_rows is not None and proba.shape[0] != n_rows:
        _fail(f"{name}: {proba.shape[0]} rows for {n_rows}", repr(proba.shape))
    check_finite(name, proba)
    check_in(name, "probability", proba, 0.0, 1.0)
    if proba.ndim == 2 and proba.shape[0]:
        sums = proba.sum(axis=1, dtype=np.float64)
        worst = float(np.max(np.abs(sums - 1.0)))
        if worst > 1e-6:
            _fail(f"{name}: rows do not sum to 1", f"worst |sum - 1| = {worst!r}")


# --- strategies -----------------------------------------------------------------------

SPECIALS = [
    0.0,
    -0.0,
    1.0,
    0.5,
    1e-300,
    5e-324,
    1 - 2**-53,
    1e308,
    -1e308,
    1.7976931348623157e308,
]

magnitudes = st.builds(
    lambda sign, mantissa, exponent: sign * mantissa * 10.0**exponent,
    st.sampled_from([1.0, -1.0]),
    st.floats(1.0, 9.99),
    st.integers(-300, 307),
)
unit = st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.0, 1.0, 1e-300, 1 - 1e-16]))
logit_values = st.one_of(st.floats(-60.0, 60.0), st.sampled_from([0.0, 745.0, -745.0]))
mode_values = {
    "probabilities": unit,
    "unnormalised": unit,
    "logits": logit_values,
    "extreme": st.one_of(magnitudes, st.sampled_from(SPECIALS)),
}
NONFINITE = [np.nan, np.inf, -np.inf]

FORECAST_DTYPES = [
    "float64",
    "float64",
    "float64",
    "float32",
    "float16",
    "int64",
    "bool",
    "object",
    "complex",
    "datetime",
    "str",
]
CONTAINERS = ["numpy", "numpy", "list", "pandas", "pandas-nullable", "polars"]


def rarely(draw, n):
    """True about once in ``n`` draws.

    Hypothesis favours 0 and the bounds of a range, so an odd case keyed to 0
    would come up far more often than once in ``n``; an interior value does not.
    """
    return draw(st.integers(0, n - 1)) == n // 2


def weighted(draw, options):
    """One of ``options`` (a list of ``(weight, value)``), drawn by weight.

    Most examples should be valid enough to get past the first check, so odd
    values are drawn less often than ordinary ones.
    """
    total = sum(weight for weight, _ in options)
    pick = draw(st.integers(0, total - 1))
    for weight, value in options:
        if pick < weight:
            return value
        pick -= weight
    raise AssertionError(pick)


@st.composite
def float_matrix(draw, n, k, *, mode=None, sprinkle=True):
    """An (n, k) float64 array (k = 0 means 1-D) of one kind of values."""
    mode = mode or weighted(
        draw,
        [(4, "probabilities"), (1, "unnormalised"), (3, "logits"), (2, "extreme")],
    )
    size = n * max(k, 1)
    values = draw(st.lists(mode_values[mode], min_size=size, max_size=size))
    array = np.array(values, dtype=np.float64)
    if k:
        array = array.reshape(n, k)
        if mode == "probabilities" and n:
            sums = array.sum(axis=1, keepdims=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                array = np.where(sums > 0, array / sums, 1.0 / k)
    if sprinkle and size and rarely(draw, 8):  # NaN/inf
        flat = array.reshape(-1)
        for index in draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=3)):
            flat[index] = draw(st.sampled_from(NONFINITE))
    return array


def convert(array, dtype, container):
    """``array`` (float64) as the dtype and container a user might bring."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dtype == "float32":
            array = array.astype(np.float32)
        elif dtype == "float16":
            array = array.astype(np.float16)
        elif dtype == "int64":
            array = np.nan_to_num(array, posinf=1e18, neginf=-1e18)
            array = np.clip(np.round(array), -1e18, 1e18).astype(np.int64)
        elif dtype == "bool":
            array = array > 0.5
        elif dtype == "object":
            array = array.astype(object)
        elif dtype == "complex":
            array = array.astype(np.complex128)
        elif dtype == "datetime":
            ints = np.nan_to_num(array, posinf=0, neginf=0)
            array = np.clip(ints, -1e15, 1e15).astype(np.int64).astype("M8[ns]")
        elif dtype == "str":
            array = array.astype(str)
    if container == "numpy":
        return array
    if container == "list":
        return array.tolist()
    if container in ("pandas", "pandas-nullable"):
        frame_type = pd.DataFrame if array.ndim == 2 else pd.Series
        obj = frame_type(array)
        if container == "pandas-nullable" and array.dtype.kind in "fib":
            nullable = {"f": "Float64", "i": "Int64", "b": "boolean"}[array.dtype.kind]
            obj = obj.astype(nullable)
        if array.ndim == 2:
            obj.columns = [f"c{j}" for j in range(array.shape[1])]
        return obj
    if container == "polars":
        if array.dtype.kind not in "fiub":
            return array
        if array.ndim == 2:
            return pl.DataFrame({f"c{j}": array[:, j] for j in range(array.shape[1])})
        return pl.Series("p", array)
    raise AssertionError(container)


@st.composite
def forecasts(draw, n, k, *, plain=False, sprinkle=True):
    """Forecasts of n rows: 1-D when k = 0, else k columns, any dtype and container.

    ``plain``: a float64 array; ``sprinkle``: NaN/inf in some examples.
    """
    array = draw(float_matrix(n, k, sprinkle=sprinkle))
    if plain:
        return array
    dtype = draw(st.sampled_from(FORECAST_DTYPES)) if rarely(draw, 3) else "float64"
    container = draw(st.sampled_from(CONTAINERS))
    return convert(array, dtype, container)


LABEL_POOLS = {
    "int": [0, 1, 2, 3, 4],
    "int-odd": [3, -7, 10**12, 5, 9],
    "str": ["a", "b", "c", "d", "e"],
    "str-digits": ["1", "01", "2", "10", "NA"],
    "bool": [False, True],
    "float": [0.0, 1.0, 2.5, -1.0, 1e300],
    "mixed": [0, "1", 2.0, "x", True],
}
MISSING = [None, np.nan, pd.NA, float("inf")]
LABEL_CONTAINERS = [
    "list",
    "numpy",
    "numpy",
    "pandas",
    "pandas-string",
    "pandas-Int64",
    "category",
    "polars",
]


def label_container(values, container):
    if container == "list":
        return list(values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if container == "numpy":
            try:
                return np.array(values)
            except (ValueError, TypeError):
                return np.array(values, dtype=object)
        try:
            if container == "pandas":
                return pd.Series(values)
            if container == "pandas-string":
                return pd.Series(values, dtype="string")
            if container == "pandas-Int64":
                return pd.Series(values, dtype="Int64")
            if container == "category":
                return pd.Series(values, dtype="category")
            if container == "polars":
                return pl.Series("y", values)
        except (ValueError, TypeError, OverflowError, pl.exceptions.PolarsError):
            return list(values)
    raise AssertionError(container)


@st.composite
def labels_for(draw, n, n_classes, *, plain=False):
    """Labels of n rows from n_classes classes of one pool (sometimes odd)."""
    pool_name = weighted(
        draw,
        [
            *[(4, "int"), (2, "str"), (1, "int-odd"), (1, "str-digits")],
            *[(1, "bool"), (1, "float"), (1, "mixed")],
        ],
    )
    pool = LABEL_POOLS[pool_name][: max(n_classes, 1)]
    if plain:
        pool = LABEL_POOLS["int"][: max(n_classes, 1)]
    values = draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
    if n >= len(pool) and draw(st.booleans()):
        values[: len(pool)] = pool  # every class present
    if not plain:
        oddity = draw(st.integers(0, 11))
        if oddity == 6 and n:  # a missing label
            values[draw(st.integers(0, n - 1))] = draw(st.sampled_from(MISSING))
        elif oddity == 4:  # length mismatch
            values = (
                values[:-1] if values and draw(st.booleans()) else [*values, pool[0]]
            )
        elif oddity == 5 and n:  # one class only
            values = [pool[0]] * n
    if plain:
        return np.array(values)
    container = "numpy" if draw(st.booleans()) else None
    container = container or draw(st.sampled_from(LABEL_CONTAINERS))
    return label_container(values, container)


@st.composite
def weights_for(draw, n):
    if rarely(draw, 3):
        return None
    length = n if draw(st.integers(0, 9)) else draw(st.integers(0, n + 2))
    odd = rarely(draw, 4)
    element = st.one_of(st.sampled_from([1.0, 0.0, 2.0, 3.0]), st.floats(0.0, 10.0))
    if odd:
        element = st.one_of(
            element,
            st.sampled_from([1e-300, 1e300, 1e308, 5e-324]),
            st.sampled_from([-1.0, np.nan, np.inf]),
        )
    values = draw(st.lists(element, min_size=length, max_size=length))
    array = np.array(values)
    kind = weighted(
        draw, [(6, "numpy"), (2, "list"), (2, "pandas"), (2, "int"), (1, "str")]
    )
    if kind == "list":
        return values
    if kind == "pandas":
        return pd.Series(array)
    if kind == "int":
        with np.errstate(all="ignore"):
            return np.nan_to_num(array, posinf=0).astype(np.int64)
    if kind == "str":
        return array.astype(str)
    return array


@st.composite
def problems(draw, *, max_rows=12, plain=False):
    """y_true, y_prob, sample_weight and the shape facts of one fuzz case."""
    n = 0 if rarely(draw, 20) else draw(st.integers(1, max_rows))
    k = draw(st.sampled_from([0, 0, 2, 3, 4, 1]))  # 0: 1-D forecasts
    n_classes = 2 if k in (0, 1) else k
    if rarely(draw, 10):
        n_classes = draw(st.integers(1, 5))
    # One part is odd at a time, mostly: several independent odd parts would
    # make nearly every example fail the first check and test nothing else.
    odd = weighted(
        draw, [(2, "y_prob"), (1, "y_true"), (1, "sample_weight"), (1, "all")]
    )
    plain_p = plain or odd not in ("y_prob", "all")
    plain_y = plain or odd not in ("y_true", "all")
    return {
        "n": n,
        "k": k,
        "y": draw(labels_for(n, n_classes, plain=plain_y)),
        "p": draw(forecasts(n, k, plain=plain_p, sprinkle=not plain_p)),
        "w": draw(weights_for(n)) if odd in ("sample_weight", "all") else None,
    }


def maybe_labels_kwarg(draw, problem):
    """Sometimes ``labels=``: the right ones, a shuffled, short or unseen set."""
    if not rarely(draw, 4):
        return {}
    k = max(problem["k"], 2)
    options = [list(range(k)), list(range(k))[::-1], ["u", "v"][: min(k, 2)], [0]]
    return {"labels": draw(st.sampled_from(options))}


# --- metrics --------------------------------------------------------------------------


def _scalar_check(name, *, low=-np.inf, high=np.inf, allow_inf=()):
    def check(result):
        check_finite(name, result, allow_inf=allow_inf if allow_inf else ())
        if np.isfinite(result):
            check_in(name, "value", result, low, high)

    return check


def _result_named(name):
    return lambda result: check_finite(name, result)


def _decomposition_check(name, score, strategy="isotonic", multiclass="classwise"):
    def check(result):
        allow = {"score", "miscalibration"} if score == "log" else set()
        if math.isinf(result.score):
            # With an infinite score, the binned REL (a KL term) and the
            # within-bin change are infinite too (MCB = REL + within_bin).
            allow |= {"reliability", "within_bin"}
        check_finite(name, result, allow_inf=allow)
        if math.isfinite(result.score):
            total = result.miscalibration - result.discrimination + result.uncertainty
            scale = 1.0 + abs(result.score) + abs(result.uncertainty)
            if abs(total - result.score) > 1e-6 * scale:
                _fail(
                    f"{name}: MCB - DSC + UNC != score",
                    f"{result!r}: {total!r} vs {result.score!r}",
                )
            # The signs the docstring promises: binned MCB has either sign, and
            # top-label Brier components may be slightly negative.
            parts = ["uncertainty"]
            if not (multiclass == "top_label" and score == "brier"):
                parts.append("discrimination")
                if strategy == "isotonic":
                    parts.append("miscalibration")
            for part in parts:
                if getattr(result, part) < -1e-9 * scale:
                    _fail(f"{name}: negative {part}", repr(result))

    return check


def _reliability_check(name):
    def check(result):
        check_finite(name, result)
        check_in(name, "forecast", result.forecast, 0.0, 1.0)
        check_in(name, "observed", result.observed, 0.0, 1.0)
        if result.lower is not None:
            check_in(name, "band", result.lower, 0.0, 1.0)
            check_in(name, "band", result.upper, 0.0, 1.0)

    return check


def _test_result_check(name, allow_inf=()):
    def check(result):
        check_finite(name, result, allow_inf=allow_inf)
        check_in(name, "p_value", result.p_value, 0.0, 1.0)

    return check


def metric_case(draw, target, problem):
    """(call, inputs, check) for one metric target."""
    y, p, w = problem["y"], problem["p"], problem["w"]
    lab = maybe_labels_kwarg(draw, problem)
    pos = (
        {"pos_label": draw(st.sampled_from([1, "b", 0, True]))}
        if (rarely(draw, 8))
        else {}
    )
    extra = {**lab, **pos}
    inputs = {"y_true": y, "y_prob": p, "sample_weight": w, "options": extra}
    if target == "brier_score":
        high = 2.0 if problem["k"] >= 2 else 1.0
        return (
            lambda: ckm.brier_score(y, p, sample_weight=w, **extra),
            inputs,
            _scalar_check(target, low=0.0, high=high),
        )
    if target == "log_loss":
        kind = draw(st.sampled_from(["probabilities", "logits"]))
        inputs["options"] = {"input": kind, **extra}
        return (
            lambda: ckm.log_loss(y, p, sample_weight=w, input=kind, **extra),
            inputs,
            _scalar_check(target, low=0.0, allow_inf={"result"}),
        )
    if target == "decompose":
        score = draw(st.sampled_from(["log", "brier"]))
        options = {
            "score": score,
            "n_bins": draw(st.sampled_from([1, 2, 10])),
            "strategy": draw(st.sampled_from(["isotonic", "uniform", "quantile"])),
            "multiclass": draw(st.sampled_from(["classwise", "top_label"])),
        }
        inputs["options"] = {**options, **extra}
        base_check = _decomposition_check(
            target, score, options["strategy"], options["multiclass"]
        )

        def check(result):
            base_check(result)
            if score == "log":
                # The score term is the mean log-loss: checked against the
                # metric's own row-by-row path (a rounded PAV frequency once
                # gave a silent 0 here).
                with warnings.catch_warnings():
                    # Certain and wrong: decompose has warned already.
                    warnings.simplefilter("ignore", ck_exceptions.CalibrationWarning)
                    expected = ckm.log_loss(y, p, sample_weight=w, **extra)
                if result.score != expected and not (
                    abs(result.score - expected) <= 1e-9 * (1.0 + abs(expected))
                ):
                    _fail(
                        f"{target}: score != log_loss",
                        f"{result.score!r} vs {expected!r}",
                    )

        return (
            lambda: ckm.decompose(y, p, sample_weight=w, **options, **extra),
            inputs,
            check,
        )
    if target == "expected_calibration_error":
        options = {
            "n_bins": draw(st.sampled_from([1, 3, 15])),
            "strategy": draw(st.sampled_from(["uniform", "quantile"])),
            "norm": draw(st.sampled_from(["l1", "l2", "max"])),
            "multiclass": draw(st.sampled_from(["top_label", "classwise"])),
            "debias": rarely(draw, 4),
        }
        inputs["options"] = {**options, **extra}
        return (
            lambda: ckm.expected_calibration_error(
                y, p, sample_weight=w, **options, **extra
            ),
            inputs,
            _scalar_check(target, low=0.0, high=1.0),
        )
    if target == "reliability_curve":
        options = {
            "strategy": draw(st.sampled_from(["uniform", "quantile", "isotonic"])),
            "n_bins": draw(st.sampled_from([1, 4, 10])),
            "bands": draw(st.sampled_from([None, None, 0.9])),
            "n_resamples": 20,
            "random_state": 0,
        }
        inputs["options"] = {**options, **extra}
        return (
            lambda: ckm.reliability_curve(y, p, sample_weight=w, **options, **extra),
            inputs,
            _reliability_check(target),
        )
    if target == "hosmer_lemeshow_test":
        n_bins = draw(st.sampled_from([3, 5, 10]))
        inputs["options"] = {"n_bins": n_bins, **pos}
        return (
            lambda: ckm.hosmer_lemeshow_test(
                y, p, n_bins=n_bins, sample_weight=w, **pos
            ),
            inputs,
            _test_result_check(target, allow_inf={"statistic"}),
        )
    if target == "spiegelhalter_z_test":
        return (
            lambda: ckm.spiegelhalter_z_test(y, p, sample_weight=w, **pos),
            inputs,
            _test_result_check(target),
        )
    if target == "evaluate_forecasts":
        kind = draw(st.sampled_from(["probabilities", "logits"]))
        n_bins = draw(st.sampled_from([1, 5, 15]))
        inputs["options"] = {"input": kind, "n_bins": n_bins, **lab}

        def check(result):
            check_finite(
                target, result, allow_inf={"log_loss", "score", "miscalibration"}
            )
            check_probabilities(target, result.y_prob)

        return (
            lambda: report.evaluate_forecasts(
                y, p, input=kind, sample_weight=w, n_bins=n_bins, **lab
            ),
            inputs,
            check,
        )
    raise AssertionError(target)


METRICS = [
    "brier_score",
    "log_loss",
    "decompose",
    "expected_calibration_error",
    "reliability_curve",
    "hosmer_lemeshow_test",
    "spiegelhalter_z_test",
    "evaluate_forecasts",
]


@pytest.mark.parametrize("target", METRICS)
@fuzz_settings(60)
@given(problem=problems(), data=st.data())
def test_metrics(target, problem, data):
    call, inputs, check = metric_case(data.draw, target, problem)
    check_call(target, call, inputs, check)


INFORMATION = {
    "entropy": {"result"},
    "cross_entropy": {"result"},
    "kl_divergence": {"result"},
    "information_decomposition": {"kl_divergence", "cross_entropy"},
}


@pytest.mark.parametrize("target", sorted(INFORMATION))
@fuzz_settings(60)
@given(data=st.data())
def test_information(target, data):
    n = data.draw(st.integers(0, 10))
    k = data.draw(st.sampled_from([0, 2, 3]))
    p = data.draw(forecasts(n, k))
    q_rows = n if data.draw(st.integers(0, 9)) else n + 1
    q = data.draw(forecasts(q_rows, k))
    w = data.draw(weights_for(n))
    function = getattr(ckm, target)
    if target == "entropy":
        call = lambda: function(p, sample_weight=w)  # noqa: E731
    else:
        call = lambda: function(p, q, sample_weight=w)  # noqa: E731

    def check(result):
        check_finite(target, result, allow_inf=INFORMATION[target])
        for _, value in walk_floats(result):
            if value < -1e-9:
                _fail(f"{target}: negative value", repr(result))

    check_call(target, call, {"p": p, "q": q, "sample_weight": w}, check)


# --- plots ----------------------------------------------------------------------------

DISPLAYS = [
    "ReliabilityDisplay.from_predictions",
    "ReliabilityDisplay.from_predictions_classwise",
    "DecompositionDisplay.from_predictions",
]


@pytest.mark.parametrize("target", DISPLAYS)
@fuzz_settings(12)
@given(problem=problems(max_rows=8), data=st.data())
def test_displays(target, problem, data):
    y, p, w = problem["y"], problem["p"], problem["w"]
    lab = maybe_labels_kwarg(data.draw, problem)
    inputs = {"y_true": y, "y_prob": p, "sample_weight": w}
    if target == "ReliabilityDisplay.from_predictions":
        options = {
            "strategy": data.draw(st.sampled_from(["uniform", "quantile", "isotonic"])),
            "logit_scale": data.draw(st.booleans()),
            "bands": data.draw(st.sampled_from([None, 0.9])),
            "n_resamples": 20,
            "random_state": 0,
        }

        def call():
            return plotting.ReliabilityDisplay.from_predictions(
                y, p, sample_weight=w, **options, **lab
            )

        def check(display):
            _reliability_check(target)(display.curve)

    elif target == "ReliabilityDisplay.from_predictions_classwise":
        options = {"logit_scale": data.draw(st.booleans())}

        def call():
            return plotting.ReliabilityDisplay.from_predictions_classwise(
                y, p, sample_weight=w, **options, **lab
            )

        def check(display):
            displays = display if isinstance(display, list | tuple) else [display]
            for one in displays:
                _reliability_check(target)(one.curve)

    else:
        kind = data.draw(st.sampled_from(["bars", "mcb_dsc"]))
        score = data.draw(st.sampled_from(["log", "brier"]))
        y_probs = {"model": p, "copy": data.draw(forecasts(problem["n"], problem["k"]))}
        inputs["y_prob"] = y_probs

        def call():
            return plotting.DecompositionDisplay.from_predictions(
                y, y_probs, score=score, sample_weight=w, kind=kind, **lab
            )

        def check(display):
            for one in display.decompositions:
                _decomposition_check(target, score)(one)

    check_call(target, call, inputs, check)


# --- calibrators ----------------------------------------------------------------------

CALIBRATORS = {
    "PlattScaling": ck.PlattScaling,
    "PlattScaling(smoothed)": lambda **kw: ck.PlattScaling(target_smoothing=True, **kw),
    "TemperatureScaling": ck.TemperatureScaling,
    "BetaCalibration": ck.BetaCalibration,
    "IsotonicCalibration": ck.IsotonicCalibration,
    "IsotonicCalibration(constant)": lambda **kw: ck.IsotonicCalibration(
        interpolation="constant", **kw
    ),
}
FITTED_ALLOW_INF = {"temperature_"}


def check_fitted(name, model, n_rows):
    state = {
        key: value
        for key, value in vars(model).items()
        if key.endswith("_") and not key.startswith("_") and key != "classes_"
    }
    check_finite(name, state, allow_inf=FITTED_ALLOW_INF)


@pytest.mark.parametrize("target", sorted(CALIBRATORS))
@pytest.mark.parametrize("kind", ["logits", "probabilities"])
@fuzz_settings(40)
@given(problem=problems(), data=st.data())
def test_calibrators(target, kind, problem, data):
    y, p, w = problem["y"], problem["p"], problem["w"]
    model = CALIBRATORS[target](input=kind)
    name = f"{target}(input={kind!r}).fit"
    fitted = check_call(
        name,
        lambda: model.fit(p, y, sample_weight=w),
        {"X": p, "y": y, "sample_weight": w},
        lambda m: check_fitted(name, m, problem["n"]),
    )
    if fitted is None or not hasattr(fitted, "classes_"):
        return
    m = data.draw(st.integers(0, 8))
    new = data.draw(forecasts(m, problem["k"]))
    name = f"{target}(input={kind!r}).predict_proba"
    for X in (p, new):
        rows = len(X) if hasattr(X, "__len__") else None
        check_call(
            name,
            lambda X=X: fitted.predict_proba(X),
            {"X": X},
            lambda proba, rows=rows: check_probabilities(name, proba, rows),
        )
    # Persistence: the saved calibrator predicts what the fitted one does.
    plain = data.draw(forecasts(m, problem["k"], plain=True))
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        try:
            expected = fitted.predict_proba(plain)
        except (ValueError, TypeError):
            return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cal.json"
        name = f"save/load({target})"
        if check_call(name, lambda: ck.save(fitted, path), {}) is None:
            return
        try:
            json.loads(path.read_text(), parse_constant=_reject_constant)
        except ValueError as exc:
            _fail_or_record(f"{name}: file is not strict JSON", str(exc))
        loaded = check_call(name, lambda: ck.load(path), {})
        if loaded is None:
            _fail_or_record(f"{name}: load of a saved file failed", repr(fitted))
            return
        again = check_call(name, lambda: loaded.predict_proba(plain), {"X": plain})
        if again is None or not np.array_equal(again, expected, equal_nan=True):
            _fail_or_record(
                f"{name}: loaded calibrator predicts differently",
                f"{expected!r} vs {again!r}",
            )
        document = check_call(name, lambda: ck.to_dict(fitted), {})
        rebuilt = check_call(
            name, lambda: ck.from_dict(document), {"document": document}
        )
        if rebuilt is None:
            _fail_or_record(f"{name}: from_dict(to_dict()) failed", repr(document))


def _reject_constant(name):
    msg = f"non-standard JSON constant {name}"
    raise ValueError(msg)


def _fail_or_record(signature, detail):
    record_or_raise(FuzzError(signature, detail), detail)


# --- the wrapper and the scorers ------------------------------------------------------


@st.composite
def features(draw, n):
    d = draw(st.integers(1, 3))
    # Moderate values: extreme features make LogisticRegression itself overflow
    # (scikit-learn's warnings, not calibkit's); the calibrators get extremes above.
    mode = draw(st.sampled_from(["logits", "probabilities"]))
    return draw(float_matrix(n, d, mode=mode, sprinkle=False))


@pytest.mark.parametrize("method", ["temperature", "platt", "isotonic", "auto"])
@fuzz_settings(8)
@given(data=st.data())
def test_calibrated_classifier(method, data):
    from sklearn.linear_model import LogisticRegression

    n = data.draw(st.integers(0, 24))
    n_classes = data.draw(st.sampled_from([2, 2, 3, 1]))
    X = data.draw(features(n))
    X = convert(
        X, data.draw(st.sampled_from(["float64", "float32", "object"])), "numpy"
    )
    y = data.draw(labels_for(n, n_classes))
    w = data.draw(weights_for(n))
    options = {
        "cv": data.draw(st.sampled_from([2, 3])),
        "ensemble": data.draw(st.booleans()),
        "response": data.draw(
            st.sampled_from(["auto", "decision_function", "predict_proba"])
        ),
    }
    model = ck.CalibratedClassifier(
        LogisticRegression(max_iter=200), method=method, **options
    )
    name = f"CalibratedClassifier({method}).fit"
    fitted = check_call(
        name,
        lambda: model.fit(X, y, sample_weight=w),
        {"X": X, "y": y, "sample_weight": w},
    )
    if fitted is None:
        return
    X_new = data.draw(features(data.draw(st.integers(0, 6))))
    name = f"CalibratedClassifier({method}).predict_proba"
    for Z in (X, X_new):
        check_call(
            name,
            lambda Z=Z: fitted.predict_proba(Z),
            {"X": Z},
            lambda proba, Z=Z: check_probabilities(name, proba, len(Z)),
        )


def _clean_model(classes):
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    y = np.array(classes)[np.arange(40) % len(classes)]
    X = rng.normal(size=(40, 2)) + np.arange(40)[:, None] % len(classes)
    return LogisticRegression().fit(X, y)


@pytest.mark.parametrize("scorer_name", [*get_scorer_names(), "custom"])
@fuzz_settings(25)
@given(data=st.data())
def test_scorers(scorer_name, data):
    classes = data.draw(st.sampled_from([[0, 1], [0, 1, 2], ["a", "b"]]))
    model = _clean_model(classes)
    n = data.draw(st.integers(0, 10))
    X = data.draw(
        float_matrix(
            n,
            2,
            mode=data.draw(st.sampled_from(["logits", "probabilities"])),
            sprinkle=False,
        )
    )
    pool = [*classes, "zz", None] if rarely(data.draw, 5) else classes
    y = data.draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
    y = np.array(y, dtype=object) if None in y else np.array(y)
    w = data.draw(weights_for(n))
    if scorer_name == "custom":
        scorer = make_calibration_scorer(
            data.draw(st.sampled_from(["decompose", "expected_calibration_error"])),
            **({"n_bins": 3} if data.draw(st.booleans()) else {}),
        )
        allow = ()
    else:
        scorer = get_scorer(scorer_name)
        allow = ("result",) if scorer_name == "neg_log_loss_exact" else ()

    def check(value):
        for path, number in walk_floats(value):
            if math.isnan(number) or (
                math.isinf(number) and not (number < 0 and path in allow)
            ):
                _fail(f"{scorer_name}: {number} score", repr(value))

    check_call(
        f"scorer {scorer_name}",
        lambda: scorer(model, X, y, sample_weight=w),
        {"X": X, "y": y, "sample_weight": w},
        check,
    )


# --- the command line -----------------------------------------------------------------

CELL_TEXT = [
    "0",
    "1",
    "01",
    "1.0",
    "NA",
    "",
    "nan",
    "inf",
    "-inf",
    "1e308",
    "-1e308",
    "1e-300",
    "5e-324",
    "1e400",
    "abc",
    "True",
    " 2 ",
    "0x10",
    "1,5",
    '"q"',
]
NAMES = ["y", "y", "label", "logit_0", "logit_1", "logit_2", "p", "id", "w", "", "é"]


@st.composite
def csv_tables(draw):
    """(header, rows) of a small CSV table, mostly well-formed, sometimes not."""
    n = draw(st.integers(0, 12))
    n_scores = draw(st.integers(1, 3))
    header = ["y"] + [f"logit_{j}" for j in range(n_scores)]
    if draw(st.booleans()):
        header.append("id")
    if draw(st.booleans()):
        header.append("w")
    if rarely(draw, 5):  # random / duplicate names
        header = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=5))
    label_pool = draw(
        st.sampled_from(
            [
                ["0", "1"],
                ["0", "1", "2"],
                ["a", "b"],
                ["1", "01"],
                ["NA", "x"],
                ["1e308", "0"],
            ]
        )
    )
    rows = []
    for _ in range(n):
        row = []
        for name in header:
            if name in ("y", "label"):
                value = draw(st.sampled_from(label_pool))
                if rarely(draw, 16):
                    value = draw(st.sampled_from(CELL_TEXT))
            elif name == "id":
                value = str(draw(st.integers(0, 10**6)))
            elif name == "w":
                value = draw(
                    st.sampled_from(["1", "2", "0", "0.5", "1e308", "-1", "", "nan"])
                )
            elif draw(st.integers(0, 5)):
                value = repr(draw(st.floats(-30, 30)))
                if rarely(draw, 8):
                    value = repr(draw(magnitudes))
            else:
                value = draw(st.sampled_from(CELL_TEXT))
            row.append(value)
        if rarely(draw, 31):
            row = row[:-1]  # ragged row
        rows.append(row)
    return header, rows


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def write_numpy(path, header, rows, draw):
    """The table as .npy (2-D float array or structured) or .npz, maybe truncated."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        numbers = []
        for row in rows:
            values = []
            for cell in row + [""] * (len(header) - len(row)):
                try:
                    values.append(float(cell))
                except ValueError:
                    values.append(np.nan)
            numbers.append(values[: len(header)])
        array = np.array(numbers, dtype=np.float64).reshape(len(rows), len(header))
    if path.suffix == ".npy":
        if draw(st.booleans()):
            np.save(path, array)
        else:
            names = [name or "blank" for name in header]
            if len(set(names)) != len(names):
                names = [f"{name}{j}" for j, name in enumerate(names)]
            dtype = [(name, np.float64) for name in names]
            structured = np.zeros(len(rows), dtype=dtype)
            for j, name in enumerate(names):
                structured[name] = array[:, j]
            np.save(path, structured)
    else:
        names = {
            (name or "blank") + (str(j) if header.count(name) > 1 else ""): array[:, j]
            for j, name in enumerate(header)
        }
        np.savez(path, **names)
    if rarely(draw, 6):  # a truncated file
        data = path.read_bytes()
        path.write_bytes(data[: draw(st.integers(0, max(len(data) - 1, 0)))])


def _mutate_json(draw, document):
    """A hand-edited calibrator file: numbers, types and nesting changed."""
    paths = []

    def collect(node, trail):
        paths.append(trail)
        if isinstance(node, dict):
            for key, value in node.items():
                collect(value, (*trail, key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                collect(value, (*trail, index))

    collect(document, ())
    for _ in range(draw(st.integers(1, 3))):
        trail = draw(st.sampled_from(paths[1:]))
        parent = document
        try:
            for step in trail[:-1]:
                parent = parent[step]
            replacement = draw(
                st.sampled_from(
                    [
                        1e308,
                        -1e308,
                        float("nan"),
                        float("inf"),
                        -1.0,
                        0,
                        1e-300,
                        "x",
                        None,
                        [],
                        {},
                        [1.0, 2.0],
                        True,
                        "DELETE",
                        "NEST",
                    ]
                )
            )
            if replacement == "DELETE" and isinstance(parent, dict):
                del parent[trail[-1]]
            elif replacement == "NEST":
                parent[trail[-1]] = [parent[trail[-1]]]
            else:
                parent[trail[-1]] = replacement
        except (KeyError, IndexError, TypeError):
            continue
    return document


def _valid_calibrator(tmp, method, classes, k):
    rng = np.random.default_rng(1)
    n = 30
    y = np.array(classes)[np.arange(n) % len(classes)]
    X = rng.normal(size=(n, k)) if k > 1 else rng.normal(size=n)
    model = {"platt": ck.PlattScaling, "temperature": ck.TemperatureScaling}.get(
        method, ck.IsotonicCalibration
    )()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    path = tmp / "valid.json"
    columns = [f"logit_{j}" for j in range(k)] if k > 1 else ["logit_0"]
    ck.save(model, path, metadata={"columns": columns})
    return json.loads(path.read_text())


def _snapshot_files(directory):
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


@contextlib.contextmanager
def _unseen_warnings(found):
    """Record the warnings that the CLI's console drops (not UserWarning)."""
    original = cli_console.Console.warnings

    def spy(self, caught):
        found.extend(r for r in caught if not _allowed_warning(r.category))
        return original(self, caught)

    with mock.patch.object(cli_console.Console, "warnings", spy):
        yield


def _strict_json(path, name):
    try:
        return json.loads(
            path.read_text(encoding="utf-8"), parse_constant=_reject_constant
        )
    except ValueError as exc:
        _fail(f"{name}: output is not strict JSON", str(exc))
    return None


def run_cli(command, argv, directory, outputs):
    """Run ``calibkit argv`` in-process and check the CLI property."""
    before = _snapshot_files(directory)
    stderr, stdout = io.StringIO(), io.StringIO()
    found = []
    inputs = {"argv": argv, "files": {k: v[:300] for k, v in before.items()}}
    try:
        try:
            with (
                contextlib.redirect_stderr(stderr),
                contextlib.redirect_stdout(stdout),
                _unseen_warnings(found),
                warnings.catch_warnings(record=True) as outer,
            ):
                warnings.simplefilter("always")
                try:
                    code = cli.main([str(a) for a in argv])
                except BaseException as exc:  # the property: nothing escapes
                    where = _origin(exc)
                    _fail(
                        f"cli {command}: {type(exc).__name__} escaped at {where}",
                        f"{type(exc).__name__}: {exc}",
                    )
            err = stderr.getvalue()
            inputs["stderr"] = err
            if code not in (0, 2):
                _fail(f"cli {command}: exit {code}", err)
            if "Traceback" in err:
                _fail(f"cli {command}: traceback on stderr", err)
            for record in [*found, *outer]:
                if not _allowed_warning(record.category):
                    _fail(
                        f"cli {command}: {record.category.__name__} at "
                        f"{Path(record.filename).name}:{record.lineno}",
                        str(record.message),
                    )
            after = _snapshot_files(directory)
            for name, content in before.items():
                if after.get(name) != content:
                    _fail(f"cli {command}: input file changed", name)
            created = sorted(set(after) - set(before))
            if code == 2:
                if not err.strip().splitlines() or not any(
                    line.startswith(f"calibkit {command}: error: ")
                    or line.startswith("usage:")
                    for line in err.splitlines()
                ):
                    _fail(f"cli {command}: exit 2 without an error line", err)
                if created:
                    _fail(f"cli {command}: exit 2 left files", repr(created))
            else:
                for output in outputs:
                    if not output.exists():
                        _fail(f"cli {command}: exit 0 without {output.name}", err)
                leftovers = [n for n in created if n not in {o.name for o in outputs}]
                if leftovers:
                    _fail(f"cli {command}: stray files", repr(leftovers))
            return code, err
        finally:
            plt.close("all")
    except FuzzError as failure:
        record_with_inputs(failure, inputs)
    return None, None


def _column_options(draw, header):
    choice = draw(st.integers(0, 4))
    if choice == 3:
        return ["--prefix", draw(st.sampled_from(["logit_", "p", "zz", ""]))]
    if choice == 2:
        cols = draw(
            st.lists(st.sampled_from([*header, "nope"]), min_size=1, max_size=3)
        )
        return ["--columns", ",".join(cols)]
    if choice in (0, 1) and "logit_0" in header:
        return ["--prefix", "logit_"]
    return []


@fuzz_settings(25)
@given(data=st.data())
def test_cli_fit_apply_evaluate(data):
    draw = data.draw
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        header, rows = draw(csv_tables())
        fmt = draw(st.sampled_from([".csv", ".csv", ".csv", ".npy", ".npz"]))
        table = tmp / f"t{fmt}"
        if fmt == ".csv":
            write_csv(table, header, rows)
        else:
            write_numpy(table, header, rows, draw)
        label = draw(st.sampled_from(["y", "label", "0", "missing"]))
        columns = _column_options(draw, header)
        command = draw(st.sampled_from(["fit", "apply", "evaluate"]))
        if command == "fit":
            out = tmp / "cal.json"
            argv = ["fit", table, "--label", label, *columns, "-o", out, "-q"]
            argv += draw(
                st.sampled_from(
                    [[], ["--input", "probabilities"], ["--input", "logits"]]
                )
            )
            argv += [
                "--method",
                draw(st.sampled_from(["temperature", "platt", "isotonic", "auto"])),
            ]
            if draw(st.booleans()):
                argv += ["--weight", draw(st.sampled_from(["w", "id", "y", "nope"]))]
            code, _ = run_cli("fit", argv, tmp, [out])
            if code == 0:
                document = _strict_json(out, "cli fit")
                try:
                    ck.from_dict(document)
                except (ValueError, TypeError) as exc:
                    _fail_or_record("cli fit: written file does not load", str(exc))
            return
        method = draw(st.sampled_from(["platt", "temperature", "isotonic"]))
        classes = draw(st.sampled_from([[0, 1], [0, 1, 2], ["a", "b"]]))
        k = draw(st.sampled_from([1, 2])) if len(classes) == 2 else len(classes)
        document = _valid_calibrator(tmp, method, classes, k)
        (tmp / "valid.json").unlink()
        if draw(st.booleans()):
            document = _mutate_json(draw, document)
        calibrator = tmp / "cal.json"
        calibrator.write_text(json.dumps(document), encoding="utf-8")
        if command == "apply":
            out = tmp / draw(st.sampled_from(["out.csv", "out.npy", "out.npz"]))
            argv = ["apply", calibrator, table, *columns, "-o", out, "-q"]
            code, _ = run_cli("apply", argv, tmp, [out])
            if code == 0 and out.suffix == ".csv":
                frame = pd.read_csv(out)
                probs = frame[
                    [c for c in frame.columns if str(c).startswith("calibrated_")]
                ]
                try:
                    check_probabilities("cli apply", probs.to_numpy(dtype=np.float64))
                except FuzzError as failure:
                    record_or_raise(failure, repr(argv))
            return
        outputs = []
        argv = ["evaluate", table, "--label", label, *columns, "-q"]
        if draw(st.booleans()):
            argv += ["--calibrator", calibrator]
        if draw(st.booleans()):
            argv += ["--n-bins", draw(st.sampled_from(["1", "15", "0", "-3", "x"]))]
        if draw(st.booleans()):
            argv += ["--json", tmp / "m.json"]
            outputs.append(tmp / "m.json")
        if rarely(draw, 6):
            argv += ["--report", tmp / "r.html"]
            outputs.append(tmp / "r.html")
        code, _ = run_cli("evaluate", argv, tmp, outputs)
        if code == 0 and tmp / "m.json" in outputs:
            _strict_json(tmp / "m.json", "cli evaluate")


@pytest.mark.skipif(RECORD is not None, reason="FUZZ_RECORD records, never raises")
def test_fuzz_helpers_catch_what_they_should():
    """The checker itself: it flags NaN, stray inf, bad errors, warnings, mutation."""
    x = np.array([0.5, 0.5])
    with pytest.raises(FuzzError, match="NaN"):
        check_call("t", lambda: float("nan"), {}, lambda r: check_finite("t", r))
    with pytest.raises(FuzzError, match="inf"):
        check_call("t", lambda: float("inf"), {}, lambda r: check_finite("t", r))
    check_finite("t", float("inf"), allow_inf={"result"})
    with pytest.raises(FuzzError, match="ZeroDivisionError"):
        check_call("t", lambda: 1 / 0, {})
    with pytest.raises(FuzzError, match="empty ValueError"):
        check_call("t", lambda: (_ for _ in ()).throw(ValueError("")), {})
    with pytest.raises(FuzzError, match="RuntimeWarning"):
        check_call("t", lambda: np.log(np.zeros(1)), {})
    with pytest.raises(FuzzError, match="mutates x"):
        check_call("t", lambda: x.__setitem__(0, 1.0), {"x": x})
    with pytest.raises(FuzzError, match="sum to 1"):
        check_probabilities("t", np.array([[0.5, 0.6]]))
    assert (
        check_call("t", lambda: (_ for _ in ()).throw(TypeError("bad y")), {}) is None
    )
