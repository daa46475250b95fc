"""The parameter schema: typed, immutable, validated at the boundary.

All default values live in one place, the preset TOML files shipped in
``alif_spice/presets/`` (``paper.toml`` documents why each value was chosen).
Everything else (ODE, netlists, sweeps, fits) reads a :class:`Params`.

>>> p = load_params("paper", sets=["neuron.c=47n"])
>>> p.neuron.c
4.7e-08
"""

from __future__ import annotations

import dataclasses
import math
import os
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from importlib import resources
from typing import Any

from . import devices, tomlfile
from .errors import ParamError
from .units import parse_number


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Rule:
    """A check on one value and the words that explain it."""

    ok: Callable[[Any], bool]
    text: str


FINITE = Rule(lambda v: True, "must be finite")
POSITIVE = Rule(lambda v: v > 0, "must be > 0")
NONNEG = Rule(lambda v: v >= 0, "must be >= 0")
UNIT = Rule(lambda v: 0 <= v <= 1, "must be in [0, 1]")
OPEN_UNIT = Rule(lambda v: 0 < v < 1, "must be in (0, 1)")
#: a physical scale beyond which the Yakopcic current overflows floating point in a circuit
UP_TO_1000 = Rule(lambda v: 0 < v <= 1000, "must be > 0 and <= 1000")
HALF_OPEN_UNIT = Rule(lambda v: 0 <= v < 1, "must be in [0, 1)")


def choice(*options: str) -> Rule:
    return Rule(lambda v: v in options, "must be one of " + ", ".join(repr(o) for o in options))


def _num(rule: Rule, unit: str, doc: str) -> Any:
    return field(metadata={"rule": rule, "unit": unit, "doc": doc, "kind": float})


def _auto(rule: Rule, unit: str, doc: str) -> Any:
    """A number that may be ``"auto"`` (stored as None): designed from the other tables."""
    return field(metadata={"rule": rule, "unit": unit, "doc": doc + ' ("auto": designed)', "kind": float,
                           "auto": True})


def _str(rule: Rule, doc: str) -> Any:
    return field(metadata={"rule": rule, "unit": "", "doc": doc, "kind": str})


# --------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class MemristorParams:
    """The memristor: ``model`` selects a device model (:mod:`alif_spice.devices`), which reads
    its own keys of this table (a key another model reads is ignored). Knowm sign
    convention: a positive voltage above v_on switches the device ON (x towards 1)."""

    model: str = _str(choice(*devices.names()), "device model (alif_spice.devices)")
    r_on: float = _num(POSITIVE, "Ω", "ON-state resistance")
    r_off: float = _num(POSITIVE, "Ω", "OFF-state resistance")
    v_on: float = _num(POSITIVE, "V", "switching-on threshold voltage")
    v_off: float = _num(POSITIVE, "V", "switching-off threshold voltage (magnitude)")
    tau: float = _num(POSITIVE, "s", "switching time constant")
    temperature: float = _num(Rule(lambda v: 1.0 <= v <= 1e4, "must be between 1 and 10000 K"), "K",
                              "device temperature; beta = q/(k_B T)")
    x0: float = _num(UNIT, "1", "initial fraction of switches ON")
    state: str = _str(choice("free", "frozen"),
                      "the state x evolves (free) or stays at x0 (frozen: the same neuron without adaptation, "
                      "a plain LIF, for control experiments)")
    phi: float = _num(UNIT, "1", "fraction of current through the switches (1 = plain MMS)")
    alpha_f: float = _num(NONNEG, "A", "forward Schottky prefactor (phi < 1)")
    beta_f: float = _num(NONNEG, "1/V", "forward Schottky exponent (phi < 1)")
    alpha_r: float = _num(NONNEG, "A", "reverse Schottky prefactor (phi < 1)")
    beta_r: float = _num(NONNEG, "1/V", "reverse Schottky exponent (phi < 1)")
    k_on: float = _num(POSITIVE, "1/s", "VTEAM: switching-on rate of the state x above v_on")
    k_off: float = _num(POSITIVE, "1/s", "VTEAM: switching-off rate of the state x below -v_off")
    alpha_on: float = _num(POSITIVE, "1", "VTEAM: exponent of the switching-on rate")
    alpha_off: float = _num(POSITIVE, "1", "VTEAM: exponent of the switching-off rate")
    p_window: float = _num(Rule(lambda v: 1 <= v <= 100, "must be between 1 and 100"), "1",
                           "VTEAM: exponent p of the Biolek window 1 - x^(2p) / 1 - (1-x)^(2p)")
    a1: float = _num(UP_TO_1000, "A", "Yakopcic: current prefactor for v >= 0, i = a1 x sinh(b v)")
    a2: float = _num(UP_TO_1000, "A", "Yakopcic: current prefactor for v < 0, i = a2 x sinh(b v)")
    b: float = _num(UP_TO_1000, "1/V", "Yakopcic: exponent of the current's sinh(b v)")
    a_p: float = _num(POSITIVE, "1/s", "Yakopcic: switching-on rate a_p (e^v - e^v_on) above v_on")
    a_n: float = _num(POSITIVE, "1/s", "Yakopcic: switching-off rate a_n (e^-v - e^v_off) below -v_off")
    x_p: float = _num(HALF_OPEN_UNIT, "1", "Yakopcic: state above which switching on slows down")
    x_n: float = _num(HALF_OPEN_UNIT, "1", "Yakopcic: switching off slows down below the state 1 - x_n")
    alpha_p: float = _num(NONNEG, "1", "Yakopcic: decay constant of the switching-on window above x_p")
    alpha_n: float = _num(NONNEG, "1", "Yakopcic: decay constant of the switching-off window below 1 - x_n")


