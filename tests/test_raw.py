"""SPICE raw files: what `run --raw` writes is the run itself, bit for bit, in a format
spicelib (and so LTspice's and ngspice's own readers) reads; files ngspice writes itself are
read the same way; probes name what to take from a file."""

import re
import shutil
import subprocess

import numpy as np
import pytest

from alif_spice import ParamError
from alif_spice.raw import parse_probe, read_waveforms, write_raw
from conftest import run_cli

SHORT = {"simulation.t_stop": 1.5e-3}


@pytest.mark.spice
@pytest.mark.parametrize("fmt", ["binary", "ascii"])
def test_a_written_raw_file_reads_back_bit_for_bit(paper, tmp_path, fmt):
    from alif_spice.spice import run_recorded

    trace, recorded = run_recorded(paper.with_values(SHORT), "ideal")
    path = write_raw(tmp_path / "ideal.raw", trace.time, recorded, binary=fmt == "binary")
    w = read_waveforms(path)
    assert w.names() == ["V(c)", "V(m)", "V(x)", "I(vsense)", "V(q)"]
    assert np.array_equal(w.time, trace.time)
    assert np.array_equal(w.probe("V(c)"), trace["v_c"]) and np.array_equal(w.probe("v(x)"), trace["x"])
    assert np.array_equal(w.probe("I(Vsense)"), trace["i_m"]) and np.array_equal(w.probe("V(q)"), trace["latch"])
    assert np.array_equal(w.probe("V(c,m)"), trace["v_mem"])  # the same subtraction the runner makes
    # spicelib itself, as a user would read it (a SPICE3 file without ngspice's Command line:
    # its dialect is named)
    from spicelib import RawRead

    raw = RawRead(path, verbose=False, dialect="ngspice")
    assert raw.get_trace_names()[0] == "time" and raw.get_plot_name() == "Transient Analysis"
    assert np.array_equal(np.asarray(raw.get_trace("V(x)").get_wave(0)), trace["x"])


def _ngspice_rc(tmp_path, ascii_values: bool):
    """An RC charge (1 kΩ, 1 µF, a 1 V step at 0) run by the ngspice program in batch mode,
    its raw file (ASCII values where ngspice's SPICE_ASCIIRAWFILE asks for them)."""
    import os

    out = tmp_path / ("rc_ascii.raw" if ascii_values else "rc_binary.raw")
    (tmp_path / "rc.cir").write_text("rc charge\nV1 in 0 PWL(0 0 1n 1)\nR1 in c 1k\nC1 c 0 1u\n"
                                     ".tran 10u 3m\n.options reltol=1e-6\n.end\n")
    env = {k: v for k, v in os.environ.items() if k != "SPICE_ASCIIRAWFILE"}
    if ascii_values:
        env["SPICE_ASCIIRAWFILE"] = "1"
    subprocess.run(["ngspice", "-b", "-r", out.name, "rc.cir"], cwd=tmp_path, env=env, capture_output=True,
                   timeout=120, check=True)
    assert (out.read_bytes().find(b"\nValues:\n") > 0) == ascii_values
    return out


@pytest.mark.spice
@pytest.mark.skipif(shutil.which("ngspice") is None, reason="the ngspice program is not installed")
@pytest.mark.parametrize("ascii_values", [False, True], ids=["binary", "ascii"])
def test_raw_files_the_ngspice_program_writes_are_read(tmp_path, ascii_values):
    w = read_waveforms(_ngspice_rc(tmp_path, ascii_values))
    assert {n.lower() for n in w.names()} >= {"v(c)", "v(in)", "i(v1)"}
    v = w.probe("V(c)")
    # the closed form of the charge: 1 - exp(-t / RC), RC = 1 ms
    later = w.time > 1e-5
    assert np.max(np.abs(v[later] - (1.0 - np.exp(-(w.time[later] - 1e-9) / 1e-3)))) < 2e-3
    # the source delivers the capacitor's current: i(V1) = -(1 - v_c) / R (into its + terminal)
    assert np.allclose(w.probe("I(V1)")[later], -(1.0 - v[later]) / 1e3, rtol=1e-6, atol=1e-9)
    assert np.array_equal(w.probe("V(in,c)"), w.probe("V(in)") - v)


def test_probes_are_parsed_or_refused():
    assert parse_probe("V(c)") == ("V", ("c",))
    assert parse_probe(" v( C , M ) ") == ("V", ("c", "m"))
    assert parse_probe("I(Vsense)") == ("I", ("vsense",))
    for bad in ("V()", "X(c)", "I(a,b)", "V(a,b,c)", "c", "V(c"):
        with pytest.raises(ParamError, match="cannot read the probe"):
            parse_probe(bad)


