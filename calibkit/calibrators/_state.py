"""Codecs of fitted state: how each fitted attribute is written to JSON and read back.

A calibrator class declares its fitted state once, as a mapping from attribute
name to codec, in the order the attributes are written::

    class TemperatureScaling(BaseCalibrator):
        _fitted_state = {
            "temperature_": Float(minimum=0, allow_inf=True),
            "n_iter_": Int(minimum=0),
            "zero_logit_": Optional(Float()),
        }

:mod:`calibkit._persistence` reads that mapping to save and load any
registered calibrator; it holds no knowledge of particular classes. A class may
also define ``_check_state(self, fields)``, called on loading once every
attribute is set, for checks that span several attributes (it raises
``fields.error(...)``).

JSON forms (``n_models`` is 1 for two classes, else the number of classes):

- :class:`Float`: a number (``"inf"`` where infinity is allowed: strict JSON
  has none); :class:`Int`: an integer;
- :class:`FloatArray` / :class:`IntArray`: ``{"dtype": ..., "values": [...]}``
  with dtype ``float64``/``float32`` or ``int64``/``int32``, so that arrays
  come back in their own precision; ``n_models`` values when ``per_model``;
- :class:`ArrayList`: a list of ``n_models`` non-empty float arrays;
- :class:`Optional`: the inner form, or the key left out when the attribute is
  None (a missing key or ``null`` loads as None).

Floats are written by Python's ``repr``, the shortest decimal that reads back
to the same double, so a round trip restores every number bit for bit.
"""

import math

import numpy as np

__all__ = [
    "ArrayList",
    "Fields",
    "Float",
    "FloatArray",
    "Int",
    "IntArray",
    "Optional",
    "short_list",
]

FLOAT_DTYPES = ("float64", "float32")
INT_DTYPES = ("int64", "int32")


class Codec:
    """How one fitted attribute is stored; subclasses define the two directions."""

    #: Whether the attribute may be None (then it is left out of the file).
    optional = False

    def encode(self, value):
        """The JSON value (dicts, lists, strings, numbers) of ``value``."""
        raise NotImplementedError

    def decode(self, fields, key, n_models):
        """The attribute read from ``fields.value[key]``, validated.

        Parameters
        ----------
        fields : Fields
            The ``state`` object of the document; its ``error`` makes the
            ValueError that names the field.
        key : str
            Attribute name (the key in ``state``).
        n_models : int
            Number of fitted models: 1 for two classes, else the number of
            classes.
        """
        raise NotImplementedError


class Float(Codec):
    """A Python float.

    Parameters
    ----------
    minimum, below : float or None
        Accepted range ``minimum <= value < below``.
    allow_inf : bool
        Whether ``inf`` is a valid value (stored as the string ``"inf"``).
    """

    def __init__(self, *, minimum=None, below=None, allow_inf=False):
        self.minimum, self.below, self.allow_inf = minimum, below, allow_inf

    def encode(self, value):
        value = float(value)
        return "inf" if self.allow_inf and value == math.inf else value

    def decode(self, fields, key, n_models):
        return fields.number(
            key, minimum=self.minimum, below=self.below, allow_inf=self.allow_inf
        )


class Int(Codec):
    """A Python int (of at most 64 bits), at least ``minimum`` when given."""

    def __init__(self, *, minimum=None):
        self.minimum = minimum

    def encode(self, value):
        return int(value)

    def decode(self, fields, key, n_models):
        return fields.number(key, integer=True, minimum=self.minimum)


class FloatArray(Codec):
    """A 1-D float array, one value per fitted model when ``per_model``.

    ``open_unit=True`` requires probabilities strictly between 0 and 1.
    """

    integer = False

    def __init__(self, *, per_model=True, open_unit=False):
        self.per_model, self.open_unit = per_model, open_unit

    def encode(self, value):
        return encode_array(value)

    def decode(self, fields, key, n_models):
        length = n_models if self.per_model else None
        array = fields.array(key, length=length, integer=self.integer)
        if self.open_unit and np.any((array <= 0) | (array >= 1)):
            raise fields.error(
                f"field '{fields.name(key)}' must hold probabilities strictly "
                "between 0 and 1."
            )
        return array


class IntArray(FloatArray):
    """A 1-D integer array, one value per fitted model when ``per_model``."""

    integer = True

    def __init__(self, *, per_model=True):
        super().__init__(per_model=per_model)


