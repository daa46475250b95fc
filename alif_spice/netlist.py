"""Netlist renderer: parameters -> self-contained ngspice netlists (Jinja2 templates).

Templates live in ``netlists/*.cir.j2``; the SPICE libraries of ``spice_models/`` are
inlined, so ``ngspice -b FILE.cir`` runs a rendered netlist as written. Safety: the
templates use StrictUndefined, every number goes through :func:`spice_number` (which
accepts only finite numbers) and the only other text they insert is a whitelisted
library or model name, so no parameter value can add a line, a ``.control`` block or a
``shell`` command. Same parameters -> byte-identical netlist (no timestamps).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import jinja2

from . import circuits as registry
from . import devices
from .errors import ParamError
from .params import Params
from .resources import data_dir
from .stimulus import SquareWave
from .units import format_spice_number
from .version import __version__

#: the shipped SPICE libraries: the device models' and the hardware circuit's parts
LIBRARIES = tuple(dict.fromkeys([devices.get(d).library for d in devices.names()]
                                + ["opamp_op482", "comparator_ad8561", "nmos_2n7002"]))

#: shortest refractory period the SPICE latch can represent (s)
MIN_HOLD = 0.5e-9
#: gain (V/V) of the latch's set control, G (v_mem - v_th): ngspice's switch limits the
#: time step to let its control overshoot by ~0.05 V, i.e. 0.05/G of v_mem
SET_GAIN = 1e6
#: time constant (s) of the reset clamp, ron * c: the hold (>= MIN_HOLD) is 50 of them
CLAMP_TAU = 10e-12
#: ... and its on-resistance never above this (Ω), so that the clamp holds for any c
CLAMP_RON_MAX = 1e-3
#: Schmitt trigger feedback resistor R2 (Ω); R1 follows from the design equations
SCHMITT_R2 = 100e3


def spice_number(value: object) -> str:
    """Jinja filter: a finite int/float as SPICE text; anything else is refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParamError(f"netlist: refusing to write {type(value).__name__} {value!r} as a number")
    try:
        return format_spice_number(float(value))
    except ValueError as exc:
        raise ParamError(f"netlist: {exc}") from None


@dataclass(frozen=True)
class Netlist:
    """A rendered netlist and what the runner needs to read its results."""

    circuit: str
    text: str
    sha256: str
    t_stop: float
    #: trace column -> recorded SPICE quantity, "V(node)" or "I(voltage source)"
    probes: dict[str, str]
    #: (trace column, threshold): spikes are its upward crossings
    spike: tuple[str, float] | None


def ideal_hold(p: Params) -> float:
    """Hold of the ideal circuit's reset (s): ``t_ref``, or :data:`MIN_HOLD` where ``t_ref`` is
    shorter than the latch can resolve."""
    return max(p.neuron.t_ref, MIN_HOLD)


def model_params(p: Params, circuit: str) -> Params:
    """The parameters the RK4 model needs to be compared like with like with ``circuit``:
    the ideal circuit's effective hold as ``t_ref`` (same as ``p`` unless t_ref < MIN_HOLD)."""
    return registry.get(circuit).model_params(p)


def schmitt_design(p: Params) -> dict[str, float]:
    """Component values of the Schmitt trigger (positive feedback around the comparator).

    The comparator sees V(da) = G v_mem. Thresholds: V_up = V_ref(1 + R1/R2) - V_OL R1/R2
    and V_down = V_ref(1 + R1/R2) - V_OH R1/R2, with V_up = G neuron.v_th and V_down = G
    schmitt_lower (designed values of :mod:`alif_spice.hardware` unless set). Returns r1,
    r2, v_ref (Ω, Ω, V) and the thresholds v_up, v_down on V(da) (V).
    """
    from .hardware import effective_hardware

    hw = effective_hardware(p)
    assert hw.diffamp_gain is not None and hw.schmitt_lower is not None  # designed
    v_up, v_down = hw.diffamp_gain * p.neuron.v_th, hw.diffamp_gain * hw.schmitt_lower
    ratio = (v_up - v_down) / (hw.comp_voh - hw.comp_vol)
    v_ref = (v_up + hw.comp_vol * ratio) / (1.0 + ratio)
    return {"r1": ratio * SCHMITT_R2, "r2": SCHMITT_R2, "v_ref": v_ref, "v_up": v_up, "v_down": v_down}


