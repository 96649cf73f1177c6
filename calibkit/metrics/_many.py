"""Many models in one call: a mapping ``{name: forecasts}`` gives a tidy table.

The metrics accept, in place of one ``y_prob``, a mapping from model names to
forecasts of the same outcomes. Each model is scored by the same function with
the same options, and the results are stacked into one pandas DataFrame with
a ``model`` column first (the layout of model-diagnostics' ``decompose``), so
that models can be compared, sorted and plotted from one table.
"""

from collections.abc import Mapping

__all__ = ["is_model_mapping", "per_model"]


def is_model_mapping(y_prob):
    """Whether ``y_prob`` holds several models' forecasts: a mapping.

    pandas and polars data frames are not mappings here (a data frame is one
    model's forecast columns), whatever ``collections.abc`` says of them.
    """
    return isinstance(y_prob, Mapping) and not hasattr(y_prob, "columns")


def per_model(function, y_true, forecasts, *, first=None, **options):
    """``function`` applied to each model's forecasts, as one tidy DataFrame.

    Parameters
    ----------
    function : callable
        A public metric: ``function(y_true, y_prob, **options)``, or with
        ``first`` given, ``function(first, y_true, y_prob, **options)``.
    y_true : array-like of shape (n_samples,)
        Labels shared by every model.
    forecasts : mapping
        ``{model name: y_prob}``; at least one model.
    first : object, default=None
        A leading positional argument of ``function`` (the metric of
        :func:`~calibkit.metrics.confidence_interval`).
    **options
        Keyword arguments passed to every call.

    Returns
    -------
    pandas.DataFrame
        One row per model, in the mapping's order: the column ``model``, then
        the value (a column named after the function) for functions that
        return a number, or the fields of the result's ``to_frame()`` (fields
        that are None for every model are left out).
    """
    import pandas as pd

    if not forecasts:
        msg = "y_prob is an empty mapping; give at least one model's forecasts."
        raise ValueError(msg)
    frames = []
    for name, y_prob in forecasts.items():
        if is_model_mapping(y_prob):
            msg = f"y_prob[{name!r}] is a mapping; give each model an array."
            raise TypeError(msg)
        args = (y_true, y_prob) if first is None else (first, y_true, y_prob)
        result = function(*args, **options)
        if hasattr(result, "to_frame"):
            frame = result.to_frame().reset_index(drop=True)
        else:
            frame = pd.DataFrame({function.__name__: [float(result)]})
        frame.insert(0, "model", [name])
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    # Fields that apply to none of the models (None throughout) are left out;
    # a value that is NaN for every model (not None) stays.
    unused = [c for c in table.columns if all(v is None for v in table[c])]
    return table.drop(columns=unused)
