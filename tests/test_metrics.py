"""The comparison's metrics on synthetic traces whose answers are known by hand (fast,
in-process): period binning, adaptation, matching at its window, energy per period and
per spike, the hardware's supply energy, and the JSON form."""

import math

import numpy as np
import pytest

from alif_spice import ParamError
from alif_spice import compare as C
from alif_spice import metrics as M
from alif_spice.stimulus import SquareWave
from alif_spice.trace import Trace

# a stimulus with delay 0.2 ms and period 1 ms (edges of 1 us)
STIM = SquareWave(v1=0.0, v2=1e-3, td=0.2e-3, tr=1e-6, pw=0.5e-3 - 1e-6, tf=1e-6, per=1e-3)


def test_spikes_are_binned_by_input_period():
    spikes = np.array([0.1e-3, 0.25e-3, 1.19e-3, 1.21e-3, 1.5e-3, 2.5e-3, 3.3e-3])
    # periods start at 0.2, 1.2, 2.2 (ms) before t_stop = 3.25 ms; the spike before the
    # delay and the one after the last full period are in no period
    assert C.spikes_per_period(spikes, STIM, 3.25e-3) == [2, 2, 1]
    assert C.spikes_per_period(spikes, STIM, 3.1e-3) == [2, 2]
    assert C.spikes_per_period(spikes, STIM, 0.15e-3) == []
    assert C.spikes_per_period(np.array([]), STIM, 2.25e-3) == [0, 0]


def test_adaptation_ratios():
    assert C.adaptation_ratio([6, 4, 3]) == 2.0
    assert C.adaptation_ratio([6, 0]) == math.inf
    assert math.isnan(C.adaptation_ratio([0, 2]))
    assert math.isnan(C.adaptation_ratio([5]))
    assert C.isi_adaptation_ratio(np.array([0.0, 1.0, 2.5, 4.5])) == 2.0  # last ISI / first ISI
    assert C.isi_adaptation_ratio(np.array([4.5, 0.0, 2.5, 1.0])) == 2.0  # order does not matter
    assert math.isnan(C.isi_adaptation_ratio(np.array([0.0, 1.0])))
    assert math.isnan(C.isi_adaptation_ratio(np.array([1.0, 1.0, 2.0])))  # a zero first ISI


def test_on_grid_interpolates_and_keeps_the_last_value_at_repeated_times():
    t = np.array([0.0, 1.0, 1.0, 3.0])
    tr = Trace(t, {"v_c": np.array([0.0, 1.0, 5.0, 9.0])}, np.empty(0), "test")
    np.testing.assert_array_equal(C.on_grid(tr, "v_c", np.array([0.0, 0.5, 1.0, 2.0, 3.0])),
                                  [0.0, 2.5, 5.0, 7.0, 9.0])  # from (0, 0) to (1, 5), the last value


def test_rmse():
    assert C.rmse(np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 0.0])) == 2.0
    assert C.rmse([0.0, 0.0], [3.0, -3.0]) == 3.0


def test_match_at_the_window_edge_and_nearest_first():
    ref = np.array([1.0, 2.0, 3.0])
    m = C.match_spikes(ref, np.array([1.25, 2.3]), window=0.25)
    assert m.pairs.tolist() == [[1.0, 1.25]]  # exactly at the window: matched
    assert m.missing.tolist() == [2.0, 3.0] and m.extra.tolist() == [2.3]
    # a test spike between two reference spikes goes to the nearer one, the other is missing
    m = C.match_spikes(ref, np.array([2.6]), window=0.5)
    assert m.pairs.tolist() == [[3.0, 2.6]] and m.missing.tolist() == [1.0, 2.0]
    assert m.errors.tolist() == pytest.approx([-0.4])
    # the last reference spike is reachable (the search includes the right end)
    m = C.match_spikes(ref, np.array([3.1]), window=0.2)
    assert m.pairs.tolist() == [[3.0, 3.1]]
    assert C.match_spikes(ref, np.array([]), 1.0).errors.size == 0


