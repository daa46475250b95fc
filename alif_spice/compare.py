"""Comparison of traces: common time base, spike matching, metrics, energy.

Pure functions on :class:`~alif_spice.trace.Trace` objects and arrays; the report and
the command line only present what these return.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .stimulus import SquareWave
from .trace import Trace


def spikes_per_period(spikes: np.ndarray, stimulus: SquareWave, t_stop: float) -> list[int]:
    """Number of spikes in each input period that starts before ``t_stop``."""
    starts = stimulus.period_starts(t_stop)
    edges = np.append(starts, starts[-1] + stimulus.per) if starts.size else np.array([])
    if edges.size < 2:
        return []
    counts, _ = np.histogram(np.asarray(spikes, dtype=float), bins=edges)
    return [int(c) for c in counts]


def adaptation_ratio(per_period: list[int]) -> float:
    """Spikes in the first input period / spikes in the last (inf if the last has none;
    NaN with fewer than two periods or no spikes in the first: undefined)."""
    if len(per_period) < 2 or per_period[0] == 0:
        return float("nan")
    if per_period[-1] == 0:
        return float("inf")
    return per_period[0] / per_period[-1]


def isi_adaptation_ratio(spikes: np.ndarray) -> float:
    """Last ISI / first ISI (> 1: the neuron adapts; NaN with fewer than three spikes): the
    adaptation index of a step input, which has a single input period."""
    isi = np.diff(np.sort(np.asarray(spikes, dtype=float)))
    return float(isi[-1] / isi[0]) if isi.size >= 2 and isi[0] > 0 else float("nan")


def on_grid(trace: Trace, column: str, grid: np.ndarray) -> np.ndarray:
    """``column`` of ``trace`` linearly interpolated onto ``grid`` (s): uneven SPICE steps
    are interpolated, never dropped. Repeated time points (ngspice breakpoints) keep the
    last value."""
    t = trace.time
    y = trace[column]
    keep = np.append(np.diff(t) > 0, True)
    return np.interp(grid, t[keep], y[keep])


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


@dataclass(frozen=True)
class SpikeMatch:
    """Pairs of reference/test spikes, and those left without a partner."""

    pairs: np.ndarray  # (n, 2): reference time, test time
    missing: np.ndarray  # reference spikes with no test spike
    extra: np.ndarray  # test spikes with no reference spike

    @property
    def errors(self) -> np.ndarray:
        return self.pairs[:, 1] - self.pairs[:, 0] if self.pairs.size else np.empty(0)


def match_spikes(ref: np.ndarray, test: np.ndarray, window: float) -> SpikeMatch:
    """Match each test spike to the nearest unmatched reference spike within ``window`` s.

    Greedy by increasing distance, so a missing spike is reported as missing instead of
    shifting every later spike onto the wrong partner.
    """
    ref = np.sort(np.asarray(ref, dtype=float))
    test = np.sort(np.asarray(test, dtype=float))
    candidates = []
    for j, t in enumerate(test):
        lo, hi = np.searchsorted(ref, [t - window, t + window])
        for i in range(lo, min(hi + 1, ref.size)):
            d = abs(ref[i] - t)
            if d <= window:
                candidates.append((d, i, j))
    candidates.sort()
    used_r, used_t, pairs = set(), set(), []
    for _, i, j in candidates:
        if i not in used_r and j not in used_t:
            used_r.add(i)
            used_t.add(j)
            pairs.append((ref[i], test[j]))
    pairs.sort()
    missing = np.array([r for i, r in enumerate(ref) if i not in used_r])
    extra = np.array([t for j, t in enumerate(test) if j not in used_t])
    return SpikeMatch(np.array(pairs).reshape(-1, 2), missing, extra)


def match_window(ref: np.ndarray) -> float:
    """Default matching window: half the shortest reference ISI (or 1 s without ISIs)."""
    isi = np.diff(np.sort(ref))
    return 0.5 * float(isi.min()) if isi.size else 1.0


def source_energy(trace: Trace) -> np.ndarray:
    """Cumulative energy (J) delivered by the input current source: ∫ v_c i_in dt."""
    return _cumtrapz(trace.time, trace["v_c"] * trace["i_in"])


def supply_energy(trace: Trace, v_pos: float, v_neg: float, v_cmp: float) -> np.ndarray:
    """Cumulative energy (J) delivered by the hardware's supplies (SPICE branch currents
    flow into the source's + terminal, so a source delivers P = -V I)."""
    power = -(v_pos * trace["i_pos"] + v_neg * trace["i_neg"] + v_cmp * trace["i_cmp_supply"])
    return _cumtrapz(trace.time, power)


def _cumtrapz(t: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(0.5 * (y[1:] + y[:-1]) * np.diff(t))])


def energy_per_period(t: np.ndarray, cumulative: np.ndarray, stimulus: SquareWave,
                      t_stop: float) -> list[float]:
    """Energy (J) drawn in each input period, from a cumulative energy curve."""
    starts = stimulus.period_starts(t_stop)
    edges = np.append(starts, min(starts[-1] + stimulus.per, t_stop)) if starts.size else []
    e = np.interp(edges, t, cumulative)
    return [float(v) for v in np.diff(e)]


def per_spike(energies: list[float], counts: list[int]) -> list[float | None]:
    return [e / c if c else None for e, c in zip(energies, counts)]


# --------------------------------------------------------------------------- metrics


