"""Fixed-step RK4 reference solver of the ALIF neuron.

The time grid is ``t_k = k*dt`` (the last point is ``t_stop``). Inside a grid
interval the step is split, never rounded, at every stimulus corner, at the
end of a refractory period and at every spike, so that edges land exactly on
step boundaries. A spike is the upward crossing of ``v_mem = v_th`` located
inside the step on the cubic Hermite interpolant of the RK4 step (4th-order
consistent), then ``v_c`` is reset to ``v_reset`` and held there for ``t_ref``
while ``x`` keeps evolving. ``x`` is clamped to [0, 1] after every step (a
no-op when the step is accurate; it keeps oversized steps physical).

The kernel is compiled with numba and runs a batch of neurons (one parameter
row each) in one call; a single neuron is a batch of one, so batch and single
runs are the same arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

from . import _jit  # noqa: F401  (before any @njit: the cache notices edits of every kernel module)
from . import devices
from . import memristor as mm
from .errors import ParamError, SimulationError
from .params import Params
from .stimulus import TIME_TOL, IvSource, SquareWave, pulse_segment
from .trace import Trace

# ---------------------------------------------------------------- parameter row layout
FIELDS = ("g_on", "g_off", "r_on", "r_off", "k_on", "k_off", "beta", "inv_tau", "r_s", "v_rest", "inv_c",
          "v_th", "v_reset", "t_ref", "phi", "alpha_f", "beta_f", "alpha_r", "beta_r",
          "v1", "v2", "td", "tr", "pw", "tf", "per", "x0", "model",
          "v_on", "v_off", "vt_k_on", "vt_k_off", "alpha_on", "alpha_off", "p_window",
          "a1", "a2", "b", "a_p", "a_n", "x_p", "x_n", "alpha_p", "alpha_n")
(G_ON, G_OFF, R_ON, R_OFF, K_ON, K_OFF, BETA, INV_TAU, R_S, V_REST, INV_C, V_TH, V_RESET, T_REF, PHI,
 ALPHA_F, BETA_F, ALPHA_R, BETA_R, V1, V2, TD, TR, PW, TF, PER, X0, MODEL,
 V_ON, V_OFF, VT_K_ON, VT_K_OFF, ALPHA_ON, ALPHA_OFF, P_WINDOW,
 YK_A1, YK_A2, YK_B, YK_A_P, YK_A_N, YK_X_P, YK_X_N, YK_ALPHA_P, YK_ALPHA_N) = range(len(FIELDS))
#: the rate constants of the device models' state equations: zero in each, x stays where it is
#: (a frozen memristor; a new model's rates belong here, tests/test_control.py checks every model)
RATE_FIELDS = ("inv_tau", "vt_k_on", "vt_k_off", "a_p", "a_n")
#: the arms of the kernel's device-model switch (the ``kernel`` of each registry entry)
ARM_MMS = float(devices.MMS.kernel)
ARM_GMMS = float(devices.GMMS.kernel)
ARM_VTEAM = float(devices.VTEAM.kernel)
ARM_YAKOPCIC = float(devices.YAKOPCIC.kernel)

STATUS_OK, STATUS_NONFINITE, STATUS_RUNAWAY = 0, 1, 2
STATUS_TEXT = {STATUS_OK: "ok", STATUS_NONFINITE: "non-finite state (step too large?)",
               STATUS_RUNAWAY: "more than 10000 spikes in one step (runaway firing)"}
MAX_SPIKES_PER_STEP = 10000
BLOCK = 128  # neurons integrated side by side (fits the working set in L1/L2)

_conductance_g = mm.conductance_g
_dxdt_k = mm.dxdt_k
_dxdt_e = mm.dxdt_e
_exp = mm.exp_clipped
_gmms_current = mm.gmms_current
_gmms_v = mm.gmms_branch_voltage
_segment = pulse_segment


def _arm(model: str) -> float:
    """The kernel's arm for a device model; a registered model without one is refused (the
    kernel would run another model's physics)."""
    arm = float(devices.get(model).kernel)
    if arm not in (ARM_MMS, ARM_GMMS, ARM_VTEAM, ARM_YAKOPCIC):
        raise ParamError(f"memristor.model: {model!r} has no arm in the RK4 kernel (alif_spice/ode.py)")
    return arm