def test_a_missing_trace_is_named_with_the_traces_the_file_has(tmp_path):
    path = write_raw(tmp_path / "a.raw", np.linspace(0, 1e-3, 5), {"V(c)": np.zeros(5), "I(vsense)": np.ones(5)})
    w = read_waveforms(path)
    with pytest.raises(ParamError, match=r"has no trace V\(co\) \(its traces: V\(c\), I\(vsense\)\)"):
        w.probe("V(co)")
    with pytest.raises(ParamError, match=r"has no trace I\(v1\)"):
        w.probe("I(V1)")


def test_a_csv_export_is_read_and_other_files_are_refused(tmp_path):
    csv = tmp_path / "export.csv"
    csv.write_text("time,V(c),I(Vsense)\n0,0,1e-6\n1e-6,0.1,2e-6\n2e-6,0.2,3e-6\n")
    w = read_waveforms(csv)
    assert w.names() == ["V(c)", "I(Vsense)"] and np.array_equal(w.probe("v(c)"), [0, 0.1, 0.2])
    (tmp_path / "notes.raw").write_text("hello\n")
    with pytest.raises(ParamError, match="notes.raw is not a raw file"):
        read_waveforms(tmp_path / "notes.raw")
    with pytest.raises(ParamError, match="cannot read"):
        read_waveforms(tmp_path / "absent.raw")
    (tmp_path / "words.csv").write_text("time,v\na,b\n")
    with pytest.raises(ParamError, match="numeric columns"):
        read_waveforms(tmp_path / "words.csv")


@pytest.mark.spice
def test_run_writes_a_raw_file_and_never_replaces_one_it_did_not_write(tmp_path):
    args = ["run", "--circuit", "hardware", "--set", "simulation.t_stop=1m", "-o", str(tmp_path / "hw.csv")]
    res = run_cli(*args, "--raw", str(tmp_path / "hw.raw"), "--raw-format", "ascii")
    assert res.returncode == 0, res.stderr
    assert "raw:    " in res.stdout and "V(co)" in res.stdout
    w = read_waveforms(tmp_path / "hw.raw")
    assert {"V(c)", "V(co)", "I(vpos)", "I(vcs)"} <= set(w.names()) and w.time[-1] == pytest.approx(1e-3)
    # an earlier raw file of ours is replaced; someone else's is not (exit 2, before the run)
    assert run_cli(*args, "--raw", str(tmp_path / "hw.raw")).returncode == 0
    (tmp_path / "theirs.raw").write_text("Title: my LTspice run\n")
    res = run_cli(*args, "--raw", str(tmp_path / "theirs.raw"))
    assert res.returncode == 2 and "exists and was not written by alif-spice" in res.stderr
    assert (tmp_path / "theirs.raw").read_text() == "Title: my LTspice run\n"
    res = run_cli(*args, "--raw", str(tmp_path / "hw.txt"))
    assert res.returncode == 2 and "must end in .raw" in res.stderr


def _close(a, b, rel=1e-9, path="") -> list[str]:
    """Where two metric values (numbers, lists, dicts, None) differ by more than ``rel``."""
    if isinstance(a, dict):
        return [d for k in a.keys() & b.keys() for d in _close(a[k], b[k], rel, f"{path}.{k}")]
    if isinstance(a, list):
        if len(a) != len(b):
            return [path]
        return [d for k, (x, y) in enumerate(zip(a, b)) for d in _close(x, y, rel, f"{path}[{k}]")]
    if a is None or b is None or isinstance(a, (bool, str)):
        return [] if a == b else [path]
    return [] if abs(a - b) <= rel * max(abs(a), abs(b)) or a == b else [f"{path}: {a!r} != {b!r}"]


#: what a user types to compare each circuit's raw file with the model, as the native compare does
ROUND_TRIP = {
    "ideal": ["--probe", "v_c=V(c)", "--probe", "v_mem=V(c,m)", "--probe", "x=V(x)", "--probe", "i_m=I(vsense)",
              "--spike", "V(q)>0.5"],
    "hardware": ["--probe", "v_c=V(c)", "--probe", "v_mem=V(c,m)", "--probe", "x=V(x)", "--probe",
                 "i_m=I(vsense)", "--spike", "V(co)>{level}"],
}


