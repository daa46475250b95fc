"""Circuits as a registry: everything the stages need to know about a SPICE circuit, in
one place.

A circuit is its Jinja2 template ``netlists/<name>.cir.j2`` and one :class:`Circuit`
entry here: its kind (a *neuron* compared with the RK4 model, or a *device* measured
alone), what its netlist needs (timing and template values), which SPICE quantities it
records (``V(node)`` or ``I(source)``) and the trace columns derived from them, its spike
rule, the parameters the model needs to be compared like with like, how long a working
output may stay on, and its label and colour in figures. The renderer, the runner,
``compare``, the sweeps and the reports read these entries; adding a circuit touches its
template and this file.

This module imports nothing heavy: the command line builds its choices from it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import ParamError


@dataclass(frozen=True)
class Engine:
    """Something that produces a neuron's traces: the RK4 model or a SPICE circuit."""

    name: str
    label: str  # in legends and tables
    color: str  # matplotlib colour
    linestyle: str  # in sweep figures


@dataclass(frozen=True)
class Circuit(Engine):
    #: "neuron" (compared with the RK4 model), "device" (the memristor alone) or "external" (a
    #: neuron simulated elsewhere, :data:`EXTERNAL`)
    kind: str = "neuron"
    description: str = ""
    #: (trace column, SPICE quantity): "V(node)" or "I(voltage source)", recorded by ngspice
    probes: tuple[tuple[str, str], ...] = ()
    #: p -> template values, including t_stop, t_step and max_step (s)
    context: Callable[[Any], dict] | None = None
    #: (p, time, probes by column) -> the trace's signals
    derive: Callable[[Any, Any, dict], dict] | None = None
    #: p -> (trace column, level): spikes are the column's upward crossings of the level
    spike: Callable[[Any], tuple[str, float]] | None = None
    #: p -> the longest time (s) a working spike output stays on
    stuck_bound: Callable[[Any], float] | None = None
    stuck_why: str = ""  # what a stuck output means, for the message
    #: p -> the RK4 model's parameters for a like-with-like comparison (None: p itself)
    model: Callable[[Any], Any] | None = None
    #: (p, the model's parameters) -> what the report says about the difference
    model_note: Callable[[Any, Any], str] | None = None
    #: p -> its supply sources as (trace column of the source's current, its voltage in V);
    #: the supply-energy metrics apply to the circuits that have them
    supplies: Callable[[Any], tuple[tuple[str, float], ...]] | None = None
    #: parameter tables this circuit reads beyond the model's (e.g. "hardware")
    tables: tuple[str, ...] = ()
    #: p -> its own tables with every "auto" value as designed and used (None: no design)
    designed: Callable[[Any], Any] | None = None

    @property
    def template(self) -> str:
        return f"{self.name}.cir.j2"

    def model_params(self, p):
        return p if self.model is None else self.model(p)


#: the RK4 reference solver, the engine every neuron circuit is compared with
MODEL = Engine("ode", "RK4 model", "black", "-")

#: every circuit by name, in the order commands list them
CIRCUITS: dict[str, Circuit] = {}

#: a neuron simulated elsewhere (another simulator's raw file or CSV export), compared with
#: the model like a circuit of ours; it has no netlist, and nothing lists it among the circuits
EXTERNAL = Circuit("external", "external simulation", "tab:purple", "-", kind="external",
                   description="a transient simulated elsewhere, read from a raw file or CSV export")


def parse_probe(probe: str) -> tuple[str, str]:
    """A recorded quantity as ("V", node) or ("I", voltage source), names in lower case
    (what the simulator's vector naming starts from: :func:`alif_spice.spice.vector_name`)."""
    kind, _, rest = probe.partition("(")
    name = rest.rstrip(")").strip().lower()
    kind = kind.strip().upper()
    if (kind == "I" and name) or (kind == "V" and name and "," not in name):
        return kind, name
    raise ValueError(f"cannot record {probe!r}: give V(node) or I(voltage source)")


