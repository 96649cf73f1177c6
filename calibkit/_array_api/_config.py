"""calibkit's configuration: the switch for Array API dispatch.

The setting is per thread, as scikit-learn's ``get_config``: each thread
starts from the defaults in :data:`_DEFAULTS` and sees only its own
:func:`set_config` and :func:`config_context` calls, so that a ``with
config_context(...)`` block in one thread cannot switch dispatch on or off
under another.
"""

import contextlib
import sys
import threading

import numpy as np

_DEFAULTS = {"array_api_dispatch": False}

_LOCAL = threading.local()


def _config():
    """This thread's configuration dict (the defaults on first use)."""
    if not hasattr(_LOCAL, "config"):
        _LOCAL.config = dict(_DEFAULTS)
    return _LOCAL.config


def get_config():
    """Current values of calibkit's configuration.

    Returns
    -------
    dict
        ``{"array_api_dispatch": bool}``: whether calibkit's own switch for
        Array API inputs is on (scikit-learn's switch, when on, also enables
        dispatch; see :func:`set_config`).

    Examples
    --------
    >>> import calibkit
    >>> calibkit.get_config()
    {'array_api_dispatch': False}
    """
    return dict(_config())


def set_config(*, array_api_dispatch=None):
    """Set calibkit's configuration.

    Parameters
    ----------
    array_api_dispatch : bool or None, default=None
        Compute on Array API inputs (torch tensors, CuPy and JAX arrays,
        ``array_api_strict`` arrays) in their own namespace and on their own
        device, and return arrays of that namespace, instead of converting
        them to numpy. Dispatch is also on whenever scikit-learn's
        ``sklearn.set_config(array_api_dispatch=True)`` is (which needs
        ``SCIPY_ARRAY_API=1`` in the environment before scipy is imported;
        calibkit's switch does not). None leaves the value unchanged.

    See Also
    --------
    config_context : The same, for a ``with`` block.

    Notes
    -----
    The setting belongs to the calling thread (as scikit-learn's): other
    threads, including ones started later and the worker threads of a pool,
    keep their own value, off unless they set it.

    Examples
    --------
    >>> import calibkit
    >>> calibkit.set_config(array_api_dispatch=True)
    >>> calibkit.get_config()["array_api_dispatch"]
    True
    >>> calibkit.set_config(array_api_dispatch=False)
    """
    if array_api_dispatch is None:
        return
    if not isinstance(array_api_dispatch, (bool, np.bool_)):
        msg = (
            "array_api_dispatch must be True, False or None; got "
            f"{array_api_dispatch!r} ({type(array_api_dispatch).__name__})."
        )
        raise TypeError(msg)
    _config()["array_api_dispatch"] = bool(array_api_dispatch)


@contextlib.contextmanager
def config_context(*, array_api_dispatch=None):
    """Temporarily set calibkit's configuration (see :func:`set_config`).

    Parameters
    ----------
    array_api_dispatch : bool or None, default=None
        As in :func:`set_config`; the previous value is restored on exit.

    Yields
    ------
    None

    Examples
    --------
    >>> import calibkit
    >>> with calibkit.config_context(array_api_dispatch=True):
    ...     calibkit.get_config()["array_api_dispatch"]
    True
    """
    old = get_config()
    set_config(array_api_dispatch=array_api_dispatch)
    try:
        yield
    finally:
        set_config(**old)


def dispatch_enabled():
    """Whether calibkit's or scikit-learn's Array API dispatch is on."""
    if _config()["array_api_dispatch"]:
        return True
    sklearn = sys.modules.get("sklearn")
    if sklearn is None:  # never imported: its switch cannot be on
        return False
    return bool(sklearn.get_config().get("array_api_dispatch", False))
