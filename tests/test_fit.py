"""MMS fit: synthetic-data recovery, file formats, bad files and options, the model and its
cost, identifiability, bounds, and data read wrongly (a poor fit, exit 1)."""

import json
import math

import numpy as np
import pytest

from alif_spice import cli, load_params
from alif_spice.errors import ParamError
from alif_spice.fit import (BOUNDS, NEAR_BOUND, UNIDENTIFIABLE_FACTOR, Measurement, cost, file_labels, fit,
                            read_measurement, simulate)
from alif_spice.ode import solve_iv
from conftest import run_cli, synthetic, write_csv

TRUTH = dict(r_on=1351.0, r_off=7510.0, v_on=0.3408, v_off=0.0941, tau=2.53e-4)


def write_tab_comma(path, t, v_src, v_r):
    lines = [f"{a:.10g}\t{b:.10g}\t{c:.10g}".replace(".", ",") for a, b, c in zip(v_src, v_r, t)]
    path.write_text("\n".join(lines) + "\n")


# --------------------------------------------------------------------------- fast unit tests first

def test_upward_crossings_of_a_sampled_sine():
    from alif_spice.fit import _upward_crossings
    t = np.linspace(0, 0.05, 5001)
    v = 0.3 + 1.2 * np.sin(2 * np.pi * 100 * t - 0.4)  # offset, phase: crossings of the mid-level
    got = _upward_crossings(t, v)
    # the first rise starts above the lower hysteresis level: it is not counted
    expected = (0.4 / (2 * np.pi) + np.arange(1, 5)) / 100
    np.testing.assert_allclose(got, expected, atol=2e-7)
    # noise near the mid-level does not count as extra periods
    noisy = v + 0.05 * np.random.default_rng(1).standard_normal(v.size)
    assert _upward_crossings(t, noisy).size == 4


def test_crossings_of_a_coarse_square_wave_from_its_second_sample():
    from alif_spice.fit import _upward_crossings
    t = np.arange(16) * 1e-3
    v = np.tile([-1.0, -1.0, 1.0, 1.0], 4)  # low at samples 0-1, the first rise right after sample 1
    np.testing.assert_allclose(_upward_crossings(t, v), [1.5e-3, 5.5e-3, 9.5e-3, 13.5e-3], rtol=0, atol=1e-15)


def test_coarse_data_ending_exactly_at_a_period_end_keeps_every_period(tmp_path):
    # 25 samples per period (a step of 4 % of the period), the last sample at a period end
    f = 100.0
    t = np.arange(6 * 25 + 1) / (25 * f)
    v_src = np.sin(2 * np.pi * f * t + 0.1)  # upward crossings between samples
    path = tmp_path / "coarse.csv"
    np.savetxt(path, np.c_[t, v_src, 0.1 * v_src + 0.05 * np.cos(2 * np.pi * f * t)], delimiter=",")
    m = read_measurement(path, "time,source_voltage,resistor_voltage", series_resistor=1000, max_periods=10)
    # crossings at -0.1/(2 pi f) + k/f; skipping the first, 4 whole periods end at the last sample
    assert m.periods == 4
    assert m.frequency == pytest.approx(f, rel=1e-3)
    # the fitted data's own time axis: from 0, whole periods, evenly sampled, 200 points each
    assert m.t.size == 4 * 200 + 1
    assert m.t[0] == 0.0 and m.t[-1] == pytest.approx(4 / m.frequency, rel=1e-12)
    assert np.allclose(np.diff(m.t), m.t[-1] / (m.t.size - 1), rtol=1e-9)


def test_the_fitted_window_is_the_last_whole_periods(tmp_path):
    # the drive's amplitude grows by 5 % a period: the window shows which periods it holds
    f, per = 100.0, 200
    t = np.arange(8 * per + 1) / (per * f)
    v_src = (1 + 0.05 * np.floor(f * t + 1e-9)) * np.sin(2 * np.pi * f * t - 0.3)
    np.savetxt(tmp_path / "g.csv", np.c_[t, v_src, 0.1 * v_src], delimiter=",")
    m = read_measurement(tmp_path / "g.csv", "time,source_voltage,resistor_voltage", series_resistor=1000,
                         max_periods=3)
    assert m.periods == 3
    # rises at 0.05 + k periods: the latest three whole ones start at 4.05 (amplitudes up to
    # 1.30), not at the first rise after the skipped period, 1.05 (up to 1.15)
    assert m.v_src.max() == pytest.approx(1.30, abs=0.01)


@pytest.mark.parametrize("option,ok", [("|", True), ("tab", True), ("||", False), ("comma;", False)])
def test_a_delimiter_is_a_known_name_or_one_character(tmp_path, option, ok):
    t, vs, vr = synthetic(100.0, periods=4)
    sep = {"|": "|", "tab": "\t"}.get(option, ",")
    np.savetxt(tmp_path / "d.txt", np.c_[t, vs, vr], delimiter=sep, fmt="%.10g")
    if ok:
        m = read_measurement(tmp_path / "d.txt", "time,source_voltage,resistor_voltage", delimiter=option,
                             series_resistor=5110)
        assert m.periods == 2
    else:
        with pytest.raises(ParamError, match="--delimiter: expected tab, comma, semicolon, space or one character"):
            read_measurement(tmp_path / "d.txt", "time,source_voltage,resistor_voltage", delimiter=option,
                             series_resistor=5110)


def test_plot_names_are_distinct_and_safe():
    from alif_spice.fit import plot_names
    ms = [Measurement(name=n, t=np.zeros(2), v_src=np.zeros(2), v_mem=np.zeros(2), i=np.zeros(2), r_series=0.0,
                      frequency=1.0, periods=1) for n in ("run 1", "run$1", "run/1", "run_1", "")]
    assert plot_names(ms) == {"run 1": "fit_run_1.png", "run$1": "fit_run_1_2.png", "run/1": "fit_run__1.png",
                              "run_1": "fit_run_1_3.png", "": "fit_data.png"}


def test_a_slow_sample_rate_below_one_hertz_is_a_sample_rate(tmp_path):
    # a slow device measured at 0.5 samples/s, driven at 0.005 Hz (100 samples a period)
    k = np.arange(500)
    v_src = np.sin(2 * np.pi * 0.005 * k / 0.5 + 0.2)
    np.savetxt(tmp_path / "slow.csv", np.c_[v_src, 0.1 * v_src + 0.02 * np.cos(2 * np.pi * 0.01 * k)],
               delimiter=",")
    m = read_measurement(tmp_path / "slow.csv", "source_voltage,resistor_voltage", sample_rate=0.5,
                         series_resistor=1000)
    assert m.frequency == pytest.approx(0.005, rel=1e-3) and m.periods >= 2


def test_read_measurement_takes_its_options_by_keyword_only(tmp_path):
    t, vs, vr = synthetic(100.0, periods=4)
    write_csv(tmp_path / "m.csv", t, vs, vr)
    m = read_measurement(path=tmp_path / "m.csv", columns="time,source_voltage,resistor_voltage",
                         series_resistor=5110)
    assert m.periods == 2 and m.r_series == 5110
    with pytest.raises(TypeError):
        read_measurement(tmp_path / "m.csv", "time,source_voltage,resistor_voltage", ",")