def register(circuit: Circuit) -> Circuit:
    """Add ``circuit`` to the registry, after checking the entry is complete (a neuron
    circuit needs a spike rule, a stuck bound, its template values and its signals)."""
    if circuit.name in CIRCUITS or circuit.name == MODEL.name:
        raise ValueError(f"circuit {circuit.name} is defined twice")
    if circuit.kind not in ("neuron", "device"):
        raise ValueError(f"circuit {circuit.name}: kind must be neuron or device")
    if circuit.context is None or circuit.derive is None or not circuit.probes:
        raise ValueError(f"circuit {circuit.name}: needs context, probes and derive")
    if circuit.kind == "neuron" and (circuit.spike is None or circuit.stuck_bound is None):
        raise ValueError(f"circuit {circuit.name}: a neuron circuit needs a spike rule and a stuck bound")
    for _, probe in circuit.probes:
        parse_probe(probe)  # V(node) or I(source), else ValueError now rather than at run time
    CIRCUITS[circuit.name] = circuit
    return circuit


def names(kind: str | None = None) -> tuple[str, ...]:
    """Circuit names (of one kind, or all)."""
    return tuple(n for n, c in CIRCUITS.items() if kind is None or c.kind == kind)


def get(name: str) -> Circuit:
    if name == EXTERNAL.name:
        return EXTERNAL
    try:
        return CIRCUITS[name]
    except KeyError:
        raise ParamError(f"--circuit: unknown circuit {name!r} (choose from {', '.join(CIRCUITS)})") from None


def engine(name: str) -> Engine:
    """The RK4 model ("ode") or a circuit."""
    return MODEL if name == MODEL.name else get(name)


#: the parameter tables every neuron engine reads (the RK4 model and every circuit)
MODEL_TABLES = ("memristor", "neuron", "stimulus", "simulation")


def parameter_tables(engine_names) -> tuple[str, ...]:
    """The parameter tables that take part when these engines run: the model's, then the
    circuits' own (e.g. "hardware" only where the hardware circuit runs)."""
    own = [t for n in engine_names if n != MODEL.name for t in get(n).tables]
    return MODEL_TABLES + tuple(dict.fromkeys(t for t in own if t not in MODEL_TABLES))


def engines() -> tuple[str, ...]:
    """What a neuron sweep can run: the model and every neuron circuit."""
    return (MODEL.name, *names("neuron"))


# --------------------------------------------------------------------------- shared parts


def _neuron_timing(p) -> dict:
    return {"t_stop": p.simulation.t_stop, "t_step": p.simulation.max_step, "max_step": p.simulation.max_step}


_NEURON_PROBES = (("v_c", "V(c)"), ("v_m", "V(m)"), ("x", "V(x)"), ("i_m", "I(vsense)"))


def _neuron_signals(p, t, raw: dict) -> dict:
    """v_mem across the memristor, the input current from the stimulus, and every other
    probe as recorded (v_m is only a means to v_mem)."""
    from .stimulus import SquareWave

    signals = {"v_c": raw["v_c"], "v_mem": raw["v_c"] - raw["v_m"], "x": raw["x"], "i_m": raw["i_m"],
               "i_in": SquareWave.from_params(p)(t)}
    signals.update({k: v for k, v in raw.items() if k not in ("v_c", "v_m", "x", "i_m")})
    return signals


def _half_phase(p) -> float:
    s = p.stimulus
    return 0.5 * min(s.duty, 1.0 - s.duty) / s.frequency


# --------------------------------------------------------------------------- ideal


def _ideal_context(p) -> dict:
    from .netlist import CLAMP_RON_MAX, CLAMP_TAU, MIN_HOLD, SET_GAIN, ideal_hold

    return {**_neuron_timing(p), "hold": ideal_hold(p), "min_hold": MIN_HOLD, "set_gain": SET_GAIN,
            "clamp_ron": min(CLAMP_TAU / p.neuron.c, CLAMP_RON_MAX)}


