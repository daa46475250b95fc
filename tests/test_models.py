"""Characterisation of the SPICE macromodels in ngspice against their parameters."""

import numpy as np
import pytest

from alif_spice.hardware import effective_hardware
from alif_spice.netlist import library, schmitt_design, schmitt_thresholds, spice_number as n
from alif_spice.spice import crossings, run_netlist

pytestmark = pytest.mark.spice


def _opamp_follower(paper, step_lo, step_hi, t_stop, max_step):
    hw = effective_hardware(paper)
    return f"""* op-amp follower step
Vp vcc 0 DC {n(hw.v_pos)}
Vn vee 0 DC {n(hw.v_neg)}
Vin in 0 PULSE({n(step_lo)} {n(step_hi)} 1e-6 1e-10 1e-10 1 2)
X1 in out vcc vee out opamp_op482 gbw={n(hw.opamp_gbw)} slew={n(hw.opamp_slew)} a0={n(hw.opamp_gain)}
+ rout={n(hw.opamp_rout)} headroom={n(hw.opamp_headroom)}
{library("opamp_op482")}
.tran {n(max_step)} {n(t_stop)} 0 {n(max_step)}
.end
"""


def test_opamp_gain_bandwidth_within_10_percent(paper):
    # small step: single-pole follower, 10-90 % rise time = 2.2 / (2 pi GBW)
    v = run_netlist(_opamp_follower(paper, 0.0, 0.01, 3e-6, 1e-9), 3e-6)
    t, out = v["time"], v["out"]
    final = out[-1]
    t10, t90 = crossings(t, out, 0.1 * final)[0], crossings(t, out, 0.9 * final)[0]
    gbw = 2.2 / (2 * np.pi * (t90 - t10))
    assert gbw == pytest.approx(paper.hardware.opamp_gbw, rel=0.10)


def test_opamp_slew_rate_within_10_percent(paper):
    v = run_netlist(_opamp_follower(paper, -4.0, 4.0, 3e-6, 1e-9), 3e-6)
    t, out = v["time"], v["out"]
    mid = (out > -3.0) & (out < 3.0) & (t > 1e-6)
    slope = np.polyfit(t[mid], out[mid], 1)[0]
    assert slope == pytest.approx(paper.hardware.opamp_slew, rel=0.10)


def test_opamp_output_stays_inside_the_rails(paper):
    hw = effective_hardware(paper)
    v = run_netlist(_opamp_follower(paper, 0.0, 20.0, 6e-6, 2e-9), 6e-6)
    assert v["out"].max() == pytest.approx(hw.v_pos - hw.opamp_headroom, abs=0.05)


def test_comparator_delay_within_10_percent(paper):
    hw = paper.hardware
    text = f"""* comparator delay, 10 mV overdrive
Vs vcc 0 DC {n(hw.comp_supply)}
Vref ref 0 DC 0.3
Vin in 0 PULSE(0.29 0.31 100e-9 1e-11 1e-11 200e-9 400e-9)
X1 in ref vcc 0 out comparator_ad8561 t_delay={n(hw.comp_delay)} voh={n(hw.comp_voh)} vol={n(hw.comp_vol)}
{library("comparator_ad8561")}
.tran 1e-11 200e-9 0 1e-11
.end
"""
    v = run_netlist(text, 200e-9)
    t_in = crossings(v["time"], v["in"], 0.3)[0]
    t_out = crossings(v["time"], v["out"], 0.5 * (hw.comp_voh + hw.comp_vol))[0]
    assert t_out - t_in == pytest.approx(hw.comp_delay, rel=0.10)


def test_schmitt_trigger_thresholds_within_2_percent(paper):
    hw = effective_hardware(paper)
    d = schmitt_design(paper)
    up, down = schmitt_thresholds(d["r1"], d["r2"], d["v_ref"], hw.comp_voh, hw.comp_vol)
    text = f"""* Schmitt trigger: slow triangle in, find the switching points
Vs vcc 0 DC {n(hw.comp_supply)}
Vin in 0 PWL(0 -0.2 1e-3 0.8 2e-3 -0.2)
R1 in sp {n(d["r1"])}
R2 out sp {n(d["r2"])}
Vref ref 0 DC {n(d["v_ref"])}
X1 sp ref vcc 0 out comparator_ad8561 t_delay={n(hw.comp_delay)} voh={n(hw.comp_voh)} vol={n(hw.comp_vol)}
{library("comparator_ad8561")}
.tran 1e-7 2e-3 0 1e-7
.end
"""
    v = run_netlist(text, 2e-3)
    t, vin, out = v["time"], v["in"], v["out"]
    mid = 0.5 * (hw.comp_voh + hw.comp_vol)
    t_up = crossings(t, out, mid)[0]
    # the first fall after the output has settled high (the model may chatter for ~0.2 µs
    # at a slow crossing)
    downs = crossings(t, -out, -mid)
    t_down = downs[downs > t_up + 10e-6][0]
    delay = hw.comp_delay  # read the input when the decision was taken
    measured_up = np.interp(t_up - delay, t, vin)
    measured_down = np.interp(t_down - delay, t, vin)
    assert measured_up == pytest.approx(up, rel=0.02)
    assert measured_down == pytest.approx(down, rel=0.02)
