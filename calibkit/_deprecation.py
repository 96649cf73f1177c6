"""Old public module paths, kept for one release as deprecated aliases.

calibkit 0.2 moved its implementation into private ``_name.py`` modules and
re-exports the public API from the packages (``calibkit``,
``calibkit.metrics``, ``calibkit.io``, ...). Importing a name from an old module
path still works in 0.2 but warns; the aliases go in 0.3.
"""

import importlib
import warnings


def moved_module(old, new, private=None):
    """A module ``__getattr__`` forwarding ``old.<name>`` to ``new.<name>``.

    Parameters
    ----------
    old : str
        The deprecated module path (the alias module's ``__name__``).
    new : str
        The public module that now holds the names.
    private : str or None, default=None
        The private module that holds the old module's other public names
        (constants and helpers that are no longer public); they are still
        returned, with a warning that says so.

    Returns
    -------
    callable
        To assign to the alias module's ``__getattr__``: it warns with a
        :class:`FutureWarning` naming the new path, then returns the
        attribute (or raises :class:`AttributeError`, as a module would).
    """

    def forward(name):
        if not name.startswith("_"):
            for home in (new, private):
                module = home and importlib.import_module(home)
                if module and name in getattr(module, "__all__", ()):
                    advice = (
                        f"import {name} from {new} instead"
                        if home == new
                        else "it is no longer public"
                    )
                    warnings.warn(
                        f"{old}.{name} is deprecated since calibkit 0.2 and will "
                        f"be removed in 0.3; {advice}.",
                        FutureWarning,
                        stacklevel=2,
                    )
                    return getattr(module, name)
        msg = f"module {old!r} has no attribute {name!r}"
        raise AttributeError(msg)

    return forward
