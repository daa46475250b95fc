"""Sweeps: specification, Monte Carlo statistics, local pool vs a real Dask LocalCluster,
failed points, kill + resume with real signals, summary outputs."""

import json
import math
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alif_spice.errors import ParamError
from alif_spice.sweep import (build_spec, dask_executor, describe, local_executor, parse_grid, parse_vary, points,
                              read_rows, run_ode_task, run_sweep)
from conftest import alive, cli_argv, ngspice_children, run_cli

SHORT = {"simulation.t_stop": 1e-3}


@pytest.fixture(scope="module")
def short(paper):
    return paper.with_values(SHORT)


def test_grid_syntax():
    a = parse_grid("stimulus.amplitude=0.2m:2m:10")
    assert len(a.values) == 10 and a.values[0] == pytest.approx(2e-4) and a.values[-1] == pytest.approx(2e-3)
    assert np.allclose(np.diff(a.values), 2e-4)
    b = parse_grid("stimulus.frequency=100:10k:3:log")
    assert b.scale == "log" and np.allclose(b.values, [100, 1000, 10000])
    assert parse_grid("neuron.c=22n,47n,1u").values == pytest.approx((22e-9, 47e-9, 1e-6))
    for bad in ["stimulus.amplitude", "x=1:2", "x=1:2:0", "x=0:1:3:log", "x=1:2:3:cubic", "x=1:2:n", "x=1,;2"]:
        with pytest.raises(ParamError):
            parse_grid(bad)
    assert parse_vary("memristor.r_on=lognormal:0.1").spread == 0.1
    for bad in ["memristor.r_on=gauss:0.1", "memristor.r_on=normal:-1", "memristor.r_on=normal:x", "r_on"]:
        with pytest.raises(ParamError):
            parse_vary(bad)


def test_a_sweep_over_device_models(short, tmp_path):
    # a word axis is a category: labelled so in the summary, no figure drawn against it,
    # and each point runs its own model (the gMMS rows differ from the MMS rows)
    axis = parse_grid("memristor.model=mms,gmms")
    assert axis.scale == "category" and axis.values == ("mms", "gmms")
    base = short.with_values({"memristor.phi": 1.0})
    spec = build_spec(base, grid=["memristor.model=mms,gmms"])
    res = run_sweep(tmp_path / "s", spec, base, progress=False)
    assert [r["memristor.model"] for r in res.rows] == ["mms", "gmms"] and res.failed == 0
    # phi = 1: the generalized model is the plain one, to rounding
    assert res.rows[0]["n_spikes"] == res.rows[1]["n_spikes"] > 0
    md = (tmp_path / "s" / "summary.md").read_text()
    assert "grid `memristor.model` (category, 2 values): mms, gmms" in md
    assert "1 engine (ode)" in md and "No figures" in md
    import html5lib

    html5lib.HTMLParser(strict=True).parse((tmp_path / "s" / "summary.html").read_text())
    # with a numeric axis beside it: figures against the numeric axis, one line per model
    spec = build_spec(base, grid=["memristor.model=mms,gmms", "stimulus.amplitude=1m,2m"])
    res = run_sweep(tmp_path / "s2", spec, base, progress=False)
    assert res.failed == 0 and (tmp_path / "s2" / "figures" / "rate_vs_stimulus.amplitude.png").is_file()


def test_summary_shows_every_point_and_why_a_value_is_undefined(short, tmp_path):
    # 0.1 mA never fires, 2 mA does: the quiet point's adaptation ratio and energy per spike
    # are undefined, and the summary says why, point by point; no statistic across the grid
    base = short.with_values({"simulation.t_stop": 2e-3})
    spec = build_spec(base, grid=["stimulus.amplitude=0.1m,2m"])
    run_sweep(tmp_path / "s", spec, base, progress=False)
    md = (tmp_path / "s" / "summary.md").read_text()
    assert "median" not in md.lower()
    quiet, loud = [line for line in md.splitlines() if line.startswith(("| 0 |", "| 1 |"))]
    assert "n/a (no spike in the first period)" in quiet and "n/a (no spikes)" in quiet
    assert "n/a" not in loud and "kHz" in loud
    assert "stimulus.amplitude (A)" in md  # swept values with their unit
    # values at full precision: the preset's temperature, and a fine grid's distinct points
    assert "| `memristor.temperature` | 301.7175 |" in md
    spec = build_spec(base, grid=["stimulus.amplitude=1m:1.001m:3", "neuron.c=1e-15,22n"])
    run_sweep(tmp_path / "fine", spec, base, progress=False)
    md = (tmp_path / "fine" / "summary.md").read_text()
    for value in ("0.001 |", "0.0010005 |", "0.001001 |"):
        assert value in md
    # the failed rows (c = 1 fF breaks the RK4 step rule) are counted and listed on one line each
    assert "3 failed, 0 stuck" in md and "## Rows that failed or got stuck (3)" in md
    assert md.count("(ode, failed): simulation.dt: must be <=") == 3


