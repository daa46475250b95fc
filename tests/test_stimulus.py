import numpy as np
import pytest

from alif_spice.stimulus import SquareWave, pulse_segment


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


@pytest.mark.parametrize("duty", [0.2, 0.35, 0.7, 0.85])
def test_duty_sets_the_on_time_and_charge_away_from_half(paper, duty):
    # duty 0.5 hides an on/off mix-up (1 - duty = duty there): check other duties
    f, amp, te = 2e3, 1.5e-3, 2e-6
    w = SquareWave.from_params(paper.with_values({"stimulus.duty": duty, "stimulus.frequency": f,
                                                  "stimulus.amplitude": amp, "stimulus.t_edge": te,
                                                  "stimulus.delay": 0.1e-3}))
    t = np.linspace(0.1e-3, 0.1e-3 + 3 / f, 600_001)
    i = w(t)
    charge = np.sum(0.5 * (i[1:] + i[:-1]) * np.diff(t))
    assert charge == pytest.approx(3 * amp * duty / f, rel=1e-6)  # closed form: amp * duty / f per period
    # the half-amplitude points of each period are duty / f apart
    above = i >= amp / 2
    rises = t[1:][above[1:] & ~above[:-1]]
    falls = t[1:][~above[1:] & above[:-1]]
    assert rises.size == 3 and falls.size == 3
    assert falls - rises == pytest.approx(np.full(3, duty / f), abs=2 * (t[1] - t[0]))


def test_scalar_and_array_calls_agree(wave):
    t = np.array([[0.1e-3, 0.45e-3], [0.9e-3, 1.45e-3]])
    out = wave(t)
    assert out.shape == (2, 2)
    assert [wave(float(x)) for x in t.ravel()] == list(out.ravel())
    assert isinstance(wave(0.45e-3), float) and wave(0.45e-3) == 1e-3


def test_a_time_rounded_to_the_end_of_a_period_starts_the_next(wave):
    # the floor of (t - td) / per can land one period short at a period boundary
    per, td = 1e-3, 0.2e-3
    for k in range(1, 40):
        t = td + k * per
        value, slope, t_end = pulse_segment(t, *wave._args())
        assert value == 0.0 and slope == pytest.approx(1e-3 / 1e-6)
        assert t_end == pytest.approx(t + 1e-6, abs=1e-15)


def test_period_starts(wave):
    np.testing.assert_allclose(wave.period_starts(3.2e-3), [0.2e-3, 1.2e-3, 2.2e-3], rtol=1e-12)
    assert wave.period_starts(3.19e-3).size == 2
    assert wave.period_starts(0.1e-3).size == 0  # stops before the delay: no period


def iv(waveform, amplitude=1.5, frequency=200.0):
    from alif_spice.stimulus import IvSource
    return IvSource(waveform, amplitude, frequency)


def test_iv_sine_against_its_closed_form():
    s = iv("sine")
    t = np.linspace(0, 0.02, 1001)
    np.testing.assert_allclose(s(t), 1.5 * np.sin(2 * np.pi * 200.0 * t), atol=1e-12)
    assert s(1.25e-3) == pytest.approx(1.5)  # a quarter period: the peak
    assert s.spice() == "SIN(0 1.5 200.0)"


def test_iv_triangle_corners_and_periodicity():
    s = iv("triangle")
    per = 1 / 200.0
    corners = np.array([0, 0.25, 0.5, 0.75, 1.0]) * per
    np.testing.assert_allclose(s(corners), [0, 1.5, 0, -1.5, 0], atol=1e-12)
    np.testing.assert_allclose(s(corners + 3 * per), [0, 1.5, 0, -1.5, 0], atol=1e-9)
    assert s(0.125 * per) == pytest.approx(0.75)  # linear between corners
    assert s(0.625 * per) == pytest.approx(-0.75)
    assert s.spice() == "PWL(0 0 0.00125 1.5 0.00375 -1.5 0.005 0) r=0"