@pytest.mark.spice
@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["binary", "ascii"])
@pytest.mark.parametrize("circuit", ["ideal", "hardware"])
def test_run_raw_then_compare_raw_gives_the_native_comparisons_metrics(paper, tmp_path, circuit, fmt):
    import json

    sets = ["--set", "simulation.t_stop=4m"]
    case = tmp_path / "one.toml"
    case.write_text(f'[case]\nname = "one"\ncircuits = ["{circuit}"]\n')
    res = run_cli("compare", "--case", str(case), *sets, "-o", str(tmp_path / "native"))
    assert res.returncode == 0, res.stderr
    native = json.loads((tmp_path / "native" / "metrics.json").read_text())[circuit]
    res = run_cli("run", "--circuit", circuit, *sets, "-o", str(tmp_path / "run.csv"),
                  "--raw", str(tmp_path / "run.raw"), "--raw-format", fmt)
    assert res.returncode == 0, res.stderr
    hw = paper.hardware
    probes = [a.format(level=0.5 * (hw.comp_voh + hw.comp_vol)) for a in ROUND_TRIP[circuit]]
    res = run_cli("compare", "--raw", str(tmp_path / "run.raw"), *probes, *sets, "-o", str(tmp_path / "ext"))
    assert res.returncode == 0, res.stderr
    external = json.loads((tmp_path / "ext" / "metrics.json").read_text())["external"]
    shared = (native.keys() & external.keys()) - {"stuck_output"}  # the external run has no output rule
    assert shared >= {"n_spikes", "spike_time_max_abs_error_s", "x_rmse", "v_c_rmse", "adaptation_ratio",
                      "energy_per_spike_j", "missing_spikes"}
    assert native["n_spikes"]["spice"] > 20
    assert _close({k: native[k] for k in shared}, {k: external[k] for k in shared}) == []
    assert "external simulation" in (tmp_path / "ext" / "report.html").read_text()


@pytest.mark.spice
def test_compare_raw_says_what_is_wrong_with_exit_2(tmp_path):
    path = write_raw(tmp_path / "ext.raw", np.linspace(0, 2e-3, 50),
                     {"V(c)": np.zeros(50), "V(m)": np.zeros(50), "V(co)": np.zeros(50)})
    base = ["compare", "--raw", str(path), "--set", "simulation.t_stop=2m"]
    cases = {
        "a missing trace": (["--probe", "x=V(x)", "--spike", "V(co)>2.5"],
                            r"--probe x=V\(x\): ext.raw has no trace V\(x\) \(its traces: V\(c\), V\(m\), V\(co\)\)"),
        "a short time axis": (["--set", "simulation.t_stop=3m", "--spike", "V(co)>2.5"],
                              r"its time axis ends at 0.002 s, before the model's t_stop 0.003 s"),
        "a wrong file type": (None, "is not a raw file"),
        "no spike rule": (["--probe", "v_c=V(c)"], "say where the spikes are"),
        "a bad probe": (["--probe", "v_c=W(c)"], "cannot read the probe"),
        "a bad spike rule": (["--spike", "V(co)=2.5"], "give PROBE>LEVEL"),
    }
    (tmp_path / "photo.raw").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    for what, (extra, message) in cases.items():
        args = (base + extra if extra is not None
                else ["compare", "--raw", str(tmp_path / "photo.raw"), "--spike", "V(co)>2.5"])
        res = run_cli(*args, "-o", str(tmp_path / what.replace(" ", "_")))
        assert res.returncode == 2, (what, res.stderr)
        assert len(res.stderr.strip().splitlines()) == 1, (what, res.stderr)
        assert re.search(message, res.stderr), (what, res.stderr)
        assert not (tmp_path / what.replace(" ", "_")).exists(), what


def _model_raw(paper, path, t_stop=2e-3, **columns):
    """The RK4 model's own run written as a raw file: a simulation from elsewhere whose
    answer is known (it is the model)."""
    from alif_spice import solve_ode

    tr = solve_ode(paper.with_values({"simulation.t_stop": t_stop}))
    vectors = {name: tr[col] for name, col in (columns or {"V(c)": "v_c", "V(mem)": "v_mem", "V(x)": "x"}).items()}
    return write_raw(path, tr.time, vectors), tr


