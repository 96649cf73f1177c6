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
the same labels). ``state`` is the fitted state of the class; arrays are
stored as ``{"dtype": ..., "values": [...]}`` so that they come back in their
own precision (``float64``, ``float32``, ``int64`` or ``int32``):

- :class:`~calibkit.PlattScaling`: ``coef_``, ``intercept_`` (float arrays,
  one entry per fitted model: 1 for a binary problem, else one per class)
  and ``n_iter_`` (int array); optionally ``zero_proba_`` and ``one_proba_``
  (float arrays of the same length, probabilities strictly between 0 and 1
  given to rows whose input probability is exactly 0 or 1), written only for
  a calibrator fitted with ``input="probabilities"``; a file without them
  (e.g. saved before they existed) loads with both None;
- :class:`~calibkit.TemperatureScaling`: ``temperature_`` (a float, or the
  string ``"inf"``: strict JSON has no infinity; ``0.0`` and ``"inf"`` are the
  limits of a fit without a finite optimum) and ``n_iter_`` (an int);
  optionally ``zero_logit_`` (a finite float: the logit of exact-zero
  probabilities) and ``log_floor_`` (a negative float: the floor of ``log p``),
  written only when not None (``input="probabilities"``); missing, they load
  as None, and exact zeros are then held at ``log 0`` stand-ins as before;
- :class:`~calibkit.IsotonicCalibration`: ``X_thresholds_`` and
  ``y_thresholds_`` (lists of float arrays, one per fitted model) and
  ``eps_`` (a float).

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
from calibkit.calibrators._isotonic import IsotonicCalibration
from calibkit.calibrators._platt import PlattScaling
from calibkit.calibrators._temperature import TemperatureScaling
from calibkit.io._formats import check_input_file

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

_CLASSES = {
    cls.__name__: cls for cls in (PlattScaling, TemperatureScaling, IsotonicCalibration)
}
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
_FLOAT_DTYPES = ("float64", "float32")
_INT_DTYPES = ("int64", "int32")


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
    if _CLASSES.get(name) is not type(calibrator):
        supported = ", ".join(_CLASSES)
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
        "state": _STATE[name].encode(calibrator),
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
    doc = _Fields(document, "document")
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
    if name not in _CLASSES:
        raise doc.error(
            f"field 'class' is {name!r}; known classes are {', '.join(_CLASSES)}."
        )
    if "metadata" in document and not isinstance(document["metadata"], dict):
        raise doc.error("field 'metadata' must be an object.")

    calibrator = _build(_CLASSES[name], doc.sub("params"))
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
        _STATE[name].decode(calibrator, doc.sub("state"), n_models)
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
    from calibkit.io import atomic_output

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


# --- validation helpers ---------------------------------------------------------


class _Fields:
    """A JSON object being validated, with the dotted path of every field."""

    def __init__(self, value, path):
        if isinstance(value, _Prefixed):
            self._file = value.path
        else:
            self._file = None
        if not isinstance(value, dict):
            raise self.error(f"field '{path}' must be an object; got {_kind(value)}.")
        self.value = value
        self.path = path

    def error(self, message):
        prefix = f"'{self._file}' is not a valid calibrator: " if self._file else ""
        return ValueError(prefix + message)

    def name(self, key):
        return key if self.path == "document" else f"{self.path}.{key}"

    def check_keys(self, required, optional=()):
        missing = sorted(set(required) - set(self.value))
        if missing:
            listed = ", ".join(f"'{self.name(k)}'" for k in missing)
            raise self.error(f"missing field(s) {listed}.")
        extra = sorted(set(self.value) - set(required) - set(optional))
        if extra:
            listed = ", ".join(f"'{self.name(k)}'" for k in extra)
            raise self.error(f"unknown field(s) {listed}.")

    def get(self, key):
        return self.value.get(key)

    def sub(self, key):
        child = _Fields.__new__(_Fields)
        child._file = self._file
        child.path = self.name(key)
        value = self.value.get(key)
        if not isinstance(value, dict):
            raise self.error(
                f"field '{child.path}' must be an object; got {_kind(value)}."
            )
        child.value = value
        return child

    def array(self, key, *, length=None, integer=False):
        """A stored array ``{"dtype": ..., "values": [...]}`` of finite numbers."""
        name = self.name(key)
        fields = self.sub(key)
        fields.check_keys({"dtype", "values"})
        allowed = _INT_DTYPES if integer else _FLOAT_DTYPES
        dtype = fields.get("dtype")
        if dtype not in allowed:
            raise self.error(
                f"field '{name}.dtype' must be one of {', '.join(allowed)}; "
                f"got {dtype!r}."
            )
        values = fields.get("values")
        if not isinstance(values, list):
            raise self.error(
                f"field '{name}.values' must be a list; got {_kind(values)}."
            )
        if length is not None and len(values) != length:
            raise self.error(
                f"field '{name}.values' must have {length} entries; it has "
                f"{len(values)}."
            )
        for i, v in enumerate(values):
            problem = _number_problem(v, integer=integer, finite=True)
            if problem:
                raise self.error(f"field '{name}.values' entry {i} {problem}.")
        try:
            array = np.array(values, dtype=dtype)
        except OverflowError:
            raise self.error(f"field '{name}.values' does not fit {dtype}.") from None
        if array.tolist() != values:
            raise self.error(
                f"field '{name}.values' is not exactly representable as {dtype}."
            )
        return array

    def number(self, key, *, integer=False, minimum=None, below=None, allow_inf=False):
        name = self.name(key)
        value = self.value[key]
        if allow_inf and value == "inf":
            return math.inf
        problem = _number_problem(value, integer=integer, finite=True)
        if problem:
            extra = ' (or the string "inf")' if allow_inf else ""
            raise self.error(f"field '{name}' {problem}{extra}.")
        if minimum is not None and value < minimum:
            raise self.error(f"field '{name}' must be >= {minimum}; got {value!r}.")
        if below is not None and value >= below:
            raise self.error(f"field '{name}' must be < {below}; got {value!r}.")
        return int(value) if integer else float(value)


