"""Rendered netlists: deterministic, self-contained, run by plain `ngspice -b`."""

import hashlib
import re
import shutil
import subprocess

import pytest

from alif_spice import load_params
from alif_spice.netlist import CIRCUITS, library, render, schmitt_design, schmitt_thresholds
from conftest import run_cli

NGSPICE = shutil.which("ngspice")


@pytest.mark.parametrize("circuit", CIRCUITS)
def test_render_is_deterministic_and_hashed(paper, circuit):
    a, b = render(paper, circuit), render(load_params("paper"), circuit)
    assert a.text == b.text
    header_end = a.text.index(f"sha256 of the netlist below: {a.sha256}\n") + len(a.sha256) + 30
    assert hashlib.sha256(a.text[header_end:].encode()).hexdigest() == a.sha256
    assert render(paper.with_values({"memristor.r_on": "1.4k"}), circuit).sha256 != a.sha256
    for key, value in paper.flat().items():
        assert f"*   {key} = " in a.text
    assert not re.search(r"\b(nan|inf)\b", a.text, re.IGNORECASE)
    assert ".control" not in a.text and "shell" not in a.text.lower()


@pytest.mark.skipif(NGSPICE is None, reason="ngspice binary not installed")
@pytest.mark.parametrize("circuit", CIRCUITS)
def test_plain_ngspice_batch_runs_the_netlist_as_written(tmp_path, paper, circuit):
    p = paper.with_values({"simulation.t_stop": 0.5e-3, "iv.periods": 1})
    f = tmp_path / f"{circuit}.cir"
    res = run_cli("netlist", "--circuit", circuit, "--set", "simulation.t_stop=0.5m", "--set", "iv.periods=1",
                  "-o", f)
    assert res.returncode == 0, res.stderr
    assert f.read_text() == render(p, circuit).text
    out = subprocess.run([NGSPICE, "-b", str(f)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0
    text = out.stdout + out.stderr
    assert not re.search(r"^\s*error", text, re.IGNORECASE | re.MULTILINE), text[-2000:]
    rows = [l for l in out.stdout.splitlines() if re.match(r"^\d+\s+[0-9.eE+-]+\s", l)]
    assert len(rows) > 100


def test_netlist_to_stdout(paper):
    res = run_cli("netlist", "--circuit", "memristor-iv")
    assert res.returncode == 0 and res.stdout == render(paper, "memristor-iv").text


def test_library_defaults_match_the_paper_preset(paper):
    m = paper.memristor
    head = library("mms_memristor").split(".subckt mms_memristor", 1)[1].split("\n.param", 1)[0]
    for key in ("r_on", "r_off", "v_on", "v_off", "tau", "temperature", "x0"):
        value = float(re.search(rf"\b{key}=([0-9.eE+-]+)", head).group(1))
        assert value == pytest.approx(getattr(m, key)), key
    hw = paper.hardware
    for lib, pairs in (("opamp_op482", [("gbw", "opamp_gbw"), ("slew", "opamp_slew"), ("a0", "opamp_gain"),
                                        ("rout", "opamp_rout"), ("headroom", "opamp_headroom")]),
                       ("comparator_ad8561", [("delay", "comp_delay"), ("voh", "comp_voh"), ("vol", "comp_vol")])):
        text = library(lib)
        for key, attr in pairs:
            assert float(re.search(rf"\b{key}=([0-9.eE+-]+)", text).group(1)) == getattr(hw, attr), (lib, key)


def test_schmitt_design_equations_round_trip(paper):
    d = schmitt_design(paper)
    hw = paper.hardware
    up, down = schmitt_thresholds(d["r1"], d["r2"], d["v_ref"], hw.comp_voh, hw.comp_vol)
    assert up == pytest.approx(paper.neuron.v_th) and down == pytest.approx(hw.schmitt_lower)


def test_unknown_circuit_is_exit_2(tmp_path):
    res = run_cli("netlist", "--circuit", "nope")
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