def test_greedy_matching_pairs_the_closest_first():
    # test spike 1.05 is closest to ref 1.0; test 0.8 then cannot take it and is extra
    m = C.match_spikes(np.array([1.0]), np.array([0.8, 1.05]), window=0.3)
    assert m.pairs.tolist() == [[1.0, 1.05]] and m.extra.tolist() == [0.8] and m.missing.size == 0


def test_match_window_is_half_the_shortest_isi():
    assert C.match_window(np.array([0.0, 3.0, 4.0, 10.0])) == 0.5
    assert C.match_window(np.array([5.0])) == 1.0
    assert C.match_window(np.array([4.0, 0.0, 3.0])) == 0.5  # unsorted input


def linear_trace(n=4001, t_stop=3.2e-3):
    t = np.linspace(0.0, t_stop, n)
    # v_c i_in = 2 W constant: E(t) = 2 t, J
    return Trace(t, {"v_c": np.full(n, 4.0), "i_in": np.full(n, 0.5), "i_pos": np.full(n, -0.01),
                     "i_neg": np.full(n, 0.02), "i_cmp_supply": np.full(n, -0.003),
                     # the spike outputs (ideal latch, hardware comparator), never on
                     "latch": np.zeros(n), "v_cmp": np.zeros(n)}, np.empty(0), "test")


def test_source_and_supply_energy_of_constant_power():
    tr = linear_trace()
    np.testing.assert_allclose(C.source_energy(tr), 2.0 * tr.time, rtol=1e-12, atol=1e-18)
    # supplies +5 V, -5 V and 3.3 V, currents into their + terminals: P = -sum(V I)
    power = -(5.0 * -0.01 + -5.0 * 0.02 + 3.3 * -0.003)
    supplies = (("i_pos", 5.0), ("i_neg", -5.0), ("i_cmp_supply", 3.3))
    np.testing.assert_allclose(C.supply_energy(tr, supplies), power * tr.time, rtol=1e-12, atol=1e-18)


def test_energy_per_period_ends_at_t_stop():
    tr = linear_trace()
    e = C.energy_per_period(tr.time, C.source_energy(tr), STIM, 3.1e-3)
    assert e == pytest.approx([2e-3, 2e-3], rel=1e-9)  # whole periods only: [0.2, 1.2], [1.2, 2.2] ms
    # a last period counted (within 1e-9 of a period) ends at t_stop, not after it
    e = C.energy_per_period(tr.time, C.source_energy(tr), STIM, 3.2e-3 - 1e-13)
    assert len(e) == 3 and abs(e[-1] - 2 * (1e-3 - 1e-13)) < 2e-14
    e = C.energy_per_period(tr.time, C.source_energy(tr), STIM, 3.2e-3)
    assert e == pytest.approx([2e-3, 2e-3, 2e-3], rel=1e-9)
    assert C.per_spike([4.0, 3.0, 1.0], [2, 0, 4]) == [2.0, None, 0.25]


def test_neuron_metrics(paper):
    p = paper.with_values({"simulation.t_stop": 3.2e-3, "stimulus.delay": 0.2e-3})
    tr = linear_trace()
    spikes = np.array([0.3e-3, 0.4e-3, 1.5e-3, 2.9e-3, 3.0e-3, 3.1e-3])
    m = M.neuron_metrics(p, tr.time, tr["v_c"], tr["i_in"], spikes)
    assert m["n_spikes"] == 6 and m["spikes_per_period"] == [2, 1, 3]
    assert m["adaptation_ratio"] == pytest.approx(2 / 3)
    assert m["rate_hz"] == pytest.approx(6 / 3.2e-3)
    assert m["energy_j"] == pytest.approx(2 * 3.2e-3, rel=1e-12)
    assert m["energy_per_spike_j"] == pytest.approx(2 * 3.2e-3 / 6, rel=1e-12)
    assert M.neuron_metrics(p, tr.time, tr["v_c"], tr["i_in"], np.array([]))["energy_per_spike_j"] is None


