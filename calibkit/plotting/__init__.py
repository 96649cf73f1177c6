"""Reliability diagrams and score decompositions, drawn with matplotlib.

The displays follow scikit-learn's Display convention: a classmethod
(``from_predictions`` or ``from_estimator``) computes what to draw with
:mod:`calibkit.metrics` and calls ``plot``, which returns the display with the
axes (``ax_``), figure (``figure_``) and artists it drew. A display only draws
what a metrics function returned, so the numbers behind every picture stay
available (``display.curve``, ``display.decompositions``).

matplotlib is an optional dependency (``pip install matplotlib``, the ``plot``
extra); it is imported here, never by ``import calibkit``.
"""

try:
    import matplotlib  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    msg = (
        "calibkit.plotting needs matplotlib, which is not installed. Install it "
        "with: pip install matplotlib   (calibkit's plot extra)"
    )
    raise ImportError(msg) from exc

from calibkit._lazy import lazy_names

__all__ = [
    "BiasDisplay",
    "CumulativeDisplay",
    "DecompositionDisplay",
    "ReliabilityDisplay",
]

# Imported on first use (pyplot with them), one line per name: where it lives.
__getattr__, __dir__ = lazy_names(
    __name__,
    {
        "BiasDisplay": "calibkit.plotting._bias",
        "CumulativeDisplay": "calibkit.plotting._cumulative",
        "DecompositionDisplay": "calibkit.plotting._decomposition",
        "ReliabilityDisplay": "calibkit.plotting._reliability",
    },
)