def parameter_row(p: Params) -> np.ndarray:
    """The kernel's parameter row for one :class:`Params`."""
    m, n = p.memristor, p.neuron
    beta = mm.thermal_beta(m.temperature)
    k_on, k_off = mm.switching_constants(m.v_on, m.v_off, beta)
    s = SquareWave.from_params(p)
    values = dict(g_on=1.0 / m.r_on, g_off=1.0 / m.r_off, r_on=m.r_on, r_off=m.r_off, k_on=k_on, k_off=k_off, beta=beta,
                  inv_tau=1.0 / m.tau, r_s=n.r_s, v_rest=n.v_rest, inv_c=1.0 / n.c,
                  v_th=n.v_th, v_reset=n.v_reset, t_ref=n.t_ref, phi=m.phi,
                  alpha_f=m.alpha_f, beta_f=m.beta_f, alpha_r=m.alpha_r, beta_r=m.beta_r,
                  v1=s.v1, v2=s.v2, td=s.td, tr=s.tr, pw=s.pw, tf=s.tf, per=s.per, x0=m.x0,
                  model=_arm(m.model), v_on=m.v_on, v_off=m.v_off, vt_k_on=m.k_on, vt_k_off=m.k_off,
                  alpha_on=m.alpha_on, alpha_off=m.alpha_off, p_window=m.p_window,
                  a1=m.a1, a2=m.a2, b=m.b, a_p=m.a_p, a_n=m.a_n, x_p=m.x_p, x_n=m.x_n,
                  alpha_p=m.alpha_p, alpha_n=m.alpha_n)
    if m.state == "frozen":  # every model's dx/dt is proportional to one of its rates
        values.update({f: 0.0 for f in RATE_FIELDS})
    return np.array([values[f] for f in FIELDS], dtype=np.float64)


# ---------------------------------------------------------------- kernel


@njit(cache=True, inline="always", error_model="numpy")
def _branch(v, x, p):
    """(v_mem, i_m) of the memristor branch at capacitor voltage v: the device-model switch."""
    delta = v - p[V_REST]
    if p[MODEL] == ARM_MMS:
        g = _conductance_g(x, p[G_ON], p[G_OFF])
        v_mem = mm.divider_voltage(delta, g, p[R_S])
        return v_mem, g * v_mem
    if p[MODEL] == ARM_VTEAM:
        return mm.vteam_divider(delta, x, p[R_ON], p[R_OFF], p[R_S])
    if p[MODEL] == ARM_YAKOPCIC:
        return mm.yakopcic_divider(delta, x, p[R_S], p[YK_A1], p[YK_A2], p[YK_B])
    # ARM_GMMS
    v_mem = _gmms_v(delta, x, p[R_S], p[R_ON], p[R_OFF], p[PHI], p[ALPHA_F], p[BETA_F],
                    p[ALPHA_R], p[BETA_R])
    return v_mem, _gmms_current(v_mem, x, p[R_ON], p[R_OFF], p[PHI], p[ALPHA_F], p[BETA_F],
                                p[ALPHA_R], p[BETA_R])


@njit(cache=True, inline="always", error_model="numpy")
def _divider(v, x, g_on, g_off, r_s, v_rest):
    """(clamped x, G(x), v_mem) of the plain MMS branch at capacitor voltage v."""
    xc = min(max(x, 0.0), 1.0)
    g = _conductance_g(xc, g_on, g_off)
    return xc, g, mm.divider_voltage(v - v_rest, g, r_s)


@njit(cache=True, inline="always", error_model="numpy")
def _deriv(v, x, i_in, g_on, g_off, k_on, k_off, beta, inv_tau, r_s, v_rest, inv_c):
    """(dv_c/dt, dx/dt, v_mem) of the plain MMS neuron from scalars.

    The fast path of :func:`_integrate` performs exactly these operations, split
    into loops so that the compiler can vectorise all but the exponential.
    """
    xc, g, v_mem = _divider(v, x, g_on, g_off, r_s, v_rest)
    dx = _dxdt_e(_exp(beta * v_mem), xc, k_on, k_off, inv_tau)
    return (i_in - g * v_mem) * inv_c, dx, v_mem


