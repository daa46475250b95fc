"""Design of the hardware neuron (paper Fig. 4b) from the neuron, memristor and stimulus.

Every [hardware] value left at "auto" (None) is designed here; a value the user sets
overrides its design equation. All voltages in V, resistances in Ω, currents in A.

Discharge path. While the comparator is high, the MOSFET (R_DS,on) and ``r_discharge``
(R_dis) pull node c towards the discharge level V_dis (the MOSFET's source) while the
input current I still flows. With R_d = R_dis + R_DS,on and the memristor branch
R(x) + r_s to v_rest, c settles at the floor (R(x) = v_th / i(v_th, x): the device's chord
resistance at the threshold, exact for the models linear in v; infinite where it is open)

    v_c,floor(x) = (I R_d (R(x) + r_s) + v_rest R_d + V_dis (R(x) + r_s)) / (R(x) + r_s + R_d)
    v_mem,floor  = max over x in {0, 1} of (v_c,floor - v_rest) R(x) / (R(x) + r_s)

with I = max(amplitude, low): the largest input current.

Schmitt thresholds (on v_mem; the comparator sees G v_mem):

    upper   = v_th
    lower   = max(v_mem,reset, v_mem,floor + MARGIN (v_th - v_mem,floor))
              v_mem,reset = (v_reset - v_rest) R(x0) / (R(x0) + r_s): where the model resets to
              + the overshoot: the discharge goes on for the loop delay
              t_loop = comp_delay + (1 + G) / (2 pi opamp_gbw) after v_mem reaches lower,
              by (v_c,lower - v_c,floor)(1 - exp(-t_loop / (R_d c))) in v_c; lower is raised by
              that (times R(x0)/(R(x0) + r_s)) so that the discharge ends at v_mem,reset
    refused (exit 2) when lower > v_th - MIN_HYSTERESIS: the comparator cannot resolve a
    smaller hysteresis (or the discharge cannot pull v_mem clearly below v_th).

    V_dis   = 0 (ground, as in the paper) when the floor lets lower come down to its aim;
              otherwise the highest level in [comp_vol - mos_vto + GATE_OFF_MARGIN, 0] that
              does (the MOSFET must stay off with the comparator low)
    R_dis   solves  t_dis(R_dis) + 2 t_loop = t_ref   (the loop delay acts at both ends),
              t_dis = (R_dis + R_DS,on) c ln((v_c,th - v_c,floor) / (v_c,lower - v_c,floor))
              the time the discharge takes from the threshold to the lower threshold (the
              model's hold), with v_c,th and v_c,lower the capacitor voltages where v_mem =
              v_th and lower (x = x0); at least TAU_DISCHARGE_MIN / c - R_DS,on (the
              amplifier and comparator need time to stop the discharge), at most the value
              where the floor term of lower reaches v_mem,reset (the minimum gives way where
              it would leave no room for a lower threshold at all).

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
import math

from . import devices
from .errors import ParamError
from .memristor import conductance
from .params import HardwareParams, Params

#: shortest discharge time constant (R_dis + R_DS,on) c, s: ~10x the amplifier + comparator delay
TAU_DISCHARGE_MIN = 0.3e-6
#: smallest and largest designed discharge resistor, Ω
R_DIS_MIN, R_DIS_MAX = 0.1, 1e5
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


def _g_branch(p: Params, x: float) -> float:
    """The device's chord conductance i(v_th, x) / v_th at state x (S; exact for the models
    linear in v, the design's estimate for the others; 0 where the device is open)."""
    m, v = p.memristor, p.neuron.v_th
    own = devices.get(m.model).current
    return float(own(v, x, m)) / v if own else float(conductance(x, m.r_on, m.r_off))


def _bisect(ok, lo: float, hi: float, steps: int = 80) -> float:
    """Largest value in [lo, hi] where ``ok`` holds, for ``ok`` true below a switch point
    and false above it (``ok(lo)`` assumed)."""
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return lo


def floor_v_mem(p: Params, r_dis: float, v_dis: float) -> float:
    """Lowest v_mem (V) the discharge reaches with the largest input current flowing."""
    n = p.neuron
    out = []
    for x in (0.0, 1.0):
        out.append((_c_floor(p, r_dis, v_dis, x) - n.v_rest) / (1.0 + n.r_s * _g_branch(p, x)))
    return max(out)


