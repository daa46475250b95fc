"""The SPICE side against independent paths: the Python MMS model and the RK4 solver."""

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from alif_spice import SimulationError, solve_ode
from alif_spice.compare import spikes_per_period
from alif_spice.netlist import render
from alif_spice.ode import solve_iv
from alif_spice.spice import crossings, ngspice_process, run_circuit, run_netlist
from alif_spice.stimulus import SquareWave
from conftest import ngspice_children, run_cli

pytestmark = pytest.mark.spice


@pytest.mark.parametrize("waveform", ["sine", "triangle"])
def test_memristor_iv_spice_matches_python_mms(paper, waveform):
    # 1 V / 10 Hz through 5.11 kΩ, the fitting experiment's drive
    p = paper.with_values({"iv.waveform": waveform})
    assert (p.iv.amplitude, p.iv.frequency, p.iv.r_series) == (1.0, 10.0, 5110.0)
    s, o = run_circuit(p, "memristor-iv"), solve_iv(p)
    i_o, x_o = np.interp(s.time, o.time, o["i_m"]), np.interp(s.time, o.time, o["x"])
    peak = np.abs(i_o).max()
    assert np.sqrt(np.mean((s["i_m"] - i_o) ** 2)) < 0.01 * peak
    assert np.sqrt(np.mean((s["x"] - x_o) ** 2)) < 0.01
    assert s["x"].max() > 0.5  # the device really switches
    # pinched: the current vanishes where the voltage does ...
    zero = crossings(s.time, s["v_src"], 0.0)
    assert np.all(np.abs(np.interp(zero, s.time, s["i_m"])) < 1e-3 * peak)
    # ... yet the loop is open: same voltage, different current on the way up and down
    t_per = 1 / p.iv.frequency
    up = np.interp(t_per * 1.05, s.time, s["i_m"]), np.interp(t_per * 1.05, s.time, s["v_mem"])
    down = np.interp(t_per * 1.45, s.time, s["i_m"]), np.interp(t_per * 1.45, s.time, s["v_mem"])
    g_up, g_down = up[0] / up[1], down[0] / down[1]
    assert g_down > 1.2 * g_up  # memristance fell while the voltage was high


def test_generalized_mms_agrees_with_spice_beyond_the_diode_continuation_point(paper):
    # a steep forward diode (beta_f 100 /V) driven hard: its exponent passes 80, where both
    # the subcircuit and the Python form continue the exponential along its tangent
    from alif_spice.memristor import DIODE_EXP_LINEAR_ABOVE
    p = paper.with_values({"memristor.model": "gmms",
                           "memristor.phi": 0.6, "memristor.alpha_f": 1e-39, "memristor.beta_f": 100.0,
                           "memristor.alpha_r": 3e-5, "memristor.beta_r": 4.0, "iv.frequency": 100.0,
                           "iv.amplitude": 5.0, "iv.r_series": 1000.0})
    s, o = run_circuit(p, "memristor-iv"), solve_iv(p)
    above = p.memristor.beta_f * s["v_mem"] > DIODE_EXP_LINEAR_ABOVE
    assert above.mean() > 0.2 and (p.memristor.beta_f * s["v_mem"]).max() > 150
    v_o = np.interp(s.time, o.time, o["v_mem"])
    assert np.sqrt(np.mean((s["v_mem"][above] - v_o[above]) ** 2)) < 1e-4  # measured 8e-7 V
    assert np.sqrt(np.mean((s["x"] - np.interp(s.time, o.time, o["x"])) ** 2)) < 1e-3
    i_o = np.interp(s.time, o.time, o["i_m"])
    assert np.sqrt(np.mean((s["i_m"] - i_o) ** 2)) < 1e-4 * np.abs(i_o).max()  # measured 2e-6


def test_ideal_circuit_matches_rk4(paper):
    p = paper.with_values({"simulation.t_stop": 5e-3})
    spice, ode = run_circuit(p, "ideal"), solve_ode(p)
    assert spice.spikes.size == ode.spikes.size > 20
    mean_isi = np.diff(ode.spikes).mean()
    assert np.max(np.abs(spice.spikes - ode.spikes)) < 0.005 * mean_isi


def test_ideal_circuit_spike_times_hold_when_the_step_is_halved(paper):
    p = paper.with_values({"simulation.t_stop": 2e-3})
    a = run_circuit(p, "ideal").spikes
    b = run_circuit(p.with_values({"simulation.max_step": p.simulation.max_step / 2}), "ideal").spikes
    assert a.size == b.size
    assert np.max(np.abs(a - b)) < 0.002 * np.diff(a).mean()


def test_hardware_runs_ten_periods_and_adapts(paper):
    tr = run_circuit(paper, "hardware")
    assert tr.time[-1] == pytest.approx(paper.simulation.t_stop)
    per = spikes_per_period(tr.spikes, SquareWave.from_params(paper), paper.simulation.t_stop)
    assert len(per) == 10 and per[0] > per[-1] > 0
    for col in ("v_c", "v_mem", "x", "i_m", "i_in", "i_pos", "i_neg"):
        assert np.all(np.isfinite(tr[col]))