def _ideal_model(p):
    from .netlist import ideal_hold

    hold = ideal_hold(p)
    return p if hold == p.neuron.t_ref else p.with_values({"neuron.t_ref": hold})


def _ideal_model_note(p, p_model) -> str:
    from .netlist import MIN_HOLD

    return (f"neuron.t_ref = {p.neuron.t_ref:g} s is shorter than the ideal circuit's shortest hold "
            f"({MIN_HOLD:g} s): the RK4 model was given the same effective refractory period, "
            f"t_ref = {p_model.neuron.t_ref:g} s, so that like is compared with like")


def _ideal_stuck_bound(p) -> float:
    from .netlist import ideal_hold

    return ideal_hold(p) + _half_phase(p)


register(Circuit(
    "ideal", "ideal circuit (SPICE)", "tab:blue", "--",
    description="behavioural neuron: the model's equations as ideal components, a latch for the reset",
    probes=_NEURON_PROBES + (("latch", "V(q)"),),
    context=_ideal_context, derive=_neuron_signals, spike=lambda p: ("latch", 0.5),
    stuck_bound=_ideal_stuck_bound, model=_ideal_model, model_note=_ideal_model_note))


# --------------------------------------------------------------------------- hardware


def _hardware_context(p) -> dict:
    from .hardware import effective_hardware
    from .netlist import design_doc, mosfet_card, schmitt_design

    hw = effective_hardware(p)
    return {**_neuron_timing(p), "hw": hw, "schmitt": schmitt_design(p), "mosfet_card": mosfet_card(hw.mos_vto),
            "design_doc": design_doc()}


def _hardware_designed(p):
    from .hardware import effective_hardware

    return effective_hardware(p)


def _hardware_supplies(p) -> tuple[tuple[str, float], ...]:
    hw = _hardware_designed(p)
    assert hw.v_pos is not None and hw.v_neg is not None  # designed
    return (("i_pos", hw.v_pos), ("i_neg", hw.v_neg), ("i_cmp_supply", hw.comp_supply))


def _hardware_stuck_bound(p) -> float:
    from .hardware import R_DS_ON, effective_hardware

    hw = effective_hardware(p)
    assert hw.r_discharge is not None  # designed
    return max(10.0 * (hw.r_discharge + R_DS_ON) * p.neuron.c, _half_phase(p))


register(Circuit(
    "hardware", "hardware circuit (SPICE)", "tab:red", ":",
    description="op-amp difference amplifier, comparator with a Schmitt trigger, MOSFET discharge",
    probes=_NEURON_PROBES + (("v_diff", "V(da)"), ("v_cmp", "V(co)"), ("i_pos", "I(vpos)"),
                             ("i_neg", "I(vneg)"), ("i_cmp_supply", "I(vcs)")),
    context=_hardware_context, derive=_neuron_signals,
    spike=lambda p: ("v_cmp", 0.5 * (p.hardware.comp_voh + p.hardware.comp_vol)),
    stuck_bound=_hardware_stuck_bound, tables=("hardware",), designed=_hardware_designed,
    supplies=_hardware_supplies,
    stuck_why=" (the discharge cannot pull v_mem below the Schmitt trigger's lower threshold while "
              "the input flows)"))


# --------------------------------------------------------------------------- memristor I-V


def _iv_context(p) -> dict:
    from .stimulus import IvSource

    iv = p.iv
    step = 1.0 / (iv.frequency * iv.points_per_period)
    return {"t_stop": iv.periods / iv.frequency, "t_step": step, "max_step": step,
            "source": IvSource.from_params(p).spice()}


register(Circuit(
    "memristor-iv", "memristor I-V (SPICE)", "tab:green", "-.", kind="device",
    description="the memristor alone, driven through a series resistor: its pinched hysteresis loop",
    probes=(("v_src", "V(src)"), ("v_mem", "V(a)"), ("x", "V(x)"), ("i_m", "I(vsense)")),
    context=_iv_context, derive=lambda p, t, raw: dict(raw)))
