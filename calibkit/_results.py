"""One base class for the results that metrics and reports return.

Every result is a frozen dataclass deriving from :class:`Result`, so that all
of them offer the same ``to_dict()``, ``to_frame()``, a readable ``repr`` and an
HTML table in notebooks. A result whose natural table has one row per bin or
group (a reliability curve, a Hosmer-Lemeshow table) names its per-row fields
in ``_table_fields``; ``to_frame()`` then gives that table.
"""

import dataclasses
import html

import numpy as np

__all__ = ["Result"]

# Arrays longer than this are summarised in reprs ("array of 1000 values").
_SHOWN_VALUES = 6


class Result:
    """Base class of calibkit's result dataclasses.

    Subclasses are ``@dataclass(frozen=True)`` classes. Fields whose value is
    ``None`` (options that did not apply) are left out of the ``repr`` and of
    the HTML table, but kept in :meth:`to_dict` so that every result of a
    class has the same keys.
    """

    #: Per-row array fields that :meth:`to_frame` turns into columns; empty for
    #: results made of scalars, whose frame has one row.
    _table_fields = ()

    def to_dict(self):
        """The fields as a plain ``dict`` (arrays stay numpy arrays).

        Returns
        -------
        dict
            ``{field name: value}``, in the order of the fields.
        """
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def to_frame(self):
        """The result as a pandas DataFrame.

        Returns
        -------
        pandas.DataFrame
            One row per point, bin or group for results that hold a table
            (columns: the per-row fields that are not None); otherwise one
            row of :meth:`to_dict`, so that ``pandas.concat`` of several
            results compares them.
        """
        import pandas as pd

        if not self._table_fields:
            return pd.DataFrame([self.to_dict()])
        columns = {
            name: getattr(self, name)
            for name in self._table_fields
            if getattr(self, name) is not None
        }
        return pd.DataFrame(columns)

    def _shown(self):
        """``(name, value)`` of the fields worth showing (not None)."""
        return [
            (name, value) for name, value in self.to_dict().items() if value is not None
        ]

    def __repr__(self):
        body = ", ".join(f"{name}={_short(value)}" for name, value in self._shown())
        return f"{type(self).__name__}({body})"

    def _repr_html_(self):
        """An HTML table of the fields, for Jupyter notebooks."""
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(name)}</th>"
            f"<td style='text-align:left'>{html.escape(_short(value))}</td></tr>"
            for name, value in self._shown()
        )
        title = html.escape(type(self).__name__)
        return f"<table><caption>{title}</caption><tbody>{rows}</tbody></table>"


def _short(value):
    """A value as it reads in a repr: floats to 6 digits, long arrays summarised."""
    if isinstance(value, np.ndarray):
        if value.ndim == 1 and value.shape[0] <= _SHOWN_VALUES:
            return "[" + ", ".join(_short(v) for v in value.tolist()) + "]"
        return f"<array of shape {value.shape}, dtype {value.dtype}>"
    if isinstance(value, float | np.floating):
        return f"{float(value):.6g}"
    if isinstance(value, np.generic):
        return repr(value.item())
    return repr(value)