def _number_problem(value, *, integer, finite):
    """Why ``value`` is not an acceptable JSON number, or None."""
    # bool is an int subclass in Python, but true/false are not numbers.
    if integer:
        if type(value) is not int:
            return f"must be an integer; got {_short(value)}"
        if not -(2**63) <= value < 2**63:
            return f"must fit in 64 bits; got {_short(value)}"
        return None
    if type(value) not in (int, float):
        return f"must be a number; got {_short(value)}"
    if type(value) is int and abs(value) >= 2**1024:
        return f"is too large for a float; got {_short(value)}"
    if finite and not math.isfinite(value):
        return f"must be finite; got {value!r}"
    return None


def _short(value, limit=40):
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _kind(value):
    return "null" if value is None else type(value).__name__


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
                f"got {_kind(value)}."
            )
    calibrator = cls(**params.value)
    try:
        calibrator._validate_params()
    except ValueError as exc:  # sklearn's InvalidParameterError
        raise params.error(f"field '{params.path}': {exc}") from None
    return calibrator


class _PlattState:
    # Probabilities given to rows whose input probability is exactly 0 / 1
    # (fitted with input="probabilities" only, hence optional).
    ENDS = ("zero_proba_", "one_proba_")

    @staticmethod
    def encode(cal):
        ends = {k: _encode_array(getattr(cal, k, None)) for k in _PlattState.ENDS}
        return {
            "coef_": _encode_array(cal.coef_),
            "intercept_": _encode_array(cal.intercept_),
            "n_iter_": _encode_array(cal.n_iter_),
            **{k: v for k, v in ends.items() if v is not None},
        }

    @staticmethod
    def decode(cal, state, n_models):
        state.check_keys({"coef_", "intercept_", "n_iter_"}, optional=_PlattState.ENDS)
        cal.coef_ = state.array("coef_", length=n_models)
        cal.intercept_ = state.array("intercept_", length=n_models)
        cal.n_iter_ = state.array("n_iter_", length=n_models, integer=True)
        for key in _PlattState.ENDS:
            value = None
            if state.get(key) is not None:
                value = state.array(key, length=n_models)
                if np.any((value <= 0) | (value >= 1)):
                    raise state.error(
                        f"field '{state.name(key)}' must hold probabilities "
                        "strictly between 0 and 1."
                    )
            setattr(cal, key, value)


