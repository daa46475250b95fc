"""MMS equations against closed forms and independent paths."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alif_spice import memristor as mm


def test_resistance_and_inverse(paper):
    m = paper.memristor
    assert mm.resistance(0.0, m.r_on, m.r_off) == pytest.approx(m.r_off)
    assert mm.resistance(1.0, m.r_on, m.r_off) == pytest.approx(m.r_on)
    r = np.linspace(m.r_on, m.r_off, 11)
    x = mm.x_from_resistance(r, m.r_on, m.r_off)
    np.testing.assert_allclose(mm.resistance(x, m.r_on, m.r_off), r, rtol=1e-12)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


@settings(deadline=None)  # the first example compiles the kernel
@given(st.floats(-3, 3), st.floats(0, 1))
def test_dxdt_is_the_published_form(v, x):
    # the one-exponential rewrite must equal the textbook sigmoid form
    v_on, v_off, tau, beta = 0.3408, 0.0941, 2.53e-4, 1 / 0.026
    direct = (_sigmoid(beta * (v - v_on)) * (1 - x) - (1 - _sigmoid(beta * (v + v_off))) * x) / tau
    assert mm.dxdt(v, x, v_on, v_off, tau, beta) == pytest.approx(direct, rel=1e-9, abs=1e-9)


def test_dxdt_keeps_x_in_bounds_and_is_finite_for_hostile_voltages():
    v = np.array([-1e6, -10.0, -1.0, 0.0, 1.0, 10.0, 1e6])
    up = mm.dxdt(v, np.ones_like(v), 0.34, 0.094, 1e-4, 38.46)
    down = mm.dxdt(v, np.zeros_like(v), 0.34, 0.094, 1e-4, 38.46)
    assert np.all(np.isfinite(up)) and np.all(np.isfinite(down))
    assert np.all(up <= 0) and np.all(down >= 0)  # never pushes x out of [0, 1]


@settings(max_examples=200, deadline=None)
@given(delta=st.floats(-20, 20), x=st.floats(0, 1), r_s=st.floats(0, 1e5),
       phi=st.floats(0, 1), af=st.floats(0, 1e-3), bf=st.floats(0, 10), ar=st.floats(0, 1e-3),
       br=st.floats(0, 10))
def test_gmms_branch_solve_satisfies_kirchhoff(delta, x, r_s, phi, af, bf, ar, br):
    v = mm.gmms_branch_voltage(delta, x, r_s, 1351.0, 7510.0, phi, af, bf, ar, br)
    i = mm.gmms_current(v, x, 1351.0, 7510.0, phi, af, bf, ar, br)
    assert np.isfinite(v)
    assert v + r_s * i - delta == pytest.approx(0.0, abs=1e-9 * (1 + abs(delta) + abs(r_s * i)))


def test_gmms_with_phi_one_reduces_to_the_closed_form_divider(paper):
    m = paper.memristor
    delta = np.linspace(-5, 5, 101)
    x = np.linspace(0, 1, 101)
    v_closed, i_closed = mm.branch(delta, x, m, 6800.0)
    v_solved = np.array([mm.gmms_branch_voltage(d, xx, 6800.0, m.r_on, m.r_off, 1.0, 1e-6, 5.0, 1e-6, 5.0)
                         for d, xx in zip(delta, x)])
    np.testing.assert_allclose(v_solved, v_closed, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(i_closed, mm.conductance(x, m.r_on, m.r_off) * v_closed)


def test_thermal_beta_is_q_over_kt():
    # CODATA 2018 exact values: q = 1.602176634e-19 C, k_B = 1.380649e-23 J/K
    assert mm.thermal_beta(300.0) == pytest.approx(38.68173, rel=1e-6)
    assert mm.thermal_beta(600.0) == pytest.approx(38.68173 / 2, rel=1e-6)


def test_exp_is_clipped_exactly_at_the_limit():
    assert mm.exp_clipped(1e4) == np.exp(600.0)
    assert mm.exp_clipped(-1e4) == np.exp(-600.0)
    assert mm.exp_clipped(599.5) == np.exp(599.5)
    assert mm.exp_clipped(-599.5) == np.exp(-599.5)
    np.testing.assert_array_equal(mm.exp_clipped(np.array([-1e4, 0.5, 1e4])),
                                  np.exp([-600.0, 0.5, 600.0]))
    np.testing.assert_array_equal(mm.clip(np.array([-2.0, 0.3, 2.0]), -1.0, 1.0), [-1.0, 0.3, 1.0])


@pytest.mark.parametrize("phi, af, bf, ar, br", [(0.3, 2e-6, 4.0, 5e-7, 2.5), (0.9, 1e-5, 1.5, 3e-5, 6.0),
                                                  (0.0, 1e-6, 3.0, 1e-6, 3.0)])
def test_gmms_slope_is_the_derivative_of_the_current(phi, af, bf, ar, br):
    v = np.linspace(-1.5, 1.5, 31)
    h = 1e-6
    numeric = (mm.gmms_current(v + h, 0.4, 1351.0, 7510.0, phi, af, bf, ar, br)
               - mm.gmms_current(v - h, 0.4, 1351.0, 7510.0, phi, af, bf, ar, br)) / (2 * h)
    slope = mm.gmms_slope(v, 0.4, 1351.0, 7510.0, phi, af, bf, ar, br)
    np.testing.assert_allclose(slope, numeric, rtol=1e-6)
    assert np.all(slope >= 0)


def test_gmms_current_is_the_published_form():
    # phi G(x) v + (1 - phi)(alpha_f e^{beta_f v} - alpha_r e^{-beta_r v}), asymmetric terms
    v, x, phi, af, bf, ar, br = 0.7, 0.25, 0.6, 3e-6, 2.0, 7e-6, 5.0
    g = 0.25 / 1351.0 + 0.75 / 7510.0
    expect = phi * g * v + (1 - phi) * (af * np.exp(bf * v) - ar * np.exp(-br * v))
    assert mm.gmms_current(v, x, 1351.0, 7510.0, phi, af, bf, ar, br) == pytest.approx(expect, rel=1e-14)
    assert mm.gmms_current(-v, x, 1351.0, 7510.0, phi, af, bf, ar, br) == pytest.approx(
        -phi * g * v + (1 - phi) * (af * np.exp(-bf * v) - ar * np.exp(br * v)), rel=1e-14)


@pytest.mark.parametrize("r_s", [0.0, 680.0, 6800.0, 68e3])
def test_vectorised_gmms_branch_satisfies_kirchhoff_to_machine_precision(paper, r_s):
    m = paper.with_values({"memristor.model": "gmms",
                           "memristor.phi": 0.7, "memristor.alpha_f": 2e-6, "memristor.beta_f": 4.0,
                           "memristor.alpha_r": 9e-7, "memristor.beta_r": 2.0}).memristor
    delta = np.linspace(-6, 6, 241)
    x = np.linspace(0.05, 0.95, 241)
    v, i = mm.branch(delta, x, m, r_s)
    np.testing.assert_allclose(v + r_s * i, delta, rtol=1e-13, atol=1e-14)
    np.testing.assert_array_equal(i, mm.gmms_current(v, x, m.r_on, m.r_off, m.phi, m.alpha_f, m.beta_f,
                                                     m.alpha_r, m.beta_r))
    for d, xx, vv in list(zip(delta, x, v))[::40]:
        assert mm.gmms_branch_voltage(d, xx, r_s, m.r_on, m.r_off, m.phi, m.alpha_f, m.beta_f, m.alpha_r,
                                      m.beta_r) == vv


def test_plain_mms_branch_is_the_divider(paper):
    m = paper.memristor
    delta, x, r_s = np.array([-2.0, 0.5, 3.0]), np.array([0.1, 0.5, 0.9]), 6800.0
    v, i = mm.branch(delta, x, m, r_s)
    r = 1 / (x / m.r_on + (1 - x) / m.r_off)
    np.testing.assert_allclose(v, delta * r / (r + r_s), rtol=1e-14)
    np.testing.assert_allclose(i, delta / (r + r_s), rtol=1e-14)


def test_a_branch_solve_that_is_not_finite_is_an_error(paper):
    m = paper.with_values({"memristor.model": "gmms", "memristor.phi": 0.5}).memristor
    with pytest.raises(FloatingPointError, match="non-finite"):
        mm.branch(np.array([np.nan]), np.array([0.5]), m, 100.0)


def test_switching_constants_and_conductance_forms():
    k_on, k_off = mm.switching_constants(0.3, 0.1, 40.0)
    assert (k_on, k_off) == (pytest.approx(np.exp(12.0), rel=1e-15), pytest.approx(np.exp(4.0), rel=1e-15))
    assert mm.conductance_g(0.3, 2e-3, 1e-4) == pytest.approx(0.3 * 2e-3 + 0.7 * 1e-4, rel=1e-15)
    assert mm.divider_voltage(2.0, 1e-3, 1000.0) == pytest.approx(1.0, rel=1e-15)


def test_gmms_branch_solve_converges_in_few_iterations():
    # Newton once inside the bracket: a handful of iterations, even where the exponential
    # terms are huge at the bracket's far end (was up to 222, mostly bisection), and where
    # the residual cannot get below its rounding noise (then the Newton step decides)
    rng = np.random.default_rng(11)
    iterations = []
    for _ in range(20000):
        d, x, r_s, phi = rng.uniform(-20, 20), rng.uniform(0, 1), 10 ** rng.uniform(-1, 5.5), rng.uniform(0, 1)
        af, ar = 10 ** rng.uniform(-12, -3), 10 ** rng.uniform(-12, -3)
        bf, br = rng.uniform(0.1, 12), rng.uniform(0.1, 12)
        v, n = mm.gmms_branch_solve(d, x, r_s, 1351.0, 7510.0, phi, af, bf, ar, br)
        i = mm.gmms_current(v, x, 1351.0, 7510.0, phi, af, bf, ar, br)
        # at the rounding level of its terms: the diode pair's two exponentials, not their
        # difference, which cancels near 0 V
        size = (1 - phi) * (af * np.exp(bf * v) + ar * np.exp(-br * v)) + phi * abs(i)
        assert abs(v + r_s * i - d) <= 1e-13 * (abs(d) + abs(v) + r_s * size)
        iterations.append(n)
    assert max(iterations) <= 25 and np.percentile(iterations, 99) <= 18
    # a sinh (the Yakopcic device) conducting hard at small voltages, where the difference of
    # the exponentials cancels: Newton's few steps, no bisection down to rounding noise (was 56)
    for d in np.linspace(-1.0, 1.0, 41):
        a = 0.5 * 0.282 * 0.3
        assert mm.gmms_branch_solve(d, 0.3, 5110.0, 1.0, 1.0, 0.0, a, 0.286, a, 0.286)[1] <= 4
    for d in np.linspace(-1.5, 1.5, 61):  # the neuron's range: Newton from the first step
        for x in (0.0, 0.4, 1.0):
            assert mm.gmms_branch_solve(d, x, 6800.0, 1351.0, 7510.0, 0.8, 2e-7, 6.0, 5e-8, 3.0)[1] <= 7


def test_gmms_branch_solve_exact_cases():
    # no current at 0 V (equal Schottky terms) and no drive: the root is 0, found at once
    assert mm.gmms_branch_solve(0.0, 0.3, 6800.0, 1351.0, 7510.0, 0.7, 2e-7, 6.0, 2e-7, 3.0) == (0.0, 1)
    # phi = 1 makes f linear: the start (Newton's step from 0) is the root, seen at once
    for d in (0.3, -1.2, 2.5):
        for x in (0.0, 0.5, 1.0):
            v, n = mm.gmms_branch_solve(d, x, 6800.0, 1351.0, 7510.0, 1.0, 2e-7, 6.0, 5e-8, 3.0)
            r = 1 / (x / 1351.0 + (1 - x) / 7510.0)
            assert n == 1 and v == pytest.approx(d * r / (r + 6800.0), rel=1e-15)


def test_gmms_branch_solve_residual_at_the_first_iterate():
    # a linear branch (phi = 1, R = 1 ohm, R_s = 3 ohm) where the first iterate, 0.5 V, has
    # a residual of exactly 1.0: the solve goes on to the root 0.25 V
    assert mm.gmms_branch_solve(1.0, 1.0, 3.0, 1.0, 2.0, 1.0, 0.0, 1.0, 0.0, 1.0)[0] == 0.25
    # and mirrored: the first iterate -0.5 V has a residual of exactly -1.0
    assert mm.gmms_branch_solve(-1.0, 1.0, 3.0, 1.0, 2.0, 1.0, 0.0, 1.0, 0.0, 1.0)[0] == -0.25


@pytest.mark.parametrize("delta", [1e-9, -3e-8, 2e-6, -5e-4])
def test_gmms_branch_solve_is_relative_even_for_tiny_voltages(delta):
    # the tolerances are relative: a microvolt branch is solved to rounding, not to 1e-15 V
    args = (0.4, 6800.0, 1351.0, 7510.0, 0.5, 3e-9, 5.0, 1e-9, 4.0)
    v, n = mm.gmms_branch_solve(delta, *args)
    i = mm.gmms_current(v, args[0], *args[2:])
    assert abs(v + args[1] * i - delta) <= 4e-16 * (abs(delta) + abs(v) + abs(args[1] * i))  # rounding level
    assert n <= 6


def test_the_diode_exponential_continues_along_its_tangent_as_in_the_spice_subcircuit():
    from alif_spice.memristor import DIODE_EXP_LINEAR_ABOVE as A, exp_linear, exp_linear_slope
    z = np.array([-700.0, -5.0, 0.0, 79.0, A - 1e-9, A, A + 1e-9, 81.0, 100.0, 1e4])
    want = np.where(z < A, np.exp(np.clip(z, -600.0, A)), np.exp(A) * (1 + z - A))
    np.testing.assert_allclose(exp_linear(z), want, rtol=1e-12)
    np.testing.assert_allclose([exp_linear(float(v)) for v in z], want, rtol=1e-12)  # scalar path
    # value and slope continuous at the continuation point; the slope is the derivative
    assert exp_linear(A + 1e-9) / exp_linear(A - 1e-9) == pytest.approx(1.0, abs=1e-8)
    h = 1e-6
    for v in (3.0, A - 1.0, A + 1.0, 200.0):
        assert exp_linear_slope(v) == pytest.approx((exp_linear(v + h) - exp_linear(v - h)) / (2 * h), rel=1e-6)
    # the SPICE libraries continue at the same point (their runs against the Python forms
    # beyond it: tests/test_devices.py)
    for name in ("mms_memristor", "yakopcic_memristor"):
        lib = (Path(__file__).resolve().parents[1] / "spice_models" / f"{name}.lib").read_text()
        assert f".func xlin(z) {{exp(min(z, {A:g}))*(1+max(z-{A:g}, 0))}}" in lib


def test_yakopcic_current_continues_along_the_exponentials_tangents_beyond_80():
    # beyond b |v| = 80 each exponential of sinh continues linearly (value and slope
    # continuous), the same continuation as the generalized MMS's diodes and the SPICE form
    from alif_spice.memristor import yakopcic_current

    a1, a2, b, x = 3e-4, 2e-4, 4.0, 0.7
    for z in (85.0, 100.0, 250.0):
        v = z / b
        tangent = np.exp(80.0) * (1.0 + (z - 80.0))
        assert yakopcic_current(v, x, a1, a2, b) == pytest.approx(0.5 * a1 * x * (tangent - np.exp(-z)), rel=1e-12)
        assert yakopcic_current(-v, x, a1, a2, b) == pytest.approx(-0.5 * a2 * x * (tangent - np.exp(-z)), rel=1e-12)
    edge = 80.0 / b
    below, above = yakopcic_current(edge * (1 - 1e-12), x, a1, a2, b), yakopcic_current(edge, x, a1, a2, b)
    assert above == pytest.approx(below, rel=1e-9)


@pytest.mark.parametrize("betas", [(4.0, 4.0), (3.0, 5.0)], ids=["equal-exponents", "unequal"])
def test_the_branch_solves_current_and_slope_are_the_generalized_mms_ones(betas):
    # the branch solve computes the current and its slope together with fewer exponentials
    # (one for a sinh, none at 0 V): at round voltages, both signs, and beyond the linear
    # continuation (beta v > 80), the pair must be gmms_current and gmms_slope themselves
    beta_f, beta_r = betas
    args = (0.3, 1351.0, 7510.0, 0.4, 1e-6, beta_f, 2e-6, beta_r)
    for v in (-30.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 25.0, 30.0):
        i, slope, size = mm._gmms_current_slope(v, *args)
        assert i == pytest.approx(mm.gmms_current(v, *args), rel=1e-13, abs=1e-300), v
        assert slope == pytest.approx(mm.gmms_slope(v, *args), rel=1e-13), v
        assert size >= abs(i)
