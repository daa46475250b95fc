"""Shared helpers of the benchmark scripts: medians of repeated wall-clock timings, and the
fit benchmarks' synthetic measurement."""

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


def synthetic_measurement():
    """The preset device's I-V record at 100 Hz as the fit reads it (5.11 kΩ in the loop, 1 %
    noise on both measured voltages, the last 5 of 7 periods x 200 samples)."""
    import tempfile
    from pathlib import Path

    import numpy as np

    from alif_spice import load_params
    from alif_spice.fit import read_measurement
    from alif_spice.ode import solve_iv

    p = load_params(values={"iv.frequency": 100.0, "iv.periods": 7, "iv.points_per_period": 200})
    tr = solve_iv(p)
    rng = np.random.default_rng(0)
    v_src, v_r = tr["v_src"], tr["v_src"] - tr["v_mem"]
    v_src = v_src + 0.01 * np.abs(v_src).max() * rng.standard_normal(v_src.size)
    v_r = v_r + 0.01 * np.abs(v_r).max() * rng.standard_normal(v_r.size)
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "m.csv"
        np.savetxt(f, np.c_[tr.time, v_src, v_r], delimiter=",")
        return read_measurement(f, "time,source_voltage,resistor_voltage", series_resistor=5110.0, max_periods=5)
