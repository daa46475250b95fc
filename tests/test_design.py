"""Inverse design against known answers: targets computed from a known neuron are met
again (that neuron or an equally good one), an impossible target is reported as such, and
the command keeps the output rules."""

import json

import numpy as np
import pytest

from alif_spice import ParamError
from alif_spice.batch import evaluate
from alif_spice.design import Free, Target, parse_free, parse_target, run_design
from alif_spice.metrics import neuron_metrics
from alif_spice.ode import solve_ode

from conftest import run_cli

KNOWN = {"neuron.c": 33e-9, "neuron.r_s": 4.7e3, "neuron.v_th": 0.45, "memristor.tau": 4e-4}
FREE = [Free("neuron.c", 5e-9, 100e-9), Free("neuron.r_s", 500.0, 20e3), Free("neuron.v_th", 0.2, 0.7),
        Free("memristor.tau", 50e-6, 2e-3)]
METRICS = ("first_period_spikes", "adaptation_ratio", "energy_per_spike_j")


def _targets_of(paper, values):
    ev = evaluate(paper, list(values), np.array([list(values.values())]), METRICS)
    return [Target(m, float(v)) for m, v in zip(METRICS, ev.values[0])]


def test_targets_of_a_known_neuron_are_met_again(paper):
    targets = _targets_of(paper, KNOWN)
    res = run_design(paper, targets, FREE, seed=0, spice=False)
    assert res.reached, res.summary()
    # the reported values are the design's own: solve it again, alone
    p = paper.with_values(res.best.values)
    tr = solve_ode(p)
    own = neuron_metrics(p, tr.time, tr["v_c"], tr["i_in"], tr.spikes, METRICS)
    for t in targets:
        assert own[t.metric] == pytest.approx(res.best.achieved[t.metric], rel=1e-12)
        assert abs(own[t.metric] - t.value) <= 0.02 * abs(t.value), (t, own)
    # within the ranges, and the convergence history only improves
    for f in FREE:
        assert f.lo <= res.best.values[f.key] <= f.hi
    costs = [c for _, c in res.history]
    assert costs == sorted(costs, reverse=True) and costs[-1] == res.best.cost
    assert res.best_params is not None and res.best_params.neuron.c == res.best.values["neuron.c"]


def test_one_free_parameter_is_found_where_it_is_unique(paper):
    # with only c free, the first period's spike count and the energy per spike pin it down
    targets = _targets_of(paper, {"neuron.c": 33e-9})
    targets = [Target(t.metric, t.value, tol=0.002) for t in targets if t.metric != "adaptation_ratio"]
    res = run_design(paper, targets, [Free("neuron.c", 5e-9, 100e-9)], seed=1, spice=False)
    assert res.reached
    assert res.best.values["neuron.c"] == pytest.approx(33e-9, rel=0.01)


def test_an_impossible_target_is_reported_with_the_closest_design(paper):
    res = run_design(paper, [Target("first_period_spikes", 1000)], [Free("neuron.c", 20e-9, 40e-9)],
                     popsize=5, generations=4, seed=0, spice=False)
    assert not res.reached
    assert "not reached" in res.summary() and "first_period_spikes" in res.summary()
    # the closest design fires the most: the smallest c in the range, about
    assert res.best.values["neuron.c"] < 22e-9
    assert res.best.achieved["first_period_spikes"] == max(
        c.achieved["first_period_spikes"] for c in [res.best, *res.runners_up])


def test_hardware_design_rule_makes_candidates_infeasible(paper):
    # 3 mA through a 1 kΩ discharge path to ground can never pull v_mem below the threshold,
    # whatever c: no hardware design, so with the rule every candidate is infeasible, and
    # without it they run
    base = paper.with_values({"stimulus.amplitude": 3e-3, "hardware.r_discharge": 1e3,
                              "hardware.v_discharge": 0.0})
    free = [Free("neuron.c", 20e-9, 40e-9)]
    # every generation runs although the costs are all equal (the optimiser would call that converged)
    with pytest.raises(ParamError, match="none of the 25 candidates tried in the ranges is a valid design, "
                                         "e.g. hardware: no Schmitt trigger"):
        run_design(base, [Target("first_period_spikes", 20)], free, popsize=4, generations=5, spice=False)
    res = run_design(base, [Target("first_period_spikes", 20)], free, popsize=4, generations=2, spice=False,
                     hardware_rule=False)
    assert not res.best.error


def test_generations_count_the_first_population_and_the_search_stops_once_met(paper):
    free = [Free("neuron.c", 20e-9, 24e-9)]
    res = run_design(paper, [Target("n_spikes", 1e6)], free, popsize=5, generations=3, spice=False)
    assert len(res.history) == 3 and res.evaluations == 3 * 5
    # every candidate of the first population fires; a loose target is met at once
    res = run_design(paper, [Target("n_spikes", 100, tol=0.9)], free, popsize=5, generations=30, spice=False)
    assert res.reached and len(res.history) == 1


