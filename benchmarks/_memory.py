"""Peak memory of a call, measured with ``tracemalloc``.

Shared by ``benchmarks/run.py`` (the peak-memory column) and
``tests/test_metrics_memory.py`` (bounded-memory checks), so that the figure
the benchmark reports and the one the tests bound are measured alike. It stays
out of the ``calibkit`` package: it is measurement code, not library code.
"""

import tracemalloc


def peak_memory(func):
    """Peak memory (bytes) allocated while ``func()`` runs.

    Only allocations made during the call count (the inputs already in memory
    do not); ``tracemalloc`` sees allocations made through Python's and
    NumPy's allocators.
    """
    tracemalloc.start()
    try:
        func()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
