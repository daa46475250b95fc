"""Metrics as a registry: each metric is defined once, with its unit, label and check
direction, and every output takes it from here.

Two scopes:

- a **neuron** metric describes one neuron's run (any engine): ``compare`` reports it for
  the model and for each circuit, and a sweep writes it into every row (where ``row``);
- a **pair** metric describes a circuit against the model (spike matching, trace errors).

A metric with a check direction can be bounded by a case's tolerances: a pair metric
under its own name, a neuron metric (the circuit's value) as ``<name>_min`` or
``<name>_max``. Adding a metric is one decorated function here::

    @metric("isi_cv", "", "ISI coefficient of variation", row=True)
    def _isi_cv(run: Run) -> float | None: ...

Values are plain JSON types; None where undefined (no spikes, too few periods).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .compare import (adaptation_ratio, energy_per_period, input_energy, isi_adaptation_ratio, json_ready,
                      match_spikes, match_window, on_grid, per_spike, rmse, spikes_per_period, supply_energy)
from .stimulus import SquareWave
from .trace import Trace


@dataclass(frozen=True)
class Metric:
    name: str  # key in metrics.json and in sweep rows
    unit: str  # SI unit ("" for counts and ratios)
    label: str  # for tables and axes
    fn: Callable
    scope: str  # "neuron" or "pair"
    check: str | None = None  # "max" or "min": a tolerance bounds it from above or below
    row: bool = False  # a column of sweep rows (neuron metrics)
    #: "int", "float", "ints" (list of int), "floats" (list of float or None), "record" (a dict)
    kind: str = "float"
    minimum: float = -math.inf  # the smallest valid value (row validation)
    #: a pair metric of the circuits with supply sources only (their supply energy)
    needs_supplies: bool = False
    shown: bool = False  # in the sweep summary's per-point table and Monte Carlo histograms
    #: trace columns the metric reads besides time and spikes (a trace without them, e.g. an
    #: external simulation that did not record them, gets None)
    needs: tuple[str, ...] = ()
    #: a sweep row (its n_spikes, spikes_per_period) -> why this metric has no value there
    why_undefined: Callable[[dict], str | None] | None = None

    @property
    def axis_label(self) -> str:
        return f"{self.label} ({self.unit})" if self.unit else self.label


#: every metric, in the order outputs list them
METRICS: dict[str, Metric] = {}


def metric(name: str, unit: str, label: str, *, scope: str = "neuron", check: str | None = None,
           row: bool = False, kind: str = "float", minimum: float = -math.inf,
           needs_supplies: bool = False, shown: bool = False,
           why_undefined: Callable[[dict], str | None] | None = None, needs: tuple[str, ...] = ()):
    """Register the decorated function as metric ``name``: it takes a :class:`Run` (neuron)
    or a :class:`Pair` (pair) and returns a JSON-ready value or None."""
    if scope not in ("neuron", "pair") or check not in (None, "max", "min"):
        raise ValueError(f"metric {name}: bad scope {scope!r} or check {check!r}")
    if kind not in ("int", "float", "ints", "floats", "record"):
        raise ValueError(f"metric {name}: bad kind {kind!r}")

    def register(fn: Callable) -> Callable:
        if name in METRICS:
            raise ValueError(f"metric {name} is defined twice")
        METRICS[name] = Metric(name, unit, label, fn, scope, check, row, kind, minimum, needs_supplies=needs_supplies,
                               shown=shown, why_undefined=why_undefined, needs=needs)
        return fn

    return register


# --------------------------------------------------------------------------- what metrics read


class Run:
    """One neuron's run, as neuron metrics see it: the parameters, the time axis (s), the
    capacitor voltage (V), the input current (A) and the spike times (s)."""

    def __init__(self, p, time: np.ndarray, v_c: np.ndarray, i_in: np.ndarray, spikes: np.ndarray):
        self.params = p
        self.time, self.v_c, self.i_in = time, v_c, i_in
        self.spikes = np.sort(np.asarray(spikes, dtype=float))
        self.stimulus = SquareWave.from_params(p)
        self.t_stop = p.simulation.t_stop

    @classmethod
    def of(cls, p, trace: Trace) -> Run:
        """The run of ``trace``; without a v_c column (not recorded) its v_c is NaN, and the
        metrics that need it are not computed (:attr:`Metric.needs`)."""
        v_c = trace.signals.get("v_c")
        return cls(p, trace.time, np.full(trace.time.size, np.nan) if v_c is None else v_c, trace["i_in"],
                   trace.spikes)

    @cached_property
    def per_period(self) -> list[int]:
        return spikes_per_period(self.spikes, self.stimulus, self.t_stop)

    @cached_property
    def energy_curve(self) -> np.ndarray:
        """Cumulative energy delivered by the input source, ∫ v_c i_in dt (J)."""
        return input_energy(self.time, self.v_c, self.i_in)

    @cached_property
    def energy_per_period(self) -> list[float]:
        return energy_per_period(self.time, self.energy_curve, self.stimulus, self.t_stop)

    @cached_property
    def isi(self) -> np.ndarray:
        return np.diff(self.spikes)


class Pair:
    """A circuit's run against the model's (the same parameters)."""

    def __init__(self, p, ode: Trace, spice: Trace, circuit: str):
        self.params, self.circuit = p, circuit
        self.ode_trace, self.spice_trace = ode, spice
        self.ode, self.spice = Run.of(p, ode), Run.of(p, spice)

    @cached_property
    def match(self):
        return match_spikes(self.ode.spikes, self.spice.spikes, match_window(self.ode.spikes))

    @cached_property
    def abs_errors(self) -> np.ndarray:
        return np.abs(self.match.errors)

    @cached_property
    def supply_per_period(self) -> list[float]:
        """Energy (J) the circuit's supplies deliver in each input period."""
        curve = supply_curve(self.params, self.spice_trace, self.circuit)
        assert curve is not None  # only metrics with needs_supplies read this
        return energy_per_period(self.spice.time, curve, self.spice.stimulus, self.spice.t_stop)