def neuron_metrics(p, time: np.ndarray, v_c: np.ndarray, i_in: np.ndarray, spikes: np.ndarray) -> dict:
    """One neuron's behaviour, the same for every engine: spike count, spikes per input
    period, adaptation ratio, mean rate (spikes / t_stop, Hz) and input-source energy
    per spike (∫ v_c i_in dt / spikes, J; None without spikes)."""
    stim = SquareWave.from_params(p)
    t_stop = p.simulation.t_stop
    per = spikes_per_period(spikes, stim, t_stop)
    energy = float(_cumtrapz(time, v_c * i_in)[-1])
    n = int(np.asarray(spikes).size)
    return {"n_spikes": n, "spikes_per_period": per, "adaptation_ratio": adaptation_ratio(per),
            "rate_hz": n / t_stop, "energy_j": energy, "energy_per_spike_j": energy / n if n else None}


def circuit_metrics(p, ode: Trace, spice: Trace, circuit: str) -> dict:
    """The documented metrics of one SPICE circuit against the ODE (JSON-ready: no NaN/inf)."""
    stim = SquareWave.from_params(p)
    t_stop = p.simulation.t_stop
    per_ode = spikes_per_period(ode.spikes, stim, t_stop)
    per_sp = spikes_per_period(spice.spikes, stim, t_stop)
    match = match_spikes(ode.spikes, spice.spikes, match_window(ode.spikes))
    err = np.abs(match.errors)
    grid = ode.time
    e_in_ode = energy_per_period(ode.time, source_energy(ode), stim, t_stop)
    e_in_sp = energy_per_period(spice.time, source_energy(spice), stim, t_stop)
    m = {
        "n_spikes": {"ode": int(ode.spikes.size), "spice": int(spice.spikes.size)},
        "spikes_per_period": {"ode": per_ode, "spice": per_sp},
        "matched_spikes": int(match.pairs.shape[0]),
        "missing_spikes": int(match.missing.size),
        "extra_spikes": int(match.extra.size),
        "spike_time_max_abs_error_s": float(err.max()) if err.size else None,
        "spike_time_mean_abs_error_s": float(err.mean()) if err.size else None,
        "mean_isi_ode_s": float(np.diff(ode.spikes).mean()) if ode.spikes.size > 1 else None,
        "x_rmse": rmse(on_grid(spice, "x", grid), ode["x"]),
        "v_c_rmse": rmse(on_grid(spice, "v_c", grid), ode["v_c"]),
        "adaptation_ratio": {"ode": adaptation_ratio(per_ode), "spice": adaptation_ratio(per_sp)},
        "isi_adaptation_ratio": {"ode": isi_adaptation_ratio(ode.spikes),
                                 "spice": isi_adaptation_ratio(spice.spikes)},
        "energy_input_per_period_j": {"ode": e_in_ode, "spice": e_in_sp},
        "energy_per_spike_j": {"ode": _safe_div(sum(e_in_ode), sum(per_ode)),
                               "spice": _safe_div(sum(e_in_sp), sum(per_sp))},
        "energy_per_spike_per_period_j": {"ode": per_spike(e_in_ode, per_ode),
                                          "spice": per_spike(e_in_sp, per_sp)},
    }
    if circuit == "hardware":
        from .hardware import effective_hardware

        hw = effective_hardware(p)
        e_sup = energy_per_period(spice.time, supply_energy(spice, hw.v_pos, hw.v_neg, hw.comp_supply),
                                  stim, t_stop)
        m["energy_supply_per_period_j"] = e_sup
        m["energy_supply_per_spike_j"] = _safe_div(sum(e_sup), sum(per_sp))
    return json_ready(m)


def _safe_div(a: float, b: float) -> float | None:
    return a / b if b else None


def json_ready(value):
    """Plain JSON types, non-finite floats as null (JSON has no NaN/Infinity)."""
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


# --------------------------------------------------------------------------- tolerances


def _rel_isi(m: dict) -> float | None:
    if m["spike_time_max_abs_error_s"] is None or not m["mean_isi_ode_s"]:
        return None
    return m["spike_time_max_abs_error_s"] / m["mean_isi_ode_s"]


#: tolerance name -> (how to get the measured value from a circuit's metrics, "max"/"min")
CHECKS = {
    "spike_count_abs_diff": (lambda m: abs(m["n_spikes"]["spice"] - m["n_spikes"]["ode"]), "max"),
    "spike_count_rel_diff": (lambda m: abs(m["n_spikes"]["spice"] - m["n_spikes"]["ode"])
                             / max(m["n_spikes"]["ode"], 1), "max"),
    "missing_spikes": (lambda m: m["missing_spikes"], "max"),
    "extra_spikes": (lambda m: m["extra_spikes"], "max"),
    "spike_time_max_abs_error_s": (lambda m: m["spike_time_max_abs_error_s"], "max"),
    "spike_time_max_abs_error_rel_isi": (_rel_isi, "max"),
    "spike_time_mean_abs_error_s": (lambda m: m["spike_time_mean_abs_error_s"], "max"),
    "x_rmse": (lambda m: m["x_rmse"], "max"),
    "v_c_rmse": (lambda m: m["v_c_rmse"], "max"),
    "adaptation_ratio_min": (lambda m: m["adaptation_ratio"]["spice"], "min"),
    "isi_adaptation_ratio_min": (lambda m: m["isi_adaptation_ratio"]["spice"], "min"),
}


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
    out = []
    for circuit, tols in tolerances.items():
        for name, limit in tols.items():
            get, kind = CHECKS[name]
            out.append(Check(circuit, name, get(metrics[circuit]), float(limit), kind))
    return out
