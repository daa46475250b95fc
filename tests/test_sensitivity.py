"""Sensitivity against known answers: an additive function's and the Ishigami function's
Sobol' indices, a parameter that does not enter the neuron, and the command's rules."""

import json
import math

import numpy as np
import pytest

from alif_spice import ParamError
from alif_spice.sensitivity import Spread, parse_spread, run_sensitivity, sobol_indices, sobol_sample

from conftest import run_cli


def test_additive_function_has_its_closed_form_indices():
    # Y = sum a_i X_i, X_i ~ U(lo_i, hi_i): V_i = a_i^2 (hi_i - lo_i)^2 / 12, S1_i = ST_i = V_i / sum V
    a = np.array([1.0, 2.0, 3.0, 0.0])
    bounds = np.array([[0.0, 1.0], [-1.0, 1.0], [2.0, 2.5], [0.0, 1.0]])
    v = a ** 2 * np.ptp(bounds, axis=1) ** 2 / 12
    exact = v / v.sum()
    X = sobol_sample(bounds, 4096, seed=3)
    assert X.shape == (4096 * 6, 4)
    idx = sobol_indices(bounds, X @ a, seed=3)
    for key in ("S1", "ST"):
        err = np.abs(idx[key] - exact)
        assert np.all(err <= np.maximum(2 * idx[f"{key}_conf"], 0.01)), (key, idx[key], exact)
    assert idx["ST"][3] == pytest.approx(0.0, abs=1e-12)  # a variable that does not enter


def test_ishigami_function_has_its_published_indices():
    # sin x1 + 7 sin^2 x2 + 0.1 x3^4 sin x1 on [-pi, pi]^3 (Ishigami & Homma 1990; the indices
    # in closed form: Saltelli et al., Global Sensitivity Analysis: The Primer, 2008)
    a, b = 7.0, 0.1
    v1 = 0.5 * (1 + b * math.pi ** 4 / 5) ** 2
    v2 = a ** 2 / 8
    v13 = b ** 2 * math.pi ** 8 * (1 / 18 - 1 / 50)
    var = v1 + v2 + v13
    s1 = np.array([v1, v2, 0.0]) / var
    st = np.array([v1 + v13, v2, v13]) / var
    bounds = np.array([[-math.pi, math.pi]] * 3)
    X = sobol_sample(bounds, 8192, seed=1)
    Y = np.sin(X[:, 0]) + a * np.sin(X[:, 1]) ** 2 + b * X[:, 2] ** 4 * np.sin(X[:, 0])
    idx = sobol_indices(bounds, Y, seed=1)
    np.testing.assert_allclose(idx["S1"], s1, atol=0.03)
    np.testing.assert_allclose(idx["ST"], st, atol=0.03)


def test_a_parameter_that_does_not_enter_the_neuron_gets_zero(paper):
    # memristor.k_on is VTEAM's rate: the plain MMS neuron does not read it
    spreads = [Spread("memristor.tau", 0.2), Spread("neuron.c", 0.1), Spread("memristor.k_on", 0.5)]
    res = run_sensitivity(paper, spreads, ["first_period_spikes", "energy_per_spike_j"], n=64, seed=2)
    for m in res.metrics:
        idx = res.indices[m]
        assert abs(idx["ST"][2]) <= max(idx["ST_conf"][2], 1e-12), (m, idx)
        assert idx["ST"][1] > 0.1 and idx["ST"][1] - idx["ST_conf"][1] > 0, (m, idx)  # c matters
        assert res.oat[m][2, 0] == res.oat[m][2, 1] == res.nominal[m]
    assert "memristor.k_on" in res.verdict("first_period_spikes").split("matter")[0].split(";")[-1]
    assert res.evaluation.ok.all()


def test_seeded_runs_are_identical_confidence_intervals_included(paper):
    spreads = [Spread("neuron.c", 0.1), Spread("memristor.tau", 0.2)]
    a = run_sensitivity(paper, spreads, ["first_period_spikes"], n=16, seed=0)
    b = run_sensitivity(paper, spreads, ["first_period_spikes"], n=16, seed=0)
    for k in ("S1", "S1_conf", "ST", "ST_conf"):
        np.testing.assert_array_equal(a.indices["first_period_spikes"][k], b.indices["first_period_spikes"][k])
    # a handful of samples gives wide intervals: the verdict says so
    assert "Uncertain" in a.verdict("first_period_spikes")


def test_sample_values_are_the_neurons_own(paper):
    # a sample's metric is the one a single solve of that parameter set gives
    from alif_spice.metrics import Run
    from alif_spice.ode import solve_ode

    spreads = [Spread("neuron.c", 0.3), Spread("neuron.v_th", 0.1)]
    res = run_sensitivity(paper, spreads, ["first_period_spikes", "energy_j"], n=8, seed=5)
    for i in (0, 7, 29):
        p = paper.with_values(dict(zip(res.keys, res.X[i].tolist())))
        run = Run.of(p, solve_ode(p))
        assert res.evaluation.values[i, 0] == run.per_period[0]
        assert res.evaluation.values[i, 1] == pytest.approx(float(run.energy_curve[-1]), rel=1e-12)


