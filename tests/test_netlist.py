"""Rendered netlists: deterministic, self-contained, run by plain `ngspice -b`."""

import hashlib
import re
import shutil
import subprocess

import pytest

from alif_spice import devices, load_params
from alif_spice.hardware import effective_hardware
from alif_spice.circuits import names
from alif_spice.netlist import library, render, schmitt_design, schmitt_thresholds
from alif_spice.spice import vector_name
from conftest import run_cli

NGSPICE = shutil.which("ngspice")


@pytest.mark.parametrize("circuit", names())
def test_render_is_deterministic_and_hashed(paper, circuit):
    a, b = render(paper, circuit), render(load_params("paper"), circuit)
    assert a.text == b.text
    header_end = a.text.index(f"sha256 of the netlist below: {a.sha256}\n") + len(a.sha256) + 30
    assert hashlib.sha256(a.text[header_end:].encode()).hexdigest() == a.sha256
    assert render(paper.with_values({"memristor.r_on": "1.4k"}), circuit).sha256 != a.sha256
    # the header lists every parameter, of [memristor] the keys its device model reads
    reads = {"memristor.model", *(f"memristor.{k}" for k in devices.get(paper.memristor.model).params)}
    for key in paper.flat():
        assert (f"*   {key} = " in a.text) == (not key.startswith("memristor.") or key in reads), key
    assert not re.search(r"\b(nan|inf)\b", a.text, re.IGNORECASE)
    assert ".control" not in a.text and "shell" not in a.text.lower()


@pytest.mark.skipif(NGSPICE is None, reason="ngspice binary not installed")
@pytest.mark.parametrize("circuit", names())
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
    rows = [ln for ln in out.stdout.splitlines() if re.match(r"^\d+\s+[0-9.eE+-]+\s", ln)]
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
                       ("comparator_ad8561", [("t_delay", "comp_delay"), ("voh", "comp_voh"), ("vol", "comp_vol")])):
        text = library(lib)
        for key, attr in pairs:
            assert float(re.search(rf"\b{key}=([0-9.eE+-]+)", text).group(1)) == getattr(hw, attr), (lib, key)


@pytest.mark.parametrize("sets", [{}, {"hardware.schmitt_lower": 0.2, "hardware.diffamp_gain": 2.0}])
def test_schmitt_design_equations_round_trip(paper, sets):
    p = paper.with_values(sets)
    d = schmitt_design(p)
    hw = effective_hardware(p)
    up, down = schmitt_thresholds(d["r1"], d["r2"], d["v_ref"], hw.comp_voh, hw.comp_vol)
    assert up == pytest.approx(hw.diffamp_gain * p.neuron.v_th)
    assert down == pytest.approx(hw.diffamp_gain * hw.schmitt_lower)
    for key, value in sets.items():  # a value the user sets overrides the design
        assert getattr(hw, key.split(".")[1]) == value


def test_hardware_design_equations(paper):
    from alif_spice.hardware import R_DS_ON, floor_v_mem

    hw = effective_hardware(paper)
    assert paper.hardware.schmitt_lower is None  # the preset leaves it to the design
    # the lower threshold lies above the discharge floor with the largest input flowing ...
    assert floor_v_mem(paper, hw.r_discharge, hw.v_discharge) < hw.schmitt_lower < paper.neuron.v_th
    # ... and the floor is what the circuit reaches: c pulled to v_discharge through R_d with 1 mA in
    i, r_d, n = paper.stimulus.amplitude, hw.r_discharge + R_DS_ON, paper.neuron
    ends = []
    for r in (paper.memristor.r_off, paper.memristor.r_on):  # x = 0 and x = 1
        v_c = (i * r_d * (r + n.r_s) + n.v_rest * r_d + hw.v_discharge * (r + n.r_s)) / (r + n.r_s + r_d)
        ends.append((v_c - n.v_rest) * r / (r + n.r_s))
    assert floor_v_mem(paper, hw.r_discharge, hw.v_discharge) == pytest.approx(max(ends))
    text = render(paper, "hardware").text
    assert "Schmitt thresholds" in text and "v_c,floor(x)" in text  # design equations in the header


