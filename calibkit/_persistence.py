"""Save and load fitted calibrators as JSON: parameters and numbers, never code.

A saved calibrator is a JSON object::

    {
      "format": "calibkit-calibrator",
      "schema_version": 1,
      "calibkit_version": "0.1.0",
      "class": "PlattScaling",
      "params": {"input": "logits", "max_iter": 100, "target_smoothing": false},
      "n_features_in": 1,
      "classes": {"dtype": "<i8", "values": [0, 1]},
      "state": {
        "coef_": {"dtype": "float64", "values": [1.25]},
        "intercept_": {"dtype": "float64", "values": [-0.5]},
        "n_iter_": {"dtype": "int64", "values": [6]}
      },
      "metadata": {}
    }

``params`` are the constructor arguments (``get_params()``). ``classes`` holds
the labels with their numpy dtype string, so integers, floats, booleans and
strings come back with exactly the type they had (a loaded calibrator predicts
the same labels). ``class`` is the class name of a calibrator in the registry
(:data:`calibkit.calibrators._registry.CALIBRATORS`). ``state`` is its fitted
state, as the class declares it in ``_fitted_state`` (attribute -> codec; the
codecs and their JSON forms are in :mod:`calibkit.calibrators._state`): arrays
are stored as ``{"dtype": ..., "values": [...]}`` so that they come back in
their own precision (``float64``, ``float32``, ``int64`` or ``int32``), an
infinite float as the string ``"inf"`` (strict JSON has no infinity), and an
optional attribute that is None is left out (a file without it, e.g. saved
before it existed, loads with None). The class's ``_check_state`` adds the
checks that span several attributes. See the ``_fitted_state`` of
:class:`~calibkit.PlattScaling`, :class:`~calibkit.TemperatureScaling` and
:class:`~calibkit.IsotonicCalibration` for theirs.

``feature_names_in`` (optional) lists the column names of a calibrator fitted
on a DataFrame (its ``feature_names_in_``).

``metadata`` is an optional object for the caller (the command line stores the
prediction columns there); calibkit ignores it when loading.

Floats are written by Python's ``repr``, the shortest decimal that reads back
to the same double, so loading restores every number bit for bit and a loaded
calibrator predicts exactly what the saved one did. Loading never executes code
(no pickle) and checks everything: an unknown class or schema version, a
missing, extra or malformed field, or a non-finite number where none is
allowed raises a ValueError that names the field. A file is data from
anywhere, so loading also refuses files larger than :data:`MAX_FILE_BYTES`,
nesting deep enough to exhaust the parser, integers too large for their field,
string labels declared wider than :data:`MAX_LABEL_WIDTH` characters (and
wider than the longest label), a temperature that is subnormal (below
``2.2e-308`` but not 0, so that logits divided by it overflow), isotonic
probabilities that decrease, a clipping bound ``eps_`` that differs from a
numeric ``eps`` parameter, and isotonic knots whose layout contradicts the
``interpolation`` parameter (``"step"`` keeps one knot per block, so its
probabilities strictly increase; ``"linear"`` keeps both ends of a block, so
a probability appears at most twice).
"""

import json
import math

import numpy as np
from sklearn.utils.validation import check_is_fitted

from calibkit._version import __version__
from calibkit.calibrators._registry import CALIBRATORS, by_class_name
from calibkit.calibrators._state import Fields, kind
from calibkit.io._formats import check_input_file
from calibkit.io._write import atomic_output

__all__ = [
    "MAX_FILE_BYTES",
    "SCHEMA_VERSION",
    "from_dict",
    "load",
    "load_metadata",
    "load_with_metadata",
    "save",
    "to_dict",
]

#: Version of the document layout; bumped when the layout changes.
SCHEMA_VERSION = 1

#: Largest calibrator file read (bytes): a calibrator file is data from
#: anywhere, and JSON costs far more memory parsed than on disk. 64 MiB holds
#: an isotonic map with about three million knots.
MAX_FILE_BYTES = 64 * 2**20

#: Longest fixed-width string dtype accepted for labels (characters), unless
#: the labels themselves are longer.
MAX_LABEL_WIDTH = 256

FORMAT = "calibkit-calibrator"

_TOP_LEVEL = {
    "format",
    "schema_version",
    "calibkit_version",
    "class",
    "params",
    "n_features_in",
    "classes",
    "state",
}
_LABEL_KINDS = "biufUO"


