"""Public names of a package, imported on first use (PEP 562).

A package's ``__init__`` lists where each public name lives, one line per
name, instead of importing it::

    __getattr__, __dir__ = lazy_names(
        __name__,
        {
            "PlattScaling": "calibkit.calibrators._platt",
            ...
        },
        submodules=("metrics",),
    )

``import calibkit`` then runs no implementation module, so the command line
(whose ``--help`` must be instant) and ``import calibkit.metrics`` do not pay
for scikit-learn, pandas or scipy. The first access to a name imports its
module and stores the value in the package, so later accesses are ordinary
attribute lookups; ``from calibkit import X``, ``dir()``, pickling (classes
keep their defining ``__module__``) and the documentation, which all go
through ``getattr``, see no difference.
"""

import importlib
import sys

__all__ = ["lazy_names"]


def lazy_names(package, names, *, submodules=(), fallback=None):
    """Module ``__getattr__`` and ``__dir__`` that import public names on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    names : dict
        ``{public name: module that defines it}``; the value is the module's
        attribute of the same name.
    submodules : tuple of str, default=()
        Subpackages or modules reachable as attributes (``calibkit.metrics``).
    fallback : callable or None, default=None
        Called with names found in neither (e.g. the ``__getattr__`` of
        :func:`calibkit._deprecation.moved_module` for deprecated names);
        without it, they raise :class:`AttributeError`.

    Returns
    -------
    getattr : callable
        To assign to the package's ``__getattr__``.
    dir : callable
        To assign to the package's ``__dir__``: the package's own names, the
        lazy names and the submodules.
    """
    names = dict(names)
    submodules = tuple(submodules)

    def getattr_(name):
        if name in names:
            value = getattr(importlib.import_module(names[name]), name)
        elif name in submodules:
            value = importlib.import_module(f"{package}.{name}")
        elif fallback is not None:
            return fallback(name)
        else:
            msg = f"module {package!r} has no attribute {name!r}"
            raise AttributeError(msg)
        # Later lookups find it in the module's namespace, without this call.
        setattr(sys.modules[package], name, value)
        return value

    def dir_():
        return sorted({*vars(sys.modules[package]), *names, *submodules})

    return getattr_, dir_
