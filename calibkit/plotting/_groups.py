"""Small multiples: one reliability (or bias) diagram per group of rows."""

import numpy as np

from calibkit._validation import to_numpy
from calibkit.metrics import reliability_curve
from calibkit.metrics._groups import _check_group_weights, group_rows
from calibkit.metrics._inputs import check_forecasts
from calibkit.metrics._kernels import top_label
from calibkit.plotting._axes import (
    check_hist_bins,
    check_line_kwargs,
    format_label,
)

__all__ = ["displays_by_group"]


def displays_by_group(
    cls,
    y_true,
    y_prob,
    *,
    groups,
    X,
    bins,
    n_groups,
    sample_weight,
    labels,
    pos_label,
    strategy,
    n_bins,
    bands,
    n_resamples,
    random_state,
    name,
    axes,
    ncols,
    hist,
    hist_bins,
    logit_scale,
    **kwargs,
):
    """The displays of :meth:`ReliabilityDisplay.from_predictions_by_group`."""
    from calibkit.plotting._reliability import _classwise_axes

    check_hist_bins(hist_bins)
    check_line_kwargs(kwargs)
    fc = check_forecasts(
        y_true, y_prob, sample_weight=sample_weight, labels=labels, pos_label=pos_label
    )
    n_rows = fc.y.shape[0]
    grouping = group_rows(groups, X, bins, n_groups, fc.sample_weight, n_rows)
    _check_group_weights(grouping, fc.sample_weight)
    y_all, prob = to_numpy(y_true), np.asarray(fc.prob)
    if fc.is_binary:
        # Every group is drawn for the same positive class, even a group in
        # which only one class occurs.
        curve_labels = labels if pos_label is not None else fc.classes
        curve_pos = pos_label if pos_label is not None else fc.classes[1]
        x_axis, is_top = prob, False
    else:
        curve_labels, curve_pos = fc.classes, None
        x_axis, is_top = top_label(prob)[1], True
    # One generator for all groups: independent bands, reproducible as a whole.
    rng = None if bands is None else np.random.default_rng(random_state)
    panels = _classwise_axes(axes, len(grouping["names"]), ncols, hist, what="group")
    displays = []
    for j, (group, rows, (main_ax, hist_ax)) in enumerate(
        zip(grouping["names"], grouping["rows"], panels, strict=True)
    ):
        w = None if fc.sample_weight is None else fc.sample_weight[rows]
        curve = reliability_curve(
            y_all[rows],
            prob[rows],
            strategy=strategy,
            n_bins=n_bins,
            sample_weight=w,
            labels=curve_labels,
            pos_label=curve_pos,
            bands=bands,
            n_resamples=n_resamples,
            random_state=rng,
        )
        display = cls(
            curve,
            y_prob=x_axis[rows],
            sample_weight=w,
            name=name,
            pos_label=None if is_top else curve_pos,
            top_label=is_top,
        )
        display._draw(
            main_ax,
            hist_ax,
            hist_bins=hist_bins,
            logit_scale=logit_scale,
            ref_line=True,
            legend=j == 0,
            # The long top-label axis label runs into the next panel.
            xlabel="Top-label confidence" if is_top else None,
            **kwargs,
        )
        count = int(rows.shape[0] if w is None else np.count_nonzero(w))
        title = group if isinstance(group, str) else format_label(group)
        main_ax.set_title(f"{title} (n = {count})")
        displays.append(display)
    # One y range for all panels, so that groups compare at a glance (the
    # bias diagram sizes its axis to its own curve).
    low = min(d.ax_.get_ylim()[0] for d in displays)
    high = max(d.ax_.get_ylim()[1] for d in displays)
    for display in displays:
        display.ax_.set_ylim(low, high)
    return displays