def to_dict(calibrator, *, metadata=None):
    """The JSON-ready description of a fitted calibrator.

    Parameters
    ----------
    calibrator : PlattScaling, TemperatureScaling or IsotonicCalibration
        A fitted calibrator.
    metadata : dict or None, default=None
        Extra JSON-serialisable information stored alongside (ignored by
        :func:`from_dict`).

    Returns
    -------
    dict
        Only dicts, lists, strings, numbers, booleans and None; see the module
        docstring for the layout.

    Raises
    ------
    TypeError
        For another estimator, or labels that cannot be stored in JSON.
    sklearn.exceptions.NotFittedError
        When the calibrator is not fitted.

    Examples
    --------
    >>> from calibkit import TemperatureScaling
    >>> from calibkit._persistence import to_dict
    >>> cal = TemperatureScaling().fit([[2.0, 0.0], [0.0, 1.0], [1.0, 3.0]], [0, 0, 1])
    >>> doc = to_dict(cal)
    >>> doc["class"], doc["classes"], doc["state"]["temperature_"] == cal.temperature_
    ('TemperatureScaling', {'dtype': '<i8', 'values': [0, 1]}, True)
    """
    name = type(calibrator).__name__
    if by_class_name(name) is not type(calibrator):
        supported = ", ".join(_class_names())
        msg = f"calibrator must be one of {supported}; got {type(calibrator).__name__}."
        raise TypeError(msg)
    check_is_fitted(calibrator)
    if metadata is not None and not isinstance(metadata, dict):
        msg = f"metadata must be a dict or None; got {type(metadata).__name__}."
        raise TypeError(msg)
    doc = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "calibkit_version": __version__,
        "class": name,
        "params": dict(sorted(calibrator.get_params(deep=False).items())),
        "n_features_in": int(calibrator.n_features_in_),
        "classes": _encode_classes(calibrator.classes_),
        "state": _encode_state(calibrator),
    }
    names = getattr(calibrator, "feature_names_in_", None)
    if names is not None:
        doc["feature_names_in"] = [str(n) for n in names]
    if metadata is not None:
        doc["metadata"] = metadata
    return doc


def from_dict(document):
    """Rebuild a fitted calibrator from :func:`to_dict` output, checking everything.

    Parameters
    ----------
    document : dict
        As returned by :func:`to_dict` (or read from a saved JSON file).

    Returns
    -------
    PlattScaling, TemperatureScaling or IsotonicCalibration
        Fitted; predicts exactly what the saved calibrator predicted.

    Raises
    ------
    ValueError
        For an unknown format, schema version or class, or a missing, extra or
        malformed field; the message names the field.

    Examples
    --------
    >>> from calibkit import PlattScaling
    >>> from calibkit._persistence import from_dict, to_dict
    >>> scores = [-2.0, -1.0, 0.5, 1.0, 2.0]
    >>> cal = PlattScaling().fit(scores, ["no", "yes", "no", "yes", "yes"])
    >>> copy = from_dict(to_dict(cal))
    >>> copy.predict([-3.0, 3.0]).tolist()
    ['no', 'yes']
    """
    file = document.path if isinstance(document, _Prefixed) else None
    doc = Fields(document, "document", file=file)
    if doc.get("format") != FORMAT:
        raise doc.error(
            f"field 'format' must be {FORMAT!r}; got {doc.get('format')!r}: this "
            "is not a saved calibkit calibrator."
        )
    version = doc.get("schema_version")
    if type(version) is not int or version != SCHEMA_VERSION:
        raise doc.error(
            f"field 'schema_version' is {version!r}, but this calibkit "
            f"({__version__}) reads schema version {SCHEMA_VERSION} only."
        )
    doc.check_keys(_TOP_LEVEL, optional={"metadata", "feature_names_in"})
    if not isinstance(doc.get("calibkit_version"), str):
        raise doc.error("field 'calibkit_version' must be a string.")
    name = doc.get("class")
    cls = by_class_name(name) if isinstance(name, str) else None
    if cls is None:
        raise doc.error(
            f"field 'class' is {name!r}; known classes are {', '.join(_class_names())}."
        )
    if "metadata" in document and not isinstance(document["metadata"], dict):
        raise doc.error("field 'metadata' must be an object.")

    calibrator = _build(cls, doc.sub("params"))
    classes = _decode_classes(doc.sub("classes"))
    n_models = 1 if len(classes) == 2 else len(classes)
    n_features = doc.get("n_features_in")
    allowed = {1, len(classes)} if len(classes) == 2 else {len(classes)}
    if type(n_features) is not int or n_features not in allowed:
        raise doc.error(
            f"field 'n_features_in' must be one of {sorted(allowed)} for "
            f"{len(classes)} classes; got {n_features!r}."
        )
    try:
        _decode_state(calibrator, doc.sub("state"), n_models)
    except OverflowError:
        raise doc.error("field 'state' holds a number too large for a float.") from None
    calibrator.classes_ = classes
    calibrator.n_features_in_ = n_features
    if "feature_names_in" in document:
        names = document["feature_names_in"]
        if (
            not isinstance(names, list)
            or len(names) != n_features
            or not all(isinstance(n, str) for n in names)
            or len(set(names)) != len(names)
        ):
            raise doc.error(
                f"field 'feature_names_in' must be a list of {n_features} distinct "
                "column names."
            )
        calibrator.feature_names_in_ = np.asarray(names, dtype=object)
    return calibrator