def test_circuit_metrics_on_known_traces(paper):
    p = paper.with_values({"simulation.t_stop": 3.2e-3, "stimulus.delay": 0.2e-3})
    base = linear_trace()
    ode_spikes = np.array([0.3e-3, 0.5e-3, 1.3e-3, 2.3e-3])
    sp_spikes = np.array([0.3e-3 + 2e-6, 0.5e-3 - 4e-6, 2.3e-3 + 1e-6, 2.6e-3])
    x = np.linspace(0.0, 1.0, base.time.size)
    ode = Trace(base.time, {**base.signals, "x": x}, ode_spikes, "ode")
    spice = Trace(base.time, {**base.signals, "x": x + 0.01, "v_c": base["v_c"] - 0.2}, sp_spikes, "spice")
    m = M.circuit_metrics(p, ode, spice, "ideal")
    assert m["n_spikes"] == {"ode": 4, "spice": 4}
    assert m["spikes_per_period"] == {"ode": [2, 1, 1], "spice": [2, 0, 2]}
    assert (m["matched_spikes"], m["missing_spikes"], m["extra_spikes"]) == (3, 1, 1)
    assert m["spike_time_max_abs_error_s"] == pytest.approx(4e-6)
    assert m["spike_time_mean_abs_error_s"] == pytest.approx(7e-6 / 3)
    assert m["mean_isi_ode_s"] == pytest.approx(2.0e-3 / 3)
    assert m["x_rmse"] == pytest.approx(0.01) and m["v_c_rmse"] == pytest.approx(0.2)
    assert m["adaptation_ratio"] == {"ode": 2.0, "spice": 1.0}
    assert m["isi_adaptation_ratio"]["ode"] == pytest.approx(1.0e-3 / 0.2e-3)
    e_ode = m["energy_input_per_period_j"]["ode"]
    assert e_ode == pytest.approx([2e-3, 2e-3, 2e-3], rel=1e-9)
    # the spice trace has v_c 0.2 V lower: power 3.8 * 0.5 = 1.9 W
    assert m["energy_input_per_period_j"]["spice"] == pytest.approx([1.9e-3] * 3, rel=1e-9)
    # everything the input source delivered in the run (0.2 ms before the first period too), per spike
    assert m["energy_per_spike_j"] == {"ode": pytest.approx(6.4e-3 / 4), "spice": pytest.approx(6.08e-3 / 4)}
    # one definition: a neuron metric in compare is the same as for a single run (the sweep's)
    for engine, tr in (("ode", ode), ("spice", spice)):
        alone = M.neuron_metrics(p, tr.time, tr["v_c"], tr["i_in"], tr.spikes)
        assert alone == {k: m[k][engine] for k in alone}
    assert m["energy_per_spike_per_period_j"]["spice"][1] is None
    assert "energy_supply_per_period_j" not in m
    hw = M.circuit_metrics(p, ode, spice, "hardware")
    from alif_spice.hardware import effective_hardware

    h = effective_hardware(p)
    power = -(h.v_pos * -0.01 + h.v_neg * 0.02 + h.comp_supply * -0.003)
    assert hw["energy_supply_per_period_j"] == pytest.approx([power * 1e-3] * 3, rel=1e-9)
    assert hw["energy_supply_per_spike_j"] == pytest.approx(3 * power * 1e-3 / 4, rel=1e-9)


def test_circuit_metrics_without_spikes(paper):
    p = paper.with_values({"simulation.t_stop": 3.2e-3, "stimulus.delay": 0.2e-3})
    base = linear_trace()
    x = np.zeros(base.time.size)
    quiet = Trace(base.time, {**base.signals, "x": x}, np.array([]), "ode")
    m = M.circuit_metrics(p, quiet, quiet, "ideal")
    assert m["spike_time_max_abs_error_s"] is None and m["spike_time_mean_abs_error_s"] is None
    assert m["mean_isi_ode_s"] is None and m["energy_per_spike_j"] == {"ode": None, "spice": None}
    one = Trace(base.time, {**base.signals, "x": x}, np.array([1e-3]), "ode")
    assert M.circuit_metrics(p, one, one, "ideal")["mean_isi_ode_s"] is None