@njit(cache=True, inline="always", error_model="numpy")
def _dxdt(v_mem, x, p):
    """dx/dt of the row's device model at memristor voltage v_mem: the state-equation switch."""
    if p[MODEL] == ARM_VTEAM:
        return mm.vteam_dxdt(v_mem, x, p[V_ON], p[V_OFF], p[VT_K_ON], p[VT_K_OFF], p[ALPHA_ON], p[ALPHA_OFF],
                             p[P_WINDOW])
    if p[MODEL] == ARM_YAKOPCIC:
        return mm.yakopcic_dxdt(v_mem, x, p[V_ON], p[V_OFF], p[YK_A_P], p[YK_A_N], p[YK_X_P], p[YK_X_N],
                                p[YK_ALPHA_P], p[YK_ALPHA_N])
    return _dxdt_k(v_mem, x, p[K_ON], p[K_OFF], p[BETA], p[INV_TAU])


@njit(cache=True, inline="always", error_model="numpy")
def _rhs(v, x, i_in, hold, p):
    """(dv_c/dt, dx/dt) for a parameter row; ``hold`` freezes v_c (refractory period)."""
    if p[MODEL] == ARM_MMS:
        dv, dx, _ = _deriv(v, x, i_in, p[G_ON], p[G_OFF], p[K_ON], p[K_OFF], p[BETA], p[INV_TAU],
                           p[R_S], p[V_REST], p[INV_C])
    else:
        xc = min(max(x, 0.0), 1.0)
        v_mem, i_m = _branch(v, xc, p)
        dx = _dxdt(v_mem, xc, p)
        dv = (i_in - i_m) * p[INV_C]
    return (0.0 if hold else dv), dx


@njit(cache=True, inline="always", error_model="numpy")
def _rk4(v, x, h, i_a, slope, hold, p):
    """One RK4 step of length h with input i_a + slope*(s - t). Returns (v, x, dv0, dx0)."""
    k1v, k1x = _rhs(v, x, i_a, hold, p)
    i_mid = i_a + slope * (0.5 * h)
    k2v, k2x = _rhs(v + 0.5 * h * k1v, x + 0.5 * h * k1x, i_mid, hold, p)
    k3v, k3x = _rhs(v + 0.5 * h * k2v, x + 0.5 * h * k2x, i_mid, hold, p)
    k4v, k4x = _rhs(v + h * k3v, x + h * k3x, i_a + slope * h, hold, p)
    vn = v + h / 6.0 * (k1v + 2.0 * k2v + 2.0 * k3v + k4v)
    xn = x + h / 6.0 * (k1x + 2.0 * k2x + 2.0 * k3x + k4x)
    return vn, min(max(xn, 0.0), 1.0), k1v, k1x


@njit(cache=True, inline="always", error_model="numpy")
def _hermite(y0, f0, y1, f1, h, th):
    t2 = th * th
    t3 = t2 * th
    return ((2 * t3 - 3 * t2 + 1) * y0 + (t3 - 2 * t2 + th) * h * f0
            + (-2 * t3 + 3 * t2) * y1 + (t3 - t2) * h * f1)


@njit(cache=True, error_model="numpy")
def _crossing(v0, x0, f0v, f0x, v1, x1, i_end, h, p):
    """Fraction theta in (0, 1] of the step where v_mem reaches v_th, and x there."""
    f1v, f1x = _rhs(v1, x1, i_end, False, p)
    lo, hi = 0.0, 1.0
    g_lo = _branch(v0, x0, p)[0] - p[V_TH]
    g_hi = _branch(v1, x1, p)[0] - p[V_TH]
    side = 0
    th = 1.0
    for _ in range(200):
        # Illinois regula falsi, bisection when it stalls
        if g_hi != g_lo:
            th = (lo * g_hi - hi * g_lo) / (g_hi - g_lo)
        if not (lo < th < hi):
            th = 0.5 * (lo + hi)
        xv = min(max(_hermite(x0, f0x, x1, f1x, h, th), 0.0), 1.0)
        g = _branch(_hermite(v0, f0v, v1, f1v, h, th), xv, p)[0] - p[V_TH]
        if g >= 0.0:
            hi, g_hi = th, g
            if side == 1:
                g_lo *= 0.5
            side = 1
        else:
            lo, g_lo = th, g
            if side == -1:
                g_hi *= 0.5
            side = -1
        if hi - lo < 1e-12 or g == 0.0:  # 1e-12 of a step: far below any spike-time need
            break
    xs = min(max(_hermite(x0, f0x, x1, f1x, h, hi), 0.0), 1.0)
    return hi, xs