def test_iv_source_from_params(paper):
    from alif_spice.stimulus import IvSource
    p = paper.with_values({"iv.waveform": "triangle", "iv.amplitude": 0.8, "iv.frequency": 50.0})
    assert IvSource.from_params(p) == IvSource("triangle", 0.8, 50.0)


def test_a_time_just_before_a_corner_belongs_to_the_piece_that_starts_there(wave):
    # within TIME_TOL (1e-14 s) of a corner, the piece that starts at the corner is used,
    # evaluated at the corner itself: the value is the corner's, exactly
    amp, te, td = 1e-3, 1e-6, 0.2e-3
    for k in range(3):
        base = td + k * 1e-3
        for corner, level, slope in ((base, 0.0, amp / te), (base + te, amp, 0.0),
                                     (base + 0.5e-3, amp, -amp / te), (base + 0.5e-3 + te, 0.0, 0.0)):
            t = corner - 5e-15
            value, got_slope, _ = pulse_segment(t, *wave._args())
            assert value == level and got_slope == pytest.approx(slope, rel=1e-6)


def test_corner_ownership_holds_exactly_at_time_tol():
    # the boundary of "within TIME_TOL of a corner": exactly TIME_TOL before it still
    # belongs to the piece that starts there (binary fractions keep the arithmetic exact)
    from alif_spice.stimulus import TIME_TOL
    args = (0.0, 1.0, 0.5, 0.25, 0.25, 0.25, 1.0)  # v1 v2 td tr pw tf per: corners .5 .75 1 1.25
    assert pulse_segment(0.5 - TIME_TOL, *args) == (0.0, 4.0, 0.75)  # the rise starting at td
    assert pulse_segment(0.75 - TIME_TOL, *args) == (1.0, 0.0, 1.0)  # the plateau
    assert pulse_segment(1.0 - TIME_TOL, *args) == (1.0, -4.0, 1.25)  # the fall
    assert pulse_segment(1.25 - TIME_TOL, *args) == (0.0, 0.0, 1.5)  # low until the next period
    assert pulse_segment(1.5 - TIME_TOL, *args) == (0.0, 4.0, 1.75)  # the next period's rise
    # just outside TIME_TOL: the piece before
    assert pulse_segment(0.75 - 2 * TIME_TOL, *args)[1] == 4.0


def test_breakpoints_stop_at_t_stop_within_time_tol():
    import math
    from alif_spice.stimulus import TIME_TOL
    w = SquareWave(0.0, 1.0, 0.5, 0.25, 0.25, 0.25, 1.0)
    # a corner up to TIME_TOL after t_stop (inclusive) is at t_stop; one further is beyond
    t_stop = 0.75 - TIME_TOL
    while t_stop + TIME_TOL < 0.75:
        t_stop = math.nextafter(t_stop, 1.0)
    while t_stop + TIME_TOL > 0.75:
        t_stop = math.nextafter(t_stop, 0.0)
    assert t_stop + TIME_TOL == 0.75
    assert w.breakpoints(t_stop).tolist() == [0.5, 0.75]
    assert w.breakpoints(math.nextafter(t_stop, 0.0)).tolist() == [0.5]


def test_breakpoints_exclude_time_zero():
    # the corners in (0, t_stop]: with no delay the first rise starts at 0, not a corner
    w = SquareWave(0.0, 1.0, 0.0, 0.25, 0.25, 0.25, 1.0)
    assert w.breakpoints(1.0).tolist() == [0.25, 0.5, 0.75, 1.0]


def test_waveforms_are_immutable_values(wave):
    import dataclasses
    from alif_spice.stimulus import IvSource
    with pytest.raises(dataclasses.FrozenInstanceError):
        wave.per = 2.0
    src = IvSource("sine", 1.0, 10.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        src.amplitude = 2.0
    assert len({wave, SquareWave(*wave._args()), src}) == 2  # hashable values, equal by value
