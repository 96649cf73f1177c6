"""Exceptions and warnings raised by calibkit.

Errors are :class:`ValueError` and :class:`TypeError`; warnings are reserved
for results that are valid but deserve a second look.

Errors about an argument's value (:class:`InputError`, :class:`InputTypeError`)
and calibkit's warnings carry their message as fields as well as text: the
``argument`` at fault, the ``problem``, and a ``hint`` with the parameter
settings it suggests (``fix``). ``str(error)`` is the message in the Python
API's words; :meth:`~InputError.render` says the same in other words, for
example the command line's options, without parsing the text.

Examples
--------
>>> from calibkit.exceptions import InputError
>>> error = InputError(
...     "y_prob",
...     "must hold probabilities; row 3 has 1.5.",
...     hint="Pass logits with {input}.",
...     fix={"input": "logits"},
... )
>>> str(error)
"y_prob must hold probabilities; row 3 has 1.5. Pass logits with input='logits'."
>>> error.render(argument="the scores", spell=lambda name, value: f"--{name} {value}")
'the scores must hold probabilities; row 3 has 1.5. Pass logits with --input logits.'
"""

import functools

__all__ = [
    "CalibrationWarning",
    "InputError",
    "InputKindWarning",
    "InputTypeError",
    "NoFiniteOptimumWarning",
]


def python_setting(name, value):
    """A parameter setting as the Python API writes it: ``input='logits'``."""
    return f"{name}={value!r}"


class _Described:
    """A message made of fields; see the module docstring.

    ``problem`` and ``hint`` are plain text except that ``hint`` may name the
    settings of ``fix`` as ``{parameter}`` fields, and ``given`` (settings in
    force that the problem is about) is added as ``but <setting>.``; the
    settings are spelled by :meth:`render`'s ``spell``, so the text names no
    parameter in any caller's words.
    """

    _fields = ("argument", "problem", "hint", "fix", "given")

    def _set_fields(self, argument, problem, hint, fix, given):
        self.argument = argument
        self.problem = problem
        self.hint = hint
        self.fix = dict(fix) if fix else {}
        self.given = dict(given) if given else {}

    def render(self, *, argument=None, spell=python_setting, hint=None):
        """The message, optionally in other words.

        Parameters
        ----------
        argument : str or None, default=None
            How to name the argument (default: :attr:`argument` as it is).
        spell : callable, default=python_setting
            ``spell(parameter, value)`` writes a parameter setting (default:
            ``input='logits'``).
        hint : str or None, default=None
            Advice to give instead of :attr:`hint`, already in the caller's
            words.

        Returns
        -------
        str
            The argument, the problem (with the settings in force) and the
            hint, on one line.
        """
        name = self.argument if argument is None else argument
        problem = self.problem
        if self.given:
            settings = ", ".join(spell(k, v) for k, v in self.given.items())
            problem = f"{problem} but {settings}."
        if name is None:
            text = problem
        else:
            # "y_prob: 3 rows ..." and "y_prob's columns ..." attach directly.
            text = name + ("" if problem.startswith((":", "'")) else " ") + problem
        if hint is None and self.hint:
            hint = self.hint.format_map({k: spell(k, v) for k, v in self.fix.items()})
        return f"{text} {hint}" if hint else text

    def __reduce__(self):
        # Keyword-only fields: rebuild from them (pickle and copy).
        fields = {name: getattr(self, name) for name in self._fields}
        return (functools.partial(_rebuild, type(self)), (fields,))


def _rebuild(cls, fields):
    new = cls.__new__(cls)
    new._set_fields(**fields)
    new.args = (new.render(),)
    return new


class _ArgumentProblem(_Described):
    """The constructor of :class:`InputError` and :class:`InputTypeError`."""

    def __init__(self, argument, problem, *, hint=None, fix=None, given=None):
        self._set_fields(argument, problem, hint, fix, given)
        super().__init__(self.render())


