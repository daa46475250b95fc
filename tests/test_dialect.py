"""Netlists in LTspice's dialect: only constructs LTspice reads, and the same spikes as the
native netlist when ngspice runs them in its LTspice emulation (ngbehavior=lt). LTspice
itself does not run on this machine."""

import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from alif_spice.dialect import to_ltspice
from alif_spice.netlist import is_rendered_netlist, render
from alif_spice.raw import read_waveforms
from alif_spice.spice import crossings, run_circuit
from conftest import run_cli

needs_ngspice = pytest.mark.skipif(shutil.which("ngspice") is None, reason="the ngspice program is not installed")

#: the paper's neuron and two others: a larger capacitor with a larger series resistor, and a
#: different device model (the generalized MMS with its diodes)
SETS = {
    "paper": {},
    "c33n-rs2k": {"neuron.c": 33e-9, "neuron.r_s": 2e3},
    "gmms": {"memristor.model": "gmms", "memristor.phi": 0.6, "memristor.alpha_f": 1e-4, "memristor.beta_f": 3.0,
             "memristor.alpha_r": 3e-5, "memristor.beta_r": 4.0},
}
OUTPUT = {"latch": "V(q)", "v_cmp": "V(co)"}  # the spike outputs' nodes


def _run_lt(text: str, folder) -> object:
    """Run a netlist with the ngspice program in its LTspice emulation; its waveforms."""
    (folder / "lt.cir").write_text(text)
    env = {k: v for k, v in os.environ.items() if k != "SPICE_ASCIIRAWFILE"}
    r = subprocess.run(["ngspice", "-b", "-D", "ngbehavior=lt", "-r", "lt.raw", "lt.cir"], cwd=folder, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and (folder / "lt.raw").exists(), r.stdout[-2000:] + r.stderr[-2000:]
    assert "Compatibility modes selected: lt" in r.stdout + r.stderr
    assert not re.search(r"^Error", r.stdout + r.stderr, re.MULTILINE), r.stdout[-2000:]
    return read_waveforms(folder / "lt.raw")


@pytest.mark.spice
@pytest.mark.slow
@needs_ngspice
@pytest.mark.parametrize("circuit", ["ideal", "hardware"])
@pytest.mark.parametrize("name", list(SETS))
def test_the_ltspice_netlist_gives_the_native_spikes_in_ngspices_ltspice_mode(paper, tmp_path, name, circuit):
    p = paper.with_values({"simulation.t_stop": 5e-3, **SETS[name]})
    netlist = render(p, circuit)
    native = run_circuit(p, circuit)
    w = _run_lt(to_ltspice(netlist), tmp_path)
    column, level = netlist.spike
    spikes = crossings(w.time, w.probe(OUTPUT[column]), level)
    assert native.spikes.size > 20 and spikes.size == native.spikes.size
    assert np.max(np.abs(spikes - native.spikes)) <= 0.005 * np.diff(native.spikes).mean()


@pytest.mark.spice
@needs_ngspice
@pytest.mark.parametrize("waveform", ["sine", "triangle"])
def test_the_memristor_iv_netlist_runs_in_ltspice_mode(paper, tmp_path, waveform):
    # the triangle repeats by ngspice's PWL r=0, which LTspice does not read: every period
    # is written out instead, and the source must be the same for the whole run
    p = paper.with_values({"memristor.model": "yakopcic", "iv.waveform": waveform})
    native = run_circuit(p, "memristor-iv")
    text = to_ltspice(render(p, "memristor-iv"))
    assert " r=0" not in text
    w = _run_lt(text, tmp_path)
    assert np.max(np.abs(np.interp(native.time, w.time, w.probe("V(src)")) - native["v_src"])) < 1e-9
    i = np.interp(native.time, w.time, w.probe("I(vsense)"))
    assert np.sqrt(np.mean((i - native["i_m"]) ** 2)) <= 1e-4 * np.abs(native["i_m"]).max()


@pytest.mark.parametrize("circuit", ["ideal", "hardware", "memristor-iv"])
@pytest.mark.parametrize("model", ["mms", "gmms", "vteam", "yakopcic"])
def test_the_ltspice_netlist_holds_only_what_ltspice_reads(paper, circuit, model):
    from alif_spice import devices

    p = paper.with_values({"memristor.model": model,
                           **{f"memristor.{k}": v for k, v in devices.get(model).example.items()}})
    text = to_ltspice(render(p, circuit))
    body = [line for line in text.splitlines() if line and not line.startswith("*")]
    lowered = [line.lower() for line in body]
    assert not any(line.startswith((".control", ".endc", ".print")) for line in lowered)
    assert not any("?" in line for line in body)  # ngspice's conditional is LTspice's if()
    assert not any(re.match(r"\.model\s+\S+\s+sw\s", line) for line in lowered)  # LTspice: SW(...)
    assert all(" params: " in line for line in lowered if line.startswith(".subckt") and "=" in line)
    assert not any(line.startswith("t") and "z0=" in line for line in lowered)  # LTspice spells it Zo
    assert " r=0" not in text and text.isascii()  # ngspice's PWL repeat; LTspice's code page
    assert ".options plotwinsize=0 numdgt=15" in lowered  # no compression, double precision
    head = text.split("\n.", 1)[0]
    assert "Simulate > Run" in head
    if circuit != "memristor-iv":  # a neuron: where its spikes are, and the compare command
        assert re.search(r"upward crossings of V\((q|co)\) at [0-9.]+ V", head) and "compare --raw" in head


def test_netlist_writes_the_ltspice_dialect_and_knows_it_as_its_own(tmp_path):
    out = tmp_path / "ideal_lt.cir"
    args = ["netlist", "--circuit", "ideal", "--dialect", "ltspice", "-o", str(out)]
    res = run_cli(*args)
    assert res.returncode == 0, res.stderr
    assert "LTspice dialect" in out.read_text() and is_rendered_netlist(out)
    assert run_cli(*args).returncode == 0  # an earlier output of ours is replaced
    out.write_text(out.read_text().replace("SW(", "sw ("))  # edited by hand: no longer ours
    res = run_cli(*args)
    assert res.returncode == 2 and "was not written by alif-spice" in res.stderr