def schmitt_thresholds(r1: float, r2: float, v_ref: float, voh: float, vol: float) -> tuple[float, float]:
    """(V_up, V_down) of the Schmitt trigger from its components (the design equations)."""
    return v_ref * (1 + r1 / r2) - vol * r1 / r2, v_ref * (1 + r1 / r2) - voh * r1 / r2


def library(name: str) -> str:
    """Text of one of the shipped SPICE libraries (spice_models/NAME.lib)."""
    if name not in LIBRARIES:
        raise ParamError(f"netlist: unknown SPICE library {name!r}")
    return data_dir("spice_models").joinpath(f"{name}.lib").read_text(encoding="utf-8").rstrip() + "\n"


def mosfet_card(vto: float) -> str:
    """The 2N7002 card of spice_models with the threshold of [hardware] mos_vto."""
    text, count = re.subn(r"\bVto=[0-9.eE+-]+", f"Vto={spice_number(vto)}", library("nmos_2n7002"))
    assert count == 1
    return text


def _environment() -> jinja2.Environment:
    def load(name: str) -> str:
        return data_dir("netlists").joinpath(name).read_text(encoding="utf-8")

    env = jinja2.Environment(loader=jinja2.FunctionLoader(load), undefined=jinja2.StrictUndefined,
                             autoescape=False, keep_trailing_newline=True, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters["n"] = spice_number
    env.globals["library"] = library
    env.globals["device"] = devices.get
    return env


def _header(p: Params, circuit: str) -> list[str]:
    lines = [f"* alif-spice {__version__}: '{circuit}' circuit (ngspice 39 to 46; run with ngspice -b)",
             "* parameters (SI units; \"auto\": designed, see the design equations below;"
             " of [memristor], the keys its device model reads):"]
    reads = set(devices.keys_read(p.memristor))
    for key, value in p.flat().items():
        table, name = key.split(".", 1)
        if table == "memristor" and name not in reads:
            continue
        text = "auto" if value is None else value if isinstance(value, str) else spice_number(value)
        lines.append(f"*   {key} = {text}")
    return lines


def design_doc() -> list[str]:
    """The hardware design equations (the docstring of alif_spice.hardware) as comment lines."""
    from . import hardware

    lines = [line.rstrip() for line in (hardware.__doc__ or "").strip().splitlines()]
    names = ("MARGIN", "MIN_HYSTERESIS", "GATE_OFF_MARGIN", "GATE_OVERDRIVE", "TAU_DISCHARGE_MIN",
             "R_DIS_MIN", "R_DIS_MAX", "R_DS_ON", "COMP_INPUT_TOP", "V_SUPPLY_MIN")
    values = [f"{k} = {spice_number(getattr(hardware, k))}" for k in names]
    rows = ["    " + ", ".join(values[i:i + 4]) for i in range(0, len(values), 4)]
    return lines + ["", "Constants (SI units):"] + rows


def spike_output(p: Params, circuit: str) -> tuple[str, float] | None:
    """(trace column, on/off level) of a circuit's spike output: the ideal circuit's latch
    (it sets when the switch sees v_mem > v_th), the hardware comparator's output at the
    middle of its levels; None for the memristor I-V circuit."""
    rule = registry.get(circuit).spike
    return None if rule is None else rule(p)


def render(p: Params, circuit: str) -> Netlist:
    """Render a registered circuit (``ideal``, ``hardware``, ``memristor-iv``) for ``p``."""
    c = registry.get(circuit)
    context = {"m": p.memristor, "n": p.neuron, "hw": p.hardware, "sim": p.simulation, "iv": p.iv,
               "s": SquareWave.from_params(p), **(c.context(p) if c.context else {})}
    body = _environment().get_template(c.template).render(**context)
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    text = "\n".join(_header(p, circuit) + [f"* sha256 of the netlist below: {digest}"]) + "\n" + body
    return Netlist(circuit=circuit, text=text, sha256=digest, t_stop=float(context["t_stop"]),
                   probes=dict(c.probes), spike=spike_output(p, circuit))


def is_rendered_netlist(path) -> bool:
    """A netlist file alif-spice rendered and nobody edited since: our header, and the
    SHA-256 it records matches the netlist below it."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        text = fh.read(1 << 24)
    if not text.startswith("* alif-spice "):
        return False
    mark = "* sha256 of the netlist below: "
    at = text.find("\n" + mark)
    if at < 0:
        return False
    line_end = text.find("\n", at + 1)
    digest = text[at + 1 + len(mark):line_end].strip()
    body = text[line_end + 1:]
    return hashlib.sha256(body.encode("utf-8")).hexdigest() == digest
