"""Array API inputs (torch, CuPy, JAX, array-api-strict): computing where they live.

When dispatch is on (:func:`config_context` / :func:`set_config` here, or
scikit-learn's ``set_config(array_api_dispatch=True)``), the reduction
calibrators and the pass-style metrics take arrays of any namespace that
``array-api-compat`` knows and compute in that namespace, on the array's
device. Every pass is a reduction over row chunks, as in
:mod:`calibkit._chunks`: each chunk is converted to the working dtype
(float64 where the device has it) on the device, reduced to a few numbers,
and the partial results are summed on the device; only the small result of
a pass (a loss, a gradient, a Hessian, bin totals) travels to the host,
where the Newton step of :mod:`calibkit._newton` is taken in numpy. The
``(n, K)`` matrix is never copied to the host, and a float32 input is never
copied whole to float64.

On a device without float64 (Apple's MPS) chunks are computed in float32:
each chunk's sums are tree (pairwise) reductions of the library, and the
partial results of the chunks are added in a compensated (Kahan--Babuska)
sum on the device, so that the error does not grow with the number of
chunks.

Nothing here is imported by ``import calibkit`` or ``import
calibkit.metrics``; ``array_api_compat`` is imported on the first call that
finds dispatch on.

The package is split by job: :mod:`._config` (the switch), :mod:`._namespace`
(:class:`Space`, chunked reductions, host copies), :mod:`._validation`,
:mod:`._transforms` (the calibrators' chunk transforms on the device),
:mod:`._passes` (numpy kernels to device kernels, for the numpy solvers),
and the device passes of each model or metric: :mod:`._temperature`,
:mod:`._platt`, :mod:`._beta`, :mod:`._scaling`, :mod:`._metrics`,
:mod:`._information`. The names the rest of calibkit uses are re-exported
here.
"""

from calibkit._array_api._beta import beta_proba
from calibkit._array_api._config import (
    config_context,
    dispatch_enabled,
    get_config,
    set_config,
)
from calibkit._array_api._information import mean_information_terms
from calibkit._array_api._metrics import (
    brier_sum,
    log_loss_sum,
    softmax_probabilities,
    top_label_outcomes,
    uniform_bin_totals,
)
from calibkit._array_api._namespace import (
    Space,
    array_api_space,
    host_float64,
    host_labels,
    is_on_device,
    to_host,
)
from calibkit._array_api._passes import device_reduce_rows
from calibkit._array_api._platt import (
    finite_scores,
    host_rows,
    infinite_rows,
    infinite_score_masks,
    one_vs_rest_log_odds,
    one_vs_rest_probability_log_odds,
    platt_proba,
)
from calibkit._array_api._scaling import (
    affine_softmax,
    fold_keys,
    held_out_loss,
    scaling_model,
)
from calibkit._array_api._temperature import (
    take_subsample,
    temperature_passes,
    tempered_softmax,
)
from calibkit._array_api._validation import (
    check_device_array,
    check_device_forecasts,
    check_device_probabilities,
    looks_like_probabilities,
)

__all__ = [
    "Space",
    "affine_softmax",
    "array_api_space",
    "beta_proba",
    "brier_sum",
    "check_device_array",
    "check_device_forecasts",
    "check_device_probabilities",
    "config_context",
    "device_reduce_rows",
    "dispatch_enabled",
    "finite_scores",
    "fold_keys",
    "get_config",
    "held_out_loss",
    "host_float64",
    "host_labels",
    "host_rows",
    "infinite_rows",
    "infinite_score_masks",
    "is_on_device",
    "log_loss_sum",
    "looks_like_probabilities",
    "mean_information_terms",
    "one_vs_rest_log_odds",
    "one_vs_rest_probability_log_odds",
    "platt_proba",
    "scaling_model",
    "set_config",
    "softmax_probabilities",
    "take_subsample",
    "temperature_passes",
    "tempered_softmax",
    "to_host",
    "top_label_outcomes",
    "uniform_bin_totals",
]