@njit(cache=True, error_model="numpy")
def _advance(j, p, t, t1, st, spikes, counts, status, fail_t):
    """General path for neuron j over [t, t1]: substeps at stimulus corners, refractory end
    and spikes. ``st`` holds (v, x, seg_v, seg_s, seg_t, seg_end, ref_end) of the neuron."""
    v, x = st[0], st[1]
    seg_v, seg_s, seg_t, seg_end, ref_end = st[2], st[3], st[4], st[5], st[6]
    cap = spikes.shape[1]
    n_here = 0
    while t < t1 - TIME_TOL:
        t_next = min(t1, seg_end)
        hold = ref_end > t + TIME_TOL
        if hold and ref_end < t_next:
            t_next = ref_end
        h = t_next - t
        i_a = seg_v + seg_s * (t - seg_t)
        vn, xn, f0v, f0x = _rk4(v, x, h, i_a, seg_s, hold, p)
        if not hold and _branch(vn, xn, p)[0] >= p[V_TH]:
            th, xs = _crossing(v, x, f0v, f0x, vn, xn, i_a + seg_s * h, h, p)
            ts = t + th * h
            c = counts[j]
            if c < cap:
                spikes[j, c] = ts
            counts[j] = c + 1
            n_here += 1
            if n_here > MAX_SPIKES_PER_STEP:
                status[j] = STATUS_RUNAWAY
                fail_t[j] = ts
                break
            v = p[V_RESET]
            x = xs
            t = ts
            ref_end = ts + p[T_REF]
            continue
        v, x, t = vn, xn, t_next
        if t >= seg_end - TIME_TOL:
            seg_v, seg_s, seg_end = _segment(t, p[V1], p[V2], p[TD], p[TR], p[PW], p[TF], p[PER])
            seg_t = t
    st[0], st[1] = v, x
    st[2], st[3], st[4], st[5], st[6] = seg_v, seg_s, seg_t, seg_end, ref_end


