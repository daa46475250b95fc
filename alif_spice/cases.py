"""Comparison cases (``compare/*.toml``): what to run, what to overlay, which tolerances.

A case names a preset, parameter overrides, the SPICE circuits to compare with the RK4
model and per-circuit tolerances (names from :func:`alif_spice.metrics.checks`).
:func:`run_case` runs it and returns everything the report needs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .metrics import Check, check_circuits, checks, circuit_metrics, evaluate
from .errors import ParamError
from . import circuits as registry
from . import tomlfile
from .netlist import Netlist, render
from .ode import solve_ode
from .params import Params, load_params
from .resources import data_dir
from .spice import run_rendered
from .stuck import Stuck
from .trace import Trace


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    preset: str
    circuits: tuple[str, ...]
    params: dict[str, dict[str, object]]
    tolerances: dict[str, dict[str, float]]
    zoom_periods: int = 2
    #: the adaptation index the case reports: "per_period" (spikes in the first input period /
    #: in the last) or "isi" (last ISI / first ISI: a step input has one period)
    adaptation: str = "per_period"
    #: what the figures reproduce, e.g. a paper's figures ("" for none)
    reference: str = ""
    #: run the control experiment too: every run again with the memristor frozen at x0
    #: (:mod:`alif_spice.control`)
    control: bool = False

    @property
    def adaptation_metric(self) -> str:
        return "adaptation_ratio" if self.adaptation == "per_period" else "isi_adaptation_ratio"


def available_cases() -> list[str]:
    return sorted(p.name[:-5] for p in data_dir("compare").iterdir() if p.name.endswith(".toml"))


def load_case(name_or_path: str | os.PathLike[str]) -> Case:
    """A shipped case by name (``paper``) or a case TOML file."""
    text_path = Path(name_or_path)
    if text_path.suffix == ".toml" or text_path.is_file():
        try:
            raw_bytes = text_path.read_bytes()
        except OSError as exc:
            raise ParamError(f"--case: cannot read {os.fspath(name_or_path)!r}: {exc.strerror}") from None
        source = os.fspath(name_or_path)
    else:
        name = str(name_or_path)
        resource = data_dir("compare").joinpath(f"{name}.toml")
        if not (name.replace("-", "").replace("_", "").isalnum() and resource.is_file()):
            raise ParamError(f"--case: unknown case {name!r} (available: {', '.join(available_cases())})")
        raw_bytes = resource.read_bytes()
        source = f"case {name}"
    return _build_case(tomlfile.parse(raw_bytes, source), source)


def _table(value: object, where: str, source: str) -> dict:
    if not isinstance(value, dict):
        raise ParamError(f"{source}: {where} must be a table (got {type(value).__name__} {value!r})")
    return value


def _build_case(raw: dict, source: str) -> Case:
    unknown = set(raw) - {"case", "params", "tolerances"}
    if unknown:
        raise ParamError(f"{source}: unknown table [{sorted(unknown)[0]}] (known: case, params, tolerances)")
    head = _table(raw.get("case", {}), "[case]", source)
    allowed = {"name", "description", "preset", "circuits", "zoom_periods", "adaptation", "reference", "control"}
    if set(head) - allowed:
        raise ParamError(f"{source}: unknown key case.{sorted(set(head) - allowed)[0]}")
    neurons = registry.names("neuron")
    circuits = head.get("circuits", list(neurons))
    if (not isinstance(circuits, list) or not circuits
            or any(not isinstance(c, str) or c not in neurons for c in circuits)):
        raise ParamError(f"{source}: case.circuits must be a list from {', '.join(neurons)} (got {circuits!r})")
    zoom = head.get("zoom_periods", 2)
    if isinstance(zoom, bool) or not isinstance(zoom, int) or zoom < 1:
        raise ParamError(f"{source}: case.zoom_periods must be an integer >= 1 (got {zoom!r})")
    tolerances: dict[str, dict[str, float]] = {}
    for circuit, tols in _table(raw.get("tolerances", {}), "[tolerances]", source).items():
        tols = _table(tols, f"tolerances.{circuit}", source)
        if circuit not in circuits:
            raise ParamError(f"{source}: tolerances.{circuit}: circuit not in case.circuits")
        known = checks()
        for key, value in tols.items():
            if key not in known:
                raise ParamError(f"{source}: tolerances.{circuit}.{key}: unknown tolerance "
                                 f"(known: {', '.join(known)})")
            only = check_circuits(key)
            if only and circuit not in only:
                raise ParamError(f"{source}: tolerances.{circuit}.{key}: measured only for {', '.join(only)}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
                raise ParamError(f"{source}: tolerances.{circuit}.{key}: expected a number, got {value!r}")
        tolerances[circuit] = {k: float(v) for k, v in tols.items()}
    adaptation = head.get("adaptation", "per_period")
    if adaptation not in ("per_period", "isi"):
        raise ParamError(f"{source}: case.adaptation must be 'per_period' or 'isi' (got {adaptation!r})")
    for key in ("name", "description", "preset", "reference"):
        if key in head and not isinstance(head[key], str):
            raise ParamError(f"{source}: case.{key}: expected a string")
    control = head.get("control", False)
    if not isinstance(control, bool):
        raise ParamError(f"{source}: case.control must be true or false (got {control!r})")
    params = _table(raw.get("params", {}), "[params]", source)
    return Case(name=head.get("name", Path(source).stem), description=head.get("description", ""),
                preset=head.get("preset", "paper"), circuits=tuple(circuits), params=params,
                tolerances=tolerances, zoom_periods=zoom, adaptation=adaptation,
                reference=head.get("reference", ""), control=control)


def case_params(case: Case, files: Iterable[str] = (), sets: Iterable[str] = (),
                preset: str | None = None) -> Params:
    """The case's parameters: its preset (or ``preset``), its [params], then the user's
    files and --set items."""
    return load_params(preset or case.preset, files=files, sets=sets, overlay=case.params)


@dataclass
class CaseResult:
    case: Case
    params: Params
    ode: Trace
    spice: dict[str, Trace]
    netlists: dict[str, Netlist]
    metrics: dict[str, dict]
    checks: list[Check]
    timings: dict[str, float] = field(default_factory=dict)
    #: statements the report must make (e.g. the model's effective refractory period)
    notes: list[str] = field(default_factory=list)
    #: the control experiment (adaptive against frozen memristor), where run
    control: dict | None = None

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def traces(self) -> dict[str, Trace]:
        """The RK4 model's trace (``"ode"``) and each circuit's, in that order."""
        return {"ode": self.ode, **self.spice}


def _spice_job(p: Params, circuit: str) -> tuple[Netlist, Trace, float]:
    """Render and run one circuit (each calling thread drives its own ngspice process)."""
    t0 = time.perf_counter()
    netlist = render(p, circuit)
    trace = run_rendered(p, netlist)
    return netlist, trace, time.perf_counter() - t0


def run_case(case: Case, params: Params | None = None,
             progress: Callable[[str], None] | None = None, parallel: bool = True,
             control: bool | None = None) -> CaseResult:
    """Run the RK4 model and every SPICE circuit of ``case``; compute metrics and checks.

    With ``parallel`` the circuits run side by side (one ngspice process each) while this
    process solves the model. ``control`` (default: the case's): also run everything with
    the memristor frozen at x0, the non-adaptive control (:mod:`alif_spice.control`).
    """
    from .control import control_experiment, frozen

    say = progress or (lambda _msg: None)
    p = params if params is not None else case_params(case)
    with_control = case.control if control is None else control
    jobs = [(c, False) for c in case.circuits] + ([(c, True) for c in case.circuits] if with_control else [])
    timings: dict[str, float] = {}
    results: dict[tuple[str, bool], tuple[Netlist, Trace, float]] = {}
    pool = None
    if parallel and len(jobs) > 1:
        from concurrent.futures import ThreadPoolExecutor

        workers = min(len(jobs), max(len(case.circuits), 2))
        pool = ThreadPoolExecutor(workers)
        futures = {(c, f): pool.submit(_spice_job, frozen(p) if f else p, c) for c, f in jobs}
        say(f"ngspice: {', '.join(case.circuits)} circuits running in {workers} processes"
            + (" (and again with the memristor frozen, the control)" if with_control else "") + " ...")
    notes = []
    p_model = p
    for c in case.circuits:  # the one model run takes what a circuit asks for (the ideal latch's hold)
        asked = registry.get(c).model_params(p)
        if asked is not p:
            p_model = asked
            note = registry.get(c).model_note
            notes.append(note(p, p_model) if note else f"the RK4 model runs with the parameters the {c} "
                         "circuit asks for, so that like is compared with like")
            break
    try:
        t0 = time.perf_counter()
        ode = solve_ode(p_model)
        ode_frozen = solve_ode(frozen(p_model)) if with_control else None
        timings["ode"] = time.perf_counter() - t0
        say(f"RK4 model: {ode.spikes.size} spikes ({timings['ode']:.2f} s)")
        for circuit, froze in jobs:
            name = f"{circuit} (frozen)" if froze else circuit
            if pool is None:
                say(f"ngspice {name} circuit ...")
                results[circuit, froze] = _spice_job(frozen(p) if froze else p, circuit)
            else:
                results[circuit, froze] = futures[circuit, froze].result()
            timings[name] = results[circuit, froze][2]
            say(f"ngspice {name}: {results[circuit, froze][1].spikes.size} spikes ({timings[name]:.2f} s)")
    except BaseException:
        if pool is not None:  # interrupted: end the circuits now, do not wait for them
            from .spice import kill_all

            kill_all()
            pool.shutdown(wait=False, cancel_futures=True)
            pool = None
        raise
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    spice = {c: results[c, False][1] for c in case.circuits}
    netlists = {c: results[c, False][0] for c in case.circuits}
    ctrl = None
    if with_control:
        assert ode_frozen is not None
        ctrl = control_experiment(p_model, ode, ode_frozen, p, spice,
                                  {c: results[c, True][1] for c in case.circuits})
        netlists.update({f"{c}-frozen": results[c, True][0] for c in case.circuits})
    metrics = {c: circuit_metrics(p, ode, spice[c], c) for c in case.circuits}
    checks = evaluate(metrics, case.tolerances)
    for c in case.circuits:  # every circuit's output against its own bound, whatever the case says
        stuck = metrics[c]["stuck_output"]
        if stuck is None:  # never for a circuit run here: they all record their spike output
            continue
        checks.append(Check(c, "stuck_output", stuck["longest_on_s"], stuck["bound_s"], "max"))
        if stuck["stuck"]:
            notes.append(Stuck(stuck["longest_on_s"], stuck["start_s"], stuck["bound_s"]).message(c))
    return CaseResult(case, p, ode, spice, netlists, metrics, checks, timings, notes, ctrl)


def parse_spike_rule(text: str) -> tuple[str, float]:
    """``EXPR>LEVEL`` (e.g. ``V(co)>2.5``): spikes are the probe's upward crossings of LEVEL
    (V or A, SPICE suffixes allowed)."""
    from .raw import parse_probe
    from .units import parse_number

    expr, sep, level = text.partition(">")
    level = level.strip()
    try:
        if not sep:
            raise ValueError("no '>'")
        parse_probe(expr)
        try:
            return expr.strip(), parse_number(level)
        except ValueError:  # a trailing unit, as SPICE allows: 2.5V, 1mA
            if level[-1:].lower() not in ("v", "a"):
                raise
            return expr.strip(), parse_number(level[:-1])
    except (ValueError, ParamError):
        raise ParamError(f"--spike {text!r}: give PROBE>LEVEL, e.g. V(co)>2.5") from None


def external_case(params: Params, waveforms, probes: dict[str, str], spike: tuple[str, float] | None,
                  description: str = "") -> tuple[Case, Trace, list[str]]:
    """A transient simulated elsewhere (:class:`alif_spice.raw.Waveforms`) as the trace of the
    :data:`~alif_spice.circuits.EXTERNAL` circuit: ``probes`` maps trace columns (v_c,
    v_mem, x, i_m, ...) to probes of the file; spikes are the upward crossings of ``spike``
    (a probe and a level), or else of v_mem at neuron.v_th. The time axis must reach the
    model's t_stop; samples beyond it are left out. Returns the case, the trace and notes."""
    import numpy as np

    from .files import file_sha256
    from .spice import crossings
    from .stimulus import SquareWave

    t_stop = params.simulation.t_stop
    t = waveforms.time
    name = waveforms.path.name
    if t[-1] < t_stop * (1.0 - 1e-9):
        raise ParamError(f"--raw {name}: its time axis ends at {t[-1]:.6g} s, before the model's t_stop "
                         f"{t_stop:.6g} s (set simulation.t_stop to at most {t[-1]:.6g})")
    if t[0] > params.simulation.max_step:  # the model starts at 0: the first spikes would be "missing"
        raise ParamError(f"--raw {name}: its time axis starts at {t[0]:.6g} s, not at 0 (the model's run "
                         f"covers 0 to {t_stop:.6g} s; save the transient from 0)")
    keep = t <= t_stop * (1.0 + 1e-12)
    signals = {}
    for col, expr in probes.items():
        values = waveforms.probe(expr, f"--probe {col}={expr}")[keep]
        bad = int(np.count_nonzero(~np.isfinite(values)))
        if bad:
            raise ParamError(f"--probe {col}={expr}: {bad} of its {values.size} values in {name} are not finite "
                             "numbers (NaN or infinite)")
        signals[col] = values
    t = t[keep]
    notes = []
    if "i_in" not in signals:  # the input current, from the stimulus the model is given
        signals["i_in"] = SquareWave.from_params(params)(t)
        notes.append("the external simulation's input current is taken to be the model's stimulus "
                     "(probe i_in to use the file's own)")
    if spike is not None:
        values = waveforms.probe(spike[0], f"--spike {spike[0]}>{spike[1]:g}")[keep]
        if not np.all(np.isfinite(values)):
            raise ParamError(f"--spike {spike[0]}>{spike[1]:g}: the trace in {name} has values that are not "
                             "finite numbers (NaN or infinite)")
        spikes = crossings(t, values, spike[1])
        rule = f"upward crossings of {spike[0]} at {spike[1]:g}"
    elif "v_mem" in signals:
        spikes = crossings(t, signals["v_mem"], params.neuron.v_th)
        rule = f"upward crossings of v_mem ({probes['v_mem']}) at neuron.v_th = {params.neuron.v_th:g} V"
    else:
        raise ParamError("--raw: say where the spikes are: --spike PROBE>LEVEL, or probe v_mem "
                         "(its crossings of neuron.v_th)")
    missing = [c for c in ("v_c", "v_mem", "x") if c not in signals]
    digest = file_sha256(waveforms.path)
    notes.append(f"external simulation {waveforms.path} (sha256 {digest}): spikes are the {rule}"
                 + (f"; not probed, so absent: {', '.join(missing)}" if missing else ""))
    trace = Trace(time=t, signals=signals, spikes=np.asarray(spikes), source=f"external:{name}", params=params)
    case = Case(name=Path(name).stem, description=description or f"{name} against the RK4 model",
                preset="", circuits=(registry.EXTERNAL.name,), params={}, tolerances={})
    return case, trace, notes


def run_external(params: Params, waveforms, probes: dict[str, str], spike: tuple[str, float] | None,
                 progress: Callable[[str], None] | None = None) -> CaseResult:
    """The RK4 model with ``params`` against a transient simulated elsewhere
    (:func:`external_case`): the same metrics and report as a circuit of ours, without
    tolerances (the case sets none for an external simulation)."""
    say = progress or (lambda _msg: None)
    case, trace, notes = external_case(params, waveforms, probes, spike)
    t0 = time.perf_counter()
    ode = solve_ode(params)
    timings = {"ode": time.perf_counter() - t0}
    say(f"RK4 model: {ode.spikes.size} spikes ({timings['ode']:.2f} s); external: {trace.spikes.size} spikes")
    name = registry.EXTERNAL.name
    metrics = {name: circuit_metrics(params, ode, trace, name)}
    return CaseResult(case, params, ode, {name: trace}, {}, metrics, [], timings, notes)
