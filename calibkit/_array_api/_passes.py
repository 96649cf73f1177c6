"""The dispatch of the numpy solvers' passes to device kernels.

:func:`calibkit._chunks.reduce_rows` hands a pass whose first array lives on
an Array API device to :func:`device_reduce_rows`: it looks up the device
version of the numpy kernel it was given (:func:`_kernels`, a table from
numpy kernel to device kernel) and sums it over row chunks with
:func:`~calibkit._array_api._namespace.reduce_chunks`. So the numpy solvers
(Platt, beta, the exact-zero scans and models) run unchanged on device
inputs: one solver per model.
"""

import functools
import inspect

import numpy as np

from calibkit._array_api._namespace import array_api_space, reduce_chunks


@functools.cache
def _kernels():
    """The device version of each numpy kernel that may see device inputs."""
    from calibkit import _solvers
    from calibkit._array_api import _beta, _platt, _scaling, _temperature
    from calibkit.calibrators import _base
    from calibkit.calibrators import _beta as beta
    from calibkit.calibrators import _scaling as scaling

    return {
        _solvers._summary_kernel: _platt.summary_kernel,
        _solvers._first_platt_kernel: _platt.first_kernel,
        _solvers.PlattModel.kernel: _platt.model_kernel,
        beta._summary_kernel: _beta.summary_kernel,
        beta._moments_kernel: _beta.moments_kernel,
        beta.BetaModel.kernel: _beta.model_kernel,
        _base._count_saturated: _beta.count_saturated,
        _solvers._zero_scan_kernel: _temperature.zero_scan_kernel,
        _solvers.ZeroLogitModel.kernel: _temperature.zero_logit_kernel,
        scaling._zero_scan: _scaling.zero_scan,
        scaling._max_abs: _scaling.max_abs,
    }


@functools.cache
def _finishers():
    """For kernels combined otherwise than by sums (and maxima): the map from
    the device's ``(sums, maxima)`` to the numpy reduction's result."""
    from calibkit.calibrators import _scaling as scaling

    return {
        # [smallest finite log p, weight of rows with a zero, of those hit]
        scaling._zero_scan: lambda sums, top: np.array([-top[0], *sums]),
        # [largest finite |x|], combined by np.maximum
        scaling._max_abs: lambda sums, top: np.array([top[0]]),
    }


def _device_kernel(kernel):
    """The device kernel for ``kernel`` (a function, partial or bound method)."""
    keywords = {}
    while isinstance(kernel, functools.partial):
        if kernel.args:  # pragma: no cover - the solvers bind keywords only
            raise NotImplementedError("positional arguments bound to a kernel")
        keywords = {**kernel.keywords, **keywords}
        kernel = kernel.func
    owner = None
    if inspect.ismethod(kernel):
        owner, kernel = kernel.__self__, kernel.__func__
    try:
        found = _kernels()[kernel]
    except KeyError:
        msg = f"no device version of the pass {kernel.__qualname__}"
        raise NotImplementedError(msg) from None
    if owner is not None:
        found = functools.partial(found, owner)
    return functools.partial(found, **keywords)


def device_reduce_rows(kernel, arrays, n_cols, combine):
    """:func:`calibkit._chunks.reduce_rows` over arrays whose first is on a device.

    The other arrays (labels, weights) may be numpy arrays: they are copied
    to the device once per pass (``n`` numbers each). Returns what the numpy
    reduction returns: the sums, or ``[sums, maxima]`` (maxima padded with
    ``-inf``) when ``combine`` is :func:`calibkit._chunks.combine_sum_max`.
    """
    from calibkit._chunks import combine_sum_max

    first = arrays[0]
    space = array_api_space(first)
    device_arrays = [first]
    for a in arrays[1:]:
        if a is None or not isinstance(a, np.ndarray):
            device_arrays.append(a)
        else:
            dtype = space.work if a.dtype.kind == "f" else None
            device_arrays.append(space.asarray(a, dtype=dtype))
    found = _device_kernel(kernel)
    base = kernel
    while isinstance(base, functools.partial):
        base = base.func
    finish = _finishers().get(base)

    def part(*chunks):
        return found(space, *chunks)

    maxima = combine is combine_sum_max or finish is not None
    if not maxima and combine is not np.add:  # pragma: no cover
        raise NotImplementedError("device passes combine by sums and maxima")
    result = reduce_chunks(space, part, *device_arrays, n_cols=n_cols, maxima=maxima)
    if finish is not None:
        return finish(*result)
    if not maxima:
        return result
    sums, top = result  # the numpy kernels pad both rows to one length
    size = max(sums.shape[0], top.shape[0])
    out = np.zeros((2, size))
    out[1] = -np.inf
    out[0, : sums.shape[0]], out[1, : top.shape[0]] = sums, top
    return out