@pytest.mark.parametrize("text,rel", [("memristor.tau=20%", 0.2), ("neuron.c=0.05", 0.05), ("neuron.c=2.5 %", 0.025)])
def test_spreads_parse(text, rel):
    assert parse_spread(text).rel == pytest.approx(rel)


@pytest.mark.parametrize("text", ["neuron.c", "neuron.c=", "neuron.c=abc", "neuron.c=0%", "neuron.c=100%",
                                  "neuron.c=-5%"])
def test_bad_spreads_are_refused(text):
    with pytest.raises(ParamError, match="--vary"):
        parse_spread(text)


def test_the_command_writes_its_outputs_and_refuses_bad_input(tmp_path):
    out = tmp_path / "s"
    res = run_cli("sensitivity", "--vary", "memristor.tau=20%", "--vary", "neuron.c=10%", "--samples", "16",
                  "--metric", "first_period_spikes,n_spikes", "-o", out)
    assert res.returncode == 0, res.stderr
    data = json.loads((out / "sensitivity.json").read_text())
    assert data["n_sobol_neurons"] == 16 * 4 and data["n_neurons"] == 16 * 4 + 1 + 2 * 2
    assert data["metrics"] == ["first_period_spikes", "n_spikes"]
    assert set(data["indices"]) == {"first_period_spikes", "n_spikes"}
    for name in ("report.html", "indices.csv", "samples.parquet", "manifest.json", "parameters.toml",
                 "figures/sobol_n_spikes.png", "figures/tornado_first_period_spikes.png"):
        assert (out / name).is_file(), name
    assert "first_period_spikes seems driven by" in res.stdout and "Uncertain" in res.stdout  # N = 16
    again = run_cli("sensitivity", "--vary", "memristor.tau=20%", "--vary", "neuron.c=10%", "-o", out)
    assert again.returncode == 2 and "--force" in again.stderr
    for args, words in [(["--vary", "neuron.c=10%"], "at least two"),
                        (["--vary", "neuron.c=10%", "--vary", "neuron.c=5%"], "twice"),
                        (["--vary", "neuron.c=10%", "--vary", "neuron.nope=5%"], "unknown key"),
                        (["--vary", "neuron.c=10%", "--vary", "hardware.v_pos=5%"], "auto"),
                        (["--vary", "neuron.c=10%", "--vary", "memristor.model=5%"], "not a numeric"),
                        (["--vary", "neuron.c=10%", "--vary", "neuron.r_s=5%", "--metric", "x_rmse"],
                         "unknown metric"),
                        (["--vary", "neuron.c=10%", "--vary", "neuron.r_s=5%", "--metric", ""], "empty metric"),
                        (["--vary", "neuron.c=10%", "--vary", "neuron.r_s=5%", "--metric", "n_spikes,n_spikes"],
                         "twice"),
                        (["--vary", "neuron.c=10%", "--vary", "simulation.dt=5%"], "shared by every neuron"),
                        (["--vary", "neuron.c=10%", "--vary", "neuron.r_s=5%", "--samples", "4"], "from 8 to"),
                        (["--vary", "neuron.c=10%", "--vary", "neuron.r_s=5%", "--samples", "100000000"],
                         "at most"),
                        (["--vary", "neuron.c=10%", "--vary", "neuron.r_s=5%", "--seed", "-1"], "from 0 to 2^32 - 1"),
                        # r_on 1351 ± 90 % (to 2567 Ω) reaches past r_off 7510 ± 90 % (to 751 Ω): refused at once
                        (["--vary", "memristor.r_on=90%", "--vary", "memristor.r_off=90%"],
                         "the ranges reach invalid parameter sets")]:
        bad = run_cli("sensitivity", *args, "-o", tmp_path / "bad")
        assert bad.returncode == 2, (args, bad.stderr)
        assert words in bad.stderr and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
        assert not (tmp_path / "bad").exists()


def test_recorded_batches_are_sized_to_the_memory(paper):
    from alif_spice.budget import USABLE, available_memory, batch_chunk, ode_points

    # no trace recorded: the chunk as asked
    long = paper.with_values({"simulation.t_stop": 50.0})
    assert batch_chunk(long, 2, record=False, chunk=32) == 32
    # 5e8 points per neuron (8 GB of v_c and x each): refused when even one per worker does not fit
    points = ode_points(long)
    if points * 56 * 2 > USABLE * available_memory():
        with pytest.raises(ParamError, match="recorded traces"):
            batch_chunk(long, 2, record=True, chunk=32)
    # a chunk that would not fit shrinks to what does
    mid = paper.with_values({"simulation.t_stop": 0.5})
    n = batch_chunk(mid, 2, record=True, chunk=10**6)
    assert 1 <= n < 10**6 and 2 * n * ode_points(mid) * 16 <= USABLE * available_memory()


def test_the_command_refuses_a_batch_whose_traces_do_not_fit(tmp_path):
    res = run_cli("sensitivity", "--vary", "neuron.c=10%", "--vary", "neuron.r_s=10%", "--samples", "8",
                  "--set", "simulation.t_stop=2000", "--metric", "energy_per_spike_j", "-o", tmp_path / "s")
    assert res.returncode == 2 and "recorded traces" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "s").exists()
