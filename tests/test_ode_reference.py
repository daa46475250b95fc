"""The RK4 kernel against an independent event-driven solution (scipy's DOP853 at tight
tolerance, written here from the model equations), away from default values: a non-zero
reset, rest voltage and initial state, a refractory period, duty 0.3, a delay, and both
the plain and the generalised MMS. Also the recorded columns against their definitions."""

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from alif_spice import memristor as mm
from alif_spice import solve_batch, solve_ode
from alif_spice.stimulus import SquareWave

ODD = {"neuron.v_reset": 0.05, "neuron.v_rest": 0.02, "neuron.t_ref": 3e-6, "memristor.x0": 0.2,
       "stimulus.duty": 0.3, "stimulus.delay": 0.15e-3, "stimulus.frequency": 1.6e3, "stimulus.low": 0.05e-3,
       "stimulus.t_edge": 2e-6, "simulation.t_stop": 2.2e-3, "simulation.dt": 1e-7}
GMMS = {"memristor.model": "gmms", "memristor.phi": 0.8, "memristor.alpha_f": 2e-7, "memristor.beta_f": 6.0,
        "memristor.alpha_r": 5e-8, "memristor.beta_r": 3.0}


def reference_spikes(p):
    """Spike times from scipy, piece by piece between stimulus corners, with reset and
    refractory hold (x free) after each upward crossing of v_mem = v_th."""
    m, n = p.memristor, p.neuron
    beta = mm.thermal_beta(m.temperature)
    wave = SquareWave.from_params(p)
    t_stop = p.simulation.t_stop
    corners = [b for b in wave.breakpoints(t_stop) if 0 < b < t_stop] + [t_stop]

    def branch(v, x):
        x = min(max(x, 0.0), 1.0)
        delta = v - n.v_rest
        if m.model == "mms":
            g = x / m.r_on + (1 - x) / m.r_off
            vm = delta / (1 + n.r_s * g)
            return vm, g * vm
        vm = mm.gmms_branch_voltage(delta, x, n.r_s, m.r_on, m.r_off, m.phi, m.alpha_f, m.beta_f,
                                    m.alpha_r, m.beta_r)
        return vm, mm.gmms_current(vm, x, m.r_on, m.r_off, m.phi, m.alpha_f, m.beta_f, m.alpha_r, m.beta_r)

    def dx(vm, x):
        s_on = 1 / (1 + math.exp(-beta * (vm - m.v_on)))
        s_off = 1 / (1 + math.exp(-beta * (vm + m.v_off)))
        return (s_on * (1 - x) - (1 - s_off) * x) / m.tau

    def rhs_for(i0, slope, t0):
        def rhs(t, y):
            vm, im = branch(y[0], y[1])
            return [(i0 + slope * (t - t0) - im) / n.c, dx(vm, y[1])]
        return rhs

    def event(t, y):
        return branch(y[0], y[1])[0] - n.v_th
    event.terminal, event.direction = True, 1

    t, v, x, spikes = 0.0, n.v_reset, m.x0, []
    while t < t_stop - 1e-15:
        end = min(b for b in corners if b > t + 1e-15)
        i0 = float(wave(t)) if t > 0 else wave.v1
        slope = (float(wave(end)) - i0) / (end - t)
        sol = solve_ivp(rhs_for(i0, slope, t), (t, end), [v, x], method="DOP853", rtol=1e-11,
                        atol=[1e-12, 1e-13], events=event)
        if sol.status == 1:
            ts = float(sol.t_events[0][0])
            spikes.append(ts)
            x, v, t = float(sol.y_events[0][0][1]), n.v_reset, ts
            t_end = min(ts + n.t_ref, t_stop)
            while t < t_end - 1e-15:
                stop = min([b for b in corners if b > t + 1e-15] + [t_end])
                hold = solve_ivp(lambda s, y, v=v: [dx(branch(v, y[0])[0], y[0])], (t, stop), [x], method="DOP853",
                                 rtol=1e-11, atol=1e-13)
                x, t = float(hold.y[0, -1]), stop
        else:
            v, x, t = float(sol.y[0, -1]), float(sol.y[1, -1]), end
    return np.array(spikes)


@pytest.mark.parametrize("model", ["mms", "gmms"])
def test_spike_times_match_an_independent_solution(paper, model):
    p = paper.with_values({**ODD, **(GMMS if model == "gmms" else {})})
    ref = reference_spikes(p)
    got = solve_ode(p).spikes
    assert ref.size >= 15
    assert got.size == ref.size
    np.testing.assert_allclose(got, ref, rtol=0, atol=2e-10)


