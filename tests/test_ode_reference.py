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
GMMS = {"memristor.phi": 0.8, "memristor.alpha_f": 2e-7, "memristor.beta_f": 6.0,
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
        if m.phi >= 1.0:
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
                hold = solve_ivp(lambda s, y: [dx(branch(v, y[0])[0], y[0])], (t, stop), [x], method="DOP853",
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