class _TemperatureState:
    @staticmethod
    def encode(cal):
        temperature = float(cal.temperature_)
        # Logit of exact zeros and floor of log p (input="probabilities").
        extra = {k: getattr(cal, k, None) for k in ("zero_logit_", "log_floor_")}
        return {
            "temperature_": "inf" if temperature == math.inf else temperature,
            "n_iter_": int(cal.n_iter_),
            **{k: float(v) for k, v in extra.items() if v is not None},
        }

    @staticmethod
    def decode(cal, state, n_models):
        optional = ("zero_logit_", "log_floor_")
        state.check_keys({"temperature_", "n_iter_"}, optional=optional)
        temperature = state.number("temperature_", minimum=0, allow_inf=True)
        if 0 < temperature < np.finfo(np.float64).tiny:
            raise state.error(
                f"field '{state.name('temperature_')}' is {temperature!r}, below the "
                "smallest normal double (2.2e-308) but not 0: logits divided by it "
                "overflow."
            )
        cal.temperature_ = temperature
        cal.n_iter_ = state.number("n_iter_", integer=True, minimum=0)
        cal.zero_logit_ = cal.log_floor_ = None
        if state.get("zero_logit_") is not None:
            cal.zero_logit_ = state.number("zero_logit_")
        if state.get("log_floor_") is not None:
            cal.log_floor_ = state.number("log_floor_", below=0)


class _IsotonicState:
    @staticmethod
    def encode(cal):
        return {
            "X_thresholds_": [_encode_array(x) for x in cal.X_thresholds_],
            "y_thresholds_": [_encode_array(y) for y in cal.y_thresholds_],
            "eps_": float(cal.eps_),
        }

    @staticmethod
    def decode(cal, state, n_models):
        state.check_keys({"X_thresholds_", "y_thresholds_", "eps_"})
        cal.eps_ = state.number("eps_", minimum=0, below=0.5)
        xs = _nested_lists(state, "X_thresholds_", n_models)
        ys = _nested_lists(state, "y_thresholds_", n_models)
        for k, (x, y) in enumerate(zip(xs, ys, strict=True)):
            if x.shape != y.shape:
                raise state.error(
                    f"fields '{state.name('X_thresholds_')}' and "
                    f"'{state.name('y_thresholds_')}' differ in length for model {k} "
                    f"({x.shape[0]} and {y.shape[0]})."
                )
            if np.any(np.diff(x) <= 0):
                raise state.error(
                    f"field '{state.name('X_thresholds_')}' model {k} must be "
                    "strictly increasing."
                )
            if np.any((y < 0) | (y > 1)):
                raise state.error(
                    f"field '{state.name('y_thresholds_')}' model {k} must hold "
                    "probabilities in [0, 1]."
                )
            if np.any(np.diff(y) < 0):
                raise state.error(
                    f"field '{state.name('y_thresholds_')}' model {k} decreases; an "
                    "isotonic map is non-decreasing."
                )
            _check_knot_layout(state, k, y, cal.interpolation)
        if cal.eps != "auto" and cal.eps_ != float(cal.eps):
            raise state.error(
                f"field '{state.name('eps_')}' is {cal.eps_!r} but the parameter "
                f"eps is {cal.eps!r}; they must agree."
            )
        cal.X_thresholds_, cal.y_thresholds_ = xs, ys


def _check_knot_layout(state, k, y, interpolation):
    """Knots as the fit lays them out for ``interpolation`` (see module notes)."""
    if interpolation == "step":
        bad = np.any(np.diff(y) <= 0)
    else:
        bad = y.shape[0] > 2 and np.any((y[2:] == y[1:-1]) & (y[1:-1] == y[:-2]))
    if bad:
        layout = (
            "strictly increasing probabilities (one knot per block)"
            if interpolation == "step"
            else "each probability at most twice (the two ends of a block)"
        )
        raise state.error(
            f"field '{state.name('y_thresholds_')}' model {k} does not have the "
            f"layout of interpolation={interpolation!r}: {layout}."
        )


def _nested_lists(state, key, n_models):
    name = state.name(key)
    value = state.get(key)
    if not isinstance(value, list) or len(value) != n_models:
        raise state.error(f"field '{name}' must be a list of {n_models} array(s).")
    arrays = []
    for k, entry in enumerate(value):
        holder = _Fields.__new__(_Fields)
        holder._file, holder.path, holder.value = state._file, name, {str(k): entry}
        array = holder.array(str(k))
        if array.shape[0] == 0:
            raise state.error(f"field '{name}.{k}.values' is empty.")
        arrays.append(array)
    return arrays


def _encode_array(array):
    if array is None:
        return None
    if array.dtype.name not in _FLOAT_DTYPES + _INT_DTYPES:
        msg = f"cannot save a fitted array of dtype {array.dtype}."
        raise TypeError(msg)
    return {"dtype": array.dtype.name, "values": array.tolist()}


_STATE = {
    "PlattScaling": _PlattState,
    "TemperatureScaling": _TemperatureState,
    "IsotonicCalibration": _IsotonicState,
}