def save(calibrator, path, *, metadata=None):
    """Save a fitted calibrator to a JSON file (written atomically).

    Parameters
    ----------
    calibrator : PlattScaling, TemperatureScaling or IsotonicCalibration
        A fitted calibrator.
    path : str or os.PathLike
        Output file; it is replaced only once the new file is complete.
    metadata : dict or None, default=None
        Extra JSON-serialisable information (see :func:`to_dict`).

    See Also
    --------
    load : Read it back.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from calibkit import IsotonicCalibration, load, save
    >>> cal = IsotonicCalibration().fit([-2.0, 0.4, 0.35, 1.5], [0, 0, 1, 1])
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "calibrator.json"
    >>> save(cal, path)
    >>> (load(path).predict_proba([0.5]) == cal.predict_proba([0.5])).all()
    np.True_
    """
    text = json.dumps(to_dict(calibrator, metadata=metadata), indent=2, allow_nan=False)
    with atomic_output(path) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")


def load(path):
    """Load a calibrator saved by :func:`save`.

    Parameters
    ----------
    path : str or os.PathLike
        A JSON file written by :func:`save`, at most :data:`MAX_FILE_BYTES`.

    Returns
    -------
    PlattScaling, TemperatureScaling or IsotonicCalibration
        The fitted calibrator.

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    ValueError
        When the file is not valid JSON or not a valid calibrator; the message
        starts with the path and names the field.
    """
    return load_with_metadata(path)[0]


def load_with_metadata(path):
    """A saved calibrator and its ``metadata`` object, reading the file once.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    calibrator : PlattScaling, TemperatureScaling or IsotonicCalibration
    metadata : dict
        ``{}`` when the file has none.

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`load`.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from calibkit import PlattScaling, save
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "cal.json"
    >>> cal = PlattScaling().fit([-2.0, -1.0, 0.5, 1.0, 2.0], [0, 1, 0, 1, 1])
    >>> save(cal, path, metadata={"columns": ["score"]})
    >>> loaded, metadata = load_with_metadata(path)
    >>> metadata
    {'columns': ['score']}
    >>> bool((loaded.predict_proba([0.0]) == cal.predict_proba([0.0])).all())
    True
    """
    document = _read_document(path)
    return from_dict(document), dict(document.get("metadata", {}))


def load_metadata(path):
    """The ``metadata`` object stored by :func:`save` (``{}`` when there is none).

    The whole file is validated first, as by :func:`load`.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    dict
    """
    return load_with_metadata(path)[1]


def _read_document(path):
    check_input_file(path, what="calibrator file")
    with open(path, "rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        msg = (
            f"'{path}' is not read: it is larger than {MAX_FILE_BYTES} bytes, the "
            "limit for a calibrator file."
        )
        raise ValueError(msg)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        msg = f"'{path}' is not a calibrator file: it is not UTF-8 text."
        raise ValueError(msg) from None
    try:
        document = json.loads(
            text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys
        )
    except json.JSONDecodeError as exc:
        msg = f"'{path}' is not a calibrator file: invalid JSON ({exc})."
        raise ValueError(msg) from None
    except ValueError as exc:
        msg = f"'{path}' is not a calibrator file: {exc}"
        raise ValueError(msg) from None
    except RecursionError:
        msg = f"'{path}' is not a calibrator file: its JSON is nested too deeply."
        raise ValueError(msg) from None
    if not isinstance(document, dict):
        msg = f"'{path}' is not a calibrator file: the JSON is not an object."
        raise ValueError(msg)
    return _Prefixed(document, path)


class _Prefixed(dict):
    """A document whose validation errors start with the file name."""

    def __init__(self, document, path):
        super().__init__(document)
        self.path = path


def _reject_constant(name):
    msg = f'{name} is not valid in strict JSON (infinite temperatures are "inf").'
    raise ValueError(msg)


def _unique_keys(pairs):
    keys = [k for k, _ in pairs]
    duplicated = sorted({k for k in keys if keys.count(k) > 1})
    if duplicated:
        msg = f"duplicate key(s) {duplicated} in a JSON object."
        raise ValueError(msg)
    return dict(pairs)


# --- classes -----------------------------------------------------------------------