def test_json_ready():
    out = C.json_ready({"a": [np.float64(1.5), np.nan, np.inf], "b": (np.int32(3), np.bool_(True)), "c": "s"})
    assert out == {"a": [1.5, None, None], "b": [3, True], "c": "s"}
    assert type(out["b"][0]) is int and type(out["b"][1]) is bool and type(out["a"][0]) is float


def metrics_for_checks(**changes):
    m = {"n_spikes": {"ode": 40, "spice": 37}, "missing_spikes": 4, "extra_spikes": 1,
         "spike_time_max_abs_error_s": 2e-6, "spike_time_mean_abs_error_s": 5e-7, "mean_isi_ode_s": 4e-5,
         "x_rmse": 0.01, "v_c_rmse": 0.02, "adaptation_ratio": {"ode": 3.0, "spice": 2.5},
         "isi_adaptation_ratio": {"ode": 2.0, "spice": 1.8}, "spike_count_abs_diff": 3,
         "spike_count_rel_diff": 3 / 40, "spike_time_max_abs_error_rel_isi": 2e-6 / 4e-5}
    m.update(changes)
    return m


def test_tolerances_pass_at_their_limits_and_fail_beyond():
    m = metrics_for_checks()
    at = {"spike_count_abs_diff": 3, "spike_count_rel_diff": 3 / 40, "missing_spikes": 4, "extra_spikes": 1,
          "spike_time_max_abs_error_s": 2e-6, "spike_time_max_abs_error_rel_isi": 2e-6 / 4e-5,
          "spike_time_mean_abs_error_s": 5e-7, "x_rmse": 0.01, "v_c_rmse": 0.02,
          "adaptation_ratio_min": 2.5, "isi_adaptation_ratio_min": 1.8}
    checks = M.evaluate({"ideal": m}, {"ideal": at})
    assert [c.name for c in checks] == list(at) and all(c.passed for c in checks)
    assert {c.name: c.value for c in checks} == pytest.approx(at)
    assert all(c.circuit == "ideal" and c.limit == at[c.name] for c in checks)
    beyond = {k: (v * 1.001 if k.endswith("_min") else v * 0.999) for k, v in at.items()}
    failed = M.evaluate({"ideal": m}, {"ideal": beyond})
    assert not any(c.passed for c in failed)
    assert [c.kind for c in failed].count("min") == 2


def test_a_tolerance_on_an_undefined_value_fails():
    m = metrics_for_checks(spike_time_max_abs_error_s=None, spike_time_max_abs_error_rel_isi=None)
    checks = M.evaluate({"hardware": m}, {"hardware": {"spike_time_max_abs_error_s": 1.0,
                                                      "spike_time_max_abs_error_rel_isi": 1.0}})
    assert [c.value for c in checks] == [None, None] and not any(c.passed for c in checks)


def test_relative_metrics_where_the_model_gives_no_scale():
    t = linear_trace().time
    p = load_params_short()

    def trace(spikes):
        return Trace(t, {**linear_trace().signals, "x": np.zeros(t.size)}, np.array(spikes), "ode")

    # no model spikes: the relative count difference is against 1
    m = M.circuit_metrics(p, trace([]), trace([1e-3, 2e-3, 3e-3]), "ideal")
    assert m["spike_count_rel_diff"] == 3.0 and m["spike_count_abs_diff"] == 3
    assert m["spike_time_max_abs_error_rel_isi"] is None
    # one model spike: no ISI to compare with
    m = M.circuit_metrics(p, trace([1e-3]), trace([1.1e-3]), "ideal")
    assert m["spike_time_max_abs_error_s"] == pytest.approx(0.1e-3) and m["spike_time_max_abs_error_rel_isi"] is None
    m = M.circuit_metrics(p, trace([1e-3, 2e-3, 2.5e-3]), trace([1.1e-3, 2e-3, 2.5e-3]), "ideal")
    assert m["spike_time_max_abs_error_rel_isi"] == pytest.approx(0.1e-3 / 0.75e-3)
    assert m["spike_count_rel_diff"] == 0.0