def test_two_comma_columns_with_a_stray_line_name_the_stray_line(tmp_path, capsys):
    # the delimiter is guessed from the lines that agree when a stray line confuses the sniffer
    lines = [f"{v:.6g},{0.1 * v:.6g}" for v in np.sin(np.linspace(0, 8 * np.pi, 200))]
    lines.insert(4, "stray text here")  # line 5, among the first lines the delimiter is guessed from
    path = tmp_path / "two.csv"
    path.write_text("\n".join(lines) + "\n")
    status = cli.main(["fit", "--data", str(path), "--columns", "memristor_voltage,current", "--sample-rate", "10k",
                       "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2 and "two.csv: line 5: 'stray text here' is not a number" in err, err


def test_memristor_voltage_and_current_need_no_resistor(tmp_path):
    t, vs, vr = synthetic(100.0, periods=4)
    i, v_mem = vr / 5110, vs - vr
    np.savetxt(tmp_path / "vi.csv", np.c_[t, v_mem, i], delimiter=",")
    m = read_measurement(tmp_path / "vi.csv", "time,memristor_voltage,current", drive="measured")
    assert m.r_series == 0.0
    np.testing.assert_array_equal(m.v_src, m.v_mem)  # the drive is the memristor's own voltage
    # by default its periodic part: the same within the noise (1 % of each measured voltage)
    m = read_measurement(tmp_path / "vi.csv", "time,memristor_voltage,current")
    assert m.drive["kind"] == "periodic"
    assert 0.002 < np.sqrt(np.mean((m.v_src - m.v_mem) ** 2)) < 0.015


def test_a_voltage_without_a_current_is_refused(tmp_path):
    t, vs, vr = synthetic(100.0, periods=4)
    write_csv(tmp_path / "m.csv", t, vs, vr)
    for cols in ("time,memristor_voltage", "time,-,memristor_voltage", "time,current"):
        with pytest.raises(ParamError, match="--columns: give source_voltage"):
            read_measurement(tmp_path / "m.csv", cols, series_resistor=5110)


def test_an_invalid_parameter_set_costs_the_failure_value_and_does_not_raise(small, paper):
    from alif_spice.fit import _FAILED, cost_terms
    bad = dict(THETA, r_on=-5.0)  # no device has a negative resistance
    assert cost_terms(bad, paper, small) == (_FAILED / 2, _FAILED / 2)
    assert cost(bad, paper, small) == _FAILED


def test_a_memristor_voltage_above_the_drive_is_not_passive():
    from alif_spice.fit import passive_violation
    t = np.linspace(0, 0.02, 401)
    drive = 2.0 * np.sin(2 * np.pi * 100 * t)  # a 2 V drive

    def meas(v_peak, r_series=1000.0):
        return Measurement(name="m", t=t, v_src=drive, v_mem=v_peak / 2.0 * drive, i=1e-3 * drive,
                           r_series=r_series, frequency=100.0, periods=2)

    assert passive_violation(meas(2.0)) is None and passive_violation(meas(2.4)) is None  # up to 20 % above
    assert "reaches 2.41 V with a 2 V drive" in passive_violation(meas(2.41))
    assert passive_violation(meas(50.0, r_series=0.5)) is not None  # any series resistor
    assert passive_violation(meas(50.0, r_series=0.0)) is None  # no resistor: the voltage is the drive's


def test_a_column_index_beyond_the_file_is_refused(tmp_path):
    t, vs, vr = synthetic(100.0, periods=4)
    write_csv(tmp_path / "m.csv", t, vs, vr)
    with pytest.raises(ParamError, match="--columns: resistor_voltage is column 3 but the file has 3 column"):
        read_measurement(tmp_path / "m.csv", "time=0,source_voltage=1,resistor_voltage=3", series_resistor=5110)


def test_a_drive_resting_on_the_mid_level_crosses_where_it_first_reaches_it():
    from alif_spice.fit import _upward_crossings
    t = np.arange(12) * 1e-3
    v = np.tile([-1.0, 0.0, 0.0, 1.0], 3)  # two samples on the mid-level before each rise
    np.testing.assert_allclose(_upward_crossings(t, v), [1e-3, 5e-3, 9e-3], rtol=0, atol=1e-15)


def test_a_long_bad_line_is_shown_cut_to_60_characters(tmp_path, capsys):
    bad = "x" * 100
    (tmp_path / "b.csv").write_text("0,0,0\n" + f"1,{bad},2\n" + "2,0,0\n")
    status = cli.main(["fit", "--data", str(tmp_path / "b.csv"), "--columns", "time,source_voltage,resistor_voltage",
                       "--series-resistor", "5110", "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    shown = f"1,{bad},2"[:57] + "..."
    assert status == 2 and f"(in {shown!r})" in err, err


def test_near_bounds_is_inclusive_at_two_percent_of_the_log_range():
    import math

    from alif_spice.fit import near_bounds
    box = {"tau": (1.0, math.exp(50.0))}  # a log range of 50: 2 % of it is 1
    assert math.log(box["tau"][1] / box["tau"][0]) * NEAR_BOUND == 1.0
    on_the_mark = near_bounds({"tau": math.e}, ["tau"], box)
    assert on_the_mark == [{"parameter": "tau", "value": math.e, "bound": "lower", "limit": 1.0, "at": False}]
    assert near_bounds({"tau": math.e * 1.001}, ["tau"], box) == []
    assert near_bounds({"tau": 1.0}, ["tau"], box)[0]["at"] is True


@pytest.mark.parametrize("frequency", [100.0, 4000.0, 20000.0])
def test_the_model_starts_from_its_periodic_steady_state_at_any_frequency(paper, frequency):
    # at 4 and 20 kHz the state's time constant is not short against the period: two
    # warm-up periods left the current 1.6 % (4 kHz) off its steady state
    from alif_spice.fit import _device
    p = load_params(values={"iv.frequency": frequency, "iv.periods": 4, "iv.points_per_period": 200})
    tr = solve_iv(p)
    sl = slice(200, 601)  # two periods after the first
    m = Measurement(name="m", t=tr.time[sl] - tr.time[200], v_src=tr["v_src"][sl], v_mem=tr["v_mem"][sl],
                    i=tr["i_m"][sl], r_series=p.iv.r_series, frequency=frequency, periods=2)
    i, v = simulate(THETA, paper, m)
    period, k = m.t[200], 300  # independently: the first period played 300 times before the data
    t_long = np.concatenate([m.t[:200] + j * period for j in range(k)] + [m.t + k * period])
    v_long = np.concatenate([np.tile(m.v_src[:200], k), m.v_src])
    ref = solve_iv(_device(THETA, paper), t_long, v_long, substeps=4, r_series=m.r_series)
    scale = np.abs(ref["i_m"]).max()
    assert np.abs(i - ref["i_m"][-m.t.size:]).max() < 1e-9 * scale  # measured 1e-11 or less


def test_a_slowly_settling_device_is_simulated_from_its_true_steady_state(paper):
    # a search candidate (tau 0.57 s at 1.35 kHz): the state creeps towards its steady state
    # by about 4e-5 a period; extrapolating from the warm-up left the current 15 % off
    from alif_spice.fit import _device
    theta = dict(r_on=59.3, ratio=336.0, v_on=1.062, v_off=0.2366, tau=0.566)
    p = load_params(values={"iv.frequency": 1353.0, "iv.periods": 4, "iv.points_per_period": 200,
                            "iv.amplitude": 2.06, "iv.r_series": 1000.0})
    tr = solve_iv(p)
    sl = slice(200, 601)
    m = Measurement(name="m", t=tr.time[sl] - tr.time[200], v_src=tr["v_src"][sl], v_mem=tr["v_mem"][sl],
                    i=tr["i_m"][sl], r_series=1000.0, frequency=1353.0, periods=2)
    i, _ = simulate(theta, paper, m)
    period, k = m.t[200], 3000  # independently: the first period played 3000 times before the data
    t_long = np.concatenate([m.t[:200] + j * period for j in range(k)] + [m.t + k * period])
    v_long = np.concatenate([np.tile(m.v_src[:200], k), m.v_src])
    ref = solve_iv(_device(theta, paper), t_long, v_long, substeps=4, r_series=1000.0)["i_m"][-m.t.size:]
    assert np.sqrt(np.mean((i - ref) ** 2)) < 1e-8 * np.sqrt(np.mean(ref ** 2))  # measured 4e-12


def test_evaluations_count_every_cost_evaluation(small, monkeypatch):
    # every parameter set the searches simulate (the global one through the cost, the
    # least-squares polish through the residuals), not what the summary computes afterwards
    import alif_spice.fit as F
    calls, searching = [], [True]
    real, summarise = F._residuals, F._summarise

    def counted(*a, **k):
        calls.append(searching[0])
        return real(*a, **k)

    def summary(*a, **k):
        searching[0] = False
        return summarise(*a, **k)

    monkeypatch.setattr(F, "_residuals", counted)
    monkeypatch.setattr(F, "_summarise", summary)
    r = F.fit([small], maxiter=2)
    assert r.evaluations == sum(calls) > 0 and not all(calls)


# --------------------------------------------------------------------------- identifiability


def _linear(a, b):
    """Residuals a z - b of a linear model: the spreads have a closed form."""
    return lambda z: a @ z - b


def test_spreads_are_those_of_linear_least_squares():
    from alif_spice.fit import _identifiability
    rng = np.random.default_rng(3)
    a = rng.standard_normal((60, 3)) * [40.0, 15.0, 25.0]
    z0 = np.array([0.2, -0.1, 0.3])
    b = a @ z0 + 0.5 * rng.standard_normal(60)
    z = np.linalg.lstsq(a, b, rcond=None)[0]
    rel, corr, poorly, unknown = _identifiability(_linear(a, b), z, ["r_on", "v_on", "tau"])
    r = a @ z - b
    cov = float(r @ r) / (60 - 3) * np.linalg.inv(a.T @ a)
    expected = np.expm1(np.sqrt(np.diag(cov)))
    np.testing.assert_allclose([rel["r_on"], rel["v_on"], rel["tau"]], expected, rtol=1e-6)
    assert unknown == [] and corr == {} and poorly == []
    # 80 times the noise: spreads from 0.2 up are poorly determined, not unknown
    b = a @ z0 + 40.0 * rng.standard_normal(60)
    z = np.linalg.lstsq(a, b, rcond=None)[0]
    rel, corr, poorly, unknown = _identifiability(_linear(a, b), z, ["r_on", "v_on", "tau"])
    assert 0.2 < max(rel.values()) < 1.2 and min(rel.values()) < 0.2, rel
    assert poorly == sorted(k for k, v in rel.items() if v > 0.2) and unknown == []
    # one degree of freedom left (4 samples, 3 parameters): the noise estimate divides by 1
    a4, b4 = a[:4], b[:4]
    z = np.linalg.lstsq(a4, b4, rcond=None)[0]
    rel, corr, poorly, unknown = _identifiability(_linear(a4, b4), z, ["r_on", "v_on", "tau"])
    r = a4 @ z - b4
    expected = np.expm1(np.sqrt(np.diag(float(r @ r) / 1 * np.linalg.inv(a4.T @ a4))))
    shown = [rel[k] for k in ("r_on", "v_on", "tau")]
    assert all(v is None or v == pytest.approx(e, rel=1e-6) for v, e in zip(shown, expected))
    assert any(v is not None for v in shown)


def _correlated_noise(rng, n, rho=0.7, cross=-0.6):
    """Two channels of AR(1) noise (lag-1 correlation rho), correlated with each other like a
    resistor's voltage entering both the current and the memristor voltage."""
    e = rng.standard_normal((2, n))
    e[1] = cross * e[0] + np.sqrt(1 - cross ** 2) * e[1]
    out = np.empty_like(e)
    out[:, 0] = e[:, 0]
    for k in range(1, n):
        out[:, k] = rho * out[:, k - 1] + np.sqrt(1 - rho ** 2) * e[:, k]
    return out


@pytest.mark.parametrize("rho, cross", [(0.7, -0.6), (0.0, 0.0)])
def test_sandwich_spreads_match_the_scatter_of_refits_under_correlated_noise(rho, cross):
    # the oracle: the standard deviation of the estimates over many independent noise draws.
    # Gauss-Newton's spread assumes independent residuals of one size and understates it when
    # the noise is correlated over neighbouring samples and between the two channels; the
    # sandwich (Newey-West) spread, which the fit reports, matches it
    from alif_spice.fit import _identifiability

    n = 300
    t = np.linspace(0.0, 1.0, n)
    a = np.zeros((2 * n, 3))
    a[:n] = np.c_[np.ones(n), np.sin(2 * np.pi * t), t] * 0.05  # the current's columns
    a[n:] = np.c_[np.ones(n), np.cos(2 * np.pi * t), t ** 2] * 0.03  # the voltage's
    a[n:] *= [1.0, 1.0, 0.5]
    noise_size = np.r_[np.full(n, 1e-3), np.full(n, 3e-3)]  # different in the two channels
    rng = np.random.default_rng(11)
    estimates, sandwich, plain = [], [], []
    for _ in range(200):
        b = a @ np.zeros(3) + noise_size * _correlated_noise(rng, n, rho, cross).ravel()
        z = np.linalg.lstsq(a, b, rcond=None)[0]
        estimates.append(z)
        rel = _identifiability(_linear(a, b), z, ["r_on", "v_on", "tau"], samples=[n])[0]
        sandwich.append([np.log1p(rel[k]) for k in ("r_on", "v_on", "tau")])
        rel = _identifiability(_linear(a, b), z, ["r_on", "v_on", "tau"])[0]
        plain.append([np.log1p(rel[k]) for k in ("r_on", "v_on", "tau")])
    scatter = np.std(estimates, axis=0)
    ratio_sandwich = np.median(sandwich, axis=0) / scatter
    ratio_plain = np.median(plain, axis=0) / scatter
    # measured: 0.91-0.93 correlated (a lag window's known small shortfall), 0.95-1.0 independent
    assert np.all((ratio_sandwich > 0.85) & (ratio_sandwich < 1.15)), ratio_sandwich
    if rho:
        assert np.all(ratio_plain < 0.6), ratio_plain  # what the plain curvature would have said (0.44-0.46)


def test_the_sandwich_layout_must_match_the_residuals():
    from alif_spice.fit import _identifiability

    a = np.random.default_rng(0).standard_normal((20, 2))
    with pytest.raises(ValueError, match="does not match"):
        _identifiability(_linear(a, np.zeros(20)), np.zeros(2), ["r_on", "tau"], samples=[7])


def test_a_combination_below_numerical_resolution_is_flat_even_on_exact_data():
    # r_on and v_on differ in their effect by 1e-7 of it: on a finite-difference Jacobian
    # that is noise, so both are not identifiable however small the residuals are
    from alif_spice.fit import _identifiability
    rng = np.random.default_rng(6)
    c = rng.standard_normal((50, 2))
    a = np.c_[c[:, 0], c[:, 0] * (1 + 1e-7 * rng.standard_normal(50)), c[:, 1]]
    b = 1e-9 * rng.standard_normal(50)
    rel, corr, poorly, unknown = _identifiability(_linear(a, b), np.zeros(3), ["r_on", "v_on", "tau"])
    assert unknown == ["r_on", "v_on"] and rel["tau"] is not None


def test_strongly_correlated_parameters_are_reported_with_their_correlation():
    from alif_spice.fit import _identifiability
    rng = np.random.default_rng(7)
    c = rng.standard_normal((80, 2))
    a = np.c_[c[:, 0], c[:, 0] + 0.05 * c[:, 1], rng.standard_normal(80)]  # r_on and v_on nearly alike
    b = a @ np.array([0.1, 0.2, 0.3]) + 1e-3 * rng.standard_normal(80)
    z = np.linalg.lstsq(a, b, rcond=None)[0]
    rel, corr, poorly, unknown = _identifiability(_linear(a, b), z, ["r_on", "v_on", "tau"])
    cov = np.linalg.inv(a.T @ a)
    expected = cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])
    assert expected < -0.95
    assert list(corr) == ["r_on~v_on"] and corr["r_on~v_on"] == pytest.approx(expected, rel=1e-6)
    assert poorly == ["r_on", "v_on"] and unknown == []


def test_a_flat_direction_makes_only_the_parameters_it_moves_unidentifiable():
    from alif_spice.fit import _identifiability
    rng = np.random.default_rng(4)
    c = rng.standard_normal((50, 2))
    a = np.c_[c[:, 0], c[:, 0], c[:, 1]]  # only r_on + v_on is seen: moving one against the other is flat
    b = rng.standard_normal(50)
    rel, corr, poorly, unknown = _identifiability(_linear(a, b), np.zeros(3), ["r_on", "v_on", "tau"])
    assert unknown == ["r_on", "v_on"]
    assert rel["r_on"] is None and rel["v_on"] is None and rel["tau"] is not None and rel["tau"] > 0
    assert not any("r_on" in k or "v_on" in k for k in corr)


@pytest.mark.parametrize("units", [1.0, 1e6])
def test_identifiability_does_not_depend_on_the_units_of_the_residuals(units):
    # a parameter whose effect is 1e-13 of the strongest one's is below the model's numerical
    # noise: not identifiable, whether the residuals are counted in one unit or another
    from alif_spice.fit import _identifiability
    rng = np.random.default_rng(5)
    a = np.c_[rng.standard_normal(40), 1e-13 * rng.standard_normal(40)] * units
    b = units * 1e-3 * rng.standard_normal(40)
    rel, corr, poorly, unknown = _identifiability(_linear(a, b), np.zeros(2), ["r_on", "tau"])
    assert unknown == ["tau"] and rel["r_on"] is not None


def test_formats_read_to_the_same_arrays(tmp_path):
    t, vs, vr = synthetic(100.0)
    write_csv(tmp_path / "a.csv", t, vs, vr)
    write_tab_comma(tmp_path / "b.txt", t, vs, vr)
    a = read_measurement(tmp_path / "a.csv", "time=t_s,source_voltage=v_source,resistor_voltage=v_resistor",
                         series_resistor=5110)
    b = read_measurement(tmp_path / "b.txt", "source_voltage,resistor_voltage,time", delimiter="tab",
                         decimal_comma=True, series_resistor=5110)
    for field in ("t", "v_src", "v_mem", "i"):
        np.testing.assert_allclose(getattr(a, field), getattr(b, field), rtol=1e-9, atol=1e-12)
    assert a.periods == b.periods >= 4 and a.frequency == pytest.approx(100.0, rel=1e-3)


@pytest.mark.slow
def test_fit_command_outputs_and_cross_prediction(tmp_path):
    # two files of the same name in different folders: both are fitted, reported and plotted
    files = []
    for f in (100.0, 200.0):
        t, vs, vr = synthetic(f, seed=int(f))
        (tmp_path / f"{int(f)}hz").mkdir()
        files += ["--data", tmp_path / f"{int(f)}hz" / "dev.csv"]
        write_csv(files[-1], t, vs, vr)
    out = tmp_path / "fit"
    res = run_cli("fit", *files, "--columns", "time,source_voltage,resistor_voltage", "--series-resistor", "5.11k",
                  "-o", out)
    assert res.returncode == 0, res.stderr
    summary = json.loads((out / "fit.json").read_text())
    assert {"cost", "r2_current", "parameters"} <= set(summary)
    assert summary["verdict"] == "good" and summary["verdict_reasons"] == []
    # cross-prediction: each file fitted alone predicts the other (same device) about as well
    # as that file's own fit; the joint fit's row too
    cross = summary["cross_prediction"]
    assert cross["fitted_on"] == cross["predicted"] == ["100hz/dev", "200hz/dev"]
    ratio = np.array(cross["cost_over_own_fit"])
    assert np.allclose(np.diag(ratio), 1.0) and ratio.max() < 1.5, ratio
    assert max(cross["joint_fit_cost_over_own_fit"]) < 1.5
    assert (out / "cross_prediction.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "cross-prediction: cost of each file" in res.stdout and "joint fit" in res.stdout
    assert summary["cost"] < 0.01
    assert {v["r_series_ohm"] for v in summary["files"].values()} == {5110.0}
    for name in ("100hz/dev", "200hz/dev"):
        assert summary["files"][name]["path"].endswith(f"{name}.csv")
        plot = out / summary["files"][name]["plot"]
        assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"{name}: cost" in res.stdout
    assert len({v["plot"] for v in summary["files"].values()}) == 2
    # each file says how its drive was cleaned, in fit.json and on the console
    for name, v in summary["files"].items():
        assert v["drive"]["kind"] == "periodic" and v["drive"]["harmonics_kept"] >= 1
        assert 0.003 < v["drive"]["removed_rms_v"] < 0.012
        assert f"{name}: 4 periods at" in res.stderr
    assert res.stderr.count("drive: periodic part (") == 2
    assert_spreads_honest(summary)
    # provenance: the fit uses no ngspice, so it neither starts one nor lists it
    assert summary["tool"] == "alif-spice" and "ngspice" not in summary["versions"]
    assert summary["command"].startswith("alif-spice fit --data ")
    fitted = load_params("paper", files=[out / "memristor.toml"])  # drops straight into a neuron
    assert fitted.memristor.r_on == pytest.approx(summary["parameters"]["r_on"])
    assert "POOR" not in (out / "memristor.toml").read_text()
    res = run_cli("ode", "--params", out / "memristor.toml", "--set", "simulation.t_stop=1m", "-o", tmp_path / "o.csv")
    assert res.returncode == 0, res.stderr


def assert_spreads_honest(summary):
    """Spreads finite (and within the identifiable range) or said to be not identifiable;
    correlations in [-1, 1]."""
    for name, spread in summary["relative_std"].items():
        if spread == "not identifiable":
            assert name in summary["not_identifiable"] and name in summary["poorly_determined"]
        else:
            assert isinstance(spread, float) and 0 <= spread <= UNIDENTIFIABLE_FACTOR - 1, (name, spread)
    for pair, c in summary["correlations"].items():
        assert -1.0 <= c <= 1.0, (pair, c)


@pytest.mark.parametrize("content,words", [
    ("", "empty"),
    ("1.0\n2.0\n3.0\n", "need at least two columns and two rows (got 1 column(s), 3 row(s))"),
    ("t,v,r\n0,a,b\n1,c,d\n", "line 2: 'a' is not a number"),
    ("0,0,0\n0.001,0.5,0.1\n0.002,0,0\n0.003,-0.5,-0.1\n0.004,0,0\n", "too few periods"),
])
def test_bad_files_exit_2(tmp_path, content, words):
    f = tmp_path / "bad.csv"
    f.write_text(content)
    res = run_cli("fit", "--data", f, "--columns", "time,source_voltage,resistor_voltage", "--series-resistor",
                  "5110", "-o", tmp_path / "out")
    assert res.returncode == 2 and words in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content,words", [
    ("0,0,0\n0.001,0.5,0.1\n0.002,0,nan\n0.003,-0.5,-0.1\n", "line 3: a non-finite value"),
    ("0,0,0\n0.001,,0.1\n0.002,0,0\n0.003,-0.5,-0.1\n", "line 2: an empty value"),
    ("0,0,0\n0.001,0.5,0.1\n0.002,0,0\n0.002,-0.5,-0.1\n", "line 4: time must increase strictly"),
    ("0,0\n0.001,0.5,0.1\n0.002,0,0\n0.003,-0.5,-0.1\n", "line 1: 2 value(s) where the file has 3 column(s)"),
    ("t,v,r\n0,0,0\n0.001,0.5,0.1\n0.002,0,0\n0.003,-0.5,-0.1\n0.004,0,0\n0.005,0.5,0.1\noverflow\n",
     "line 8: 'overflow' is not a number"),
])
def test_bad_lines_are_named_exit_2(tmp_path, capsys, content, words):
    f = tmp_path / "bad.csv"
    f.write_text(content)
    status = cli.main(["fit", "--data", str(f), "--columns", "time,source_voltage,resistor_voltage",
                       "--series-resistor", "5110", "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2 and f"--data bad.csv: {words}" in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()


def test_missing_series_resistor_is_exit_2(tmp_path):
    t, vs, vr = synthetic(100.0, periods=4)
    write_csv(tmp_path / "m.csv", t, vs, vr)
    res = run_cli("fit", "--data", tmp_path / "m.csv", "--columns", "time,source_voltage,resistor_voltage",
                  "-o", tmp_path / "out")
    assert res.returncode == 2 and "--series-resistor" in res.stderr


@pytest.mark.parametrize("inserted,words", [
    ("channel 2 overload", "line 50: 'channel 2 overload' is not a number"),
    ("1,5\t0,25", "line 50: 2 value(s) where the file has 3"),
])
def test_a_bad_line_inside_a_decimal_comma_file_is_named(tmp_path, capsys, inserted, words):
    t, vs, vr = synthetic(100.0, periods=4)
    write_tab_comma(tmp_path / "b.txt", t, vs, vr)
    lines = (tmp_path / "b.txt").read_text().splitlines()
    lines[10:10] = ["# comment", ""]  # comments and blank lines count as lines
    lines.insert(49, inserted)  # line 50
    (tmp_path / "b.txt").write_text("\n".join(lines) + "\n")
    status = cli.main(["fit", "--data", str(tmp_path / "b.txt"), "--columns", "source_voltage,resistor_voltage,time",
                       "--delimiter", "tab", "--decimal-comma", "--series-resistor", "5110", "-o",
                       str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 2, err
    assert f"b.txt: {words}" in err
    assert err.count("\n") == 1 and not (tmp_path / "out").exists()


@pytest.mark.parametrize("option,value,words", [
    ("--series-resistor", "inf", "must be finite"),
    ("--series-resistor", "nan", "must be finite"),
    ("--series-resistor", "5.11kOhm", "expected a number"),
    ("--series-resistor", "0", "must be > 0"),
    ("--sample-rate", "-10k", "must be > 0"),
    ("--sample-rate", "10kHz", "expected a number"),
])
def test_numeric_options_are_checked_in_one_line(tmp_path, capsys, option, value, words):
    f = tmp_path / "m.csv"
    f.write_text("0,0,0\n1,1,1\n")
    with pytest.raises(SystemExit) as stop:
        cli.main(["fit", "--data", str(f), "--columns", "time,source_voltage,resistor_voltage", "--series-resistor",
                  "5110", f"{option}={value}", "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert stop.value.code == 2
    assert err.count("\n") == 1 and f"argument {option}: {words}" in err
    assert not (tmp_path / "out").exists()


def test_reader_refuses_what_would_make_the_cost_undefined(tmp_path):
    t, vs, vr = synthetic(100.0, periods=4)
    write_csv(tmp_path / "m.csv", t, vs, vr)
    cols = "time,source_voltage,resistor_voltage"
    for r in (float("inf"), float("nan"), -1.0):
        with pytest.raises(ParamError, match="--series-resistor: must be a finite number"):
            read_measurement(tmp_path / "m.csv", cols, series_resistor=r)
    write_csv(tmp_path / "z.csv", t, vs, 0 * vr)  # no current at all
    with pytest.raises(ParamError, match="the current does not vary"):
        read_measurement(tmp_path / "z.csv", cols, series_resistor=5110)


def test_files_are_labelled_by_path(tmp_path):
    assert file_labels(["m.csv", "n.csv"]) == ["m", "n"]
    assert file_labels(["a/m.csv", "b/m.csv", "c/n.csv"]) == ["a/m", "b/m", "n"]
    assert file_labels(["p/a/m.csv", "q/a/m.csv"]) == ["p/a/m", "q/a/m"]
    assert file_labels(["x/m.csv", "x/m.txt"]) == ["m.csv", "m.txt"]
    (tmp_path / "m.csv").write_text("0,0\n")
    with pytest.raises(ParamError, match="given twice"):
        file_labels([tmp_path / "m.csv", tmp_path / "." / "m.csv"])
    t, vs, vr = synthetic(100.0, periods=4)
    write_csv(tmp_path / "m.csv", t, vs, vr)
    m = read_measurement(tmp_path / "m.csv", "time,source_voltage,resistor_voltage", series_resistor=5110)
    with pytest.raises(ParamError, match="both called 'm'"):
        fit([m, m])


# --------------------------------------------------------------------------- the drive


def _noisy_periodic(periods=4, ppp=200, noise=0.01, seed=3):
    """A triangle-like drive (odd harmonics falling as 1/k^2) on whole periods, its next
    period's first sample last, with white noise: (noisy, clean)."""
    phase = 2 * np.pi * np.arange(periods * ppp + 1) / ppp
    clean = sum(np.sin(k * phase) / k ** 2 for k in (1, 3, 5, 7))
    rng = np.random.default_rng(seed)
    return clean + noise * rng.standard_normal(clean.size), clean


def test_the_periodic_drive_removes_most_of_the_noise_and_keeps_the_harmonics():
    from alif_spice.fit import periodic_drive

    noisy, clean = _noisy_periodic()
    got, note = periodic_drive(noisy, 4)
    assert note["kind"] == "periodic" and got.size == noisy.size and got[-1] == got[0]
    before = np.sqrt(np.mean((noisy - clean) ** 2))
    after = np.sqrt(np.mean((got - clean) ** 2))
    assert before == pytest.approx(0.01, rel=0.1)
    assert after < 0.2 * before, (before, after)  # the noise left is that of the kept bins
    # the floor is the noise's, and what was removed is about all of it
    assert note["noise_rms_v"] == pytest.approx(0.01, rel=0.2)
    assert note["removed_rms_v"] == pytest.approx(0.01, rel=0.2)
    assert 4 <= note["harmonics_kept"] <= 8  # the four harmonics, and few noise bins beside them


def test_a_drive_that_is_not_periodic_on_its_period_is_played_as_measured():
    from alif_spice.fit import periodic_drive

    t = np.linspace(0.0, 4.0, 801)
    chirp = np.sin(2 * np.pi * (t + 0.05 * t ** 2)) + 0.01 * np.random.default_rng(0).standard_normal(t.size)
    got, note = periodic_drive(chirp, 4)
    assert got is chirp and note["kind"] == "measured" and "not steady" in note["why"]
    # exact, noise-free periodic data stay as they are (within rounding)
    _, clean = _noisy_periodic(noise=0.0)
    got, note = periodic_drive(clean, 4)
    np.testing.assert_allclose(got, clean, rtol=0, atol=1e-12)


def _drive_file(path, kind, noise, seed=0, per_period=200.0, periods=7, f=200.0):
    """A drive of the given shape (sine, triangle, square) at ``per_period`` samples per period
    (not a whole number by default), through a resistor that takes 30 % of it, with ``noise``
    (fraction of 1 V) on both measured voltages."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(periods * per_period)) / (f * per_period)
    phase = (f * t) % 1.0
    v = {"sine": np.sin(2 * np.pi * phase), "square": np.where(phase < 0.5, 1.0, -1.0),
         "triangle": 1.0 - 4.0 * np.abs(((phase + 0.75) % 1.0) - 0.5)}[kind]
    np.savetxt(path, np.c_[t, v + noise * rng.standard_normal(t.size), 0.3 * v + noise * rng.standard_normal(t.size)],
               delimiter=",")


@pytest.mark.parametrize("kind", ["sine", "triangle", "square"])
@pytest.mark.parametrize("per_period", [199.7, 61.3, 1013.0])
def test_the_cleaned_drive_is_closer_to_the_true_one_for_any_shape_and_sample_rate(tmp_path, kind, per_period):
    # the oracle: the true drive at the instants the reader chose. Cleaned, a smooth drive is
    # nearer to it than the measured one (1 % noise); where the cleaning cannot tell the
    # drive from its noise (a square wave's period found only to 7e-4 at 200 samples per
    # period, a coarse record's interpolation), it is played as measured and says why; it
    # never makes the drive worse
    cols = "time,source_voltage,resistor_voltage"
    _drive_file(tmp_path / "noisy.csv", kind, 0.01, per_period=per_period)
    cleaned = read_measurement(tmp_path / "noisy.csv", cols, series_resistor=1000)
    measured = read_measurement(tmp_path / "noisy.csv", cols, series_resistor=1000, drive="measured")
    assert abs(cleaned.frequency / 200.0 - 1) < 2e-3
    # the true drive at the samples' instants on the file's time axis
    phase = (200.0 * (cleaned.start + cleaned.t)) % 1.0
    truth = {"sine": np.sin(2 * np.pi * phase), "square": np.where(phase < 0.5, 1.0, -1.0),
             "triangle": 1.0 - 4.0 * np.abs(((phase + 0.75) % 1.0) - 0.5)}[kind]
    off = lambda m: float(np.sqrt(np.mean((m.v_src - truth) ** 2)))  # noqa: E731
    if kind != "square" and per_period > 100:
        # a smooth drive, finely sampled: cleaned, and nearer the truth (measured: 0.3-0.5 times)
        assert cleaned.drive["kind"] == "periodic", cleaned.drive
        assert off(cleaned) < 0.6 * off(measured), (off(cleaned), off(measured))
        assert cleaned.drive["noise_rms_v"] == pytest.approx(off(measured), rel=0.35)
    elif cleaned.drive["kind"] == "periodic":
        # a square wave's edge samples (or a coarse record's interpolation) are ambiguous for
        # both; cleaning must not make them worse
        assert off(cleaned) < 1.15 * off(measured), (off(cleaned), off(measured))
    else:  # played as measured, with the reason
        assert cleaned.drive["why"] and "cleaning would" in cleaned.drive["why"] or "not" in cleaned.drive["why"]
        np.testing.assert_array_equal(cleaned.v_src, measured.v_src)


def test_the_reader_drives_the_model_with_the_periodic_part_unless_told_otherwise(tmp_path):
    t, vs, vr = synthetic(100.0, periods=4)
    write_csv(tmp_path / "d.csv", t, vs, vr)
    cols = "time,source_voltage,resistor_voltage"
    periodic = read_measurement(tmp_path / "d.csv", cols, series_resistor=5110)
    measured = read_measurement(tmp_path / "d.csv", cols, series_resistor=5110, drive="measured")
    assert periodic.drive["kind"] == "periodic" and measured.drive["kind"] == "measured"
    # the same measured outputs; only the drive differs, by about the noise (1 % of 1 V)
    np.testing.assert_array_equal(periodic.i, measured.i)
    np.testing.assert_array_equal(periodic.v_mem, measured.v_mem)
    assert 0.004 < np.sqrt(np.mean((periodic.v_src - measured.v_src) ** 2)) < 0.012
    with pytest.raises(ParamError, match="--drive: must be one of periodic, measured"):
        read_measurement(tmp_path / "d.csv", cols, series_resistor=5110, drive="smooth")


# --------------------------------------------------------------------------- model and cost


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Two whole 100 Hz periods (401 samples), 1 % noise: a fit takes a few seconds."""
    path = tmp_path_factory.mktemp("small") / "small.csv"
    t, vs, vr = synthetic(100.0, periods=4)
    write_csv(path, t, vs, vr)
    return read_measurement(path, "time,source_voltage,resistor_voltage", series_resistor=5110)


THETA = dict(r_on=TRUTH["r_on"], ratio=TRUTH["r_off"] / TRUTH["r_on"], v_on=TRUTH["v_on"], v_off=TRUTH["v_off"],
             tau=TRUTH["tau"])


def test_each_model_sample_is_driven_by_its_own_drive_sample(small, paper):
    # the series loop ties every model sample to its drive: v_src = v_mem + i R_s
    i, v = simulate(THETA, paper, small)
    per = (small.t.size - 1) // small.periods
    assert abs(small.v_src[0] - small.v_src[per - 1]) > 0.01  # the sample before differs clearly
    assert v[0] + i[0] * small.r_series == pytest.approx(small.v_src[0], abs=1e-12)
    np.testing.assert_allclose(v + i * small.r_series, small.v_src, rtol=0, atol=1e-12)


def test_cost_counts_the_voltage_as_much_as_the_current(small, paper):
    i, v = simulate(THETA, paper, small)

    def measured(i_meas, v_meas):
        return Measurement(name="x", t=small.t, v_src=small.v_src, v_mem=v_meas, i=i_meas,
                           r_series=small.r_series, frequency=small.frequency, periods=small.periods)

    def unexplained(model, data):
        return float(np.sum((model - data) ** 2) / np.sum((data - data.mean()) ** 2))

    assert cost(THETA, paper, measured(i, v)) == pytest.approx(0.0, abs=1e-20)
    v_off = 1.1 * v + 0.02  # the current perfect, the voltage not
    expected = unexplained(v, v_off)
    assert expected > 0.005
    assert cost(THETA, paper, measured(i, v_off)) == pytest.approx(expected, rel=1e-9)
    i_off = 0.9 * i  # and the other way round
    assert cost(THETA, paper, measured(i_off, v)) == pytest.approx(unexplained(i, i_off), rel=1e-9)


@pytest.fixture(scope="module")
def fixed_fit(small):
    return fit([small])


def test_synthetic_data_recovers_the_parameters(fixed_fit):
    # 100 Hz: the switching dynamics are visible, so tau is identifiable (at 10 Hz the
    # state follows the drive quasi-statically and tau/v_on/v_off trade off; the fit
    # reports them as poorly determined instead)
    result = fixed_fit
    assert result.cost < 0.01
    for key, value in TRUTH.items():
        assert result.params[key] == pytest.approx(value, rel=0.05), key
    assert result.per_file["small"]["r2_current"] > 0.99


def test_good_fit_is_good_and_its_spreads_are_finite(fixed_fit, paper):
    r = fixed_fit
    # by default the temperature stays the base parameters' own
    assert "temperature" not in r.theta and r.params["temperature"] == paper.memristor.temperature
    assert r.verdict == "good" and not r.reasons and r.r2_current > 0.99
    assert r.at_bounds == [] and r.not_identifiable == []
    assert all(0 < s < 0.2 for s in r.relative_std.values()), r.relative_std
    assert all(-1 <= c <= 1 for c in r.correlations.values())


@pytest.mark.slow
def test_free_temperature_is_never_worse_than_the_fixed_fit(small, fixed_fit):
    # on these data a free search started afresh ended at 9.1e-4 against 8.6e-4 fixed
    free = fit([small], free_temperature=True)
    assert free.cost <= fixed_fit.cost
    assert free.verdict == "good"
    assert 50.0 <= free.params["temperature"] <= 2000.0
    # with one more free parameter on noisy data the search improves on the fixed optimum
    # (8.48e-4 against 8.56e-4 when measured), and then its result is the one reported
    assert free.cost < fixed_fit.cost and free.start.startswith("the free-temperature search")
    assert free.params["temperature"] != load_params("paper").memristor.temperature


def test_parameters_at_a_search_bound_are_reported(small, paper):
    r = fit([small], bounds={"r_on": (2000.0, 1e6)})  # the device's r_on is 1351 Ω
    assert r.at_bounds == [{"parameter": "r_on", "value": pytest.approx(2000.0), "bound": "lower",
                            "limit": 2000.0, "at": True}]


# --------------------------------------------------------------------------- data read wrongly


def _ma_as_a(tmp_path):
    t, vs, vr = synthetic(100.0, periods=4)
    f = tmp_path / "ma.csv"
    np.savetxt(f, np.c_[t, vs, vr / 5110 * 1e3], delimiter=",", fmt="%.10g")  # current written in mA
    return [f, "--columns", "time,source_voltage,current"]


def _swapped(tmp_path):
    t, vs, vr = synthetic(100.0, periods=5)
    f = tmp_path / "swapped.csv"
    np.savetxt(f, np.c_[vr, vs], delimiter=",", fmt="%.10g")  # resistor voltage first
    return [f, "--columns", "source_voltage,resistor_voltage", "--sample-rate", "20k"]


def _resistor_voltage_as_current(tmp_path):
    t, vs, vr = synthetic(100.0, periods=4)
    f = tmp_path / "vr.csv"
    write_csv(f, t, vs, vr)
    return [f, "--columns", "time,source_voltage,current"]


@pytest.mark.slow
@pytest.mark.parametrize("make,impossible", [(_ma_as_a, True), (_swapped, False),
                                             (_resistor_voltage_as_current, True)])
def test_data_read_wrongly_is_a_poor_fit_exit_1(tmp_path, make, impossible):
    data, *columns = make(tmp_path)
    out = tmp_path / "out"
    res = run_cli("fit", "--data", data, *columns, "--series-resistor", "5.11k", "-o", out)
    assert res.returncode == 1, res.stdout + res.stderr
    verdict = [line for line in res.stderr.splitlines() if "alif-spice" in line]
    assert len(verdict) == 1 and verdict[0].startswith("alif-spice: fit explains too little: R² of the ")
    assert ("a passive device cannot do" in verdict[0]) is impossible  # hundreds of volts from a 1 V drive
    assert "POOR FIT" in res.stdout
    summary = json.loads((out / "fit.json").read_text())
    assert summary["verdict"] == "poor" and summary["verdict_reasons"]
    assert summary["r2_current"] < 0.9 or summary["r2_voltage_overall"] < 0.9
    assert (out / "memristor.toml").read_text().startswith("# POOR FIT")
    assert (out / summary["files"][data.stem]["plot"]).exists()
    assert_spreads_honest(summary)
    # every parameter within 2 % of its log search range from a bound is reported, and only those
    box = dict(BOUNDS)
    values = dict(summary["parameters"], **{"r_off/r_on": summary["parameters"]["r_off"]
                                            / summary["parameters"]["r_on"]})
    near = set()
    for key, (lo, hi) in box.items():
        name = "r_off/r_on" if key == "ratio" else key
        if key == "temperature":
            continue
        for side, limit in (("lower", lo), ("upper", hi)):
            if abs(np.log(values[name] / limit)) <= NEAR_BOUND * np.log(hi / lo):
                near.add((name, side))
    assert {(b["parameter"], b["bound"]) for b in summary["at_bounds"]} == near
    for name, side in near:
        assert f"{name} = " in res.stdout and f"its {side} search bound" in res.stdout


def test_a_file_name_with_mathtext_is_plotted_as_text(tmp_path, small, fixed_fit, paper):
    import dataclasses

    from alif_spice.fit import write_outputs

    name = "run $\\foo{$ 1"
    m = dataclasses.replace(small, name=name)
    result = dataclasses.replace(fixed_fit, per_file={name: fixed_fit.per_file["small"]})
    out = write_outputs(result, [m], paper, tmp_path / "out", command=["alif-spice", "fit"])
    summary = json.loads((out / "fit.json").read_text())
    assert summary["files"][name]["plot"] == "fit_run_foo_1.png"
    assert (out / "fit_run_foo_1.png").read_bytes()[:4] == b"\x89PNG"


def test_overall_r2_of_one_file_is_its_own(fixed_fit):
    r = fixed_fit
    assert r.r2_current == pytest.approx(r.per_file["small"]["r2_current"], rel=1e-12)
    assert r.r2_voltage == pytest.approx(r.per_file["small"]["r2_voltage"], rel=1e-12)


def test_the_fit_figure_shows_data_and_model_in_milliamps(fixed_fit, small, paper):
    from alif_spice.fit import fit_figure
    i, v = simulate(fixed_fit.theta, paper, small)
    fig = fit_figure(fixed_fit, small, i, v)
    loop, time = fig.axes
    assert "(mA)" in loop.get_ylabel() and "(V)" in loop.get_xlabel() and "(ms)" in time.get_xlabel()
    for ax, x_meas, x_model in ((loop, small.v_mem, v), (time, small.t * 1e3, small.t * 1e3)):
        measured, model = ax.get_lines()
        np.testing.assert_allclose(measured.get_xdata(), x_meas, rtol=1e-15)
        np.testing.assert_allclose(measured.get_ydata(), small.i * 1e3, rtol=1e-15)
        np.testing.assert_allclose(model.get_xdata(), x_model, rtol=1e-15)
        np.testing.assert_allclose(model.get_ydata(), i * 1e3, rtol=1e-15)
        assert model.get_linewidth() >= 0.5 and model.get_linestyle() == "-"  # the model is drawn, visibly
        assert measured.get_marker() == "." and measured.get_markersize() > 0
    assert "R² 0.99" in time.get_title()


def test_random_candidates_start_from_the_steady_state_of_a_long_warm_up(paper):
    # seeded candidates drawn log-uniformly over the search box, at 10 Hz and 2 kHz: the
    # simulation's data current against 2000 warm-up periods, wherever those have settled
    from alif_spice.fit import BOUNDS, _device
    rng = np.random.default_rng(11)
    compared = 0
    for frequency in (10.0, 2000.0):
        p = load_params(values={"iv.frequency": frequency, "iv.periods": 3, "iv.points_per_period": 100,
                                "iv.r_series": 1000.0})
        tr = solve_iv(p)
        m = Measurement(name="m", t=tr.time[100:] - tr.time[100], v_src=tr["v_src"][100:],
                        v_mem=tr["v_mem"][100:], i=tr["i_m"][100:], r_series=1000.0, frequency=frequency,
                        periods=2)
        period, k = m.t[100], 2000
        t_long = np.concatenate([m.t[:100] + j * period for j in range(k)] + [m.t + k * period])
        v_long = np.concatenate([np.tile(m.v_src[:100], k), m.v_src])
        for _ in range(12):
            theta = {n: float(np.exp(rng.uniform(*np.log(BOUNDS[n])))) for n in
                     ("r_on", "ratio", "v_on", "v_off", "tau")}
            ref = solve_iv(_device(theta, paper), t_long, v_long, substeps=4, r_series=1000.0)
            start = ref["x"][k * 100]
            if abs(start - ref["x"][(k - 1) * 100]) > 1e-13:  # the long warm-up itself not settled
                continue
            i, _ = simulate(theta, paper, m)
            want = ref["i_m"][-m.t.size:]
            assert np.abs(i - want).max() <= 1e-8 * np.abs(want).max() + 1e-15, theta
            compared += 1
    assert compared >= 12


@pytest.mark.slow
def test_cross_prediction_tells_apart_files_of_different_devices(paper, tmp_path):
    # two files of one device (100 and 200 Hz) and one of a device whose tau is 4x longer:
    # the first two predict each other at their own-fit cost, neither predicts the third (nor
    # the third them), and the joint fit is worse than each own fit on some file
    from alif_spice.fit import cross_predict

    def measured(name, f, values=None, seed=0):
        write_csv(tmp_path / f"{name}.csv", *synthetic(f, periods=4, seed=seed, values=values))
        return read_measurement(tmp_path / f"{name}.csv", "time,source_voltage,resistor_voltage",
                                series_resistor=5110, name=name)

    files = [measured("a", 100.0, seed=1), measured("b", 200.0, seed=2),
             measured("c", 100.0, {"memristor.tau": 4 * TRUTH["tau"]}, seed=3)]
    joint = fit(files, paper)
    cross = cross_predict(files, paper, joint)
    assert all(cross.ratio(n, n) == 1.0 for n in "abc")
    assert cross.ratio("a", "b") < 1.5 and cross.ratio("b", "a") < 1.5
    for one in "ab":
        assert cross.ratio(one, "c") > 5 and cross.ratio("c", one) > 5, (one, cross.cost)
    assert max(cross.joint_ratio(n) for n in "abc") > 2
    assert abs(cross.own["c"].params["tau"] / (4 * TRUTH["tau"]) - 1) < 0.1


def test_free_temperature_is_refused_for_a_model_without_one(tmp_path):
    t, vs, vr = synthetic(100.0)
    write_csv(tmp_path / "d.csv", t, vs, vr)
    res = run_cli("fit", "--data", tmp_path / "d.csv", "--columns", "time,source_voltage,resistor_voltage",
                  "--series-resistor", "5110", "--set", "memristor.model=vteam", "--free-temperature",
                  "-o", tmp_path / "fit")
    assert res.returncode == 2 and "the VTEAM model has no temperature" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 2 and not (tmp_path / "fit").exists()  # the data line, the error


@pytest.mark.slow
def test_vteam_fit_on_its_own_synthetic_data(paper, tmp_path):
    # VTEAM data (200 Hz, 1 V through 1 kΩ, 1 % noise): the search ends at or below the true
    # parameters' cost, and gives them back (k_on -0.7 %; played with the noisy drive, as
    # before the drive was cleaned, it was -7.9 %)
    truth = {"memristor.model": "vteam", "memristor.r_on": 1351.0, "memristor.r_off": 7510.0,
             "memristor.v_on": 0.3, "memristor.v_off": 0.2, "memristor.k_on": 5e3, "memristor.k_off": 2e3,
             "memristor.alpha_on": 1.0, "memristor.alpha_off": 1.0, "memristor.p_window": 1.0}
    write_csv(tmp_path / "v.csv", *synthetic(200.0, periods=4, values={**truth, "iv.r_series": 1000.0}))
    data = read_measurement(tmp_path / "v.csv", "time,source_voltage,resistor_voltage", series_resistor=1000)
    base = paper.with_values({k: v for k, v in truth.items()
                              if k in ("memristor.model", "memristor.alpha_on", "memristor.alpha_off",
                                       "memristor.p_window")})
    result = fit([data], base)
    true_theta = {"r_on": 1351.0, "ratio": 7510.0 / 1351.0, "v_on": 0.3, "v_off": 0.2, "k_on": 5e3, "k_off": 2e3}
    assert result.cost <= cost(true_theta, base, data) * 1.001
    assert result.verdict == "good" and result.model == "vteam"
    for key in ("r_on", "r_off", "v_on", "v_off", "k_on", "k_off"):
        assert result.params[key] == pytest.approx(truth[f"memristor.{key}"], rel=0.05), key
    assert result.params["alpha_on"] == 1.0 and "tau" not in result.params


# --------------------------------------------------------------------------- model selection


def _result(costs: dict[str, float], k: int):
    from alif_spice.fit import FitResult

    return FitResult(params={}, cost=float(np.mean(list(costs.values()))),
                     per_file={n: {"cost": c} for n, c in costs.items()}, poorly_determined=[], relative_std={},
                     theta={f"p{j}": 1.0 for j in range(k)})


def test_information_criteria_charge_each_parameter_two_and_log_n(small):
    # Gaussian residuals of unknown spread: AIC = n ln(RSS/n) + 2k, BIC = n ln(RSS/n) + k ln n;
    # with equal residuals, three extra parameters cost 6 in AIC and 3 ln(n) in BIC, and a
    # residual sum e times smaller gains n in both
    from alif_spice.fit import information_criteria

    n = 2 * small.t.size
    a = information_criteria(_result({small.name: 0.01}, 5), [small])
    b = information_criteria(_result({small.name: 0.01}, 8), [small])
    c = information_criteria(_result({small.name: 0.01 / np.e}, 5), [small])
    assert a["samples"] == n and a["free_parameters"] == 5
    assert b["aic"] - a["aic"] == pytest.approx(6.0) and b["bic"] - a["bic"] == pytest.approx(3 * np.log(n))
    assert a["aic"] - c["aic"] == pytest.approx(n) and a["bic"] - c["bic"] == pytest.approx(n)
    assert a["aic"] == pytest.approx(n * np.log(0.01 / n) + 10)


def test_model_selection_ranks_by_bic_and_reports_every_model(small):
    from alif_spice.fit import ModelSelection, information_criteria

    results = {"mms": _result({small.name: 0.010}, 5), "gmms": _result({small.name: 0.0099}, 10),
               "vteam": _result({small.name: 0.02}, 6)}
    sel = ModelSelection(results=results, criteria={k: information_criteria(r, [small]) for k, r in results.items()},
                         seconds={k: 1.0 for k in results})
    # the generalized MMS explains 1 % more, not enough for five more parameters
    assert sel.ranked == ["mms", "gmms", "vteam"] and sel.best == "mms"
    rows = sel.table()
    assert [r["model"] for r in rows] == ["mms", "gmms", "vteam"]
    assert [r["cost_rank"] for r in rows] == [2, 1, 3]
    assert rows[0]["delta_bic"] == 0.0 and rows[1]["delta_bic"] > 10 and rows[1]["delta_aic"] > 0


def test_model_names_accepts_all_and_refuses_unknown_names():
    from alif_spice import devices
    from alif_spice.fit import model_names

    assert model_names("all") == list(devices.names()) == ["mms", "gmms", "vteam", "yakopcic"]
    assert model_names(" vteam, mms,vteam ") == ["vteam", "mms"]
    with pytest.raises(ParamError, match=r"--model: unknown device model 'hp' \(known: mms, gmms, vteam, yakopcic"):
        model_names("mms,hp")
    with pytest.raises(ParamError, match="no device model named"):
        model_names(" , ")
    with pytest.raises(ParamError, match="--model: all stands alone"):
        model_names("all,mms")


def test_a_free_temperature_needs_a_model_that_has_one(small, paper):
    from alif_spice.fit import select_model

    with pytest.raises(ParamError, match=r"--free-temperature: none of the models \(vteam, yakopcic\)"):
        select_model([small], paper, ["vteam", "yakopcic"], free_temperature=True)


def test_a_model_base_resets_what_the_model_does_not_read(paper):
    # a generalized MMS file (phi < 1) fitted as the plain MMS too: its diode values go
    from alif_spice.fit import model_base

    g = paper.with_values({"memristor.model": "gmms", "memristor.phi": 0.6, "memristor.alpha_f": 1e-4,
                           "memristor.beta_f": 3.0, "memristor.tau": 1e-3})
    m = model_base(g, "mms").memristor
    assert m.model == "mms" and m.phi == 1.0 and m.alpha_f == 0.0 and m.tau == 1e-3
    assert model_base(g, "gmms") is g


#: a set per device model where its parameters show in the data (1 kΩ series resistor, 1 V)
GENERATING = {
    "mms": {"iv.frequency": 200.0},
    "gmms": {"iv.frequency": 200.0, "memristor.phi": 0.6, "memristor.alpha_f": 1e-4, "memristor.beta_f": 3.0,
             "memristor.alpha_r": 3e-5, "memristor.beta_r": 4.0},
    "vteam": {"iv.frequency": 200.0, "memristor.v_on": 0.3, "memristor.v_off": 0.2, "memristor.k_on": 5e3,
              "memristor.k_off": 2e3, "memristor.alpha_on": 1.0, "memristor.alpha_off": 1.0,
              "memristor.p_window": 1.0},
    "yakopcic": {"iv.frequency": 200.0},
}


def test_the_generalized_mms_diode_fraction_is_redundant_and_held(tmp_path, paper):
    # the current is phi G(x) v + (1 - phi) i_d(v) and the state reads the voltage only:
    # phi with r_on, r_off scaled by phi'/phi and alpha_f, alpha_r by (1 - phi)/(1 - phi')
    # gives the same data to rounding, so no drive can pin phi; the fit holds it
    from alif_spice import devices
    from alif_spice.fit import space

    g = GENERATING["gmms"]
    base = paper.with_values({"memristor.model": "gmms", **{k: v for k, v in g.items() if k.startswith("memr")}})
    t, vs, vr = synthetic(200.0, periods=4, values={"memristor.model": "gmms", "iv.r_series": 1000.0, **g})
    write_csv(tmp_path / "g.csv", t, vs, vr)
    data = read_measurement(tmp_path / "g.csv", "time,source_voltage,resistor_voltage", series_resistor=1000)
    m = base.memristor
    theta = {"r_on": m.r_on, "ratio": m.r_off / m.r_on, "v_on": m.v_on, "v_off": m.v_off, "tau": m.tau,
             "alpha_f": m.alpha_f, "beta_f": m.beta_f, "alpha_r": m.alpha_r, "beta_r": m.beta_r}
    other = base.with_values({"memristor.phi": 0.3})
    scaled = {**theta, "r_on": m.r_on * 0.3 / 0.6, "alpha_f": m.alpha_f * 0.4 / 0.7, "alpha_r": m.alpha_r * 0.4 / 0.7}
    assert 0.0 < cost(theta, base, data) < 0.01
    assert cost(scaled, other, data) == pytest.approx(cost(theta, base, data), rel=1e-9)
    assert cost(theta, other, data) > 2 * cost(theta, base, data)  # phi alone does matter
    fit_space = space(base)
    assert "phi" not in fit_space.names and "phi" in fit_space.held
    assert fit_space.values(theta, m)["phi"] == 0.6
    # from a plain MMS base (phi = 1, no diode) the fit holds phi at a diode fraction
    assert fit_space.values(theta, paper.memristor)["phi"] == devices.GMMS_FIT_PHI


RECOVERED = {"mms": ("r_on", "r_off", "v_on", "v_off", "tau"),
             "gmms": ("r_on", "v_on", "v_off", "tau", "beta_f"),
             "vteam": ("r_on", "r_off", "v_on", "v_off", "k_on", "k_off"),
             "yakopcic": ("a1", "a2", "b", "v_on", "v_off", "a_p", "a_n")}


@pytest.mark.slow
@pytest.mark.parametrize("generator", list(GENERATING))
def test_model_selection_picks_the_model_that_made_the_data(paper, tmp_path, generator):
    # each model's synthetic data (1 % noise) fitted with every model: the generating one
    # has the lowest BIC, clearly (by more than 10), and its own fit's cost is the noise's
    # (not above what its true parameters give). Measured: dBIC of the runner-up 24 (gMMS on
    # MMS data), 1075 (Yakopcic on gMMS data), 159 (gMMS on VTEAM data), 286 (gMMS on
    # Yakopcic data)
    from alif_spice.fit import select_model

    values = {"memristor.model": generator, "iv.r_series": 1000.0, **GENERATING[generator]}
    write_csv(tmp_path / "d.csv", *synthetic(values["iv.frequency"], periods=4, values=values))
    data = read_measurement(tmp_path / "d.csv", "time,source_voltage,resistor_voltage", series_resistor=1000)
    base = paper.with_values({k: v for k, v in values.items() if k.startswith("memristor.")})
    sel = select_model([data], base, ["mms", "gmms", "vteam", "yakopcic"])
    rows = sel.table()
    assert sel.best == generator, [(r["model"], r["cost"], r["delta_bic"]) for r in rows]
    assert rows[1]["delta_bic"] > 10
    own = sel.results[generator]
    true_theta = {n: getattr(base.memristor, n) for n in own.theta if n != "ratio"}
    if "ratio" in own.theta:
        true_theta["ratio"] = base.memristor.r_off / base.memristor.r_on
    assert own.cost <= cost(true_theta, base, data) * 1.01
    # what each model gives back within 5 % from this one record (docs/fitting.md,
    # "Measured"): all but the generalized MMS's r_off, alpha_f, alpha_r (measured +28 %,
    # +9 %, +21 %, with spreads of 54 %, 12 %, 37 %) and beta_r (-4.7 %)
    for key in RECOVERED[generator]:
        assert own.params[key] == pytest.approx(getattr(base.memristor, key), rel=0.05), key
    # the rest is off by no more than its reported spread says (3.5 sigma)
    for key, rel in own.relative_std.items():
        error = math.log(own.params[key] / getattr(base.memristor, key))
        assert rel is not None and abs(error) < 3.5 * math.log1p(rel), (key, error, rel)


#: per device model, a device and the drives (Hz, V; 1 kΩ in series) at which all its fitted
#: parameters show: from 5 periods of each at 1 % noise the expected 1σ spreads are at most
#: 1.1 % (VTEAM), 1.5 % (Yakopcic) and 2.3 % (generalized MMS, its diode prefactors)
IDENTIFIABLE = {
    "vteam": ({k: v for k, v in GENERATING["vteam"].items() if k.startswith("memristor.")},
              ((500.0, 0.6), (200.0, 1.5), (1000.0, 1.0))),
    "yakopcic": ({}, ((1000.0, 0.8), (200.0, 1.5), (2000.0, 0.6))),
    "gmms": ({"memristor.phi": 0.6, "memristor.alpha_f": 1e-5, "memristor.beta_f": 3.0, "memristor.alpha_r": 1e-5,
              "memristor.beta_r": 3.0}, ((200.0, 0.5), (200.0, 1.5), (200.0, 3.0))),
}


@pytest.mark.slow
@pytest.mark.parametrize("model", list(IDENTIFIABLE))
def test_each_model_gives_its_parameters_back_at_drives_where_they_show(paper, tmp_path, model):
    # synthetic data of each model (1 % noise on both measured voltages) at several drives,
    # fitted jointly: every fitted parameter within 5 % of the truth, the search at or below
    # the truth's cost, and every error within 3.5 of its reported spreads (honest spreads)
    device, drives = IDENTIFIABLE[model]
    values = {"memristor.model": model, **device}
    data = []
    for j, (f, a) in enumerate(drives):
        path = tmp_path / f"d{j}.csv"
        write_csv(path, *synthetic(f, periods=7, seed=j,
                                   values={**values, "iv.r_series": 1000.0, "iv.frequency": f, "iv.amplitude": a}))
        data.append(read_measurement(path, "time,source_voltage,resistor_voltage", series_resistor=1000,
                                     name=f"d{j}"))
    assert all(m.periods == 5 and m.drive["kind"] == "periodic" for m in data)
    base = paper.with_values(values)
    result = fit(data, base)
    m = base.memristor
    truth = {n: (m.r_off / m.r_on if n == "ratio" else getattr(m, n)) for n in result.theta}
    assert result.cost <= np.mean([cost(truth, base, d) for d in data]) * 1.001
    assert result.verdict == "good" and result.not_identifiable == [] and result.at_bounds == []
    errors = {k: result.params[k] / getattr(m, k) - 1 for k in result.relative_std}
    for k, e in errors.items():
        assert abs(e) < 0.05, (k, errors, result.relative_std)
        assert abs(math.log1p(e)) < 3.5 * math.log1p(result.relative_std[k]), (k, errors, result.relative_std)


@pytest.mark.slow
def test_fit_command_with_several_models_writes_the_ranking_and_the_best_table(tmp_path):
    t, vs, vr = synthetic(200.0, periods=4, values={"iv.r_series": 1000.0})
    write_csv(tmp_path / "m.csv", t, vs, vr)
    out = tmp_path / "fit"
    res = run_cli("fit", "--data", tmp_path / "m.csv", "--columns", "time,source_voltage,resistor_voltage",
                  "--series-resistor", "1k", "--model", "vteam,mms", "-o", out)
    assert res.returncode == 0, res.stderr
    summary = json.loads((out / "fit.json").read_text())
    sel = summary["model_selection"]
    assert sel["best"] == "mms" == summary["model"] and sel["rule"] == "lowest BIC"
    assert [r["model"] for r in sel["table"]] == ["mms", "vteam"]
    assert sel["table"][1]["delta_bic"] > 10 and sel["table"][0]["free_parameters"] == 5
    assert set(sel["models"]) == {"mms", "vteam"}
    assert "model selection (lowest BIC is best" in res.stdout and "best: MMS (mms)" in res.stdout
    assert (out / "model_overlay.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    best = load_params("paper", files=[out / "memristor.toml"])
    assert best.memristor.model == "mms" and best.memristor.r_on == pytest.approx(summary["parameters"]["r_on"])
    assert "the best of 2 device models" in (out / "memristor.toml").read_text()
    other = load_params("paper", files=[out / "models" / "vteam.toml"])  # every model's table loads
    assert other.memristor.model == "vteam"
    assert other.memristor.k_on == pytest.approx(sel["models"]["vteam"]["parameters"]["k_on"])
    assert_spreads_honest(summary)
    for model in sel["models"].values():  # every model's identifiability, honest too
        assert_spreads_honest(model)


def test_fit_command_refuses_an_unknown_model(tmp_path):
    t, vs, vr = synthetic(100.0, periods=3)
    write_csv(tmp_path / "m.csv", t, vs, vr)
    res = run_cli("fit", "--data", tmp_path / "m.csv", "--columns", "time,source_voltage,resistor_voltage",
                  "--series-resistor", "5.11k", "--model", "mms,hp", "-o", tmp_path / "fit")
    assert res.returncode == 2 and "--model: unknown device model 'hp'" in res.stderr
    assert not (tmp_path / "fit").exists()
