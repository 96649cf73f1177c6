"""The calibrator registry: one table of calibration methods that everything reads.

:data:`CALIBRATORS` maps a method name to its class. Persistence (which
classes may be saved and loaded), ``CalibratedClassifier(method=...)``,
``method="auto"`` (:func:`~calibkit.calibrators._selection.select_method`),
the command line (``--method`` choices, the one-line summary of a fitted
calibrator) and the tests' parametrisation all read it; none keeps a list of
its own.

Adding a calibrator: write ``calibrators/_<method>.py`` with a
:class:`~calibkit.calibrators._base.BaseCalibrator` subclass that declares

- ``_fitted_state``: its fitted attributes and their codecs
  (:mod:`calibkit.calibrators._state`), which is all saving and loading needs;
- ``_summary()``: its fitted parameters in one short clause;
- optionally ``_check_state(fields)``: checks across attributes on loading;

then add one entry to :data:`CALIBRATORS` below (and its re-export, tests and
docs page).

An entry names the class by its module path, and the class is imported when
first looked up: listing the method names (the command line's ``--method``
choices, shown by ``calibkit fit --help``) imports no calibrator and so not
scikit-learn.
"""

import importlib
from collections.abc import MutableMapping, Set

__all__ = [
    "AUTO",
    "CALIBRATORS",
    "by_class_name",
    "fitted_summary",
    "method_choices",
    "method_name",
    "register",
]


class _Registry(MutableMapping):
    """Method name -> calibrator class; a class given as ``"module.Class"`` is
    imported at its first lookup (iterating over the names imports nothing)."""

    def __init__(self, entries):
        self._entries = dict(entries)

    def __getitem__(self, name):
        cls = self._entries[name]
        if isinstance(cls, str):
            module, _, attribute = cls.rpartition(".")
            cls = getattr(importlib.import_module(module), attribute)
            self._entries[name] = cls
        return cls

    def __setitem__(self, name, cls):
        self._entries[name] = cls

    def __delitem__(self, name):
        del self._entries[name]

    def __iter__(self):
        return iter(self._entries)

    def __len__(self):
        return len(self._entries)

    def __repr__(self):
        return repr(dict(self))


#: Calibrators by method name, in the order ``method="auto"`` tries them
#: (fewest parameters first, so that a tie goes to the simplest map).
CALIBRATORS = _Registry(
    {
        "temperature": "calibkit.calibrators._temperature.TemperatureScaling",
        "platt": "calibkit.calibrators._platt.PlattScaling",
        "beta": "calibkit.calibrators._beta.BetaCalibration",
        "vector": "calibkit.calibrators._scaling.VectorScaling",
        "dirichlet": "calibkit.calibrators._scaling.DirichletCalibration",
        "matrix": "calibkit.calibrators._scaling.MatrixScaling",
        "isotonic": "calibkit.calibrators._isotonic.IsotonicCalibration",
    }
)

#: The method name that picks a calibrator by cross-validation.
AUTO = "auto"


def register(name, cls):
    """Add a calibrator class to the registry under ``name``.

    The built-in calibrators are listed in :data:`CALIBRATORS` directly; this
    checks the contract for classes added at run time (plugins, tests).

    Parameters
    ----------
    name : str
        Method name (``CalibratedClassifier(method=name)``, ``--method name``).
    cls : type
        A :class:`BaseCalibrator` subclass with ``_fitted_state`` (a dict of
        attribute name to codec) and ``_summary()``.

    Raises
    ------
    ValueError
        When ``name`` is taken (by another class) or reserved.
    TypeError
        When ``cls`` does not follow the contract.
    """
    from calibkit.calibrators._base import BaseCalibrator
    from calibkit.calibrators._state import Codec

    if not isinstance(name, str) or not name or name == AUTO:
        msg = f"name must be a non-empty string other than {AUTO!r}; got {name!r}."
        raise ValueError(msg)
    if not (isinstance(cls, type) and issubclass(cls, BaseCalibrator)):
        msg = f"cls must be a subclass of BaseCalibrator; got {cls!r}."
        raise TypeError(msg)
    state = getattr(cls, "_fitted_state", None)
    if not isinstance(state, dict) or not all(
        isinstance(key, str) and key.endswith("_") and isinstance(codec, Codec)
        for key, codec in state.items()
    ):
        msg = (
            f"{cls.__name__}._fitted_state must map fitted attribute names (ending "
            "in '_') to codecs of calibkit.calibrators._state."
        )
        raise TypeError(msg)
    if not callable(getattr(cls, "_summary", None)):
        msg = f"{cls.__name__} must define _summary(), its fitted state in a clause."
        raise TypeError(msg)
    taken = CALIBRATORS.get(name)
    clash = by_class_name(cls.__name__)
    if (taken is not None and taken is not cls) or (
        clash is not None and clash is not cls
    ):
        msg = (
            f"method {name!r} or class name {cls.__name__!r} is already registered "
            f"(methods: {', '.join(CALIBRATORS)})."
        )
        raise ValueError(msg)
    CALIBRATORS[name] = cls


def method_choices():
    """Every valid method string: the registered names, then ``"auto"``."""
    return [*CALIBRATORS, AUTO]


class MethodNames(Set):
    """A live view of :func:`method_choices`, for parameter constraints.

    ``StrOptions(MethodNames())`` accepts a method registered after the
    constraint was built.
    """

    def __contains__(self, name):
        return name == AUTO or name in CALIBRATORS

    def __iter__(self):
        return iter(method_choices())

    def __len__(self):
        return len(CALIBRATORS) + 1

    @classmethod
    def _from_iterable(cls, iterable):
        # Set operations (sklearn computes ``deprecated - options``) give a
        # plain frozen set, not another live view.
        return frozenset(iterable)


def by_class_name(name):
    """The registered class called ``name`` (as saved in a file), or None."""
    for cls in CALIBRATORS.values():
        if cls.__name__ == name:
            return cls
    return None


def method_name(calibrator):
    """The method name of a calibrator class or instance, or None if unregistered.

    A subclass of a registered class is not that method: it may change what
    is fitted, so it is not saved or named as its parent.
    """
    cls = calibrator if isinstance(calibrator, type) else type(calibrator)
    for name, registered in CALIBRATORS.items():
        if registered is cls:
            return name
    return None


def fitted_summary(calibrator):
    """The fitted parameters of a calibrator in one line.

    Parameters
    ----------
    calibrator : BaseCalibrator
        A fitted calibrator whose class defines ``_summary()``.

    Returns
    -------
    str
        E.g. ``"temperature 1.52"`` or ``"isotonic map with 12 knots"``.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        When the calibrator is not fitted.
    TypeError
        When its class has no ``_summary()``.

    Examples
    --------
    >>> from calibkit import TemperatureScaling
    >>> cal = TemperatureScaling().fit([[2.0, 0.0], [0.0, 1.0], [1.0, 3.0]], [0, 0, 1])
    >>> fitted_summary(cal)
    'temperature 1.27136'
    """
    from sklearn.utils.validation import check_is_fitted

    summary = getattr(calibrator, "_summary", None)
    if summary is None:
        msg = f"{type(calibrator).__name__} has no _summary(); cannot summarise it."
        raise TypeError(msg)
    check_is_fitted(calibrator)
    # One line whatever the class writes: the CLI prints it inside a sentence.
    return " ".join(str(summary()).split())