def _lower(p: Params, r_dis: float, v_dis: float, v_reset_mem: float) -> float:
    floor = floor_v_mem(p, r_dis, v_dis)
    return max(v_reset_mem, floor + MARGIN * (p.neuron.v_th - floor))


def _c_at(p: Params, v_mem: float, x: float) -> float:
    """Capacitor voltage (V) at which the memristor sees v_mem (V)."""
    return p.neuron.v_rest + v_mem * (1.0 + p.neuron.r_s * _g_branch(p, x))


def _c_floor(p: Params, r_dis: float, v_dis: float, x: float) -> float:
    """v_c,floor(x) of the module docstring, V."""
    n, r_d = p.neuron, r_dis + R_DS_ON
    g = _g_branch(p, x)
    g_b = g / (1.0 + n.r_s * g)  # of the branch R(x) + r_s
    i_max = max(p.stimulus.amplitude, p.stimulus.low)
    return (i_max * r_d + n.v_rest * r_d * g_b + v_dis) / (1.0 + r_d * g_b)


def _discharge_level(p: Params, r_dis: float, aim: float) -> float:
    """Highest source level in [comp_vol - mos_vto + GATE_OFF_MARGIN, 0] whose floor term lets
    the lower threshold come down to ``aim`` (or as close as that range allows)."""
    hw = p.hardware
    v_low = hw.comp_vol - hw.mos_vto + GATE_OFF_MARGIN
    if _lower(p, r_dis, 0.0, aim) <= aim or v_low >= 0.0:
        return 0.0
    target = max(aim, _lower(p, r_dis, v_low, aim))
    # the floor grows with V_dis: the highest level that fits
    return _bisect(lambda v: _lower(p, r_dis, v, aim) <= target + 1e-12, v_low, 0.0, 60)


def _r_dis_min(p: Params) -> float:
    """Smallest designed discharge resistor (Ω): time constant TAU_DISCHARGE_MIN."""
    return min(max(TAU_DISCHARGE_MIN / p.neuron.c - R_DS_ON, R_DIS_MIN), R_DIS_MAX)


def _t_discharge(p: Params, r_dis: float, v_dis: float, lower: float) -> float:
    """Time (s) the discharge takes from v_mem = v_th down to ``lower`` (inf if never)."""
    n, x0 = p.neuron, p.memristor.x0
    floor = _c_floor(p, r_dis, v_dis, x0)
    top, bottom = _c_at(p, n.v_th, x0) - floor, _c_at(p, lower, x0) - floor
    if bottom <= 0.0:
        return math.inf
    return (r_dis + R_DS_ON) * n.c * math.log(max(top / bottom, 1.0))


def _discharge_resistor(p: Params, v_dis: float, v_reset_mem: float, lower: float | None,
                        t_delay: float = 0.0) -> float:
    n = p.neuron
    # largest R_dis whose floor term still leaves lower at v_mem,reset (bisection: the floor grows with R_dis)
    r_cap = R_DIS_MAX
    if _lower(p, R_DIS_MAX, v_dis, v_reset_mem) > v_reset_mem:
        r_cap = _bisect(lambda r: _lower(p, r, v_dis, v_reset_mem) <= v_reset_mem, R_DIS_MIN, R_DIS_MAX)
    # a faster discharge than TAU_DISCHARGE_MIN only where a slower one leaves no room for a
    # lower threshold at all
    r_min = _r_dis_min(p)
    limit = n.v_th - 2.0 * MIN_HYSTERESIS
    if _lower(p, r_min, v_dis, v_reset_mem) > limit:
        r_min = _bisect(lambda r: _lower(p, r, v_dis, v_reset_mem) <= limit, R_DIS_MIN, r_min)
    target = lower if lower is not None else max(v_reset_mem, _lower(p, r_min, v_dis, v_reset_mem))
    hold = n.t_ref - t_delay
    if hold <= 0.0 or _t_discharge(p, r_min, v_dis, target) >= hold:
        return r_min
    hi = max(r_cap, r_min)
    if _t_discharge(p, hi, v_dis, target) <= hold:
        return hi
    return _bisect(lambda r: _t_discharge(p, r, v_dis, target) <= hold, r_min, hi)  # t_dis grows with R_dis


