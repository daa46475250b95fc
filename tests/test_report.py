"""Pieces of the comparison report that need no SPICE run: the figures' decimation and the
zoom option."""

import numpy as np
import pytest

from alif_spice.report import MAX_POINTS
from alif_spice.trace import decimate


@pytest.mark.parametrize("n", [MAX_POINTS + 1, 11339, 99_999, 100_000])
def test_decimation_keeps_every_peak_and_dip_within_a_bucket(n):
    # every sample lies between the lowest and the highest drawn point within one bucket's
    # width of it (a spike is never drawn away), up to the trace's end (a remainder that was
    # dropped there drew a straight line over the last spikes)
    rng = np.random.default_rng(n)
    t = np.cumsum(rng.uniform(0.1, 1.0, n))
    y = rng.standard_normal(n)
    td, yd = decimate(t, y, MAX_POINTS)
    assert td.size <= MAX_POINTS + 3 and np.all(np.diff(td) > 0) and td[-1] == t[-1]
    width = 2 * (n // (MAX_POINTS // 2) + 1)  # samples, generously
    lo = np.searchsorted(td, t[np.maximum(np.arange(n) - width, 0)])
    hi = np.searchsorted(td, t[np.minimum(np.arange(n) + width, n - 1)], side="right")
    for i in range(n):
        near = yd[lo[i]:hi[i]]
        assert near.min() <= y[i] <= near.max(), (i, y[i])


def test_a_short_trace_is_drawn_as_it_is():
    t = np.linspace(0, 1, 50)
    td, yd = decimate(t, np.sin(t), MAX_POINTS)
    assert np.array_equal(td, t) and np.array_equal(yd, np.sin(t))


def _fake_result(n_model, n_circuit, seed=0):
    """What the interactive figure reads of a comparison: the model's trace and a circuit's."""
    from types import SimpleNamespace

    from alif_spice import load_params
    from alif_spice.trace import Trace

    rng = np.random.default_rng(seed)

    def trace(n, source):
        t = np.sort(rng.uniform(0, 5e-3, n))
        signals = {c: rng.standard_normal(n) for c in ("v_mem", "x", "v_c", "i_in")}
        return Trace(time=t, signals=signals, spikes=np.sort(rng.uniform(0, 5e-3, 7)), source=source)

    ode, ideal = trace(n_model, "ode"), trace(n_circuit, "spice:ideal")
    return SimpleNamespace(ode=ode, spice={"ideal": ideal}, traces={"ode": ode, "ideal": ideal},
                           params=load_params("paper"))


def test_the_interactive_figure_embeds_every_sample_while_they_fit():
    from alif_spice.interactive import embedded_samples

    result = _fake_result(3000, 5000)
    data = embedded_samples(result, max_samples=100_000)
    # the model draws its input current too; a circuit only v_mem, x and v_c
    assert set(data["ode"]) == {"t", "i_in", "v_mem", "x", "v_c"} and set(data["ideal"]) == {"t", "v_mem", "x", "v_c"}
    for name, tr in (("ode", result.ode), ("ideal", result.spice["ideal"])):
        np.testing.assert_array_equal(data[name]["t"], tr.time * 1e3)  # ms, every step kept
        np.testing.assert_array_equal(data[name]["v_mem"], tr["v_mem"].astype(np.float32))
    np.testing.assert_array_equal(data["ode"]["i_in"], (result.ode["i_in"] * 1e3).astype(np.float32))  # mA


def test_a_run_too_long_to_embed_is_thinned_keeping_every_lines_extremes():
    from alif_spice.interactive import embedded_samples, interactive_traces

    result = _fake_result(300_000, 200_000, seed=3)
    data = embedded_samples(result, max_samples=200_000)
    embedded = sum(d["t"].size * (len(d) - 1) for d in data.values())
    assert 100_000 < embedded <= 200_000 * 1.05
    for name, tr in (("ode", result.ode), ("ideal", result.spice["ideal"])):
        t = data[name]["t"]
        assert np.all(np.diff(t) > 0) and t[0] == tr.time[0] * 1e3 and t[-1] == tr.time[-1] * 1e3
        for col in ("v_mem", "x", "v_c"):  # each line keeps its highest and lowest sample
            assert data[name][col].max() == np.float32(tr[col].max())
            assert data[name][col].min() == np.float32(tr[col].min())
    _, _, what = interactive_traces(result, max_samples=200_000)
    assert what.startswith("This run's 1,800,000 samples are embedded thinned to") and "traces.parquet" in what


def test_the_interactive_figure_is_offline_and_names_its_parts():
    import re

    from alif_spice.interactive import interactive_traces

    js, figure, what = interactive_traces(_fake_result(2000, 2000))
    assert what == "Zoomed in far enough it shows every sample; all of them are embedded (14,000)"
    # Bokeh's code inline: nothing fetched from a network or a server
    assert "<script" in js and not re.search(r"<script[^>]*src=", js + figure)
    for name in ("time", "panel_v_mem", "panel_spikes", "shown_ode_v_mem", "shown_ideal_x", "samples_ideal"):
        assert f'"{name}"' in figure, name



def test_thinning_uses_the_budget_when_the_lines_keep_the_same_samples():
    # a neuron's v_mem, v_c and x spike together, so their min/max picks coincide; the
    # thinning must still fill its budget (it once kept a quarter of it on real traces)
    from alif_spice.interactive import embedded_samples

    result = _fake_result(400_000, 300_000, seed=5)
    for tr in (result.ode, result.spice["ideal"]):
        saw = (tr.time * 37e3) % 1.0  # a sawtooth: every line rises and resets together
        tr.signals.update(v_mem=saw, v_c=2.0 * saw + 0.1, x=np.cumsum(saw) / saw.sum(), i_in=np.sign(saw - 0.5))
    data = embedded_samples(result, max_samples=1_000_000)
    embedded = sum(d["t"].size * (len(d) - 1) for d in data.values())
    assert 0.8e6 <= embedded <= 1.0e6, embedded  # buckets hold whole samples: coarse steps
