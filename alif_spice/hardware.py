"""Design of the hardware neuron (paper Fig. 4b) from the neuron, memristor and stimulus.

Every [hardware] value left at "auto" (None) is designed here; a value the user sets
overrides its design equation. All voltages in V, resistances in Ω, currents in A.

Discharge path. While the comparator is high, the MOSFET (R_DS,on) and ``r_discharge``
(R_dis) pull node c towards the discharge level V_dis (the MOSFET's source) while the
input current I still flows. With R_d = R_dis + R_DS,on and the memristor branch
R(x) + r_s to v_rest, c settles at the floor

    v_c,floor(x) = (I R_d (R(x) + r_s) + v_rest R_d + V_dis (R(x) + r_s)) / (R(x) + r_s + R_d)
    v_mem,floor  = max over x in {0, 1} of (v_c,floor - v_rest) R(x) / (R(x) + r_s)

with I = max(amplitude, low): the largest input current.

    R_dis   = clamp(TAU_DISCHARGE / c - R_DS,on, R_DIS_MIN, R_DIS_MAX)
              (discharge time constant R_d c near 2 µs, within sane resistor values)
    V_dis   = 0 (ground, as in the paper) when the lower threshold below fits; otherwise the
              highest level in [comp_vol - mos_vto + 0.5 V, 0] (the MOSFET must stay off with
              the comparator low) whose floor term fits under max(v_mem,reset, v_th / 2)

Schmitt thresholds (on v_mem; the comparator sees G v_mem):

    upper   = v_th
    lower   = max(v_mem,reset, v_mem,floor + MARGIN (v_th - v_mem,floor))
              v_mem,reset = (v_reset - v_rest) R(x0) / (R(x0) + r_s): where the model resets to
    refused (exit 2) when lower > v_th - MIN_HYSTERESIS: the comparator cannot resolve a
    smaller hysteresis (or the discharge cannot pull v_mem clearly below v_th).

Difference amplifier: V(da) = G (V(c) - V(m)) = G v_mem, with

    G       = min(1, (comp_supply - COMP_INPUT_TOP) / (1.25 v_th))
              (unity unless G v_th would leave the comparator's input range)

Op-amp supplies (symmetric): the amplifier's + input sits at G/(1+G) V(c) and its output
reaches G v_th; both must stay headroom + 1 V inside the rails:

    v_pos   = -v_neg = max(12, G/(1+G) v_c,max + headroom + 1, G v_th + headroom + 1)
    v_c,max = v_rest + v_th (r_on + r_s) / r_on   (c at threshold with the memristor fully ON)

MOSFET drive: the comparator's high level drives the gate against a source at V_dis; it
must exceed V_dis + ``mos_vto`` by GATE_OVERDRIVE or no discharge can work (refused, exit 2).
"""

from __future__ import annotations

import dataclasses

from .errors import ParamError
from .params import HardwareParams, Params

#: target discharge time constant (R_dis + R_DS,on) c, s
TAU_DISCHARGE = 2.2e-6
#: bounds of the designed discharge resistor, Ω
R_DIS_MIN, R_DIS_MAX = 10.0, 1e3
#: MOSFET on-resistance assumed by the design (2N7002 class at a 5 V gate), Ω
R_DS_ON = 2.0
#: lower threshold sits this fraction of (v_th - floor) above the floor
MARGIN = 0.1
#: smallest Schmitt hysteresis on v_mem the comparator resolves reliably, V
MIN_HYSTERESIS = 2e-3
#: the MOSFET stays off when its source is at least this far above comp_vol - mos_vto, V
GATE_OFF_MARGIN = 0.5
#: the comparator's inputs must stay this far below its supply (AD8561: V+ - 2.2 V), V
COMP_INPUT_TOP = 2.2
#: gate drive above the MOSFET threshold needed for a low-resistance switch, V
GATE_OVERDRIVE = 1.5
#: smallest op-amp supply the design uses (the paper's ±12 V), V
V_SUPPLY_MIN = 12.0


def _r_branch(p: Params, x: float) -> float:
    m = p.memristor
    return 1.0 / (x / m.r_on + (1.0 - x) / m.r_off)


def floor_v_mem(p: Params, r_dis: float, v_dis: float) -> float:
    """Lowest v_mem (V) the discharge reaches with the largest input current flowing."""
    n = p.neuron
    i_max = max(p.stimulus.amplitude, p.stimulus.low)
    r_d = r_dis + R_DS_ON
    out = []
    for x in (0.0, 1.0):
        r = _r_branch(p, x)
        v_c = (i_max * r_d * (r + n.r_s) + n.v_rest * r_d + v_dis * (r + n.r_s)) / (r + n.r_s + r_d)
        out.append((v_c - n.v_rest) * r / (r + n.r_s))
    return max(out)