@pytest.mark.spice
def test_compare_raw_without_v_c_reports_its_energies_as_absent(paper, tmp_path):
    import json

    from alif_spice.spice import run_recorded

    trace, recorded = run_recorded(paper.with_values({"simulation.t_stop": 2e-3}), "ideal")
    path = write_raw(tmp_path / "ideal.raw", trace.time, {k: recorded[k] for k in ("V(c)", "V(m)", "V(q)")})
    res = run_cli("compare", "--raw", str(path), "--probe", "V_MEM=V(C,M)", "--spike", "V(q)>0.5",
                  "--set", "simulation.t_stop=2m", "-o", str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    m = json.loads((tmp_path / "out" / "metrics.json").read_text())["external"]
    assert m["n_spikes"]["spice"] == trace.spikes.size > 10
    assert m["energy_j"]["spice"] is None and m["energy_input_per_period_j"]["spice"] is None
    assert m["x_rmse"] is None and m["v_c_rmse"] is None and m["energy_j"]["ode"] > 0
    page = (tmp_path / "out" / "report.html").read_text()
    assert "not probed, so absent: v_c, x" in page and "No tolerances are set" in page
    assert not (tmp_path / "out" / "netlists").exists()


def test_compare_raw_refuses_what_it_cannot_compare_honestly(paper, tmp_path):
    path, tr = _model_raw(paper, tmp_path / "model.raw")
    late = write_raw(tmp_path / "late.raw", tr.time[tr.time > 1e-3], {"V(c)": tr["v_c"][tr.time > 1e-3]})
    holes = tr["x"].copy()
    holes[100] = np.nan
    nan = write_raw(tmp_path / "nan.raw", tr.time, {"V(mem)": tr["v_mem"], "V(x)": holes})
    cut = tmp_path / "cut.raw"
    cut.write_bytes(path.read_bytes()[:5000])
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "noheader.csv").write_text("0,1\n1e-6,2\n")
    (tmp_path / "folder.raw").mkdir()
    rule = ["--spike", "V(mem)>0.3"]
    cases = {
        "late": ([str(late), *rule], "starts at 0.001"),
        "nan": ([str(nan), "--probe", "x=V(x)", *rule],
                r"--probe x=V\(x\): 1 of its \d+ values in nan.raw are not finite"),
        "cut": ([str(cut), *rule], "cut.raw is not a raw file spicelib can read"),
        "empty": ([str(tmp_path / "empty.csv"), *rule], "empty.csv is not a table of numbers"),
        "noheader": ([str(tmp_path / "noheader.csv"), *rule], "its first row must name the traces"),
        "folder": ([str(tmp_path / "folder.raw"), *rule], "is not a file"),
        "reserved": ([str(path), "--probe", "source=V(x)", *rule], "source is not a signal"),
        "two rules": ([str(path), *rule, *rule], "--spike given 2 times"),
    }
    for what, (args, message) in cases.items():
        res = run_cli("compare", "--raw", *args, "--set", "simulation.t_stop=2m", "-o", str(tmp_path / what))
        assert res.returncode == 2, (what, res.stderr)
        assert re.search(message, res.stderr) and len(res.stderr.strip().splitlines()) == 1, (what, res.stderr)
        assert not (tmp_path / what).exists()


def test_the_readers_small_kindnesses(paper, tmp_path):
    from alif_spice.cases import parse_spike_rule

    # LTspice's "Export data as text": tab-separated, time first
    txt = tmp_path / "export.txt"
    txt.write_text("time\tV(c)\tV(co)\n0\t0.1\t0\n1e-6\t0.2\t5\n2e-6\t0.3\t0\n")
    w = read_waveforms(txt)
    assert w.names() == ["V(c)", "V(co)"] and np.array_equal(w.probe("V(c,0)"), w.probe("V(c)"))
    assert np.array_equal(w.probe("V(gnd,c)"), -w.probe("V(c)"))
    assert parse_spike_rule("V(co)>2.5V") == ("V(co)", 2.5) and parse_spike_rule("I(v1) > 1mA") == ("I(v1)", 1e-3)
    # one column is not a transient (a spike file, say)
    (tmp_path / "spikes.csv").write_text("t_spike\n0.001\n0.002\n")
    with pytest.raises(ParamError, match="header row and numeric columns"):
        read_waveforms(tmp_path / "spikes.csv")


@pytest.mark.spice
@pytest.mark.skipif(shutil.which("ngspice") is None, reason="the ngspice program is not installed")
def test_the_transient_is_found_after_an_operating_point(tmp_path):
    # ngspice writes the operating point's plot first wherever a netlist has .op
    (tmp_path / "op.cir").write_text("rc\nV1 in 0 PWL(0 0 1n 1)\nR1 in c 1k\nC1 c 0 1u\n.op\n.tran 10u 1m\n.end\n")
    subprocess.run(["ngspice", "-b", "-r", "op.raw", "op.cir"], cwd=tmp_path, capture_output=True, timeout=120,
                   check=True)
    w = read_waveforms(tmp_path / "op.raw")
    assert w.time[-1] == pytest.approx(1e-3) and w.probe("V(c)")[-1] == pytest.approx(1 - np.exp(-1), rel=1e-2)


def test_a_raw_file_ltspice_wrote_is_read():
    # an LTspice run (tests/data/ltspice: a 1 V step through 1 kΩ into 1 µF, with LTspice's
    # compression and single-precision values) against the RC closed form and Ohm's law
    from pathlib import Path

    w = read_waveforms(Path(__file__).parent / "data" / "ltspice" / "TRAN.raw")
    assert w.names() == ["V(in)", "V(out)", "I(C1)", "I(R1)", "I(Vin)"] and w.time[-1] == pytest.approx(5e-3)
    v = w.probe("v(OUT)")
    assert np.max(np.abs(v - (1 - np.exp(-np.maximum(w.time - 5e-9, 0) / 1e-3)))) < 1e-4
    assert np.allclose(w.probe("I(R1)"), w.probe("V(in,out)") / 1e3, rtol=1e-5, atol=1e-9)