@pytest.mark.parametrize("netlist, number, words", [
    ("* bad\nV1 a 0 DC 1\nR1 a 0 1k\nQQ1 a b\n.tran 1n 1u\n.end\n", 4, "could not find a valid modelname"),
    ("* bad\nV1 a 0 DC 1\nB1 a 0 I=V(a)*(\n.tran 1n 1u\n.end\n", 3, "syntax error"),
    # ngspice counts only lines that are not blank: the file's own line number is shown
    ("* t\n\nV1 in 0 DC 1\n  \nR1 in out 1k\nB1 out 0 V=(V(in)*2\nC1 out 0 1u\n.tran 10u 1m\n.end\n", 6,
     "syntax error"),
    ("* t\nV1 in 0 DC 1\nR1 in out {rbogus}\nC1 out 0 1u\n.tran 10u 1m\n.end\n", 3, "Undefined parameter"),
])
def test_syntax_error_names_its_line_and_what_is_wrong(netlist, number, words):
    # on every supported ngspice: 39 echoes the line, 46 says only "parsing stopped at
    # line N" and then gives up inside the library; either way the user reads the line
    with pytest.raises(SimulationError) as info:
        run_netlist(netlist, 1e-6)
    message = str(info.value)
    source = netlist.splitlines()[number - 1]
    assert f"line {number}" in message.lower() and words in message
    assert source.lower().replace(" ", "") in message.lower().replace(" ", "")
    assert message.lower().index(f"line {number}") < message.lower().index(words.lower())
    _works_again()


def test_non_convergence_raises_with_ngspice_message():
    runaway = "* runaway\nC1 a 0 1n IC=0.1\nB1 0 a I=exp(200*V(a))\n.tran 1n 1u 0 1n uic\n.end\n"
    with pytest.raises(SimulationError, match="Timestep too small"):
        run_netlist(runaway, 1e-6)


def test_transient_shorter_than_asked_is_a_failure(paper):
    netlist = render(paper.with_values({"simulation.t_stop": 0.1e-3}), "ideal")
    with pytest.raises(SimulationError, match="ended early"):
        run_netlist(netlist.text, 0.2e-3)


def test_timeout_halts_and_the_next_run_works(paper):
    p = paper.with_values({"simulation.timeout": 0.05})
    with pytest.raises(SimulationError, match="timeout"):
        run_circuit(p, "ideal")
    ok = run_circuit(paper.with_values({"simulation.t_stop": 0.1e-3}), "ideal")
    assert ok.time[-1] == pytest.approx(0.1e-3)


def test_run_command_writes_trace_and_exit_3_on_failure(tmp_path):
    out = tmp_path / "ideal.parquet"
    res = run_cli("run", "--circuit", "ideal", "--set", "simulation.t_stop=1m", "-o", out)
    assert res.returncode == 0, res.stderr
    assert out.exists() and (tmp_path / "ideal.spikes.csv").exists()
    res = run_cli("run", "--circuit", "hardware", "--set", "simulation.timeout=0.01", "-o", tmp_path / "h.csv")
    assert res.returncode == 3 and "timeout" in res.stderr and "Traceback" not in res.stderr
    # a relative tolerance below double precision: ngspice cannot converge, and says so
    res = run_cli("run", "--circuit", "ideal", "--set", "simulation.reltol=1e-15", "--set", "simulation.t_stop=0.2m",
                  "-o", tmp_path / "f.csv")
    assert res.returncode == 3 and "Timestep too small" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert not (tmp_path / "h.csv").exists() and not (tmp_path / "f.csv").exists()


# --- containment: ngspice lives in a child process -------------------------------------

_SMALL = "* small\nV1 a 0 DC 1\nR1 a 0 1k\n.tran 1n 1u\n{control}.end\n"


def _works_again():
    v = run_netlist(_SMALL.format(control=""), 1e-6)
    assert v["time"][-1] == pytest.approx(1e-6)


def test_parent_never_loads_libngspice():
    _works_again()
    with open(f"/proc/{os.getpid()}/maps") as fh:
        assert "libngspice" not in fh.read()
    assert ngspice_process().pid != os.getpid()


def test_exit_inside_the_library_is_contained():
    # `quit` makes libngspice call its exit handler; the library segfaults on the next
    # command (seen with ngspice 39), so that process must not serve another run
    first = ngspice_process().pid
    with pytest.raises(SimulationError, match="exited inside the library"):
        run_netlist(_SMALL.format(control=".control\nquit\n.endc\n"), 1e-6)
    _works_again()
    assert ngspice_process().pid != first


@pytest.mark.parametrize("sig", [signal.SIGSEGV, signal.SIGABRT])
def test_crash_of_the_ngspice_process_is_contained(paper, sig):
    _works_again()
    runner = ngspice_process()
    threading.Timer(0.5, os.kill, (runner.pid, sig)).start()
    with pytest.raises(SimulationError, match=f"died during the run \\(signal {sig.name}\\)"):
        run_circuit(paper, "hardware")  # ~2 s: the signal arrives mid-transient
    _works_again()


def test_hung_ngspice_is_killed_and_the_next_run_works():
    # a .control `shell` command blocks ngspice while loading: the halt cannot reach it
    start = time.monotonic()
    with pytest.raises(SimulationError, match="did not answer in time and was killed"):
        run_netlist(_SMALL.format(control=".control\nshell sleep 60\n.endc\n"), 1e-6, timeout=1.0, grace=1.0)
    assert time.monotonic() - start < 10
    _works_again()


def test_cli_reports_a_crashed_ngspice_with_exit_3(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "h.parquet"
    proc = subprocess.Popen([str(Path(sys.executable).with_name("alif-spice")), "run", "--circuit", "hardware",
                             "-o", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    found = []
    deadline = time.monotonic() + 60
    while not found and time.monotonic() < deadline:  # the CLI's ngspice process
        found = ngspice_children(proc.pid)
        time.sleep(0.05)
    child = found[0] if found else None
    assert child is not None
    time.sleep(0.3)
    os.kill(child, signal.SIGSEGV)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    assert "SIGSEGV" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not out.exists() and not (tmp_path / "h.spikes.csv").exists()