class ArrayList(Codec):
    """A list of ``n_models`` non-empty 1-D float arrays (lengths may differ)."""

    def encode(self, value):
        return [encode_array(array) for array in value]

    def decode(self, fields, key, n_models):
        name = fields.name(key)
        value = fields.get(key)
        if not isinstance(value, list) or len(value) != n_models:
            raise fields.error(f"field '{name}' must be a list of {n_models} array(s).")
        arrays = []
        for k, entry in enumerate(value):
            array = fields.child(name, {str(k): entry}).array(str(k))
            if array.shape[0] == 0:
                raise fields.error(f"field '{name}.{k}.values' is empty.")
            arrays.append(array)
        return arrays


class Optional(Codec):
    """``codec``'s value or None; None is not written, and loads when missing."""

    optional = True

    def __init__(self, codec):
        self.codec = codec

    def encode(self, value):
        return self.codec.encode(value)

    def decode(self, fields, key, n_models):
        if fields.get(key) is None:
            return None
        return self.codec.decode(fields, key, n_models)


def encode_array(array):
    """``{"dtype": ..., "values": [...]}`` of a float or int array."""
    if array.dtype.name not in FLOAT_DTYPES + INT_DTYPES:
        msg = f"cannot save a fitted array of dtype {array.dtype}."
        raise TypeError(msg)
    return {"dtype": array.dtype.name, "values": array.tolist()}


def short_list(values, limit=5):
    """``"0.1, 0.2, ... (9 in all)"``: a few values for a one-line summary."""
    shown = ", ".join(f"{v:.4g}" for v in values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


# --- reading validated fields ----------------------------------------------------


class Fields:
    """A JSON object being validated, with the dotted path of every field.

    Parameters
    ----------
    value : object
        The parsed JSON value (it must be a dict).
    path : str
        Its dotted path in the document (``"document"`` for the top level).
    file : str or os.PathLike or None
        The file it was read from, which starts every error message.
    """

    def __init__(self, value, path, *, file=None):
        self._file = file
        if not isinstance(value, dict):
            raise self.error(f"field '{path}' must be an object; got {kind(value)}.")
        self.value = value
        self.path = path

    def error(self, message):
        """The ValueError to raise, prefixed with the file name when known."""
        prefix = f"'{self._file}' is not a valid calibrator: " if self._file else ""
        return ValueError(prefix + message)

    def name(self, key):
        """Dotted path of ``key`` in the document."""
        return key if self.path == "document" else f"{self.path}.{key}"

    def check_keys(self, required, optional=()):
        """Refuse missing required keys, and keys neither required nor optional."""
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

    def child(self, path, value):
        """Fields over ``value`` (already known to be a dict) at ``path``."""
        child = Fields.__new__(Fields)
        child._file, child.path, child.value = self._file, path, value
        return child

    def sub(self, key):
        """The object at ``key``; a ValueError naming it when it is not an object."""
        value = self.value.get(key)
        if not isinstance(value, dict):
            raise self.error(
                f"field '{self.name(key)}' must be an object; got {kind(value)}."
            )
        return self.child(self.name(key), value)

    def array(self, key, *, length=None, integer=False):
        """A stored array ``{"dtype": ..., "values": [...]}`` of finite numbers."""
        name = self.name(key)
        fields = self.sub(key)
        fields.check_keys({"dtype", "values"})
        allowed = INT_DTYPES if integer else FLOAT_DTYPES
        dtype = fields.get("dtype")
        if dtype not in allowed:
            raise self.error(
                f"field '{name}.dtype' must be one of {', '.join(allowed)}; "
                f"got {dtype!r}."
            )
        values = fields.get("values")
        if not isinstance(values, list):
            raise self.error(
                f"field '{name}.values' must be a list; got {kind(values)}."
            )
        if length is not None and len(values) != length:
            raise self.error(
                f"field '{name}.values' must have {length} entries; it has "
                f"{len(values)}."
            )
        for i, v in enumerate(values):
            problem = number_problem(v, integer=integer, finite=True)
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
        """A finite number (``"inf"`` too when ``allow_inf``) in the given range."""
        name = self.name(key)
        value = self.value[key]
        if allow_inf and value == "inf":
            return math.inf
        problem = number_problem(value, integer=integer, finite=True)
        if problem:
            extra = ' (or the string "inf")' if allow_inf else ""
            raise self.error(f"field '{name}' {problem}{extra}.")
        if minimum is not None and value < minimum:
            raise self.error(f"field '{name}' must be >= {minimum}; got {value!r}.")
        if below is not None and value >= below:
            raise self.error(f"field '{name}' must be < {below}; got {value!r}.")
        return int(value) if integer else float(value)


def number_problem(value, *, integer, finite):
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


def kind(value):
    """JSON-ish name of a value's type, for messages."""
    return "null" if value is None else type(value).__name__