def test_unknown_circuit_is_exit_2(tmp_path):
    res = run_cli("netlist", "--circuit", "nope")
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1


# ------------------------------------------------------- details found by mutation testing


def test_a_rendered_netlist_is_recognised_and_an_edited_one_is_not(tmp_path, paper):
    from alif_spice.netlist import is_rendered_netlist
    text = render(paper, "ideal").text
    f = tmp_path / "n.cir"
    f.write_text(text)
    assert is_rendered_netlist(f)
    for edited in (text.replace("\n.end", "\n* user note\n.end"),         # the body
                   text.replace("netlist below: ", "netlist below: 0"),     # the recorded digest
                   "* my own\n" + text,                                      # the header
                   text.replace("* sha256 of the netlist below: ", "* sha: "),  # no digest line
                   text.split("* sha256")[0]):                               # header only
        f.write_text(edited)
        assert not is_rendered_netlist(f), edited[:80]


def test_spike_outputs(paper):
    from alif_spice.netlist import spike_output
    hw = paper.hardware
    assert spike_output(paper, "ideal") == ("latch", 0.5)
    assert spike_output(paper, "hardware") == ("v_cmp", pytest.approx(0.5 * (hw.comp_voh + hw.comp_vol)))
    assert spike_output(paper, "memristor-iv") is None
    assert render(paper, "hardware").spike == spike_output(paper, "hardware")


def test_model_params_change_only_the_ideal_circuits_short_hold(paper):
    from alif_spice.netlist import MIN_HOLD, model_params
    short = paper.with_values({"neuron.t_ref": 0.0})
    assert model_params(short, "ideal").neuron.t_ref == MIN_HOLD
    assert model_params(short, "hardware") is short
    assert model_params(paper.with_values({"neuron.t_ref": 2e-6}), "ideal").neuron.t_ref == 2e-6


def test_spice_number_refuses_what_is_not_a_finite_number():
    from alif_spice.errors import ParamError
    from alif_spice.netlist import spice_number
    assert spice_number(47e-9) == "4.7e-08" and spice_number(3) == "3.0"
    for bad in (float("inf"), float("nan"), True, "1", None):
        with pytest.raises(ParamError, match="netlist: "):
            spice_number(bad)


def test_hardware_netlist_lists_every_design_constant(paper):
    from alif_spice import hardware
    text = render(paper, "hardware").text
    from alif_spice.netlist import spice_number
    for name in ("MARGIN", "MIN_HYSTERESIS", "GATE_OFF_MARGIN", "GATE_OVERDRIVE", "TAU_DISCHARGE_MIN",
                 "R_DIS_MIN", "R_DIS_MAX", "R_DS_ON", "COMP_INPUT_TOP", "V_SUPPLY_MIN"):
        assert f"{name} = {spice_number(getattr(hardware, name))}" in text, name
    assert text.count("Constants (SI units):") == 1


def test_a_circuit_entry_is_checked_when_it_is_registered():
    from alif_spice import circuits as C

    ideal = C.get("ideal")
    with pytest.raises(ValueError, match="defined twice"):
        C.register(ideal)
    import dataclasses
    with pytest.raises(ValueError, match="needs a spike rule"):
        C.register(dataclasses.replace(ideal, name="no-spikes", spike=None))
    with pytest.raises(ValueError, match="cannot record"):
        C.register(dataclasses.replace(ideal, name="bad-probe", probes=(("v_c", "V(c,m)"),)))
    with pytest.raises(ValueError, match="needs context, probes and derive"):
        C.register(dataclasses.replace(ideal, name="no-derive", derive=None))
    assert set(C.CIRCUITS) == {"ideal", "hardware", "memristor-iv"}  # nothing half-registered
    assert C.engines() == ("ode", "ideal", "hardware") and C.names("device") == ("memristor-iv",)


def test_rendered_netlists_name_their_ngspice_vectors(paper):
    n = render(paper, "hardware")
    assert n.probes["i_pos"] == "I(vpos)" and vector_name(n.probes["i_pos"]) == "vpos#branch"
    assert vector_name(n.probes["v_c"]) == "c" and vector_name(n.probes["v_cmp"]) == "co"