def test_spec_is_checked_against_the_parameters(paper):
    with pytest.raises(ParamError, match="unknown parameter"):
        build_spec(paper, grid=["stimulus.amplitud=1m,2m"])
    with pytest.raises(ParamError, match="--mc"):
        build_spec(paper, vary=["memristor.r_on=normal:0.1"])
    with pytest.raises(ParamError, match="--engines"):
        build_spec(paper, engines="ode,spectre")
    spec = build_spec(paper, grid=["stimulus.amplitude=1m,2m", "neuron.c=22n:47n:3"], mc=4,
                      vary=["memristor.r_on=lognormal:0.1"], engines="ode,ideal")
    assert spec.n_points == 2 * 3 * 4 == len(points(spec, paper))


@pytest.mark.parametrize("dist", ["lognormal", "normal", "uniform"])
def test_monte_carlo_draws_follow_their_distribution(paper, dist):
    spread = 0.1
    spec = build_spec(paper, vary=[f"memristor.r_on={dist}:{spread}"], mc=4000, seed=7)
    nominal = paper.memristor.r_on
    v = np.array([p.values["memristor.r_on"] for p in points(spec, paper)])
    if dist == "lognormal":
        z = np.log(v / nominal)
        assert abs(z.mean()) < 4 * spread / math.sqrt(v.size) and z.std() == pytest.approx(spread, rel=0.05)
    elif dist == "normal":
        z = v / nominal - 1
        assert abs(z.mean()) < 4 * spread / math.sqrt(v.size) and z.std() == pytest.approx(spread, rel=0.05)
    else:
        z = v / nominal - 1
        assert z.min() >= -spread and z.max() <= spread
        assert z.std() == pytest.approx(spread / math.sqrt(3), rel=0.05)


def test_monte_carlo_is_reproducible_and_seeded(paper):
    args = dict(grid=["stimulus.amplitude=1m,2m"], vary=["memristor.r_on=lognormal:0.1",
                                                         "memristor.tau=normal:0.05"], mc=5)
    a = points(build_spec(paper, seed=3, **args), paper)
    b = points(build_spec(paper, seed=3, **args), paper)
    c = points(build_spec(paper, seed=4, **args), paper)
    assert [p.values for p in a] == [p.values for p in b]
    assert [p.values for p in a] != [p.values for p in c]
    # sample k draws the same device at every grid point (common random numbers)
    assert a[0].values["memristor.r_on"] == a[5].values["memristor.r_on"]


def test_ode_rows_do_not_depend_on_the_chunking(short):
    spec = build_spec(short, grid=["stimulus.amplitude=0.5m:2m:5"])
    pts = points(spec, short)
    together = run_ode_task(short, pts)
    alone = [run_ode_task(short, [p])[0] for p in pts]
    strip = lambda rows: [{k: v for k, v in r.items() if k != "wall_s"} for r in rows]  # noqa: E731
    assert strip(together) == strip(alone)
    assert [r["n_spikes"] for r in together] == sorted(r["n_spikes"] for r in together)  # f-I rises


def _frame(path):
    return pd.read_parquet(Path(path) / "results.parquet").drop(columns=["wall_s"])


