"""RK4 reference solver against oracles: convergence order, the LIF closed form,
charge conservation, state bounds, the paper's adaptation, batch == single."""

import math

import numpy as np
import pytest

from alif_spice import ParamError, solve_batch, solve_ode
from alif_spice.compare import adaptation_ratio, spikes_per_period
from alif_spice.memristor import resistance
from alif_spice.ode import time_grid
from alif_spice.stimulus import SquareWave


def _state_error(p, dt, ref):
    tr = solve_ode(p.with_values({"simulation.dt": dt}))
    stride = round(dt / ref.time[1])
    assert np.allclose(ref.time[::stride], tr.time, rtol=0, atol=1e-15)
    return max(np.max(np.abs(tr["v_c"] - ref["v_c"][::stride])) / np.ptp(ref["v_c"]),
               np.max(np.abs(tr["x"] - ref["x"][::stride])))


def test_rk4_fourth_order_on_a_smooth_run(paper):
    # no spikes (v_th out of reach), one long input pulse, the memristor switching hard
    p = paper.with_values({"neuron.v_th": 1e3, "stimulus.amplitude": 0.3e-3,
                           "stimulus.frequency": 100.0, "simulation.t_stop": 2e-3})
    dts = [4e-6, 2e-6, 1e-6]
    ref = solve_ode(p.with_values({"simulation.dt": dts[-1] / 16}))
    assert ref["x"].max() > 0.5  # the state really moves
    errors = [_state_error(p, dt, ref) for dt in dts]
    ratios = [errors[i] / errors[i + 1] for i in range(len(errors) - 1)]
    assert all(14 <= r <= 18 for r in ratios), (errors, ratios)


def _lif(paper, t_ref):
    # memristor frozen (tau huge) at x0: a plain LIF neuron under constant input
    return paper.with_values({
        "memristor.tau": 1e30, "memristor.x0": 0.3, "neuron.t_ref": t_ref,
        "stimulus.frequency": 1.0, "stimulus.duty": 0.5, "stimulus.t_edge": 1e-6,
        "simulation.t_stop": 5e-3, "simulation.dt": 1e-7})


@pytest.mark.parametrize("t_ref", [0.0, 5e-6])
def test_lif_isi_matches_closed_form(paper, t_ref):
    p = _lif(paper, t_ref)
    m, n = p.memristor, p.neuron
    r_x = resistance(m.x0, m.r_on, m.r_off)
    r = r_x + n.r_s
    i = p.stimulus.amplitude
    v_th_c = n.v_rest + n.v_th * r / r_x
    expected = t_ref + r * n.c * math.log((i * r + n.v_rest - n.v_reset) / (i * r + n.v_rest - v_th_c))
    isi = np.diff(solve_ode(p).spikes)  # every ISI after the first starts from a reset
    assert isi.size >= 20
    np.testing.assert_allclose(isi, expected, rtol=1e-6)


def test_spike_times_are_interpolated_not_grid_samples(paper):
    spikes = solve_ode(paper).spikes
    frac = (spikes / paper.simulation.dt) % 1.0
    assert np.mean((frac > 0.01) & (frac < 0.99)) > 0.8


def test_spike_times_converge_with_dt(paper):
    a = solve_ode(paper.with_values({"simulation.dt": 4e-7})).spikes
    b = solve_ode(paper.with_values({"simulation.dt": 1e-7})).spikes
    assert a.size == b.size
    assert np.max(np.abs(a - b)) < 1e-9


def test_charge_conservation_with_edges_off_the_grid(paper):
    # memristor branch ~open: v_c integrates the input exactly, edges falling inside grid cells
    p = paper.with_values({
        "memristor.r_on": 1e15, "memristor.r_off": 2e15, "neuron.v_th": 1e3, "neuron.v_reset": 0.0,
        "stimulus.delay": 0.123456e-3, "stimulus.t_edge": 0.37e-6, "stimulus.frequency": 1234.5,
        "simulation.t_stop": 3e-3, "simulation.dt": 1e-6})
    tr = solve_ode(p)
    wave = SquareWave.from_params(p)
    t = np.union1d(wave.breakpoints(p.simulation.t_stop), tr.time)
    i = wave(t)
    q = np.concatenate([[0.0], np.cumsum(0.5 * (i[1:] + i[:-1]) * np.diff(t))])
    expected = np.interp(tr.time, t, q) / p.neuron.c
    np.testing.assert_allclose(tr["v_c"], expected, rtol=1e-9, atol=1e-9 * expected.max())


