"""Shared helper of the benchmark scripts: medians of repeated wall-clock timings."""

from __future__ import annotations

import statistics
import time


def median_time(fn, repeats: int):
    """(median wall time in s over ``repeats`` calls of ``fn``, the last call's result)."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out