@pytest.mark.spice
@pytest.mark.dask
def test_local_threads_and_dask_local_cluster_give_identical_results(short, tmp_path):
    spec = build_spec(short, grid=["stimulus.amplitude=0.8m,2m", "stimulus.frequency=1k,2k"],
                      engines="ode,ideal,hardware")
    with local_executor(2) as local:
        assert describe(local) == ("local", 2)
        a = run_sweep(tmp_path / "local", spec, short, executor=local, progress=False)
    with dask_executor(local_workers=2) as dask:
        assert describe(dask) == ("dask", 2)
        b = run_sweep(tmp_path / "dask", spec, short, executor=dask, progress=False)
    manifest = json.loads((tmp_path / "dask" / "manifest.json").read_text())
    assert (manifest["executor"], manifest["workers"]) == ("dask", 2)
    # the summary shows every point and each circuit's difference from the model there
    import html5lib

    html = (tmp_path / "local" / "summary.html").read_text()
    html5lib.HTMLParser(strict=True).parse(html)
    assert "median" not in html.lower() and "Δ ideal" in html and "Δ hardware" in html
    import re

    rows = re.findall(r"<tr><td class=\"num\">(\d+)</td>", html)
    assert rows == ["0", "1", "2", "3"]
    assert (tmp_path / "local" / "figures" / "difference_vs_stimulus.amplitude.png").is_file()
    assert len(a.rows) == len(b.rows) == 12 and a.failed == b.failed == 0
    pd.testing.assert_frame_equal(_frame(tmp_path / "local"), _frame(tmp_path / "dask"))
    # the ideal circuit reproduces the model's spike counts at every point
    df = _frame(tmp_path / "local")
    assert list(df[df.engine == "ode"].n_spikes) == list(df[df.engine == "ideal"].n_spikes)
    hw = df[df.engine == "hardware"]
    assert (hw.n_spikes > 0).all() and hw.energy_per_spike_j.notna().all()


@pytest.mark.spice
def test_failing_points_are_recorded_and_the_rest_finish(tmp_path):
    # simulation.reltol = 1e-15 (below double precision): ngspice cannot converge; a 90 % normal
    # spread draws some r_on <= 0 (or >= r_off): invalid parameters. Both are failed rows;
    # every other row is done.
    res = run_cli("sweep", "--set", "simulation.t_stop=0.2m", "--grid", "simulation.reltol=1e-6,1e-15",
                  "--engines", "ode,ideal", "--mc", "6", "--vary", "memristor.r_on=normal:0.9", "--seed", "1",
                  "-o", tmp_path / "s")
    assert res.returncode == 0, res.stderr
    df = pd.read_parquet(tmp_path / "s" / "results.parquet")
    assert len(df) == 2 * 6 * 2 and not df.duplicated(["point", "engine"]).any()
    bad_r = (df["memristor.r_on"] <= 0) | (df["memristor.r_on"] >= 7510)
    assert bad_r.any() and (df[bad_r].status == "failed").all()
    assert df[bad_r].error.str.contains("memristor.r_on").all()
    tiny = (df["simulation.reltol"] == 1e-15) & ~bad_r & (df.engine == "ideal")
    assert tiny.any() and (df[tiny].status == "failed").all()
    assert df[tiny].error.str.contains("Timestep too small").all()
    good = ((df["simulation.reltol"] == 1e-6) | (df.engine == "ode")) & ~bad_r
    assert (df[good].status == "ok").all() and (df[good].n_spikes > 0).all()
    assert "failed" in res.stdout and "failed: point" in res.stderr




