"""The device models' equations — the mean metastable switch (MMS) memristor, its
generalized form, VTEAM and Yakopcic — the one place they live (the registry entries of
:mod:`alif_spice.devices` point here).

Every function is plain arithmetic compiled by numba: it takes floats *or*
numpy arrays (vectorised) from Python, and the ODE kernel (:mod:`alif_spice.ode`)
calls the very same functions.

Units: resistance Ω, conductance S, voltage V, current A, time s.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types, vectorize
from numba.extending import overload

from . import _jit  # noqa: F401  (before any @njit: the cache notices edits of every kernel module)

Q_E = 1.602176634e-19  # elementary charge, C
K_B = 1.380649e-23  # Boltzmann constant, J/K
EXP_LIMIT = 600.0  # |argument| cap for exp(): products with other factors stay finite
#: the generalized MMS's diode exponentials continue linearly above this argument, in the
#: SPICE subcircuit (as SPICE's diode models do, for Newton's iteration) and here alike
DIODE_EXP_LINEAR_ABOVE = 80.0


def clip(z, lo, hi):
    """min(max(z, lo), hi) for floats and arrays (compiled code takes the scalar fast path)."""
    return np.minimum(np.maximum(z, lo), hi)


@overload(clip)
def _clip_overload(z, lo, hi):
    if isinstance(z, types.Float):
        return lambda z, lo, hi: min(max(z, lo), hi)
    return lambda z, lo, hi: np.minimum(np.maximum(z, lo), hi)


@njit(cache=True, inline="always", error_model="numpy")
def exp_clipped(z):
    """exp() with its argument clipped to +-EXP_LIMIT (no overflow, no underflow to 0)."""
    return np.exp(clip(z, -EXP_LIMIT, EXP_LIMIT))


@njit(cache=True, inline="always", error_model="numpy")
def exp_linear(z):
    """exp(z) up to :data:`DIODE_EXP_LINEAR_ABOVE`, continued along its tangent above it
    (value and slope continuous); never below exp(-EXP_LIMIT)."""
    a = DIODE_EXP_LINEAR_ABOVE
    return np.exp(clip(z, -EXP_LIMIT, a)) * (1.0 + clip(z - a, 0.0, np.inf))


@njit(cache=True, inline="always", error_model="numpy")
def exp_linear_slope(z):
    """d exp_linear(z) / dz: exp(z), and exp(80) above the continuation point."""
    return np.exp(clip(z, -EXP_LIMIT, DIODE_EXP_LINEAR_ABOVE))


def thermal_beta(temperature: float) -> float:
    """beta = q / (k_B T), 1/V."""
    return Q_E / (K_B * temperature)


@njit(cache=True, inline="always", error_model="numpy")
def conductance(x, r_on, r_off):
    """G(x) = x/R_on + (1-x)/R_off, S."""
    return conductance_g(x, 1.0 / r_on, 1.0 / r_off)


@njit(cache=True, inline="always", error_model="numpy")
def conductance_g(x, g_on, g_off):
    """G(x) from the end conductances g_on = 1/R_on, g_off = 1/R_off, S."""
    return x * g_on + (1.0 - x) * g_off


@njit(cache=True, inline="always", error_model="numpy")
def resistance(x, r_on, r_off):
    """R(x) = 1/G(x), Ω."""
    return 1.0 / conductance(x, r_on, r_off)


@njit(cache=True, inline="always", error_model="numpy")
def divider_voltage(delta, g, r_s):
    """Memristor voltage of the branch memristor + r_s across ``delta`` (V), plain MMS:
    v_mem = i_m R(x) with i_m = delta / (R(x) + r_s), i.e. delta / (1 + r_s G)."""
    return delta / (1.0 + r_s * g)


@njit(cache=True, inline="always", error_model="numpy")
def x_from_resistance(r, r_on, r_off):
    """State x whose resistance is ``r`` (inverse of :func:`resistance`)."""
    return r_on * (r - r_off) / (r * (r_on - r_off))


@njit(cache=True, inline="always", error_model="numpy")
def switching_constants(v_on, v_off, beta):
    """(k_on, k_off) = (exp(beta V_on), exp(beta V_off)) used by :func:`dxdt_k`."""
    return exp_clipped(beta * v_on), exp_clipped(beta * v_off)


@njit(cache=True, inline="always", error_model="numpy")
def dxdt_e(e, x, k_on, k_off, inv_tau):
    """MMS state equation given E = exp(beta v_mem) and the constants of :func:`dxdt_k`.

    (1/tau)[s(beta(v-V_on))(1-x) - (1 - s(beta(v+V_off)))x] with
    s(beta(v-V_on)) = E/(E+k_on) and 1 - s(beta(v+V_off)) = 1/(1 + E k_off).
    Both terms vanish at the bounds, so x stays in [0, 1].
    """
    p_on = e / (e + k_on)
    p_off = 1.0 / (1.0 + e * k_off)
    return inv_tau * (p_on * (1.0 - x) - p_off * x)


@njit(cache=True, inline="always", error_model="numpy")
def dxdt_k(v_mem, x, k_on, k_off, beta, inv_tau):
    """MMS state equation with precomputed constants: one exponential per call."""
    return dxdt_e(exp_clipped(beta * v_mem), x, k_on, k_off, inv_tau)


@njit(cache=True, inline="always", error_model="numpy")
def dxdt(v_mem, x, v_on, v_off, tau, beta):
    """dx/dt of the MMS state equation, 1/s."""
    k_on, k_off = switching_constants(v_on, v_off, beta)
    return dxdt_k(v_mem, x, k_on, k_off, beta, 1.0 / tau)


@njit(cache=True, inline="always", error_model="numpy")
def gmms_current(v, x, r_on, r_off, phi, alpha_f, beta_f, alpha_r, beta_r):
    """Generalized MMS current phi G(x) v + (1-phi)(alpha_f e^{beta_f v} - alpha_r e^{-beta_r v}), A
    (each exponential continued linearly above an argument of 80: :func:`exp_linear`)."""
    schottky = alpha_f * exp_linear(beta_f * v) - alpha_r * exp_linear(-beta_r * v)
    return phi * conductance(x, r_on, r_off) * v + (1.0 - phi) * schottky


@njit(cache=True, inline="always", error_model="numpy")
def gmms_slope(v, x, r_on, r_off, phi, alpha_f, beta_f, alpha_r, beta_r):
    """d(gmms_current)/dv, S (always >= 0)."""
    schottky = alpha_f * beta_f * exp_linear_slope(beta_f * v) + alpha_r * beta_r * exp_linear_slope(-beta_r * v)
    return phi * conductance(x, r_on, r_off) + (1.0 - phi) * schottky


@njit(cache=True, inline="always", error_model="numpy")
def _gmms_current_slope(v, x, r_on, r_off, phi, alpha_f, beta_f, alpha_r, beta_r):
    """(gmms_current, gmms_slope, size) at v with two exponentials instead of four (one where
    the exponents are equal and inside the exponential range, e.g. a sinh; none at v = 0);
    size is the sum of the current's terms' magnitudes, the scale of its rounding error (the
    diode pair's difference cancels near v = 0)."""
    a = DIODE_EXP_LINEAR_ABOVE
    zf, zr = beta_f * v, -beta_r * v
    if v == 0.0:
        ef = er = 1.0
    elif beta_f == beta_r and abs(zf) < a:
        ef = np.exp(zf)
        er = 1.0 / ef
    else:
        ef = np.exp(clip(zf, -EXP_LIMIT, a))
        er = np.exp(clip(zr, -EXP_LIMIT, a))
    g = phi * conductance(x, r_on, r_off)
    forward = alpha_f * ef * (1.0 + clip(zf - a, 0.0, np.inf))
    reverse = alpha_r * er * (1.0 + clip(zr - a, 0.0, np.inf))
    return (g * v + (1.0 - phi) * (forward - reverse),
            g + (1.0 - phi) * (alpha_f * beta_f * ef + alpha_r * beta_r * er),
            abs(g * v) + (1.0 - phi) * (forward + reverse))


@njit(cache=True, error_model="numpy")
def gmms_branch_solve(delta, x, r_s, r_on, r_off, phi, alpha_f, beta_f, alpha_r, beta_r):
    """Memristor voltage v solving v + R_s i(v) = delta for the generalized MMS (scalar),
    and the number of iterations it took.

    f(v) = v + R_s i(v) - delta has f' >= 1, so the root lies between delta and
    delta - R_s i(delta), and between 0 and -f(0): a closed bracket. Newton steps are
    kept inside it and replaced by bisection when they leave it or fail to halve the
    step; it starts from Newton's step from 0. The residual ends at the rounding level of
    the terms it sums (the diode pair's exponentials, not their difference, which cancels
    near 0 V), quadratically once Newton takes over: 1-3 iterations for the neuron's
    voltages, at most 26 (median 3, 99 %: 18) in 20000 random sets over wide ranges
    (measured with the linear continuation of the exponentials above 80).
    """
    i_d = gmms_current(delta, x, r_on, r_off, phi, alpha_f, beta_f, alpha_r, beta_r)
    other = delta - r_s * i_d
    lo = min(delta, other)
    hi = max(delta, other)
    # with f' >= 1 the root is also between 0 and -f(0): a far tighter bracket when the
    # exponential terms are large at delta
    i0, slope0, _ = _gmms_current_slope(0.0, x, r_on, r_off, phi, alpha_f, beta_f, alpha_r, beta_r)
    f0 = r_s * i0 - delta
    if f0 == 0.0:
        return 0.0, 1
    lo = max(lo, min(0.0, -f0))
    hi = min(hi, max(0.0, -f0))
    # start from Newton's step from v = 0 (the root itself for a linear device; beyond the
    # root, on the side where Newton then converges monotonically, for a convex one), or
    # from the middle of the bracket where that step leaves it
    v = -f0 / (1.0 + r_s * slope0)
    if not lo <= v <= hi:
        v = 0.5 * (lo + hi)
    step_old = hi - lo
    for n in range(1, 401):
        i_v, slope, size = _gmms_current_slope(v, x, r_on, r_off, phi, alpha_f, beta_f, alpha_r, beta_r)
        f = v + r_s * i_v - delta
        if f == 0.0:
            return v, n
        if f > 0.0:
            hi = v
        else:
            lo = v
        step = f / (1.0 + r_s * slope)
        v_new = v - step
        scale = abs(delta) + abs(v) + r_s * size + 1e-12  # the terms f sums: its rounding level
        if lo <= v_new <= hi and (abs(f) <= 1e-15 * scale or (
                abs(step) <= 1e-15 * (abs(v) + 1e-12) and abs(f) <= 1e-12 * scale)):
            return v_new, n  # converged: the residual, or the Newton step, is at rounding level
        # Newton inside the bracket while it at least halves the step, else bisection
        if not (lo < v_new < hi) or abs(2.0 * step) > abs(step_old):
            v_new = 0.5 * (lo + hi)
        step_old = v_new - v
        if hi - lo <= 1e-15 * (abs(v_new) + 1e-12):
            return v_new, n
        v = v_new
    return v, 400


@njit(cache=True, inline="always", error_model="numpy")
def gmms_branch_voltage(delta, x, r_s, r_on, r_off, phi, alpha_f, beta_f, alpha_r, beta_r):
    """Memristor voltage v solving v + R_s i(v) = delta for the generalized MMS (scalar);
    see :func:`gmms_branch_solve`."""
    return gmms_branch_solve(delta, x, r_s, r_on, r_off, phi, alpha_f, beta_f, alpha_r, beta_r)[0]


@vectorize(["float64(float64, float64, float64, float64, float64, float64, float64, float64, float64, float64)"],
           cache=True)
def _gmms_branch_voltage_ufunc(delta, x, r_s, r_on, r_off, phi, alpha_f, beta_f, alpha_r, beta_r):
    return gmms_branch_voltage(delta, x, r_s, r_on, r_off, phi, alpha_f, beta_f, alpha_r, beta_r)


def mms_branch(delta, x, r_on, r_off, r_s):
    """Plain MMS: (v_mem, i_m) of memristor + r_s across ``delta`` (V), vectorised."""
    delta = np.asarray(delta, dtype=float)
    g = conductance(np.asarray(x, dtype=float), r_on, r_off)
    v_mem = divider_voltage(delta, g, float(r_s))
    return v_mem, g * v_mem


def gmms_branch(delta, x, m, r_s):
    """Generalized MMS: (v_mem, i_m) of memristor + r_s across ``delta`` (V), vectorised;
    ``m`` is a :class:`~alif_spice.params.MemristorParams`."""
    delta = np.asarray(delta, dtype=float)
    x = np.asarray(x, dtype=float)
    with np.errstate(all="ignore"):  # numba's ufunc loop reports spurious FP flags; result checked
        v_mem = _gmms_branch_voltage_ufunc(delta, x, float(r_s), m.r_on, m.r_off, m.phi,
                                           m.alpha_f, m.beta_f, m.alpha_r, m.beta_r)
    if not np.all(np.isfinite(v_mem)):
        raise FloatingPointError("generalized MMS branch solve gave a non-finite voltage")
    return v_mem, gmms_current(v_mem, x, m.r_on, m.r_off, m.phi, m.alpha_f, m.beta_f, m.alpha_r, m.beta_r)


# --------------------------------------------------------------------------- VTEAM


@njit(cache=True, inline="always", error_model="numpy")
def vteam_resistance(x, r_on, r_off):
    """VTEAM's linear R(x) = r_off + (r_on - r_off) x, Ω (x = 1: ON)."""
    return r_off + (r_on - r_off) * x


@njit(cache=True, inline="always", error_model="numpy")
def vteam_dxdt(v, x, v_on, v_off, k_on, k_off, alpha_on, alpha_off, p_window):
    """VTEAM state equation (scalars), 1/s, Knowm sign convention (Kvatinsky et al. 2015
    with the state x = 1 - w/D, so that a positive voltage switches ON):

    dx/dt = k_on (v/v_on - 1)^alpha_on f_on(x)         for v > v_on
          = -k_off (-v/v_off - 1)^alpha_off f_off(x)   for v < -v_off
          = 0                                          between the thresholds,

    with the Biolek window split by direction, f_on(x) = 1 - |x|^(2p) and
    f_off(x) = 1 - |1 - x|^(2p): zero at the bound x moves towards and negative beyond it,
    so x stays in [0, 1] by itself."""
    if v > v_on:
        return k_on * (v / v_on - 1.0) ** alpha_on * (1.0 - abs(x) ** (2.0 * p_window))
    if v < -v_off:
        return -k_off * (-v / v_off - 1.0) ** alpha_off * (1.0 - abs(1.0 - x) ** (2.0 * p_window))
    return 0.0


@njit(cache=True, inline="always", error_model="numpy")
def vteam_divider(delta, x, r_on, r_off, r_s):
    """VTEAM: (v_mem, i_m) of memristor + r_s across ``delta`` (V): i_m = delta / (R(x) + r_s)."""
    r = vteam_resistance(x, r_on, r_off)
    i_m = delta / (r + r_s)
    return i_m * r, i_m


def vteam_branch(delta, x, m, r_s):
    """VTEAM: (v_mem, i_m) of memristor + r_s across ``delta`` (V), vectorised; ``m`` is a
    :class:`~alif_spice.params.MemristorParams`."""
    return vteam_divider(np.asarray(delta, dtype=float), np.asarray(x, dtype=float), m.r_on, m.r_off, float(r_s))



# --------------------------------------------------------------------------- Yakopcic


@njit(cache=True, inline="always", error_model="numpy")
def yakopcic_current(v, x, a1, a2, b):
    """Yakopcic current (scalars), A: a1 x sinh(b v) for v >= 0, a2 x sinh(b v) below
    (Yakopcic et al. 2011/2013); sinh's exponentials continue linearly above an argument of
    80 (:func:`exp_linear`), as the generalized MMS's diode terms do."""
    a = a1 if v >= 0.0 else a2
    if abs(b * v) < DIODE_EXP_LINEAR_ABOVE:
        e = np.exp(b * v)
        return 0.5 * a * x * (e - 1.0 / e)
    return 0.5 * a * x * (exp_linear(b * v) - exp_linear(-b * v))


@njit(cache=True, inline="always", error_model="numpy")
def yakopcic_dxdt(v, x, v_p, v_n, a_p, a_n, x_p, x_n, alpha_p, alpha_n):
    """Yakopcic state equation (scalars), 1/s, with eta = +1 (a positive voltage switches ON):

    dx/dt = g(v) f(x),  g(v) = a_p (e^v - e^v_p)       for v > v_p
                             = -a_n (e^-v - e^v_n)     for v < -v_n
                             = 0                       between the thresholds

    (v in volts inside the exponentials, as published), and the window f(x) by direction:
    growing, f = e^(-alpha_p (x - x_p)) ((x_p - x)/(1 - x_p) + 1) for x >= x_p, else 1;
    shrinking, f = e^(alpha_n (x + x_n - 1)) x/(1 - x_n) for x <= 1 - x_n, else 1. Each
    window is zero at the bound x moves towards and negative beyond it: x stays in [0, 1]."""
    if v > v_p:
        f = 1.0
        if x >= x_p:
            f = np.exp(-alpha_p * (x - x_p)) * ((x_p - x) / (1.0 - x_p) + 1.0)
        return a_p * (exp_clipped(v) - np.exp(v_p)) * f
    if v < -v_n:
        f = 1.0
        if x <= 1.0 - x_n:
            f = np.exp(alpha_n * (x + x_n - 1.0)) * x / (1.0 - x_n)
        return -a_n * (exp_clipped(-v) - np.exp(v_n)) * f
    return 0.0


@njit(cache=True, inline="always", error_model="numpy")
def yakopcic_branch_voltage(delta, x, r_s, a1, a2, b):
    """Memristor voltage v solving v + r_s i(v) = delta for the Yakopcic device (scalar): the
    generalized MMS's branch solve with only its diode terms (phi = 0), both a x / 2 with
    exponent b. The root has the sign of delta, which picks a1 or a2."""
    a = 0.5 * (a1 if delta >= 0.0 else a2) * x
    return gmms_branch_voltage(delta, x, r_s, 1.0, 1.0, 0.0, a, b, a, b)


@njit(cache=True, inline="always", error_model="numpy")
def yakopcic_divider(delta, x, r_s, a1, a2, b):
    """Yakopcic: (v_mem, i_m) of memristor + r_s across ``delta`` (V), scalars."""
    v = yakopcic_branch_voltage(delta, x, r_s, a1, a2, b)
    return v, yakopcic_current(v, x, a1, a2, b)


@vectorize(["float64(float64, float64, float64, float64, float64, float64)"], cache=True)
def _yakopcic_branch_voltage_ufunc(delta, x, r_s, a1, a2, b):
    return yakopcic_branch_voltage(delta, x, r_s, a1, a2, b)


@vectorize(["float64(float64, float64, float64, float64, float64)"], cache=True)
def _yakopcic_current_ufunc(v, x, a1, a2, b):
    return yakopcic_current(v, x, a1, a2, b)


def yakopcic_branch(delta, x, m, r_s):
    """Yakopcic: (v_mem, i_m) of memristor + r_s across ``delta`` (V), vectorised; ``m`` is a
    :class:`~alif_spice.params.MemristorParams`."""
    delta = np.asarray(delta, dtype=float)
    x = np.asarray(x, dtype=float)
    with np.errstate(all="ignore"):  # numba's ufunc loop reports spurious FP flags; result checked
        v_mem = _yakopcic_branch_voltage_ufunc(delta, x, float(r_s), m.a1, m.a2, m.b)
    if not np.all(np.isfinite(v_mem)):
        raise FloatingPointError("Yakopcic branch solve gave a non-finite voltage")
    return v_mem, _yakopcic_current_ufunc(v_mem, x, m.a1, m.a2, m.b)


def branch(delta, x, m, r_s):
    """Memristor voltage and branch current for ``delta = v_c - v_rest`` (vectorised), for the
    device model ``m.model`` selects (:mod:`alif_spice.devices`).

    ``m`` is a :class:`~alif_spice.params.MemristorParams`. Returns ``(v_mem, i_m)``.
    """
    from .devices import get

    return get(m.model).branch(delta, x, m, r_s)