def supply_curve(p, trace: Trace, circuit: str) -> np.ndarray | None:
    """Cumulative energy (J) the supplies of ``circuit`` deliver over ``trace``; None for a
    circuit without supplies."""
    from .circuits import get

    supplies = get(circuit).supplies
    return None if supplies is None else supply_energy(trace, supplies(p))


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _fewer_spikes_than(n: int) -> Callable[[dict], str | None]:
    """Why a metric that needs ``n`` spikes is undefined on a row."""
    return lambda row: (("no spikes" if n == 1 else f"fewer than {n} spikes")
                        if (row.get("n_spikes") or 0) < n else None)


def _why_no_adaptation_ratio(row: dict) -> str | None:
    per = row.get("spikes_per_period")
    if per is None or len(per) < 2:
        return "fewer than two whole input periods"
    if per[0] == 0:
        return "no spike in the first period"
    return "infinite: no spike in the last period" if per[-1] == 0 else None


# --------------------------------------------------------------------------- the metrics


@metric("n_spikes", "", "spikes", row=True, kind="int", minimum=0, shown=True)
def _n_spikes(r: Run) -> int:
    return int(r.spikes.size)


@metric("spikes_per_period", "", "spikes per input period", row=True, kind="ints", minimum=0)
def _spikes_per_period(r: Run) -> list[int]:
    return r.per_period


@metric("matched_spikes", "", "matched spikes", scope="pair", kind="int")
def _matched(q: Pair) -> int:
    return int(q.match.pairs.shape[0])


@metric("missing_spikes", "", "model spikes the circuit misses", scope="pair", check="max", kind="int")
def _missing(q: Pair) -> int:
    return int(q.match.missing.size)


@metric("extra_spikes", "", "circuit spikes the model does not have", scope="pair", check="max", kind="int")
def _extra(q: Pair) -> int:
    return int(q.match.extra.size)


@metric("spike_count_abs_diff", "", "spike count difference", scope="pair", check="max", kind="int")
def _count_abs(q: Pair) -> int:
    return abs(int(q.spice.spikes.size) - int(q.ode.spikes.size))


@metric("spike_count_rel_diff", "", "spike count difference / model's count", scope="pair", check="max")
def _count_rel(q: Pair) -> float:
    return abs(int(q.spice.spikes.size) - int(q.ode.spikes.size)) / max(int(q.ode.spikes.size), 1)


@metric("spike_time_max_abs_error_s", "s", "largest spike-time error", scope="pair", check="max")
def _t_max(q: Pair) -> float | None:
    return float(q.abs_errors.max()) if q.abs_errors.size else None


@metric("spike_time_mean_abs_error_s", "s", "mean spike-time error", scope="pair", check="max")
def _t_mean(q: Pair) -> float | None:
    return float(q.abs_errors.mean()) if q.abs_errors.size else None


@metric("mean_isi_ode_s", "s", "model's mean ISI", scope="pair")
def _mean_isi_ode(q: Pair) -> float | None:
    return float(q.ode.isi.mean()) if q.ode.isi.size else None


@metric("spike_time_max_abs_error_rel_isi", "", "largest spike-time error / model's mean ISI", scope="pair",
        check="max")
