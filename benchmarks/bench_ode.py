"""Speed of the RK4 reference solver (issue: foundation, item 7).

1. One neuron, the 10 ms paper run: alif-spice's RK4 vs scipy's solve_ivp (RK45 and
   LSODA, with events for the threshold) at equal spike-time accuracy: every method
   is run at the loosest setting whose spike times are all within 1e-7 s of a
   tight-tolerance reference (solve_ivp DOP853, rtol 1e-12: an independent path).
2. A batch of 10,000 neurons: neuron-steps per second on one core, next to the same
   RK4 written as numpy array operations (the alternative to numba).

Prints medians of several runs and ratios measured side by side in this process.
Run: .venv/bin/python benchmarks/bench_ode.py [--quick]
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from scipy.integrate import solve_ivp

from alif_spice import load_params, solve_ode
from alif_spice import memristor as mm
from alif_spice.ode import INV_C, parameter_row, solve_rows
from alif_spice.stimulus import SquareWave

from _timing import median_time

TOL_S = 1e-7




# --------------------------------------------------------------- solve_ivp baseline


def ivp_spikes(p, method, rtol, atol_v=None):
    """Event-driven solve_ivp run of the same neuron; returns spike times.

    Integrates piece by piece between stimulus corners (so the right-hand side is
    smooth inside each call), stops at the upward threshold crossing, resets, holds
    v_c for t_ref while x evolves, and continues. Plain-math right-hand side: the
    fastest a Python user would write for scipy.
    """
    m, n = p.memristor, p.neuron
    beta = mm.thermal_beta(m.temperature)
    g_on, g_off, r_s, v_rest, c = 1 / m.r_on, 1 / m.r_off, n.r_s, n.v_rest, n.c
    k_on, k_off, inv_tau = math.exp(beta * m.v_on), math.exp(beta * m.v_off), 1 / m.tau
    wave = SquareWave.from_params(p)
    t_stop = p.simulation.t_stop
    corners = [b for b in wave.breakpoints(t_stop) if 0 < b < t_stop] + [t_stop]

    def v_mem(v, x):
        return (v - v_rest) / (1 + r_s * (x * g_on + (1 - x) * g_off))

    def dx(vm, x):
        e = math.exp(min(max(beta * vm, -600), 600))
        return inv_tau * (e / (e + k_on) * (1 - x) - x / (1 + e * k_off))

    def make_rhs(i0, slope, t0):
        def rhs(t, y):
            v, x = y
            g = x * g_on + (1 - x) * g_off
            vm = (v - v_rest) / (1 + r_s * g)
            return [(i0 + slope * (t - t0) - g * vm) / c, dx(vm, x)]
        return rhs

    def hold_rhs(t, y, v):
        return [dx(v_mem(v, y[0]), y[0])]

    def event(t, y):
        return v_mem(y[0], y[1]) - n.v_th
    event.terminal = True
    event.direction = 1

    atol = [1e-9 if atol_v is None else atol_v, 1e-12]
    t, v, x, spikes = 0.0, n.v_reset, m.x0, []
    while t < t_stop - 1e-15:
        seg_end = min(b for b in corners if b > t + 1e-15)
        i0 = float(wave(t)) if t > 0 else wave.v1
        slope = (float(wave(seg_end)) - i0) / (seg_end - t)
        sol = solve_ivp(make_rhs(i0, slope, t), (t, seg_end), [v, x], method=method, rtol=rtol,
                        atol=atol, events=event)
        if sol.status == 1:
            ts = float(sol.t_events[0][0])
            spikes.append(ts)
            x = float(sol.y_events[0][0][1])
            v, t = n.v_reset, ts
            t_end = min(ts + n.t_ref, t_stop)
            while n.t_ref > 0 and t < t_end - 1e-15:  # refractory: v held, x free
                stop = min([b for b in corners if b > t + 1e-15] + [t_end])
                hs = solve_ivp(hold_rhs, (t, stop), [x], method=method, rtol=rtol, atol=1e-12,
                               args=(v,))
                x, t = float(hs.y[0, -1]), stop
        else:
            v, x, t = float(sol.y[0, -1]), float(sol.y[1, -1]), seg_end
    return np.array(spikes)


def spike_error(a, b):
    return math.inf if a.size != b.size else float(np.max(np.abs(a - b)))


def bench_single(repeats):
    p = load_params("paper")
    print(f"\n== one neuron, paper preset, {p.simulation.t_stop * 1e3:g} ms ==")
    t_ref_ivp, ref = median_time(lambda: ivp_spikes(p, "DOP853", 1e-12, 1e-12), 1)
    rk_fine = solve_ode(p.with_values({"simulation.dt": 1e-8})).spikes
    print(f"reference: solve_ivp DOP853 rtol 1e-12, {ref.size} spikes ({t_ref_ivp:.1f} s); "
          f"RK4 dt=10 ns differs from it by {spike_error(rk_fine, ref):.2e} s")
    rows = []
    solve_ode(p)  # compile / load the cache outside the timings

    for dt in (5e-6, 2e-6, 1e-6, 5e-7, 2e-7, 1e-7):
        q = p.with_values({"simulation.dt": dt})
        err = spike_error(solve_ode(q).spikes, ref)
        if err <= TOL_S or dt == 1e-7:
            t, _ = median_time(lambda q=q: solve_ode(q), repeats)
            rows.append((f"alif-spice RK4 dt={dt:g} s (full trace)", err, t))
            if err <= TOL_S:
                break
    q = p  # the default step as users run it
    t, tr = median_time(lambda: solve_ode(q), repeats)
    rows.append((f"alif-spice RK4 default dt={p.simulation.dt:g} s", spike_error(tr.spikes, ref), t))
    for method in ("RK45", "LSODA"):
        for rtol in (1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10):
            err = spike_error(ivp_spikes(p, method, rtol), ref)
            if err <= TOL_S:
                t, _ = median_time(lambda m=method, r=rtol: ivp_spikes(p, m, r), max(1, repeats // 2))
                rows.append((f"solve_ivp {method} rtol={rtol:g} + events", err, t))
                break
        else:
            rows.append((f"solve_ivp {method}: no rtol down to 1e-10 met {TOL_S:g} s", math.nan,
                         math.nan))
    base = rows[0][2]
    print(f"{'method':48s} {'max |Δt_spike| (s)':>20s} {'median wall (s)':>16s} {'× RK4':>8s}")
    for name, err, t in rows:
        print(f"{name:48s} {err:20.2e} {t:16.4f} {t / base:8.1f}")


# --------------------------------------------------------------- batch


def numpy_rk4_steps(P, dt, nsteps):
    """The same plain-MMS RK4 step as numpy array operations over the batch (constant
    input, no events): a lower bound on what a numpy-vectorised solver costs per step.
    It calls the model's own functions (their numpy path)."""
    from alif_spice.ode import BETA, G_OFF, G_ON, INV_TAU, K_OFF, K_ON, R_S, V_REST, V_RESET, X0

    g_on, g_off, k_on, k_off = P[:, G_ON], P[:, G_OFF], P[:, K_ON], P[:, K_OFF]
    beta, inv_tau, r_s, v_rest, inv_c = P[:, BETA], P[:, INV_TAU], P[:, R_S], P[:, V_REST], P[:, INV_C]
    conductance_g, dxdt_k = mm.conductance_g.py_func, mm.dxdt_k.py_func
    v, x = P[:, V_RESET].copy(), P[:, X0].copy()
    i_in = 1e-3

    def rhs(v, x):
        xc = np.clip(x, 0.0, 1.0)
        g = conductance_g(xc, g_on, g_off)
        vm = (v - v_rest) / (1 + r_s * g)
        return (i_in - g * vm) * inv_c, dxdt_k(vm, xc, k_on, k_off, beta, inv_tau)

    for _ in range(nsteps):
        k1 = rhs(v, x)
        k2 = rhs(v + 0.5 * dt * k1[0], x + 0.5 * dt * k1[1])
        k3 = rhs(v + 0.5 * dt * k2[0], x + 0.5 * dt * k2[1])
        k4 = rhs(v + dt * k3[0], x + dt * k3[1])
        v = v + dt / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
        x = np.clip(x + dt / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1]), 0.0, 1.0)
    return v, x