@pytest.mark.parametrize("amplitude,low", [(10.0, -10.0), (-1.0, 0.0), (1.0, 0.0), (1e-3, -1e-3)])
@pytest.mark.parametrize("tau,dt", [(2.53e-4, 1e-7), (1e-9, 2e-6), (2.53e-4, 2e-5)])
def test_x_stays_in_unit_interval_under_hostile_drives(paper, amplitude, low, tau, dt):
    p = paper.with_values({"stimulus.amplitude": amplitude, "stimulus.low": low,
                           "memristor.tau": tau, "simulation.dt": dt, "simulation.t_stop": 20e-3,
                           "neuron.v_th": 1e3})
    tr = solve_ode(p)
    assert np.all(np.isfinite(tr["v_c"])) and np.all(np.isfinite(tr["x"]))
    assert tr["x"].min() >= 0.0 and tr["x"].max() <= 1.0
    assert np.abs(tr["v_mem"]).max() > 5.0 or abs(amplitude) < 1  # really hostile: volts across the device


def test_paper_preset_adapts(paper):
    tr = solve_ode(paper)
    wave = SquareWave.from_params(paper)
    per = spikes_per_period(tr.spikes, wave, paper.simulation.t_stop)
    assert len(per) >= 10 and per[0] >= 3
    assert adaptation_ratio(per) >= 2, per
    first = tr.spikes[tr.spikes < wave.td + wave.per]
    assert np.all(np.diff(np.diff(first)) > 0), "ISI must grow within the first burst"
    t, x = tr.time, tr["x"]
    for start in wave.period_starts(paper.simulation.t_stop):
        off = (t >= start + 0.5 * wave.per) & (t <= start + wave.per)
        assert x[off][-1] < x[off].max() - 1e-3, f"x must relax in the off phase after {start}"


def test_batch_and_single_give_identical_spike_times(paper):
    sets = [paper.with_values(v) for v in (
        {}, {"neuron.c": "33n"}, {"stimulus.amplitude": 0.5e-3}, {"neuron.t_ref": 0.0},
        {"memristor.x0": 0.5, "stimulus.frequency": 2e3})]
    batch = solve_batch(sets)
    for p, spikes in zip(sets, batch.spikes):
        assert np.array_equal(solve_ode(p).spikes, spikes)
    assert len({s.size for s in batch.spikes}) > 1


def test_generalized_mms_runs_and_differs(paper):
    g = paper.with_values({"memristor.model": "gmms",
                           "memristor.phi": 0.9, "memristor.alpha_f": 1e-7, "memristor.beta_f": 8.0,
                           "memristor.alpha_r": 1e-7, "memristor.beta_r": 8.0})
    a, b = solve_ode(paper), solve_ode(g)
    assert np.all(np.isfinite(b["i_m"])) and b.spikes.size > 0
    assert a.spikes.size != b.spikes.size or np.max(np.abs(a.spikes - b.spikes)) > 1e-7


def test_trace_columns_and_grid(paper):
    tr = solve_ode(paper.with_values({"simulation.t_stop": 1.05e-3, "simulation.dt": 1e-6}))
    assert list(tr.to_frame().columns) == ["time", "v_c", "v_mem", "x", "i_m", "i_in"]
    assert tr.time[-1] == 1.05e-3 and tr.time.size == time_grid(1.05e-3, 1e-6).size == 1051


def test_non_finite_state_is_reported_not_returned(paper):
    # an unstable step (the stability check bypassed by calling the kernel entry directly)
    from alif_spice.ode import parameter_row, solve_rows
    row = parameter_row(paper.with_values({"neuron.v_th": 1e3, "stimulus.frequency": 1.0}))[None, :]
    res = solve_rows(row, dt=1e-3, t_stop=0.45)
    assert not res.ok[0] and "non-finite" in res.error_text(0)
    # the public API refuses such a step up front, naming the key
    with pytest.raises(ParamError, match="simulation.dt: must be <= 2.5"):
        solve_ode(paper.with_values({"simulation.dt": 1e-3}))