def _t_rel_isi(q: Pair) -> float | None:
    err, isi = _t_max(q), _mean_isi_ode(q)
    return err / isi if err is not None and isi else None


@metric("x_rmse", "", "RMS error of the memristor state x", scope="pair", check="max", needs=("x",))
def _x_rmse(q: Pair) -> float:
    return rmse(on_grid(q.spice_trace, "x", q.ode_trace.time), q.ode_trace["x"])


@metric("v_c_rmse", "V", "RMS error of the capacitor voltage", scope="pair", check="max", needs=("v_c",))
def _v_c_rmse(q: Pair) -> float:
    return rmse(on_grid(q.spice_trace, "v_c", q.ode_trace.time), q.ode_trace["v_c"])


@metric("first_period_spikes", "", "spikes in the first input period", row=True, kind="int", minimum=0,
        why_undefined=lambda row: None if row.get("spikes_per_period") else "no whole input period")
def _first_period(r: Run) -> int | None:
    return r.per_period[0] if r.per_period else None


@metric("adaptation_ratio", "", "adaptation ratio (spikes in the first / last input period)", check="min",
        row=True, minimum=0.0, shown=True, why_undefined=_why_no_adaptation_ratio)
def _adaptation(r: Run) -> float:
    return adaptation_ratio(r.per_period)


@metric("isi_adaptation_ratio", "", "ISI adaptation ratio (last / first ISI)", check="min", row=True, minimum=0.0,
        why_undefined=_fewer_spikes_than(3))
def _isi_adaptation(r: Run) -> float:
    return isi_adaptation_ratio(r.spikes)


@metric("isi_cv", "", "ISI coefficient of variation (std / mean)", row=True, minimum=0.0,
        why_undefined=_fewer_spikes_than(3))
def _isi_cv(r: Run) -> float | None:
    """Population standard deviation of the ISIs over their mean (0 for a regular train);
    None with fewer than two ISIs."""
    return float(r.isi.std() / r.isi.mean()) if r.isi.size >= 2 and r.isi.mean() > 0 else None


@metric("rate_hz", "Hz", "mean rate", row=True, minimum=0.0, shown=True)
def _rate(r: Run) -> float:
    return r.spikes.size / r.t_stop


@metric("energy_j", "J", "input energy", row=True, needs=("v_c",))
def _energy(r: Run) -> float:
    return float(r.energy_curve[-1])


@metric("energy_per_spike_j", "J", "input energy per spike", row=True, shown=True,
        why_undefined=_fewer_spikes_than(1), needs=("v_c",))
def _energy_per_spike(r: Run) -> float | None:
    return _ratio(float(r.energy_curve[-1]), r.spikes.size)


@metric("energy_input_per_period_j", "J", "input energy per input period", kind="floats", needs=("v_c",))
def _energy_periods(r: Run) -> list[float]:
    return r.energy_per_period


@metric("energy_per_spike_per_period_j", "J", "input energy per spike, per input period", kind="floats",
        needs=("v_c",))
def _energy_per_spike_periods(r: Run) -> list[float | None]:
    return per_spike(r.energy_per_period, r.per_period)


@metric("energy_supply_per_period_j", "J", "supply energy per input period", scope="pair", kind="floats",
        needs_supplies=True)
def _supply_periods(q: Pair) -> list[float]:
    return q.supply_per_period


@metric("energy_supply_per_spike_j", "J", "supply energy per spike", scope="pair", needs_supplies=True)
def _supply_per_spike(q: Pair) -> float | None:
    return _ratio(sum(q.supply_per_period), sum(q.spice.per_period))


@metric("stuck_output", "s", "longest time the spike output stays on, against the bound a working one keeps",
        scope="pair", kind="record")
def _stuck_output(q: Pair) -> dict | None:
    """None where the circuit's trace has no spike output (a trace recorded elsewhere)."""
    from .circuits import get
    from .stuck import check_stuck

    rule = get(q.circuit).spike
    if rule is None or rule(q.params)[0] not in q.spice_trace.signals:
        return None
    s = check_stuck(q.spice_trace, q.params, q.circuit)
    return {"longest_on_s": s.longest_on_s, "start_s": s.start_s, "bound_s": s.bound_s, "stuck": s.stuck}


# --------------------------------------------------------------------------- using them


def row_metrics() -> tuple[str, ...]:
    """The metrics every sweep row carries, in column order."""
    return tuple(m.name for m in METRICS.values() if m.scope == "neuron" and m.row)