def _lower(p: Params, r_dis: float, v_dis: float, v_reset_mem: float) -> float:
    floor = floor_v_mem(p, r_dis, v_dis)
    return max(v_reset_mem, floor + MARGIN * (p.neuron.v_th - floor))


def design(p: Params) -> dict[str, float]:
    """Designed value of every "auto" [hardware] key (module docstring), user values kept.
    Raises ParamError (exit 2) where no design works."""
    hw, n, m = p.hardware, p.neuron, p.memristor
    r_dis = hw.r_discharge
    if r_dis is None:
        r_dis = min(max(TAU_DISCHARGE / n.c - R_DS_ON, R_DIS_MIN), R_DIS_MAX)
    r0 = _r_branch(p, m.x0)
    v_reset_mem = (n.v_reset - n.v_rest) * r0 / (r0 + n.r_s)
    v_dis = hw.v_discharge
    if v_dis is None:
        v_dis = 0.0
        v_low = hw.comp_vol - hw.mos_vto + GATE_OFF_MARGIN
        if _lower(p, r_dis, v_dis, v_reset_mem) > n.v_th - MIN_HYSTERESIS and v_low < 0.0:
            target = max(v_reset_mem, 0.5 * n.v_th)
            lo, hi = v_low, 0.0
            for _ in range(60):  # the floor term grows with V_dis: bisection for the highest fit
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if _lower(p, r_dis, mid, v_reset_mem) <= target else (lo, mid)
            v_dis = lo
    if hw.comp_voh < v_dis + hw.mos_vto + GATE_OVERDRIVE:
        raise ParamError(f"hardware.comp_voh: the comparator's high level {hw.comp_voh:g} V cannot drive the "
                         f"MOSFET (source at {v_dis:g} V + mos_vto {hw.mos_vto:g} V + {GATE_OVERDRIVE:g} V "
                         "overdrive needed)")
    lower = hw.schmitt_lower
    if lower is None:
        lower = _lower(p, r_dis, v_dis, v_reset_mem)
        if lower > n.v_th - MIN_HYSTERESIS:
            floor = floor_v_mem(p, r_dis, v_dis)
            why = (f"the model's reset leaves v_mem at {v_reset_mem:.4g} V" if v_reset_mem >= floor else
                   f"with {max(p.stimulus.amplitude, p.stimulus.low):g} A flowing, the discharge (r_discharge "
                   f"{r_dis:.4g} Ω + R_DS,on {R_DS_ON:g} Ω to {v_dis:.4g} V) cannot pull v_mem below {floor:.4g} V")
            raise ParamError(
                f"hardware: no Schmitt trigger design works: {why}, within {MIN_HYSTERESIS * 1e3:g} mV of "
                f"neuron.v_th = {n.v_th:g} V (the smallest hysteresis the comparator resolves)")
    gain = hw.diffamp_gain
    if gain is None:
        gain = min(1.0, (hw.comp_supply - COMP_INPUT_TOP) / (1.25 * n.v_th))
    if gain * n.v_th > hw.comp_supply - COMP_INPUT_TOP:
        raise ParamError(f"hardware.diffamp_gain: gain * v_th = {gain * n.v_th:.4g} V is beyond the comparator's "
                         f"input range (comp_supply - {COMP_INPUT_TOP:g} V = {hw.comp_supply - COMP_INPUT_TOP:.4g} V)")
    v_c_max = n.v_rest + n.v_th * (m.r_on + n.r_s) / m.r_on
    supply = max(V_SUPPLY_MIN, gain / (1 + gain) * v_c_max + hw.opamp_headroom + 1.0,
                 gain * n.v_th + hw.opamp_headroom + 1.0)
    return {"r_discharge": r_dis, "v_discharge": v_dis, "schmitt_lower": lower, "diffamp_gain": gain,
            "v_pos": supply if hw.v_pos is None else hw.v_pos,
            "v_neg": -supply if hw.v_neg is None else hw.v_neg}


def effective_hardware(p: Params) -> HardwareParams:
    """[hardware] with every "auto" value replaced by its design. Raises ParamError (exit 2)
    when no design works."""
    return dataclasses.replace(p.hardware, **design(p))