@dataclass(frozen=True)
class NeuronParams:
    """Ideal ALIF neuron of paper Fig. 4a."""

    c: float = _num(POSITIVE, "F", "membrane capacitance")
    r_s: float = _num(NONNEG, "Ω", "series resistor of the memristor branch")
    v_rest: float = _num(FINITE, "V", "resting potential (source at the branch end)")
    v_th: float = _num(POSITIVE, "V", "spike threshold on the memristor voltage v_mem")
    v_reset: float = _num(FINITE, "V", "capacitor voltage after a spike")
    t_ref: float = _num(NONNEG, "s", "absolute refractory period (v_c held at v_reset)")


@dataclass(frozen=True)
class StimulusParams:
    """Unipolar square-wave input current with finite edges."""

    kind: str = _str(choice("square"), "waveform")
    amplitude: float = _num(FINITE, "A", "current during the on phase")
    low: float = _num(FINITE, "A", "current during the off phase")
    frequency: float = _num(POSITIVE, "Hz", "repetition frequency")
    duty: float = _num(OPEN_UNIT, "1", "on fraction of each period")
    delay: float = _num(NONNEG, "s", "start of the first period")
    t_edge: float = _num(POSITIVE, "s", "rise and fall time of each edge")


@dataclass(frozen=True)
class HardwareParams:
    """Component values of the hardware neuron (paper Fig. 4b). ``None`` ("auto" in TOML)
    means designed from [neuron], [memristor] and [stimulus] by :mod:`alif_spice.hardware`;
    a value set explicitly overrides the design."""

    v_pos: float | None = _auto(POSITIVE, "V", "op-amp positive supply")
    v_neg: float | None = _auto(Rule(lambda v: v <= 0, "must be <= 0"), "V", "op-amp negative supply")
    opamp_gbw: float = _num(POSITIVE, "Hz", "op-amp gain-bandwidth product")
    opamp_slew: float = _num(POSITIVE, "V/s", "op-amp slew rate")
    opamp_gain: float = _num(POSITIVE, "V/V", "op-amp open-loop DC gain")
    opamp_rout: float = _num(POSITIVE, "Ω", "op-amp output resistance")
    opamp_headroom: float = _num(NONNEG, "V", "op-amp output swing limit from each rail")
    diffamp_r: float = _num(POSITIVE, "Ω", "input resistors of the differential amplifier")
    diffamp_gain: float | None = _auto(POSITIVE, "V/V", "differential amplifier gain (feedback = gain * diffamp_r)")
    comp_supply: float = _num(POSITIVE, "V", "comparator single supply")
    comp_delay: float = _num(POSITIVE, "s", "comparator propagation delay")
    comp_voh: float = _num(POSITIVE, "V", "comparator output high level")
    comp_vol: float = _num(NONNEG, "V", "comparator output low level")
    schmitt_lower: float | None = _auto(FINITE, "V", "Schmitt trigger lower threshold on v_mem (upper = neuron.v_th)")
    mos_vto: float = _num(POSITIVE, "V", "discharge MOSFET threshold voltage")
    r_discharge: float | None = _auto(POSITIVE, "Ω", "discharge resistor in series with the MOSFET")
    v_discharge: float | None = _auto(FINITE, "V", "level the MOSFET discharges the capacitor towards")