@pytest.mark.spice
@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_sweep_resumes_to_exactly_the_full_set_of_rows(tmp_path, sig):
    out = tmp_path / "s"
    args = ["sweep", "--set", "simulation.t_stop=1m", "--grid", "stimulus.amplitude=0.5m:2m:16",
            "--engines", "ideal,ode", "--workers", "2", "-o", str(out)]
    proc = subprocess.Popen(cli_argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rows = out / "rows.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if rows.exists() and rows.read_bytes().count(b"\n") >= 4:
            break
        time.sleep(0.02)
    children = ngspice_children(proc.pid)
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == (-9 if sig == signal.SIGKILL else 130), err
    done = rows.read_bytes().count(b"\n")
    assert 4 <= done < 32, "the sweep was not interrupted midway"
    assert not (out / "results.parquet").exists()  # nothing that looks finished
    deadline = time.monotonic() + 20  # its ngspice processes go with it
    while any(alive(c) for c in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(c) for c in children)
    before = read_rows(out)
    res = run_cli("sweep", "--resume", out)
    assert res.returncode == 0, res.stderr
    df = pd.read_parquet(out / "results.parquet")
    assert len(df) == 32 and not df.duplicated(["point", "engine"]).any()
    assert set(zip(df.point, df.engine)) == {(i, e) for i in range(16) for e in ("ideal", "ode")}
    assert (df.status == "ok").all()
    assert f"{32 - len(before)} run now" in res.stdout
    # the rows run before the kill were kept as they were, not run again
    kept = df.set_index(["point", "engine"])
    for r in before:
        assert kept.loc[(r["point"], r["engine"]), "wall_s"] == pytest.approx(r["wall_s"])
    # resuming a finished sweep runs nothing and changes nothing
    res = run_cli("sweep", "--resume", out)
    assert res.returncode == 0 and "0 run now" in res.stdout
    pd.testing.assert_frame_equal(pd.read_parquet(out / "results.parquet"), df)


def test_a_line_cut_by_a_kill_is_dropped_and_rerun(short, tmp_path):
    spec = build_spec(short, grid=["stimulus.amplitude=1m,2m,3m"])
    run_sweep(tmp_path, spec, short, progress=False, report=False)
    path = tmp_path / "rows.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:2]) + lines[2][:17])  # killed in the middle of a write
    assert len(read_rows(tmp_path)) == 2 and path.read_bytes().endswith(b"\n")
    res = run_sweep(tmp_path, resume=True, progress=False)
    assert res.new_rows == 1 and [r["point"] for r in res.rows] == [0, 1, 2]


def test_monte_carlo_sweep_writes_its_summary(tmp_path, short):
    res = run_cli("sweep", "--set", "simulation.t_stop=1m", "--grid", "stimulus.frequency=1k,2k,4k",
                  "--mc", "12", "--vary", "memristor.r_on=lognormal:0.1", "--vary", "neuron.c=uniform:0.05",
                  "--seed", "5", "-o", tmp_path / "mc")
    assert res.returncode == 0, res.stderr
    out = tmp_path / "mc"
    figures = sorted(p.name for p in (out / "figures").iterdir())
    assert figures == ["adaptation_vs_stimulus.frequency.png", "mc_histograms.png",
                       "rate_vs_stimulus.frequency.png"]
    for name in figures:
        assert (out / "figures" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (out / "summary.html").read_text()
    assert html.count("data:image/png;base64,") == 3 and "http" not in html
    assert "36 rows" in (out / "summary.md").read_text()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rows"] == 36 and manifest["spec"]["seed"] == 5
    assert {"alif-spice", "PySpice", "numpy"} <= set(manifest["versions"])
    assert "ngspice" not in manifest["versions"]  # ODE only: ngspice was not started
    df = pd.read_parquet(out / "results.parquet")
    # the same seed again: identical parameters and results
    res = run_cli("sweep", "--set", "simulation.t_stop=1m", "--grid", "stimulus.frequency=1k,2k,4k",
                  "--mc", "12", "--vary", "memristor.r_on=lognormal:0.1", "--vary", "neuron.c=uniform:0.05",
                  "--seed", "5", "-o", tmp_path / "mc2")
    assert res.returncode == 0, res.stderr
    pd.testing.assert_frame_equal(df.drop(columns=["wall_s"]), _frame(tmp_path / "mc2"))
    assert df["memristor.r_on"].nunique() == 12  # 12 devices, each at 3 frequencies


@pytest.mark.parametrize("args, words", [
    (["--grid", "stimulus.amplitud=1m,2m"], "unknown parameter"),
    (["--grid", "stimulus.amplitude=1m:2m"], "START:STOP:N"),
    (["--vary", "memristor.r_on=normal:0.1"], "--mc"),
    (["--engines", "ode,xyce"], "--engines"),
    (["--cluster", "remote:2"], "local:N"),
    (["--scheduler", "localhost:8786"], "tcp://"),
    (["--workers", "0"], "--workers"),
])
def test_bad_sweep_input_is_one_line_and_exit_2(tmp_path, args, words):
    res = run_cli("sweep", *args, "-o", tmp_path / "s")
    assert res.returncode == 2, res.stderr
    assert words in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "s").exists()


def test_resume_refuses_changes_and_new_sweeps_refuse_old_folders(tmp_path, short):
    spec = build_spec(short, grid=["stimulus.amplitude=1m,2m"])
    run_sweep(tmp_path / "s", spec, short, progress=False)
    res = run_cli("sweep", "--resume", tmp_path / "s", "--grid", "stimulus.amplitude=3m,4m")
    assert res.returncode == 2 and "--grid" in res.stderr
    res = run_cli("sweep", "--grid", "stimulus.amplitude=3m,4m", "-o", tmp_path / "s")
    assert res.returncode == 2 and "--resume" in res.stderr
    res = run_cli("sweep", "--resume", tmp_path / "nothing")
    assert res.returncode == 2 and "not a sweep folder" in res.stderr