def test_a_batch_of_different_neurons_matches_each_reference(paper):
    sets = [paper.with_values({**ODD, "neuron.c": c, "neuron.v_th": vth})
            for c, vth in ((20e-9, 0.45), (47e-9, 0.4), (33e-9, 0.5))]
    batch = solve_batch(sets)
    for p, spikes in zip(sets, batch.spikes):
        ref = reference_spikes(p)
        assert spikes.size == ref.size > 3
        np.testing.assert_allclose(spikes, ref, rtol=0, atol=2e-10)


@pytest.mark.parametrize("model", ["mms", "gmms"])
def test_recorded_columns_are_their_definitions(paper, model):
    p = paper.with_values({**ODD, **(GMMS if model == "gmms" else {}), "simulation.dt": 2e-7})
    tr = solve_ode(p)
    m, n = p.memristor, p.neuron
    v_mem, i_m = mm.branch(tr["v_c"] - n.v_rest, tr["x"], m, n.r_s)
    np.testing.assert_allclose(tr["v_mem"], v_mem, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(tr["i_m"], i_m, rtol=1e-12, atol=1e-18)
    np.testing.assert_array_equal(tr["i_in"], SquareWave.from_params(p)(tr.time))
    assert tr["v_c"][0] == n.v_reset and tr["x"][0] == m.x0
    # v_mem never stays above threshold on the grid: a crossing resets
    assert np.all(tr["v_mem"] <= n.v_th + 1e-9)


def test_save_every_keeps_every_nth_point_and_the_last(paper):
    p = paper.with_values({**ODD, "simulation.t_stop": 1.00037e-3})
    full, thin = solve_ode(p), solve_ode(p, every=7)
    np.testing.assert_array_equal(thin.spikes, full.spikes)
    idx = np.r_[np.arange(0, full.time.size, 7), full.time.size - 1]
    idx = np.unique(idx)
    np.testing.assert_array_equal(thin.time, full.time[idx])
    for col in ("v_c", "x", "v_mem", "i_m", "i_in"):
        np.testing.assert_array_equal(thin[col], full[col][idx])
    assert thin.time[-1] == 1.00037e-3 and full.time[-1] == 1.00037e-3


@pytest.mark.parametrize("every", [0, -3, 2.5, True])
def test_save_every_must_be_a_positive_integer(paper, every):
    from alif_spice import ParamError
    with pytest.raises(ParamError, match="--save-every: expected an integer >= 1"):
        solve_ode(paper, every=every)


def test_time_grid():
    from alif_spice.ode import time_grid
    np.testing.assert_allclose(time_grid(1.0e-3, 3e-4), [0, 3e-4, 6e-4, 9e-4, 1e-3], rtol=1e-15)
    np.testing.assert_allclose(time_grid(1.2e-3, 3e-4), [0, 3e-4, 6e-4, 9e-4, 1.2e-3], rtol=1e-12)
    np.testing.assert_allclose(time_grid(1.0e-3, 1e-4, every=4), [0, 4e-4, 8e-4, 1e-3], rtol=1e-15)


def test_a_batch_reports_final_states_and_grows_its_spike_store(paper):
    from alif_spice.ode import parameter_row, solve_rows
    sets = [paper.with_values({**ODD, **GMMS}), paper.with_values(ODD), paper.with_values({**ODD, "neuron.c": 30e-9})]
    batch = solve_batch(sets, record=True)
    np.testing.assert_array_equal(batch.final_v_c, batch.v_c[:, -1])
    np.testing.assert_array_equal(batch.final_x, batch.x[:, -1])
    assert batch.ok.all() and batch.error_text(0) == ""
    for p, spikes in zip(sets, batch.spikes):  # mixed models in one batch: as alone
        np.testing.assert_array_equal(spikes, solve_ode(p).spikes)
    P = np.stack([parameter_row(p) for p in sets])
    small = solve_rows(P, ODD["simulation.dt"], ODD["simulation.t_stop"], spike_capacity=2)
    assert all(s.size > 2 for s in small.spikes)
    for a, b in zip(small.spikes, batch.spikes):
        np.testing.assert_array_equal(a, b)


def test_batch_inputs_are_checked(paper):
    from alif_spice import ParamError
    with pytest.raises(ParamError, match="no parameter sets"):
        solve_batch([])
    with pytest.raises(ParamError, match="must share them"):
        solve_batch([paper, paper.with_values({"simulation.dt": 2e-8})])
    with pytest.raises(ParamError, match="simulation.dt: must be < simulation.t_stop"):
        solve_ode(paper.with_values({"simulation.dt": 1e-3, "simulation.t_stop": 1e-3}))


def test_stability_limit_is_2_5_rc(paper):
    from alif_spice import ParamError
    from alif_spice.ode import check_step
    p = paper.with_values({"simulation.t_stop": 1e-3})
    tau = (p.memristor.r_on + p.neuron.r_s) * p.neuron.c
    check_step(p.with_values({"simulation.dt": 2.5 * tau}))
    with pytest.raises(ParamError, match=rf"must be <= 2.5\*\(r_on \+ r_s\)\*c = {2.5 * tau:.4g} s"):
        check_step(p.with_values({"simulation.dt": 2.5 * tau * (1 + 1e-9)}))
    # the gMMS is held to its own limit, from the memristor's largest slope below v_th (here
    # phi = 0.8 of the switch conductance plus small diode terms: a little less stiff)
    from alif_spice import devices

    g = p.with_values(GMMS)
    limit = devices.get("gmms").rk4_step_limit(g)
    assert limit != pytest.approx(2.5 * tau, rel=1e-3)
    check_step(g.with_values({"simulation.dt": limit}))
    with pytest.raises(ParamError, match=r"must be <= 2\.5\*c\*\(r_s \+ 1/g_max\)"):
        check_step(g.with_values({"simulation.dt": limit * (1 + 1e-9)}))


def iv_reference(p, t, v_src, r):
    """x(t) of the memristor alone behind r, from scipy (source linear between samples)."""
    m = p.memristor
    beta = mm.thermal_beta(m.temperature)

    def rhs(s, y):
        x = min(max(y[0], 0.0), 1.0)
        vs = np.interp(s, t, v_src)
        vm = mm.branch(np.array([vs]), np.array([x]), m, r)[0][0]
        return [mm.dxdt(vm, x, m.v_on, m.v_off, m.tau, beta)]
    sol = solve_ivp(rhs, (t[0], t[-1]), [m.x0], method="DOP853", rtol=1e-10, atol=1e-12, t_eval=t,
                    max_step=float(np.min(np.diff(t))))
    return sol.y[0]


@pytest.mark.parametrize("model", ["mms", "gmms"])
def test_iv_drive_against_an_independent_solution(paper, model):
    from alif_spice.ode import solve_iv
    p = paper.with_values({"memristor.x0": 0.15, "iv.waveform": "triangle", "iv.amplitude": 1.2,
                           "iv.frequency": 400.0, "iv.periods": 2, "iv.points_per_period": 400,
                           **(GMMS if model == "gmms" else {})})
    tr = solve_iv(p)
    assert tr["x"].max() - tr["x"].min() > 0.2  # the state really switches
    ref = iv_reference(p, tr.time, tr["v_src"], p.iv.r_series)
    np.testing.assert_allclose(tr["x"], ref, atol=2e-6)
    v_mem, i_m = mm.branch(tr["v_src"], tr["x"], p.memristor, p.iv.r_series)
    np.testing.assert_array_equal(tr["v_mem"], v_mem)
    np.testing.assert_array_equal(tr["i_m"], i_m)


def test_iv_drive_with_measured_samples_and_no_series_resistor(paper):
    from alif_spice.ode import solve_iv
    p = paper.with_values({"memristor.x0": 0.6})
    t = np.linspace(0, 5e-3, 301)
    v = 0.8 * np.sin(2 * np.pi * 300 * t) - 0.1
    tr = solve_iv(p, t, v, r_series=0.0)
    np.testing.assert_allclose(tr["x"], iv_reference(p, t, v, 0.0), atol=2e-6)
    np.testing.assert_array_equal(tr["v_mem"], v)  # no series resistor: the device sees the source


def test_a_batch_larger_than_a_block_equals_its_neurons_alone(paper):
    # neurons go in blocks of ode.BLOCK: a batch of 2.3 blocks, every neuron different
    from alif_spice.ode import BLOCK
    rng = np.random.default_rng(5)
    n = int(2.3 * BLOCK)
    sets = [paper.with_values({**ODD, "simulation.t_stop": 0.4e-3, "neuron.c": c})
            for c in rng.uniform(10e-9, 40e-9, n)]
    batch = solve_batch(sets, record=True)
    assert sum(s.size for s in batch.spikes) > n  # they fire
    for i in rng.choice(n, 12, replace=False).tolist() + [0, BLOCK - 1, BLOCK, n - 1]:
        alone = solve_batch([sets[i]], record=True)
        np.testing.assert_array_equal(batch.spikes[i], alone.spikes[0])
        np.testing.assert_array_equal(batch.v_c[i], alone.v_c[0])
        np.testing.assert_array_equal(batch.x[i], alone.x[0])


def test_iv_drive_default_grid(paper):
    from alif_spice.ode import solve_iv
    p = paper.with_values({"iv.frequency": 250.0, "iv.periods": 3, "iv.points_per_period": 200})
    tr = solve_iv(p)
    assert tr.time.size == 3 * 200 + 1 and tr.time[0] == 0.0 and tr.time[-1] == pytest.approx(3 / 250.0)
    np.testing.assert_allclose(np.diff(tr.time), 1 / (250.0 * 200), rtol=1e-9)