@dataclass(frozen=True)
class SimulationParams:
    """Run length and numerical settings."""

    t_stop: float = _num(POSITIVE, "s", "end of the simulated interval")
    dt: float = _num(POSITIVE, "s", "RK4 step of the reference solver")
    max_step: float = _num(POSITIVE, "s", "maximum SPICE time step")
    reltol: float = _num(OPEN_UNIT, "1", "SPICE relative tolerance (ideal and memristor-iv circuits)")
    reltol_hardware: float = _num(OPEN_UNIT, "1", "SPICE relative tolerance of the hardware circuit")
    abstol: float = _num(POSITIVE, "A", "SPICE absolute current tolerance")
    vntol: float = _num(POSITIVE, "V", "SPICE absolute voltage tolerance")
    timeout: float = _num(Rule(lambda v: 0 < v <= 1e6, "must be > 0 and <= 1e6 s"), "s",
                          "wall-clock limit of one SPICE run")


@dataclass(frozen=True)
class IvParams:
    """Memristor I-V drive (circuit ``memristor-iv``): source -> series resistor -> device."""

    waveform: str = _str(choice("sine", "triangle"), "source waveform")
    amplitude: float = _num(POSITIVE, "V", "source amplitude")
    frequency: float = _num(POSITIVE, "Hz", "source frequency")
    r_series: float = _num(POSITIVE, "Ω", "series resistor")
    periods: float = _num(POSITIVE, "1", "number of source periods simulated")
    points_per_period: float = _num(Rule(lambda v: v >= 50 and float(v).is_integer(), "must be an integer >= 50"),
                                    "1", "samples per period (SPICE max step = period / points)")


TABLES: dict[str, type] = {
    "memristor": MemristorParams,
    "neuron": NeuronParams,
    "stimulus": StimulusParams,
    "hardware": HardwareParams,
    "simulation": SimulationParams,
    "iv": IvParams,
}


def reset_v_mem_max(p: Params) -> float:
    """Largest memristor voltage right after a reset (V): v_c = v_reset with the memristor in
    its most resistive state (x = 0), i.e. (v_reset - v_rest) r_off / (r_off + r_s) for the
    plain MMS; other device models solve their branch equation at x = 0."""
    m, n = p.memristor, p.neuron
    delta = n.v_reset - n.v_rest
    if devices.get(m.model).linear:  # closed form, without importing the compiled physics
        return delta * m.r_off / (m.r_off + n.r_s)
    try:
        return float(devices.get(m.model).branch(delta, 0.0, m, n.r_s)[0])
    except FloatingPointError:  # a branch that cannot be solved in floating point: refused
        return math.inf


def _cross_rules() -> list[tuple[str, Callable[[Params], bool], str]]:
    """Rules that relate several values: (key named in the error, check, rule text).

    Each is the exact condition under which the neuron or its stimulus is well defined,
    not a margin: a set that passes runs, one at the boundary is refused.
    """
    model = [(key, lambda p, name=d.name, ok=ok: p.memristor.model != name or ok(p.memristor), text)
             for d in map(devices.get, devices.names()) for key, ok, text in d.rules]
    return [
        ("memristor.r_on", lambda p: p.memristor.r_on < p.memristor.r_off,
         "must be < memristor.r_off"),
        *model,
        ("neuron.v_reset", lambda p: reset_v_mem_max(p) < p.neuron.v_th,
         "must leave v_mem below neuron.v_th right after a reset: the memristor's voltage with v_c = v_reset "
         "and the device fully OFF (x = 0; (v_reset - v_rest)*r_off/(r_off + r_s) for a linear device), "
         "the largest v_mem a reset can leave, must be < v_th"),
        ("stimulus.t_edge", lambda p: p.stimulus.t_edge < p.stimulus.duty / p.stimulus.frequency,
         "must be < duty / frequency (the on phase needs a flat top: pulse width duty/frequency - t_edge > 0)"),
        ("stimulus.t_edge", lambda p: p.stimulus.t_edge <= (1 - p.stimulus.duty) / p.stimulus.frequency,
         "must be <= (1 - duty) / frequency (the falling edge must end within the period)"),
        ("hardware.schmitt_lower",
         lambda p: p.hardware.schmitt_lower is None or p.hardware.schmitt_lower < p.neuron.v_th,
         "must be < neuron.v_th (the Schmitt trigger's upper threshold)"),
        ("hardware.comp_vol", lambda p: p.hardware.comp_vol < p.hardware.comp_voh <= p.hardware.comp_supply,
         "must be < hardware.comp_voh <= hardware.comp_supply"),
        ("stimulus.delay", lambda p: p.stimulus.delay < p.simulation.t_stop,
         "must be < simulation.t_stop (the input must start before the run ends)"),
        ("simulation.max_step", lambda p: p.simulation.max_step <= p.simulation.t_stop,
         "must be <= simulation.t_stop"),
    ]