@pytest.mark.parametrize("free,words", [
    ([Free("simulation.dt", 1e-8, 1e-7)], "shared by every neuron"),
    ([Free("iv.amplitude", 0.5, 1.5)], "I-V bench"),
    ([Free("neuron.c", 1e-9, 2e-9), Free("neuron.c", 3e-9, 4e-9)], "twice"),
    ([Free("memristor.model", 0, 1)], "not a numeric"),
])
def test_free_parameters_the_batch_cannot_vary_are_refused(paper, free, words):
    with pytest.raises(ParamError, match=words):
        run_design(paper, [Target("n_spikes", 10)], free, spice=False)


@pytest.mark.parametrize("text,expected", [
    ("adaptation_ratio=3", Target("adaptation_ratio", 3.0)),
    ("first_period_spikes=15,tol=5%", Target("first_period_spikes", 15.0, 0.05)),
    ("energy_per_spike_j=40n,weight=2,tol=0.01", Target("energy_per_spike_j", 40e-9, 0.01, 2.0))])
def test_targets_parse(text, expected):
    assert parse_target(text) == expected


@pytest.mark.parametrize("text", ["adaptation_ratio", "nope=3", "x_rmse=0.1", "adaptation_ratio=abc",
                                  "adaptation_ratio=3,tol=0", "adaptation_ratio=3,speed=2", "rate_hz=inf"])
def test_bad_targets_are_refused(text):
    with pytest.raises(ParamError, match="--target"):
        parse_target(text)
    with pytest.raises(ParamError, match="unknown option 'foo'"):
        parse_target("adaptation_ratio=3,foo=1")
    with pytest.raises(ParamError, match="tol is given twice"):
        parse_target("adaptation_ratio=3,tol=5%,tol=3%")
    with pytest.raises(ParamError, match="a target of 0 has no relative tolerance"):
        parse_target("energy_j=0")
    assert parse_target("energy_j=0,tol=1e-9") == Target("energy_j", 0.0, 1e-9)


@pytest.mark.parametrize("text", ["neuron.c", "neuron.c=5n", "neuron.c=100n:5n", "neuron.c=a:b"])
def test_bad_ranges_are_refused(text):
    with pytest.raises(ParamError, match="--free"):
        parse_free(text)


def test_log_scale_for_wide_positive_ranges():
    assert parse_free("neuron.c=5n:100n").log and not parse_free("neuron.v_th=0.2:0.5").log
    f = parse_free("neuron.c=1n:100n")
    np.testing.assert_allclose(f.value(np.array([0.0, 0.5, 1.0])), [1e-9, 1e-8, 1e-7], rtol=1e-12)


@pytest.mark.spice
def test_the_command_designs_verifies_and_keeps_the_output_rules(tmp_path):
    out = tmp_path / "d"
    args = ["design", "--target", "first_period_spikes=15", "--target", "adaptation_ratio=3",
            "--free", "neuron.c=5n:100n", "--free", "neuron.r_s=500:20k", "--free", "neuron.v_th=0.2:0.7"]
    res = run_cli(*args, "-o", out)
    assert res.returncode == 0, res.stderr
    data = json.loads((out / "design.json").read_text())
    assert data["reached"] and all(data["met"]["model"].values())
    assert set(data["verification"]) == {"ideal", "hardware"}
    # the ideal circuit implements the model: it meets the targets too
    assert data["met"]["ideal"] == {"first_period_spikes": True, "adaptation_ratio": True}
    assert (out / "report.html").is_file() and (out / "figures" / "convergence.png").is_file()
    # design.toml is ready for --params: the RK4 model run with it gives the targets
    trace = tmp_path / "t.csv"
    ode = run_cli("ode", "--params", out / "design.toml", "-o", trace)
    assert ode.returncode == 0, ode.stderr
    assert "spikes per input period: [15, " in ode.stdout and "adaptation ratio 3\n" in ode.stdout, ode.stdout
    again = run_cli(*args, "-o", out)
    assert again.returncode == 2 and "--force" in again.stderr
    for bad_args in (["--target", "nope=1", "--free", "neuron.c=5n:100n"],
                     ["--target", "n_spikes=1", "--free", "simulation.t_stop=5m:20m"],
                     ["--target", "n_spikes=1", "--free", "neuron.c=5n:6n", "--free", "neuron.c=5n:6n"],
                     ["--target", "n_spikes=1", "--free", "neuron.c=5n:6n", "--seed", "-1"],
                     ["--target", "n_spikes=1", "--free", "neuron.c=5n:6n", "--popsize", "1000",
                      "--generations", "10000"]):
        bad = run_cli("design", *bad_args, "-o", tmp_path / "bad")
        assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, (bad_args, bad.stderr)
        assert not (tmp_path / "bad").exists()
    far = run_cli("design", "--target", "first_period_spikes=1000", "--free", "neuron.c=20n:40n",
                  "--popsize", "4", "--generations", "2", "--no-spice", "-o", tmp_path / "far")
    assert far.returncode == 1, far.stderr
    assert "not reached" in far.stderr
    assert (tmp_path / "far" / "design.toml").read_text().startswith("# alif-spice design: TARGETS NOT MET")
