"""Comparison metrics on constructed inputs, and `alif-spice compare` end to end."""

import json
import struct
from dataclasses import replace

import numpy as np
import pytest

from alif_spice import solve_ode
from alif_spice.compare import match_spikes
from alif_spice.metrics import circuit_metrics
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


@pytest.mark.spice
def test_compare_paper_passes_its_tolerances_and_writes_spec_outputs(paper_report):
    out, res = paper_report
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"report: {out}/report.html" in res.stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"ideal", "hardware"}
    control = json.loads((out / "control.json").read_text())  # the paper case runs the control
    assert set(control) == {"model", "ideal", "hardware", "verdict", "x0"}
    assert control["verdict"] in res.stdout and control["verdict"].split(".")[0] in (out / "report.html").read_text()
    for circuit in metrics:
        for key in SPEC_KEYS:
            assert key in metrics[circuit], (circuit, key)
        assert set(metrics[circuit]["n_spikes"]) == {"ode", "spice"}
        assert set(metrics[circuit]["adaptation_ratio"]) == {"ode", "spice"}
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"parameters", "versions", "netlist_sha256", "wall_time_s", "command"} <= set(manifest)
    assert {"alif-spice", "ngspice", "PySpice", "numpy"} <= set(manifest["versions"])
    # the command to type again, without the environment's path; shown in the report too
    assert manifest["command"] == f"alif-spice compare --case paper -o {out}"
    assert manifest["created"].endswith("Z")
    html = (out / "report.html").read_text()
    assert f"<code>alif-spice compare --case paper -o {out}</code>" in html and manifest["created"] in html
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


@pytest.mark.spice
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
    page = _page(out / "report.html")
    srcs = [img.get("src") for img in page.iter("img")]
    assert len(srcs) == len(pngs) and all(s.startswith("data:image/png;base64,") for s in srcs)
    # nothing is fetched: no external script, style sheet or frame; every link a relative path
    assert all(script.get("src") is None for script in page.iter("script")) and script_count(page) >= 2
    assert not list(page.iter("link")) and not list(page.iter("iframe"))
    assert all(":" not in a.get("href") for a in page.iter("a"))
    text = _words(page)
    assert "PASS" in text and "FAIL" not in text.replace("FAILED", "")


def _page(path):
    """report.html parsed (html5lib), as an ElementTree without namespaces."""
    import html5lib

    return html5lib.parse(path.read_text(), namespaceHTMLElements=False)


def script_count(page) -> int:
    return len(list(page.iter("script")))


def _words(page) -> str:
    """The page's text, without its scripts."""
    def walk(el):
        if el.tag == "script":
            return el.tail or ""
        return (el.text or "") + "".join(walk(c) for c in el) + (el.tail or "")
    return walk(page)


def _strict_html(text):
    import html5lib

    html5lib.HTMLParser(strict=True).parse(text)  # raises on the first parse error


@pytest.mark.spice
def test_report_tables_agree_with_the_metrics_and_every_link_resolves(paper_report):
    import csv
    import re

    out, _ = paper_report
    html = (out / "report.html").read_text()
    _strict_html(html)
    metrics = json.loads((out / "metrics.json").read_text())
    # the per-period table: one row per period, the spikes of model and circuits as counted
    # by the metrics
    table = html[html.index("<h2>Per input period</h2>"):html.index("<h2>Spikes: model")]
    rows = re.findall(r"<tr><td class=\"num\">(\d+)</td><td class=\"num\">[^<]*</td>"
                      r"<td class=\"num\">(\d+)</td><td class=\"num\">(\d+)</td><td class=\"num\">(\d+)</td>",
                      table)
    per = metrics["ideal"]["spikes_per_period"]
    assert [tuple(map(int, r)) for r in rows] == [
        (k + 1, per["ode"][k], per["spice"][k], metrics["hardware"]["spikes_per_period"]["spice"][k])
        for k in range(len(per["ode"]))]
    assert len(rows) == 10
    # spike_matches.csv holds exactly the metrics' missing and extra spikes
    with open(out / "spike_matches.csv") as fh:
        matches = list(csv.DictReader(fh))
    for circuit in ("ideal", "hardware"):
        kinds = [r["kind"] for r in matches if r["circuit"] == circuit]
        assert kinds.count("missing") == metrics[circuit]["missing_spikes"]
        assert kinds.count("extra") == metrics[circuit]["extra_spikes"]
        assert kinds.count("matched") == metrics[circuit]["n_spikes"]["ode"] - metrics[circuit]["missing_spikes"]
        assert (f"{metrics[circuit]['missing_spikes']} missing, {metrics[circuit]['extra_spikes']} extra"
                in html)
    # parameters: units and meanings, only what this comparison uses
    assert "<code>neuron.c</code></td><td class=\"num\">22 nF</td>" in html
    assert "iv.amplitude" not in html and "memristor.alpha_f" not in html
    assert "hardware.opamp_gbw" in html  # the hardware circuit runs
    assert re.search(r"<code>hardware\.v_pos</code></td><td class=\"num\">[0-9.]+ V \(designed\)", html)
    # every link is a file of the folder, and every file is linked
    links = {a.get("href") for a in _page(out / "report.html").iter("a")}
    assert all((out / link).is_file() for link in links), links
    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} - {"report.html"}
    assert files <= links, files - links
    assert "cf. Bednarz &amp; Garda, Figs. 5 and 6" in html