def design(p: Params) -> dict[str, float]:
    """Designed value of every "auto" [hardware] key (module docstring), user values kept.
    Raises ParamError (exit 2) where no design works."""
    hw, n, m = p.hardware, p.neuron, p.memristor
    share = 1.0 / (1.0 + n.r_s * _g_branch(p, m.x0))  # R(x0) / (R(x0) + r_s): v_mem of v_c - v_rest
    v_reset_mem = (n.v_reset - n.v_rest) * share
    v_dis = hw.v_discharge if hw.v_discharge is not None else 0.0
    gain = hw.diffamp_gain
    if gain is None:
        gain = min(1.0, (hw.comp_supply - COMP_INPUT_TOP) / (1.25 * n.v_th))
    t_loop = hw.comp_delay + (1.0 + gain) / (2.0 * math.pi * hw.opamp_gbw)
    # the discharge stops t_loop after v_mem reaches lower: aim lower above v_mem,reset by that overshoot
    aim = v_reset_mem
    r_dis = hw.r_discharge if hw.r_discharge is not None else _r_dis_min(p)
    for _ in range(8):  # V_dis, R_dis and the overshoot depend on each other: iterate
        if hw.v_discharge is None:
            v_dis = _discharge_level(p, r_dis, aim)
        if hw.r_discharge is None:
            r_dis = _discharge_resistor(p, v_dis, aim, hw.schmitt_lower, 2.0 * t_loop)
        low_c, floor_c = _c_at(p, aim, m.x0), _c_floor(p, r_dis, v_dis, m.x0)
        over_c = max(low_c - floor_c, 0.0) * (1.0 - math.exp(-t_loop / ((r_dis + R_DS_ON) * n.c)))
        aim = v_reset_mem + over_c * share
        if aim > n.v_th - 2.0 * MIN_HYSTERESIS:  # no room to compensate: aim at the reset level
            aim = v_reset_mem
    if hw.comp_voh < v_dis + hw.mos_vto + GATE_OVERDRIVE:
        raise ParamError(f"hardware.comp_voh: the comparator's high level {hw.comp_voh:g} V cannot drive the "
                         f"MOSFET (source at {v_dis:g} V + mos_vto {hw.mos_vto:g} V + {GATE_OVERDRIVE:g} V "
                         "overdrive needed)")
    lower = hw.schmitt_lower
    if lower is None:
        lower = _lower(p, r_dis, v_dis, aim)
        if lower > n.v_th - MIN_HYSTERESIS:
            floor = floor_v_mem(p, r_dis, v_dis)
            why = (f"the model's reset leaves v_mem at {v_reset_mem:.4g} V" if v_reset_mem >= floor else
                   f"with {max(p.stimulus.amplitude, p.stimulus.low):g} A flowing, the discharge (r_discharge "
                   f"{r_dis:.4g} Ω + R_DS,on {R_DS_ON:g} Ω to {v_dis:.4g} V) cannot pull v_mem below {floor:.4g} V")
            raise ParamError(
                f"hardware: no Schmitt trigger design works: {why}, within {MIN_HYSTERESIS * 1e3:g} mV of "
                f"neuron.v_th = {n.v_th:g} V (the smallest hysteresis the comparator resolves)")
    if gain * n.v_th > hw.comp_supply - COMP_INPUT_TOP:
        raise ParamError(f"hardware.diffamp_gain: gain * v_th = {gain * n.v_th:.4g} V is beyond the comparator's "
                         f"input range (comp_supply - {COMP_INPUT_TOP:g} V = {hw.comp_supply - COMP_INPUT_TOP:.4g} V)")
    v_c_max = _c_at(p, n.v_th, 1.0)
    supply = max(V_SUPPLY_MIN, gain / (1 + gain) * v_c_max + hw.opamp_headroom + 1.0,
                 gain * n.v_th + hw.opamp_headroom + 1.0)
    values = {"r_discharge": r_dis, "v_discharge": v_dis, "schmitt_lower": lower, "diffamp_gain": gain,
              "v_pos": supply if hw.v_pos is None else hw.v_pos,
              "v_neg": -supply if hw.v_neg is None else hw.v_neg}
    for key, value in values.items():  # parameters far outside a circuit's range overflow the design
        if not math.isfinite(value):
            raise ParamError(f"hardware.{key}: no design for these parameters (it comes out as {value}); "
                             "check the [neuron], [memristor] and [stimulus] values")
    return values


def effective_hardware(p: Params) -> HardwareParams:
    """[hardware] with every "auto" value replaced by its design. Raises ParamError (exit 2)
    when no design works."""
    return dataclasses.replace(p.hardware, **design(p))