def shown_metrics() -> tuple[str, ...]:
    """The row metrics the sweep summary shows for every point, in column order."""
    return tuple(m.name for m in METRICS.values() if m.scope == "neuron" and m.row and m.shown)


def neuron_metrics(p, time: np.ndarray, v_c: np.ndarray, i_in: np.ndarray, spikes: np.ndarray,
                   names: tuple[str, ...] | None = None) -> dict:
    """The neuron metrics of one run (every one, or ``names``), JSON-ready."""
    run = Run(p, time, v_c, i_in, spikes)
    return json_ready({m.name: m.fn(run) for m in METRICS.values()
                       if m.scope == "neuron" and (names is None or m.name in names)})


def _plain(value):
    """Plain Python types (numpy scalars and arrays converted), non-finite floats kept: an
    infinite adaptation ratio (no spike in the last period) must still pass a lower bound;
    :func:`json_ready` makes them null only when written."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def circuit_metrics(p, ode: Trace, spice: Trace, circuit: str) -> dict:
    """Every metric of one SPICE circuit against the RK4 model: a neuron metric as
    ``{"ode": value, "spice": value}``, a pair metric as its value (plain Python values;
    ``json_ready`` turns non-finite ones into null for JSON)."""
    q = Pair(p, ode, spice, circuit)
    out: dict[str, object] = {}
    for m in METRICS.values():
        recorded = all(c in spice.signals for c in m.needs)  # an external trace may lack some
        if m.scope == "neuron":
            out[m.name] = {"ode": m.fn(q.ode), "spice": m.fn(q.spice) if recorded else None}
        elif applies(m, circuit):
            out[m.name] = m.fn(q) if recorded else None
    return _plain(out)


# --------------------------------------------------------------------------- tolerances


def checks() -> dict[str, tuple[Callable[[dict], float | None], str]]:
    """Tolerance name -> (the measured value from a circuit's metrics, "max" or "min")."""
    out = {}
    for m in METRICS.values():
        if m.check is None:
            continue
        if m.scope == "pair":
            out[m.name] = ((lambda name: lambda cm: cm.get(name))(m.name), m.check)
        else:
            out[f"{m.name}_{m.check}"] = ((lambda name: lambda cm: cm[name]["spice"])(m.name), m.check)
    return out


def applies(m: Metric, circuit: str) -> bool:
    """Whether metric ``m`` is measured on ``circuit`` (one with supplies, where it needs them)."""
    from .circuits import get

    return not m.needs_supplies or get(circuit).supplies is not None


def check_circuits(name: str) -> tuple[str, ...]:
    """The circuits the tolerance ``name`` (a key of :func:`checks`) can be measured on; empty
    for every circuit."""
    from .circuits import names

    for m in METRICS.values():
        if m.check is not None and name in (m.name, f"{m.name}_{m.check}"):
            return () if not m.needs_supplies else tuple(c for c in names("neuron") if applies(m, c))
    raise KeyError(name)


@dataclass(frozen=True)
class Check:
    circuit: str
    name: str
    value: float | None
    limit: float
    kind: str  # "max": value <= limit; "min": value >= limit

    @property
    def passed(self) -> bool:
        if self.value is None:
            return False
        return self.value <= self.limit if self.kind == "max" else self.value >= self.limit


def evaluate(metrics: dict[str, dict], tolerances: dict[str, dict[str, float]]) -> list[Check]:
    """Every tolerance of a case against the metrics of its circuits."""
    out, known = [], checks()
    for circuit, tols in tolerances.items():
        for name, limit in tols.items():
            get, kind = known[name]
            value = get(metrics[circuit])
            if value is not None and math.isnan(value):
                value = None  # undefined: the check fails and shows "n/a"
            out.append(Check(circuit, name, value, float(limit), kind))
    return out


def reference() -> str:
    """Every registered metric as a Markdown table (``python -m alif_spice.metrics``)."""
    lines = ["| key | unit | meaning | scope | tolerance name | in sweep rows |", "|---|---|---|---|---|---|"]
    for m in METRICS.values():
        tol = "" if m.check is None else (m.name if m.scope == "pair" else f"{m.name}_{m.check}")
        bound = {"max": " (at most)", "min": " (at least)"}.get(m.check or "", "")
        scope = ("per engine: {\"ode\": …, \"spice\": …}" if m.scope == "neuron"
                 else "circuit against model" + (" (circuits with supplies only)" if m.needs_supplies else ""))
        lines.append(f"| `{m.name}` | {m.unit or '–'} | {m.label} | {scope} | "
                     f"{f'`{tol}`{bound}' if tol else '–'} | {'yes' if m.row else 'no'} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(reference(), end="")
