"""Pieces of the comparison report that need no SPICE run: the figures' decimation and the
zoom option."""

import numpy as np
import pytest

from alif_spice.report import MAX_POINTS, _decimate


@pytest.mark.parametrize("n", [MAX_POINTS + 1, 11339, 99_999, 100_000])
def test_decimation_keeps_every_peak_and_dip_within_a_bucket(n):
    # every sample lies between the lowest and the highest drawn point within one bucket's
    # width of it (a spike is never drawn away), up to the trace's end (a remainder that was
    # dropped there drew a straight line over the last spikes)
    rng = np.random.default_rng(n)
    t = np.cumsum(rng.uniform(0.1, 1.0, n))
    y = rng.standard_normal(n)
    td, yd = _decimate(t, y)
    assert td.size <= MAX_POINTS + 3 and np.all(np.diff(td) > 0) and td[-1] == t[-1]
    width = 2 * (n // (MAX_POINTS // 2) + 1)  # samples, generously
    lo = np.searchsorted(td, t[np.maximum(np.arange(n) - width, 0)])
    hi = np.searchsorted(td, t[np.minimum(np.arange(n) + width, n - 1)], side="right")
    for i in range(n):
        near = yd[lo[i]:hi[i]]
        assert near.min() <= y[i] <= near.max(), (i, y[i])


def test_a_short_trace_is_drawn_as_it_is():
    t = np.linspace(0, 1, 50)
    td, yd = _decimate(t, np.sin(t))
    assert np.array_equal(td, t) and np.array_equal(yd, np.sin(t))