def bench_batch(repeats, n=10_000, t_stop=1e-3):
    p = load_params("paper")
    dt = p.simulation.dt
    P = np.repeat(parameter_row(p)[None, :], n, axis=0)
    P[:, INV_C] *= np.linspace(0.5, 2.0, n)  # capacitances spread 0.5x..2x: different spike trains
    P = np.ascontiguousarray(P)
    steps = int(round(t_stop / dt))
    solve_rows(P[:4], dt, 10 * dt)
    t, res = median_time(lambda: solve_rows(P, dt, t_stop), repeats)
    rate = n * steps / t
    n_np = 200
    t_np, _ = median_time(lambda: numpy_rk4_steps(P, dt, n_np), repeats)
    rate_np = n * n_np / t_np
    print(f"\n== batch of {n} neurons, paper preset, dt={dt:g} s, {t_stop * 1e3:g} ms "
          f"({steps} steps, {sum(s.size for s in res.spikes)} spikes) ==")
    print(f"{'method':48s} {'neuron-steps/s':>16s} {'median wall (s)':>16s}")
    print(f"{'alif-spice numba kernel (spikes, resets, edges)':48s} {rate:16.3e} {t:16.3f}")
    print(f"{'numpy arrays, same RK4, no events (lower bound)':48s} {rate_np:16.3e} "
          f"{t_np * steps / n_np:16.3f} (extrapolated)")
    print(f"numba / numpy: {rate / rate_np:.1f}x; target 2.0e+07 neuron-steps/s: "
          f"{'met' if rate >= 2e7 else 'NOT met'}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    a = ap.parse_args()
    reps = 3 if a.quick else 7
    bench_single(reps)
    bench_batch(3 if a.quick else 5)
