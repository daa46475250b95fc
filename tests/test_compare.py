"""Comparison metrics on constructed inputs, and `alif-spice compare` end to end."""

import json
import struct
from dataclasses import replace

import numpy as np
import pytest

from alif_spice import solve_ode
from alif_spice.compare import circuit_metrics, match_spikes
from conftest import run_cli

SPEC_KEYS = ["n_spikes", "spikes_per_period", "spike_time_max_abs_error_s", "spike_time_mean_abs_error_s",
             "x_rmse", "v_c_rmse", "adaptation_ratio", "energy_per_spike_j"]


@pytest.fixture(scope="module")
def short_ode(paper):
    return solve_ode(paper.with_values({"simulation.t_stop": 3e-3}))


def test_trace_against_itself_has_zero_error(paper, short_ode):
    p = short_ode.params
    m = circuit_metrics(p, short_ode, short_ode, "ideal")
    assert m["spike_time_max_abs_error_s"] == 0 and m["x_rmse"] == 0 and m["v_c_rmse"] == 0
    assert m["missing_spikes"] == m["extra_spikes"] == 0
    assert m["n_spikes"]["ode"] == m["n_spikes"]["spice"] == short_ode.spikes.size


def test_shifted_spike_train_gives_exactly_the_shift(short_ode):
    shifted = replace(short_ode, spikes=short_ode.spikes + 1.5e-6)
    m = circuit_metrics(short_ode.params, short_ode, shifted, "ideal")
    assert m["spike_time_max_abs_error_s"] == pytest.approx(1.5e-6, abs=1e-15)
    assert m["spike_time_mean_abs_error_s"] == pytest.approx(1.5e-6, abs=1e-15)
    assert m["matched_spikes"] == short_ode.spikes.size


def test_missing_spike_is_counted_not_matched_to_the_wrong_one(short_ode):
    spikes = np.delete(short_ode.spikes, 5)
    m = circuit_metrics(short_ode.params, short_ode, replace(short_ode, spikes=spikes), "ideal")
    assert m["missing_spikes"] == 1 and m["extra_spikes"] == 0
    assert m["matched_spikes"] == short_ode.spikes.size - 1
    assert m["spike_time_max_abs_error_s"] == 0.0  # nobody was shifted onto a neighbour


def test_match_spikes_extra_and_missing():
    ref = np.array([1.0, 2.0, 3.0, 4.0])
    test = np.array([1.01, 2.5, 3.0, 4.02, 9.0])
    m = match_spikes(ref, test, window=0.3)
    assert m.pairs.shape == (3, 2) and list(m.missing) == [2.0] and sorted(m.extra) == [2.5, 9.0]


@pytest.fixture(scope="module")
def paper_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp") / "paper"
    res = run_cli("compare", "--case", "paper", "-o", out)
    return out, res


def test_compare_paper_passes_its_tolerances_and_writes_spec_outputs(paper_report):
    out, res = paper_report
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"report: {out}/report.html" in res.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"ideal", "hardware"}
    for circuit in metrics:
        for key in SPEC_KEYS:
            assert key in metrics[circuit], (circuit, key)
        assert set(metrics[circuit]["n_spikes"]) == {"ode", "spice"}
        assert set(metrics[circuit]["adaptation_ratio"]) == {"ode", "spice"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"parameters", "versions", "netlist_sha256", "wall_time_s", "command"} <= set(manifest)
    assert {"alif-spice", "ngspice", "PySpice", "numpy"} <= set(manifest["versions"])
    for circuit in ("ideal", "hardware"):
        text = (out / "netlists" / f"{circuit}.cir").read_text()
        assert manifest["netlist_sha256"][circuit] in text
    import pandas as pd

    traces = pd.read_parquet(out / "traces.parquet")
    assert set(traces["source"]) == {"ode", "ideal", "hardware"}


def _png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_report_figures_are_real_and_html_is_self_contained(paper_report):
    out, _ = paper_report
    import matplotlib.image as mpimg

    pngs = sorted((out / "figures").glob("*.png"))
    assert len(pngs) >= 4
    for png in pngs:
        w, h = _png_size(png)
        assert w > 400 and h > 300
        img = mpimg.imread(png)
        assert img[..., :3].std() > 0.05  # not blank
        assert png.with_suffix(".svg").exists()
    html = (out / "report.html").read_text()
    srcs = [s for s in html.split("src=")[1:]]
    assert len(srcs) == len(pngs) and all(s[1:].startswith("data:image/png;base64,") for s in srcs)
    assert "http://" not in html and "https://" not in html and "<link" not in html
    import re

    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)  # base64 may spell anything
    assert "PASS" in text and "FAIL" not in text.replace("FAILED", "")


def test_tolerance_failure_exit_1_and_report_names_the_metric(tmp_path):
    case = tmp_path / "strict.toml"
    case.write_text('[case]\nname = "strict"\ncircuits = ["ideal"]\n'
                    '[params.simulation]\nt_stop = 1e-3\n'
                    '[tolerances.ideal]\nx_rmse = 0.0\nspike_count_abs_diff = 0\n')
    out = tmp_path / "out"
    res = run_cli("compare", "--case", case, "-o", out)
    assert res.returncode == 1, res.stderr
    assert "ideal.x_rmse" in res.stderr
    html = (out / "report.html").read_text()
    assert "FAILED: ideal.x_rmse" in html
    assert json.loads((out / "manifest.json").read_text())["failed_checks"] == ["ideal.x_rmse"]


@pytest.mark.parametrize("content,words", [
    ('[case]\ncircuits = ["ideal"]\n[tolerances.ideal]\nbogus = 1\n', "unknown tolerance"),
    ('[case]\ncircuits = ["nope"]\n', "case.circuits"),
    ('[case]\ncircuits = ["ideal"]\n[params.neuron]\nc = -1\n', "neuron.c: must be > 0"),
    ('[cases]\n', "unknown table"),
])
def test_bad_case_is_exit_2_without_output(tmp_path, content, words):
    case = tmp_path / "bad.toml"
    case.write_text(content)
    res = run_cli("compare", "--case", case, "-o", tmp_path / "out")
    assert res.returncode == 2 and words in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_unknown_case_name(tmp_path):
    res = run_cli("compare", "--case", "nosuch", "-o", tmp_path / "out")
    assert res.returncode == 2 and "unknown case 'nosuch'" in res.stderr


def test_adaptation_ratio_is_undefined_without_two_periods():
    import math

    from alif_spice.compare import adaptation_ratio

    assert math.isnan(adaptation_ratio([7])) and math.isnan(adaptation_ratio([]))
    assert math.isnan(adaptation_ratio([0, 3])) and adaptation_ratio([3, 0]) == math.inf
    assert adaptation_ratio([21, 8]) == pytest.approx(21 / 8)