def _encode_classes(classes):
    classes = np.asarray(classes)
    if classes.dtype.kind not in _LABEL_KINDS:
        msg = (
            f"classes_ of dtype {classes.dtype} cannot be saved; labels must be "
            "integers, floats, booleans or strings."
        )
        raise TypeError(msg)
    values = classes.tolist()
    if classes.dtype.kind == "O" and not all(isinstance(v, str) for v in values):
        kinds = sorted({type(v).__name__ for v in values})
        msg = (
            f"classes_ holds Python objects of types {kinds}; only strings can be "
            "saved from an object array."
        )
        raise TypeError(msg)
    return {"dtype": classes.dtype.str, "values": values}


def _decode_classes(fields):
    fields.check_keys({"dtype", "values"})
    dtype = _label_dtype(fields)
    values = fields.get("values")
    name = fields.name("values")
    if not isinstance(values, list) or len(values) < 2:
        raise fields.error(f"field '{name}' must be a list of at least 2 labels.")
    check = {
        "b": lambda v: type(v) is bool,
        "i": lambda v: type(v) is int and -(2**63) <= v < 2**63,
        "u": lambda v: type(v) is int and 0 <= v < 2**64,
        "f": lambda v: (
            (type(v) is float and math.isfinite(v))
            or (type(v) is int and abs(v) < 2**53)
        ),
        "U": lambda v: type(v) is str,
        "O": lambda v: type(v) is str,
    }[dtype.kind]
    for i, v in enumerate(values):
        if not check(v):
            raise fields.error(
                f"field '{name}' entry {i} is {v!r}, not a label of dtype {dtype}."
            )
    if dtype.kind in "US":
        width = dtype.itemsize // (4 if dtype.kind == "U" else 1)
        longest = max(len(v) for v in values)
        if width > max(longest, MAX_LABEL_WIDTH):
            raise fields.error(
                f"field '{fields.name('dtype')}' declares strings of {width} "
                f"characters, but the longest label has {longest} (at most "
                f"{MAX_LABEL_WIDTH} characters of padding are accepted)."
            )
    try:
        classes = np.array(values, dtype=dtype)
    except (OverflowError, ValueError):
        raise fields.error(f"field '{name}' does not fit dtype {dtype}.") from None
    if classes.tolist() != values:
        raise fields.error(f"field '{name}' changes when stored as dtype {dtype}.")
    if np.any(classes[1:] <= classes[:-1]):  # strictly increasing: no duplicates
        raise fields.error(f"field '{name}' must be sorted and without duplicates.")
    return classes


def _label_dtype(fields):
    name = fields.name("dtype")
    text = fields.get("dtype")
    if not isinstance(text, str) or len(text) > 16:
        raise fields.error(f"field '{name}' must be a numpy dtype string like '<i8'.")
    try:
        dtype = np.dtype(text)
    except TypeError:
        raise fields.error(f"field '{name}' is not a numpy dtype: {text!r}.") from None
    if dtype.kind not in _LABEL_KINDS or dtype.fields is not None or dtype.shape:
        raise fields.error(
            f"field '{name}' is {text!r}; labels must be integers, floats, "
            "booleans or strings."
        )
    return dtype


# --- parameters and fitted state ------------------------------------------------------


def _build(cls, params):
    expected = set(cls().get_params(deep=False))
    params.check_keys(expected)
    for key, value in params.value.items():
        if value is not None and type(value) not in (str, bool, int, float):
            raise params.error(
                f"field '{params.name(key)}' must be a string, number or boolean; "
                f"got {kind(value)}."
            )
    calibrator = cls(**params.value)
    try:
        calibrator._validate_params()
    except ValueError as exc:  # sklearn's InvalidParameterError
        raise params.error(f"field '{params.path}': {exc}") from None
    return calibrator


def _class_names():
    return [cls.__name__ for cls in CALIBRATORS.values()]


def _encode_state(calibrator):
    """``state`` of a document: each attribute of the class's ``_fitted_state``
    by its codec, in declaration order; optional attributes that are None are
    left out."""
    state = {}
    for key, codec in type(calibrator)._fitted_state.items():
        if not codec.optional or getattr(calibrator, key, None) is not None:
            state[key] = codec.encode(getattr(calibrator, key))
    return state


def _decode_state(calibrator, state, n_models):
    """Set the fitted attributes from ``state``, then run the class's own
    consistency checks (``_check_state``), if it has any."""
    spec = type(calibrator)._fitted_state
    state.check_keys(
        {key for key, codec in spec.items() if not codec.optional},
        optional={key for key, codec in spec.items() if codec.optional},
    )
    for key, codec in spec.items():
        setattr(calibrator, key, codec.decode(state, key, n_models))
    check = getattr(calibrator, "_check_state", None)
    if check is not None:
        check(state)