class InputError(_ArgumentProblem, ValueError):
    """A bad value of an argument, with the message's parts as fields.

    A :class:`ValueError`: ``except ValueError`` catches it.

    Parameters
    ----------
    argument : str or None
        The argument at fault, as the function names it (``"y_prob"``).
    problem : str
        What is wrong, a clause that follows the argument (``"must hold
        probabilities in [0, 1]; row 3 has 1.5."``).
    hint : str or None, default=None
        What to do; may name the settings of ``fix`` as ``{parameter}``.
    fix : dict or None, default=None
        ``{parameter: value}`` settings the hint suggests.
    given : dict or None, default=None
        ``{parameter: value}`` settings in force that the problem is about.

    Attributes
    ----------
    argument, problem, hint, fix, given
        The parameters (``fix`` and ``given`` as dicts, empty when None).
    """


class InputTypeError(_ArgumentProblem, TypeError):
    """A bad type of an argument, with the message's parts as fields.

    A :class:`TypeError`: ``except TypeError`` catches it.

    Parameters
    ----------
    argument : str or None
        The argument at fault, as the function names it.
    problem : str
        What is wrong, a clause that follows the argument.
    hint : str or None, default=None
        What to do; may name the settings of ``fix`` as ``{parameter}``.
    fix : dict or None, default=None
        ``{parameter: value}`` settings the hint suggests.
    given : dict or None, default=None
        ``{parameter: value}`` settings in force that the problem is about.

    Attributes
    ----------
    argument, problem, hint, fix, given
        The parameters (``fix`` and ``given`` as dicts, empty when None).
    """


class CalibrationWarning(_Described, UserWarning):
    """A result is valid but suspect.

    For example: inputs were clipped, a forecast was certain and wrong, or
    data look like they were passed with the wrong ``input``.
    ``CalibrationWarning("text")`` is a plain message; with keywords, its
    fields are those of :class:`InputError`.

    Parameters
    ----------
    message : str or None, default=None
        A plain message, without fields (``warnings.warn(text, cls)``).
    argument : str or None, default=None
        The argument at fault, as the function names it.
    problem : str or None, default=None
        What is suspect, a clause that follows the argument.
    hint : str or None, default=None
        What to do; may name the settings of ``fix`` as ``{parameter}``.
    fix : dict or None, default=None
        ``{parameter: value}`` settings the hint suggests.
    given : dict or None, default=None
        ``{parameter: value}`` settings in force that the problem is about.
    """

    def __init__(
        self,
        message=None,
        *,
        argument=None,
        problem=None,
        hint=None,
        fix=None,
        given=None,
    ):
        if message is not None:
            self._set_fields(None, str(message), None, None, None)
            super().__init__(message)
        else:
            self._set_fields(argument, problem or "", hint, fix, given)
            super().__init__(self.render())


class NoFiniteOptimumWarning(CalibrationWarning):
    """The log-loss of a calibrator has no finite minimiser on the given data.

    Raised, for example, when scores separate the two classes (unsmoothed Platt
    scaling) or when every calibration row is already classified correctly
    (temperature scaling). The docstring of each calibrator says what it returns
    in that case.

    Parameters
    ----------
    message : str or None, default=None
        A plain message, without fields (``warnings.warn(text, cls)``).
    argument : str or None, default=None
        The argument at fault, as the function names it.
    problem : str or None, default=None
        What is suspect, a clause that follows the argument.
    hint : str or None, default=None
        What to do; may name the settings of ``fix`` as ``{parameter}``.
    fix : dict or None, default=None
        ``{parameter: value}`` settings the hint suggests.
    given : dict or None, default=None
        ``{parameter: value}`` settings in force that the problem is about.
    """


class InputKindWarning(CalibrationWarning):
    """Data passed as logits look like probabilities (or the other way round).

    calibkit never guesses the kind of its input; this warning says which
    argument to change when the data suggest a mistake.

    Parameters
    ----------
    message : str or None, default=None
        A plain message, without fields (``warnings.warn(text, cls)``).
    argument : str or None, default=None
        The argument at fault, as the function names it.
    problem : str or None, default=None
        What is suspect, a clause that follows the argument.
    hint : str or None, default=None
        What to do; may name the settings of ``fix`` as ``{parameter}``.
    fix : dict or None, default=None
        ``{parameter: value}`` settings the hint suggests.
    given : dict or None, default=None
        ``{parameter: value}`` settings in force that the problem is about.
    """