@dataclass(frozen=True)
class Params:
    """One complete, validated parameter set."""

    memristor: MemristorParams
    neuron: NeuronParams
    stimulus: StimulusParams
    hardware: HardwareParams
    simulation: SimulationParams
    iv: IvParams

    def get(self, key: str) -> Any:
        """Value of ``"table.key"``."""
        table, name = _split_key(key)
        return getattr(getattr(self, table), name)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Nested plain dict ``{table: {key: value}}`` (TOML order)."""
        return {t: dataclasses.asdict(getattr(self, t)) for t in TABLES}

    def flat(self) -> dict[str, Any]:
        """``{"table.key": value}`` for every parameter."""
        return {f"{t}.{k}": v for t, d in self.to_dict().items() for k, v in d.items()}

    def with_values(self, values: Mapping[str, Any]) -> Params:
        """A new validated set with ``{"table.key": value}`` replaced."""
        raw = self.to_dict()
        for key, value in values.items():
            table, name = _split_key(key)
            raw[table][name] = value
        return build_params(raw)

    def to_toml(self, tables: Iterable[str] = tuple(TABLES)) -> str:
        """TOML text of the chosen tables, loadable with ``--params``."""
        return dumps_toml({t: self.to_dict()[t] for t in tables})

    @property
    def beta(self) -> float:
        """q/(k_B T) of the memristor, 1/V."""
        from .memristor import thermal_beta

        return thermal_beta(self.memristor.temperature)


# --------------------------------------------------------------------------- loading


def available_presets() -> list[str]:
    return sorted(
        p.name[: -len(".toml")]
        for p in resources.files("alif_spice").joinpath("presets").iterdir()
        if p.name.endswith(".toml")
    )


#: a parameter file larger than this is not one (and is not read to the end)
MAX_TOML_BYTES = 1 << 20


def preset_dict(name: str) -> dict[str, Any]:
    """The raw tables of a built-in preset."""
    resource = resources.files("alif_spice").joinpath("presets").joinpath(f"{name}.toml")
    if not (isinstance(name, str) and name.replace("_", "").replace("-", "").isalnum()
            and resource.is_file()):
        raise ParamError(f"--preset: unknown preset {name!r} (available: {', '.join(available_presets())})")
    return tomlfile.parse(resource.read_text(encoding="utf-8"), f"preset {name}")


def read_params_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The raw tables of a (partial) parameter TOML file."""
    try:
        with open(path, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                raise ParamError(f"--params: {os.fspath(path)!r} is not a regular file")
            data = fh.read(MAX_TOML_BYTES + 1)
    except OSError as exc:
        raise ParamError(f"--params: cannot read {os.fspath(path)!r}: {exc.strerror}") from None
    if len(data) > MAX_TOML_BYTES:
        raise ParamError(f"--params: {os.fspath(path)!r} is larger than {MAX_TOML_BYTES // 2**20} MiB; "
                         "not a parameter file")
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark is not part of the TOML
    except UnicodeDecodeError:
        raise ParamError(f"--params: {os.fspath(path)!r} is not UTF-8 text") from None
    return tomlfile.parse(text, os.fspath(path))


def parse_set(item: str) -> tuple[str, str]:
    """Split ``"table.key=value"``."""
    key, sep, value = item.partition("=")
    if not sep:
        raise ParamError(f"--set {item!r}: expected table.key=value")
    key = key.strip()
    _split_key(key)
    return key, value.strip()


def load_params(
    preset: str = "paper",
    files: Iterable[str | os.PathLike[str]] = (),
    sets: Iterable[str] = (),
    values: Mapping[str, Any] | None = None,
    overlay: Mapping[str, Mapping[str, Any]] | None = None,
) -> Params:
    """Preset, then ``overlay`` tables (e.g. a comparison case's), then each partial TOML
    file, then ``--set`` items, then ``values``.

    Raises :class:`ParamError` (one line, names the key and the rule) on bad input.
    """
    raw = preset_dict(preset)
    _check_known(raw, f"preset {preset}")
    layers = [(overlay, "case [params]")] if overlay else []
    layers += [(read_params_file(path), os.fspath(path)) for path in files]
    for tables, source in layers:
        _check_known(tables, source)
        for table, items in tables.items():
            raw.setdefault(table, {}).update(items)
    for item in sets:
        key, value = parse_set(item)
        table, name = _split_key(key)
        raw.setdefault(table, {})[name] = value
    for key, value in (values or {}).items():
        table, name = _split_key(key)
        raw.setdefault(table, {})[name] = value
    return build_params(raw)


def build_params(raw: Mapping[str, Any]) -> Params:
    """Convert and validate complete raw tables into :class:`Params`."""
    _check_known(raw, "parameters")
    tables = {}
    for table, cls in TABLES.items():
        items = raw.get(table, {})
        kwargs: dict[str, object] = {}
        for f in fields(cls):
            key = f"{table}.{f.name}"
            if f.name not in items:
                raise ParamError(f"{key}: missing (every parameter needs a value)")
            if f.metadata.get("auto") and items[f.name] in ("auto", None):
                kwargs[f.name] = None
                continue
            value = _convert(key, items[f.name], f.metadata["kind"])
            rule: Rule = f.metadata["rule"]
            if not rule.ok(value):
                raise ParamError(f"{key}: {rule.text} (got {value!r})")
            kwargs[f.name] = value
        tables[table] = cls(**kwargs)
    params = Params(**tables)
    for key, ok, text in _cross_rules():
        if not ok(params):
            raise ParamError(f"{key}: {text} (got {key.split('.')[1]}={params.get(key)!r})")
    return params


def check_value(key: str, value: Any) -> Any:
    """Convert one ``"table.key"`` value and check it against its own rule (not the
    rules relating several values); return it converted."""
    table, name = _split_key(key)
    f = next(f for f in fields(TABLES[table]) if f.name == name)
    converted = _convert(key, value, f.metadata["kind"])
    if not f.metadata["rule"].ok(converted):
        raise ParamError(f"{key}: {f.metadata['rule'].text} (got {converted!r})")
    return converted


def _split_key(key: str) -> tuple[str, str]:
    table, dot, name = key.partition(".")
    if not dot or table not in TABLES:
        raise ParamError(f"{key!r}: unknown parameter (expected table.key with table one of {', '.join(TABLES)})")
    if name not in {f.name for f in fields(TABLES[table])}:
        raise ParamError(f"{key}: unknown key (known in [{table}]: {', '.join(f.name for f in fields(TABLES[table]))})")
    return table, name


def _check_known(raw: Mapping[str, Any], source: str) -> None:
    for table, items in raw.items():
        if table not in TABLES:
            raise ParamError(f"{source}: unknown table [{table}] (known: {', '.join(TABLES)})")
        if not isinstance(items, Mapping):
            raise ParamError(f"{source}: {table} must be a table of key = value")
        for name in items:
            _split_key(f"{table}.{name}")


def _convert(key: str, value: Any, kind: type) -> Any:
    if kind is str:
        if not isinstance(value, str):
            raise ParamError(f"{key}: expected a string, got {type(value).__name__} {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ParamError(f"{key}: expected a number, got {type(value).__name__} {value!r}")
    if isinstance(value, str):
        try:
            return parse_number(value)
        except ValueError as exc:
            raise ParamError(f"{key}: {exc}") from None
    number = float(value)
    if not math.isfinite(number):
        raise ParamError(f"{key}: must be finite (got {value!r})")
    return number


# --------------------------------------------------------------------------- TOML out


def dumps_toml(tables: Mapping[str, Mapping[str, Any]]) -> str:
    """Minimal TOML writer for flat tables of numbers and strings (None is written "auto")."""
    lines: list[str] = []
    for table, items in tables.items():
        lines.append(f"[{table}]")
        for key, value in items.items():
            if value is None:
                lines.append(f'{key} = "auto"')
            elif isinstance(value, str):
                escaped = value.replace("\\", "\\\\").replace('"', '\\"')
                lines.append(f'{key} = "{escaped}"')
            else:
                lines.append(f"{key} = {float(value)!r}")
        lines.append("")
    return "\n".join(lines)
