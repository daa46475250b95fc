"""MMS equations against closed forms and independent paths."""

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


@settings(max_examples=200)
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
