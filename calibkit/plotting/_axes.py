"""Axes helpers shared by the displays: new figures, figure of an axes, labels."""

import matplotlib.pyplot as plt

from calibkit._validation import format_label  # noqa: F401 (re-exported)


def new_figure(figsize):
    """A new pyplot figure with constrained layout (labels never overlap).

    pyplot, rather than a bare ``Figure``, so that notebooks show it and
    ``plt.close`` can release it; rcParams are left alone.
    """
    return plt.figure(figsize=figsize, layout="constrained")


def root_figure(ax):
    """The top-level figure of ``ax``, also when ``ax`` lives in a subfigure."""
    figure = ax.figure
    # A SubFigure knows its top-level Figure as ``figure``; a Figure is its own.
    while getattr(figure, "figure", figure) is not figure:
        figure = figure.figure
    return figure