@njit(cache=True, nogil=True, error_model="numpy")
def _integrate(P, dt, t_stop, nsteps, rec_v, rec_x, record, spikes, counts, status, fail_t,
               final, block, every):
    """Integrate every row of P on the grid t_k = min(k dt, t_stop), k = 0..nsteps;
    record every ``every``-th grid point and the last one.

    Neurons go in blocks, time outside, neurons inside. A neuron whose grid
    interval holds no stimulus corner and no refractory period takes the fast
    path: one RK4 step computed stage by stage across the block (independent
    iterations the CPU overlaps). Any other interval, and any fast step that ends
    above threshold, is (re)done from its start by the general path
    :func:`_advance`, so every neuron gets the same arithmetic whatever its batch.
    """
    n = P.shape[0]
    PT = np.ascontiguousarray(P.T)  # field-major copy: the fast path reads scalars only
    st = np.empty((7, n))  # per neuron: v, x, seg_v, seg_s, seg_t, seg_end, ref_end
    b_kv = np.zeros((4, block))
    b_kx = np.zeros((4, block))
    fast = np.zeros(block, dtype=np.bool_)
    hold = np.zeros(block, dtype=np.bool_)
    b_ia = np.empty(block)
    b_xc = np.empty(block)
    b_e = np.empty(block)
    b_vn = np.empty(block)
    b_xn = np.empty(block)
    for j0 in range(0, n, block):
        nb = min(block, n - j0)
        b_kv[:] = 0.0  # stage 0 reads row 0 times c = 0: keep it finite
        b_kx[:] = 0.0
        for jj in range(nb):
            j = j0 + jj
            p = P[j]
            sv, ss, se = _segment(0.0, p[V1], p[V2], p[TD], p[TR], p[PW], p[TF], p[PER])
            st[0, j] = p[V_RESET]
            st[1, j] = p[X0]
            st[2, j], st[3, j], st[4, j], st[5, j], st[6, j] = sv, ss, 0.0, se, -1.0
            if record:
                rec_v[j, 0] = st[0, j]
                rec_x[j, 0] = st[1, j]
        for k in range(nsteps):
            t0 = k * dt
            t1 = min((k + 1) * dt, t_stop)
            h = t1 - t0
            for jj in range(nb):
                j = j0 + jj
                # fast: no stimulus corner inside, and either no refractory period or one
                # that covers the whole interval (v_c held, x still integrated)
                hold[jj] = st[6, j] >= t1
                fast[jj] = (status[j] == STATUS_OK and st[5, j] >= t1 and P[j, MODEL] == ARM_MMS
                            and (hold[jj] or st[6, j] <= t0 + TIME_TOL))
            # the four RK4 stages, each one loop over the block (same arithmetic as _rk4)
            for jj in range(nb):
                j = j0 + jj
                b_ia[jj] = st[2, j] + st[3, j] * (t0 - st[4, j])
            for stage in range(4):
                c = 0.0 if stage == 0 else (h if stage == 3 else 0.5 * h)
                prev = max(stage - 1, 0)
                for jj in range(nb):  # divider and dv/dt (vectorisable)
                    j = j0 + jj
                    vs = st[0, j] + c * b_kv[prev, jj]
                    xs = st[1, j] + c * b_kx[prev, jj]
                    xc, g, vm = _divider(vs, xs, PT[G_ON, j], PT[G_OFF, j], PT[R_S, j],
                                         PT[V_REST, j])
                    dv = (b_ia[jj] + st[3, j] * c - g * vm) * PT[INV_C, j]
                    b_kv[stage, jj] = 0.0 if hold[jj] else dv
                    b_xc[jj] = xc
                    b_e[jj] = PT[BETA, j] * vm
                for jj in range(nb):  # the exponential (library calls)
                    b_e[jj] = _exp(b_e[jj])
                for jj in range(nb):  # dx/dt (vectorisable)
                    j = j0 + jj
                    b_kx[stage, jj] = _dxdt_e(b_e[jj], b_xc[jj], PT[K_ON, j], PT[K_OFF, j],
                                              PT[INV_TAU, j])
            for jj in range(nb):  # RK4 combination and threshold test (vectorisable)
                j = j0 + jj
                vn = st[0, j] + h / 6.0 * (b_kv[0, jj] + 2.0 * b_kv[1, jj] + 2.0 * b_kv[2, jj]
                                           + b_kv[3, jj])
                xn = st[1, j] + h / 6.0 * (b_kx[0, jj] + 2.0 * b_kx[1, jj] + 2.0 * b_kx[2, jj]
                                           + b_kx[3, jj])
                xn = min(max(xn, 0.0), 1.0)
                # v_mem < v_th without the division (the divider's denominator is > 0); a
                # step that may have crossed is redone by _advance, which decides exactly
                below = (vn - PT[V_REST, j]) < PT[V_TH, j] * (
                    1.0 + PT[R_S, j] * _conductance_g(xn, PT[G_ON, j], PT[G_OFF, j]))
                b_vn[jj] = vn
                b_xn[jj] = xn
                fast[jj] = fast[jj] and (hold[jj] or below)
            for jj in range(nb):
                j = j0 + jj
                if status[j] != STATUS_OK:
                    continue
                if fast[jj]:
                    st[0, j] = b_vn[jj]
                    st[1, j] = b_xn[jj]
                    if t1 >= st[5, j] - TIME_TOL:
                        sv, ss, se = _segment(t1, PT[V1, j], PT[V2, j], PT[TD, j], PT[TR, j],
                                              PT[PW, j], PT[TF, j], PT[PER, j])
                        st[2, j], st[3, j], st[4, j], st[5, j] = sv, ss, t1, se
                else:
                    _advance(j, P[j], t0, t1, st[:, j], spikes, counts, status, fail_t)
                if status[j] == STATUS_OK and not (math.isfinite(st[0, j]) and math.isfinite(st[1, j])):
                    status[j] = STATUS_NONFINITE
                    fail_t[j] = t1
                if record:
                    kk = k + 1
                    if kk % every == 0:
                        rec_v[j, kk // every] = st[0, j]
                        rec_x[j, kk // every] = st[1, j]
                    elif kk == nsteps:
                        rec_v[j, rec_v.shape[1] - 1] = st[0, j]
                        rec_x[j, rec_x.shape[1] - 1] = st[1, j]
        for jj in range(nb):
            final[j0 + jj, 0] = st[0, j0 + jj]
            final[j0 + jj, 1] = st[1, j0 + jj]


# ---------------------------------------------------------------- Python API


@dataclass(frozen=True)
class BatchResult:
    """Spike times and final states of a batch (traces only when recorded)."""

    spikes: list[np.ndarray]
    final_v_c: np.ndarray
    final_x: np.ndarray
    status: np.ndarray
    fail_time: np.ndarray
    time: np.ndarray | None = None
    v_c: np.ndarray | None = None
    x: np.ndarray | None = None

    @property
    def ok(self) -> np.ndarray:
        return self.status == STATUS_OK

    def error_text(self, i: int) -> str:
        if self.status[i] == STATUS_OK:
            return ""
        return f"ODE failed at t={self.fail_time[i]:.6g} s: {STATUS_TEXT[int(self.status[i])]}"


def time_grid(t_stop: float, dt: float, every: int = 1) -> np.ndarray:
    """The recorded times: k*dt for k*dt < t_stop (every ``every``-th k), then t_stop."""
    nsteps = int(math.ceil(t_stop / dt - 1e-9))
    k = np.arange(0, nsteps + 1, every)
    if k[-1] != nsteps:
        k = np.append(k, nsteps)
    return np.minimum(k * dt, t_stop)


def check_step(p: Params) -> None:
    """Reject an RK4 step that is not below ``t_stop`` or beyond the stability limit of
    the fastest RC time constant (the solver's own rules: SPICE runs do not use ``dt``)."""
    if not p.simulation.dt < p.simulation.t_stop:
        raise ParamError(f"simulation.dt: must be < simulation.t_stop (got dt={p.simulation.dt!r})")
    limit = devices.get(p.memristor.model).rk4_step_limit
    if limit is not None and p.simulation.dt > limit(p):
        raise ParamError(
            f"simulation.dt: must be <= {devices.get(p.memristor.model).rk4_step_rule} = {limit(p):.4g} s "
            f"for a stable RK4 step (got {p.simulation.dt!r})")


def solve_batch(params: Sequence[Params], record: bool = False, every: int = 1) -> BatchResult:
    """Integrate many neurons at once (all must share ``simulation.t_stop`` and ``dt``);
    ``every``: record every N-th step only (spike times stay exact)."""
    if not params:
        raise ParamError("solve_batch: no parameter sets given")
    t_stop, dt = params[0].simulation.t_stop, params[0].simulation.dt
    for p in params:
        if (p.simulation.t_stop, p.simulation.dt) != (t_stop, dt):
            raise ParamError("simulation.dt/t_stop: every neuron of a batch must share them")
        check_step(p)
    P = np.ascontiguousarray(np.stack([parameter_row(p) for p in params]))
    return solve_rows(P, dt, t_stop, record, every=every)


def solve_rows(P: np.ndarray, dt: float, t_stop: float, record: bool = False,
               spike_capacity: int = 256, every: int = 1) -> BatchResult:
    """Kernel entry on a prepared parameter matrix (rows from :func:`parameter_row`)."""
    if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
        raise ParamError(f"--save-every: expected an integer >= 1 (got {every!r})")
    n = P.shape[0]
    nsteps = int(math.ceil(t_stop / dt - 1e-9))
    grid = time_grid(t_stop, dt, int(every))
    shape = (n, grid.size) if record else (0, 0)
    while True:
        rec_v = np.empty(shape)
        rec_x = np.empty(shape)
        spikes = np.empty((n, spike_capacity))
        counts = np.zeros(n, dtype=np.int64)
        status = np.zeros(n, dtype=np.int64)
        fail_t = np.full(n, np.nan)
        final = np.empty((n, 2))
        _integrate(P, dt, t_stop, nsteps, rec_v, rec_x, record, spikes, counts, status, fail_t,
                   final, BLOCK, int(every))
        if counts.max(initial=0) <= spike_capacity:
            break
        spike_capacity = int(counts.max())
    return BatchResult(
        spikes=[spikes[i, : counts[i]].copy() for i in range(n)],
        final_v_c=final[:, 0], final_x=final[:, 1], status=status, fail_time=fail_t,
        time=grid if record else None, v_c=rec_v if record else None,
        x=rec_x if record else None)


def solve_ode(params: Params, every: int = 1) -> Trace:
    """RK4 reference solution of one neuron: a :class:`Trace` with every trace column.

    ``every``: keep every N-th time step of the trace (and the last); the integration
    and the spike times are the same. Raises :class:`SimulationError` if the state
    stops being finite.
    """
    result = solve_batch([params], record=True, every=every)
    if not result.ok[0]:
        raise SimulationError(result.error_text(0))
    assert result.time is not None and result.v_c is not None and result.x is not None  # recorded
    v_c, x = result.v_c[0], result.x[0]
    v_mem, i_m = mm.branch(v_c - params.neuron.v_rest, x, params.memristor, params.neuron.r_s)
    i_in = SquareWave.from_params(params)(result.time)
    return Trace(time=result.time,
                 signals={"v_c": v_c, "v_mem": v_mem, "x": x, "i_m": i_m, "i_in": i_in},
                 spikes=result.spikes[0], source="ode", params=params)


# ---------------------------------------------------------------- memristor I-V drive


@njit(cache=True, error_model="numpy")
def _iv_kernel(p, t, v_src, substeps, x_out):
    """RK4 for x of a memristor driven by v_src(t) (linear between samples) through r_s."""
    x = p[X0]
    x_out[0] = x
    for k in range(t.shape[0] - 1):
        h = (t[k + 1] - t[k]) / substeps
        dv = (v_src[k + 1] - v_src[k]) / substeps
        for s in range(substeps):
            va = v_src[k] + s * dv
            xc = min(max(x, 0.0), 1.0)
            k1 = _dxdt(_branch(va, xc, p)[0], xc, p)
            x2 = min(max(x + 0.5 * h * k1, 0.0), 1.0)
            k2 = _dxdt(_branch(va + 0.5 * dv, x2, p)[0], x2, p)
            x3 = min(max(x + 0.5 * h * k2, 0.0), 1.0)
            k3 = _dxdt(_branch(va + 0.5 * dv, x3, p)[0], x3, p)
            x4 = min(max(x + h * k3, 0.0), 1.0)
            k4 = _dxdt(_branch(va + dv, x4, p)[0], x4, p)
            x = min(max(x + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4), 0.0), 1.0)
        x_out[k + 1] = x


def iv_drive_row(p: Params, r_series: float) -> np.ndarray:
    """Kernel row of the memristor alone in series with ``r_series`` (Ω), driven from 0 V."""
    row = parameter_row(p)
    row[R_S] = r_series
    row[V_REST] = 0.0
    return row


def iv_states(p: Params, t: np.ndarray, v_src: np.ndarray, substeps: int = 8, r_series: float | None = None):
    """The state x on ``t`` of the bench :func:`solve_iv` solves, as a function of the initial
    state: ``states(x0) -> x`` (array; the same arithmetic, without the branch's voltage and
    current), for the many short runs of a steady-state search."""
    t = np.ascontiguousarray(t, dtype=float)
    v_src = np.ascontiguousarray(v_src, dtype=float)
    row = iv_drive_row(p, p.iv.r_series if r_series is None else float(r_series))

    def states(x0: float) -> np.ndarray:
        row[X0] = min(max(float(x0), 0.0), 1.0)
        x = np.empty_like(t)
        _iv_kernel(row, t, v_src, int(substeps), x)
        return x

    return states


def solve_iv(p: Params, t: np.ndarray | None = None, v_src: np.ndarray | None = None,
             substeps: int = 8, r_series: float | None = None, x0: float | None = None) -> Trace:
    """The memristor in series with ``iv.r_series`` driven by a source voltage (RK4 on x).

    By default the source is ``[iv]``'s waveform sampled ``points_per_period`` times per
    period; measured ``t`` (s) and ``v_src`` (V) arrays may be given instead (linear
    between samples), ``r_series`` (Ω, 0 allowed) instead of ``iv.r_series``, and the
    initial state ``x0`` instead of ``memristor.x0``.
    Returns a :class:`Trace` with v_src, v_mem, x, i_m.
    """
    if t is None:
        n = int(round(p.iv.periods * p.iv.points_per_period))
        t = np.linspace(0.0, p.iv.periods / p.iv.frequency, n + 1)
        v_src = IvSource.from_params(p)(t)
    t = np.ascontiguousarray(t, dtype=float)
    v_src = np.ascontiguousarray(v_src, dtype=float)
    r = p.iv.r_series if r_series is None else float(r_series)
    x = np.empty_like(t)
    row = iv_drive_row(p, r)
    if x0 is not None:
        row[X0] = min(max(float(x0), 0.0), 1.0)
    _iv_kernel(row, t, v_src, int(substeps), x)
    if not np.all(np.isfinite(x)):
        raise SimulationError("memristor I-V solve produced non-finite values")
    v_mem, i_m = mm.branch(v_src, x, p.memristor, r)
    return Trace(time=t, signals={"v_src": v_src, "v_mem": v_mem, "x": x, "i_m": i_m},
                 spikes=np.empty(0), source="ode:memristor-iv", params=p)
