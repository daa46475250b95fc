import numpy as np
import pytest

from alif_spice.stimulus import SquareWave


@pytest.fixture
def wave(paper):
    return SquareWave.from_params(paper.with_values({"stimulus.delay": 0.2e-3}))


def test_levels_edges_and_pulse(wave):
    amp, te = 1e-3, 1e-6
    assert wave(0.1e-3) == 0.0
    assert wave(0.2e-3 + te / 2) == pytest.approx(amp / 2)
    assert wave(0.2e-3 + 0.25e-3) == amp
    assert wave(0.2e-3 + 0.5e-3 + te / 2) == pytest.approx(amp / 2)  # half points duty/f apart
    assert wave(0.2e-3 + 0.75e-3) == 0.0
    v1, v2, td, tr, tf, pw, per = wave.pulse
    assert (v1, v2, td, tr, tf, per) == (0.0, amp, 0.2e-3, te, te, 1e-3)
    assert pw == pytest.approx(0.5e-3 - te)


def test_charge_per_period_is_amplitude_times_duty_over_f(wave):
    # the wave is piecewise linear, so the trapezoid rule over its corners is exact
    t = np.concatenate([[0.2e-3], [b for b in wave.breakpoints(1.2e-3) if b > 0.2e-3]])
    assert t[-1] == pytest.approx(1.2e-3)
    i = wave(t)
    charge = np.sum(0.5 * (i[1:] + i[:-1]) * np.diff(t))
    assert charge == pytest.approx(1e-3 * 0.5 / 1000, rel=1e-12)


def test_breakpoints_are_every_corner(wave):
    bps = wave.breakpoints(2.1e-3)
    assert bps[0] == pytest.approx(0.2e-3)
    np.testing.assert_allclose(bps * 1e3, [0.2, 0.201, 0.7, 0.701, 1.2, 1.201, 1.7, 1.701], rtol=1e-12)
    assert np.all(np.diff(bps) > 0)