def test_a_test_spike_goes_to_the_nearest_of_two_reference_spikes_in_its_window():
    m = C.match_spikes(np.array([2.0, 2.3]), np.array([2.25]), window=0.3)
    assert m.pairs.tolist() == [[2.3, 2.25]] and m.missing.tolist() == [2.0]
    m = C.match_spikes(np.array([2.2, 2.6]), np.array([2.25]), window=0.4)
    assert m.pairs.tolist() == [[2.2, 2.25]] and m.missing.tolist() == [2.6]


def test_results_are_immutable_values():
    import dataclasses
    m = C.match_spikes(np.array([1.0]), np.array([1.1]), 0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.pairs = np.empty((0, 2))
    check = M.Check("ideal", "x_rmse", 0.1, 0.2, "max")
    with pytest.raises(dataclasses.FrozenInstanceError):
        check.limit = 0.0


def test_smallest_defined_cases():
    # one input period is a period; two spikes have a mean ISI; three spikes an ISI ratio
    assert C.spikes_per_period(np.array([0.3e-3, 0.5e-3, 1.3e-3]), STIM, 1.25e-3) == [2]
    assert C.isi_adaptation_ratio(np.array([0.0, 1.0, 3.0])) == 2.0
    t = linear_trace().time
    two = Trace(t, {**linear_trace().signals, "x": np.zeros(t.size)}, np.array([1e-3, 1.5e-3]), "ode")
    assert M.circuit_metrics(load_params_short(), two, two, "ideal")["mean_isi_ode_s"] == pytest.approx(0.5e-3)


def load_params_short():
    from alif_spice import load_params
    return load_params(values={"simulation.t_stop": 3.2e-3, "stimulus.delay": 0.2e-3})


def test_a_reference_spike_exactly_at_the_window_after_is_matched():
    m = C.match_spikes(np.array([1.25]), np.array([1.0]), window=0.25)
    assert m.pairs.tolist() == [[1.25, 1.0]]


def test_isi_cv_against_its_closed_form():
    p = load_params_short()
    t = linear_trace().time

    def cv(spikes):
        return M.neuron_metrics(p, t, np.ones(t.size), np.ones(t.size), np.array(spikes))["isi_cv"]

    assert cv([1e-3, 1.5e-3, 2e-3, 2.5e-3]) == pytest.approx(0.0, abs=1e-12)  # a regular train
    # ISIs 0.2, 0.4 ms: mean 0.3, population std 0.1
    assert cv([1.6e-3, 1e-3, 1.2e-3]) == pytest.approx(1 / 3, rel=1e-12)  # order does not matter
    assert cv([1e-3, 2e-3]) is None and cv([]) is None


def test_the_registry_is_consistent():
    names = list(M.METRICS)
    assert len(names) == len(set(names))
    for m in M.METRICS.values():
        assert m.scope in ("neuron", "pair") and m.check in (None, "max", "min")
        assert m.label.strip() and m.unit == m.unit.strip()
        assert not (m.row and m.scope == "pair"), m.name  # rows describe one run
        assert not m.needs_supplies or m.scope == "pair"
    checks = M.checks()
    # every tolerance name belongs to exactly one metric
    assert set(checks) == ({m.name for m in M.METRICS.values() if m.check and m.scope == "pair"}
                           | {f"{m.name}_{m.check}" for m in M.METRICS.values() if m.check and m.scope == "neuron"})
    with pytest.raises(ValueError, match="defined twice"):
        M.metric("n_spikes", "", "again")(lambda r: 0)


@pytest.fixture
def extra_metric():
    """A metric registered for one test, the way a contributor adds one (one decorated function)."""
    @M.metric("first_spike_s", "s", "first spike time", row=True, check="max")
    def _first(r):
        return float(r.spikes[0]) if r.spikes.size else None

    yield "first_spike_s"
    del M.METRICS["first_spike_s"]


def test_a_registered_metric_reaches_compare_checks_and_sweep_rows(extra_metric, paper):
    from alif_spice.sweep import store as rowstore
    from alif_spice.sweep import Point

    p = load_params_short()
    base = linear_trace()
    ode = Trace(base.time, {**base.signals, "x": np.zeros(base.time.size)}, np.array([0.5e-3, 1e-3]), "ode")
    spice = Trace(base.time, dict(ode.signals), np.array([0.6e-3, 1e-3]), "spice")
    m = M.circuit_metrics(p, ode, spice, "ideal")
    assert m[extra_metric] == {"ode": 0.5e-3, "spice": 0.6e-3}
    check, = M.evaluate({"ideal": m}, {"ideal": {"first_spike_s_max": 0.55e-3}})
    assert check.value == 0.6e-3 and not check.passed
    row = rowstore.make_row(Point(0, 0, 0, {}), "ode",
                            metrics=M.neuron_metrics(p, ode.time, ode["v_c"], ode["i_in"], ode.spikes))
    assert row[extra_metric] == 0.5e-3 and rowstore.row_fits(dict(row), None, None)
    assert not rowstore.row_fits(dict(row, first_spike_s="soon"), None, None)


def test_a_tolerance_on_a_metric_of_one_circuit_is_refused_for_another():
    from alif_spice.cases import _build_case

    @M.metric("demo_hardware_only_j", "J", "a quantity of the circuits with supplies", scope="pair", check="max",
              needs_supplies=True)
    def _demo(pair):
        return 0.0

    try:
        head = {"name": "x", "circuits": ["ideal", "hardware"]}
        with pytest.raises(ParamError, match=r"tolerances\.ideal\.demo_hardware_only_j: measured only for hardware"):
            _build_case({"case": head, "tolerances": {"ideal": {"demo_hardware_only_j": 1.0}}}, "case x")
        case = _build_case({"case": head, "tolerances": {"hardware": {"demo_hardware_only_j": 1.0}}}, "case x")
        assert case.tolerances == {"hardware": {"demo_hardware_only_j": 1.0}}
    finally:
        del M.METRICS["demo_hardware_only_j"]


def test_no_spike_in_the_last_period_is_infinite_adaptation_and_passes_a_lower_bound():
    # t_stop 3.2 ms with 1 kHz periods from 0.2 ms: three periods; spikes only in the first.
    # The ratio is infinite (as strong as adaptation gets): it must pass adaptation_ratio_min,
    # and metrics.json, which has no infinity, writes it as null
    import json

    p = load_params_short()
    base = linear_trace()
    spikes = np.array([0.3e-3, 0.4e-3, 0.5e-3])
    ode = Trace(base.time, {**base.signals, "x": np.zeros(base.time.size)}, spikes, "ode")
    spice = Trace(base.time, dict(ode.signals), spikes + 1e-9, "spice")
    m = M.circuit_metrics(p, ode, spice, "ideal")
    assert m["spikes_per_period"]["spice"][-1] == 0 and m["adaptation_ratio"]["spice"] == math.inf
    check, = M.evaluate({"ideal": m}, {"ideal": {"adaptation_ratio_min": 2.0}})
    assert check.value == math.inf and check.passed
    # undefined (no spike in the first period either) fails and reads n/a
    none = Trace(base.time, dict(ode.signals), np.empty(0), "spice")
    check, = M.evaluate({"ideal": M.circuit_metrics(p, ode, none, "ideal")}, {"ideal": {"adaptation_ratio_min": 2.0}})
    assert check.value is None and not check.passed
    assert json.loads(json.dumps(C.json_ready(m)))["adaptation_ratio"]["spice"] is None


def test_stuck_output_is_a_registered_record_measured_where_the_trace_has_the_spike_output(paper):
    p = load_params_short()
    base = linear_trace()
    ode = Trace(base.time, {**base.signals, "x": np.zeros(base.time.size)}, np.array([0.5e-3]), "ode")
    # the ideal latch on from 1.0 to 1.5 ms: 500 µs, twice the ideal circuit's bound
    latch = ((base.time >= 1.0e-3) & (base.time < 1.5e-3)).astype(float)
    spice = Trace(base.time, {**ode.signals, "latch": latch}, np.array([1.0e-3]), "spice")
    stuck = M.circuit_metrics(p, ode, spice, "ideal")["stuck_output"]
    from alif_spice.stuck import stuck_bound

    assert stuck["longest_on_s"] == pytest.approx(0.5e-3, abs=1e-6)
    assert stuck["start_s"] == pytest.approx(1.0e-3, abs=1e-6)
    assert stuck["bound_s"] == stuck_bound(p, "ideal") < 0.5e-3 and stuck["stuck"] is True
    assert M.METRICS["stuck_output"].label and M.METRICS["stuck_output"].kind == "record"
    # a trace without the circuit's spike output (recorded elsewhere): not measured
    bare = Trace(base.time, {k: v for k, v in ode.signals.items() if k not in ("latch", "v_cmp")},
                 ode.spikes, "spice")
    assert M.circuit_metrics(p, ode, bare, "ideal")["stuck_output"] is None


def test_supply_metrics_follow_the_circuits_that_have_supplies(paper):
    # the metric says what it needs (supply sources), the circuit says what it has: a
    # circuit registered with supplies gets the supply energy without any metric changing
    import dataclasses

    from alif_spice import circuits

    p = load_params_short()
    base = linear_trace()
    tr = Trace(base.time, {**base.signals, "x": np.zeros(base.time.size)}, np.array([0.5e-3, 1.5e-3]), "t")
    assert "energy_supply_per_period_j" not in M.circuit_metrics(p, tr, tr, "ideal")
    powered = dataclasses.replace(circuits.get("ideal"), name="ideal-powered",
                                  supplies=lambda p: (("i_pos", 2.0),))
    circuits.register(powered)
    try:
        m = M.circuit_metrics(p, tr, tr, "ideal-powered")
        # 2 V delivering 0.01 A (the current flows into its + terminal: -0.01 A): 20 mW
        assert m["energy_supply_per_period_j"] == pytest.approx([0.02 * 1e-3] * 3, rel=1e-9)
    finally:
        del circuits.CIRCUITS["ideal-powered"]


def test_the_sweep_summary_shows_the_registrys_shown_metrics_with_their_reasons():
    from alif_spice.sweep import report as SR

    assert SR.SHOWN == tuple(m.name for m in M.METRICS.values() if m.shown and m.row)
    assert {"n_spikes", "rate_hz", "adaptation_ratio", "energy_per_spike_j"} <= set(SR.SHOWN)
    ok = {"status": "ok", "error": None}
    assert SR.undefined_reason({**ok, "n_spikes": 0, "spikes_per_period": [0, 0]}, "energy_per_spike_j") == "no spikes"
    assert SR.undefined_reason({**ok, "n_spikes": 2, "spikes_per_period": [2, 0]}, "isi_cv") == "fewer than 3 spikes"
    assert SR.undefined_reason({**ok, "n_spikes": 3, "spikes_per_period": [0, 3]},
                               "adaptation_ratio") == "no spike in the first period"
    assert SR.undefined_reason({**ok, "n_spikes": 3, "spikes_per_period": [3]},
                               "adaptation_ratio") == "fewer than two whole input periods"
    assert SR.undefined_reason({**ok, "n_spikes": 3, "spikes_per_period": [3, 0]},
                               "adaptation_ratio") == "infinite: no spike in the last period"
    assert SR.undefined_reason({**ok, "n_spikes": 5}, "rate_hz") == "undefined"
    assert SR.undefined_reason({"status": "failed", "error": "boom"}, "rate_hz") == "failed: boom"