def test_a_zoom_outside_the_run_is_refused_before_any_work(tmp_path):
    for bad in ("2m:1m", "1m", "x:2m", "0:20m", "-1m:1m"):
        res = run_cli("compare", "--set", "simulation.t_stop=10m", "--zoom", bad, "-o", tmp_path / "r")
        assert res.returncode == 2 and "--zoom" in res.stderr, (bad, res.stderr)
        assert not (tmp_path / "r").exists()


@pytest.mark.spice
def test_the_zoom_option_sets_the_zoom_figure(tmp_path):
    out = tmp_path / "z"
    res = run_cli("compare", "--case", "step", "--set", "simulation.t_stop=2m", "--zoom", "0.5m:1m", "-o", out)
    assert res.returncode == 0, res.stderr
    html = (out / "report.html").read_text()
    _strict_html(html)
    assert "Zoom on 500 µs to 1 ms" in html
    assert "cf. " not in html  # the step case reproduces no paper figure
    assert "shorter than one input period" in html  # a step: no per-period table


@pytest.mark.spice
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


def test_spikes_0_6_isi_apart_are_missing_and_extra_not_matched():
    # the window is half the shortest model ISI: a circuit spike 0.6 ISI from its nearest
    # free model spike is an extra spike, and that model spike is missing
    ref = np.array([0.0, 1.0, 2.0, 3.0]) * 1e-5
    test = np.array([0.0, 1.0, 2.6, 3.0]) * 1e-5
    from alif_spice.compare import match_window

    m = match_spikes(ref, test, match_window(ref))
    assert match_window(ref) == pytest.approx(0.5e-5)
    assert m.missing == pytest.approx([2e-5]) and m.extra == pytest.approx([2.6e-5])
    assert m.pairs.shape == (3, 2)
    # just inside the window: matched
    m = match_spikes(ref, np.array([0.0, 1.0, 2.45, 3.0]) * 1e-5, match_window(ref))
    assert m.missing.size == 0 and m.extra.size == 0


@pytest.mark.parametrize("grid", ["uniform", "uneven"])
def test_source_energy_against_closed_forms(grid):
    from alif_spice.compare import source_energy
    from alif_spice.trace import Trace

    rng = np.random.default_rng(3)
    t = np.linspace(0, 1e-3, 2001) if grid == "uniform" else np.sort(np.r_[0, 1e-3, rng.uniform(0, 1e-3, 3000)])
    i_in, c, r = 1e-3, 47e-9, 10e3
    # a constant current into a bare capacitor: v = I t / C, E = I^2 T^2 / (2 C)
    ramp = Trace(t, {"v_c": i_in * t / c, "i_in": np.full_like(t, i_in)}, np.empty(0), "test")
    assert source_energy(ramp)[-1] == pytest.approx(i_in**2 * t[-1] ** 2 / (2 * c), rel=1e-12)
    # into R || C from 0 V: v = I R (1 - exp(-t/RC)), E = I^2 R (T - RC (1 - exp(-T/RC)))
    tau = r * c
    v = i_in * r * (1 - np.exp(-t / tau))
    rc = Trace(t, {"v_c": v, "i_in": np.full_like(t, i_in)}, np.empty(0), "test")
    exact = i_in**2 * r * (t[-1] - tau * (1 - np.exp(-t[-1] / tau)))
    assert source_energy(rc)[-1] == pytest.approx(exact, rel=1e-5)
