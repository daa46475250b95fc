"""Comparison of traces: common time base, spike matching, adaptation, energy.

Pure functions on :class:`~alif_spice.trace.Trace` objects and arrays, from which the
metrics of :mod:`alif_spice.metrics` are built.
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


def input_energy(time: np.ndarray, v_c: np.ndarray, i_in: np.ndarray) -> np.ndarray:
    """Cumulative energy (J) delivered by the input current source: ∫ v_c i_in dt."""
    return cumulative_integral(time, v_c * i_in)


def source_energy(trace: Trace) -> np.ndarray:
    """:func:`input_energy` of a trace."""
    return input_energy(trace.time, trace["v_c"], trace["i_in"])


def supply_energy(trace: Trace, supplies) -> np.ndarray:
    """Cumulative energy (J) delivered by a circuit's supplies, given as (trace column of
    the source's current, its voltage in V): SPICE branch currents flow into the source's
    + terminal, so a source delivers P = -V I."""
    power = np.zeros_like(trace.time)
    for column, volts in supplies:
        power -= volts * trace[column]
    return cumulative_integral(trace.time, power)


def cumulative_integral(t: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Trapezoidal running integral of ``y`` over ``t``, starting at 0."""
    return np.concatenate([[0.0], np.cumsum(0.5 * (y[1:] + y[:-1]) * np.diff(t))])


def energy_per_period(t: np.ndarray, cumulative: np.ndarray, stimulus: SquareWave,
                      t_stop: float) -> list[float]:
    """Energy (J) drawn in each input period, from a cumulative energy curve."""
    starts = stimulus.period_starts(t_stop)
    edges = np.append(starts, min(starts[-1] + stimulus.per, t_stop)) if starts.size else np.empty(0)
    e = np.interp(edges, t, cumulative)
    return [float(v) for v in np.diff(e)]


def per_spike(energies: list[float], counts: list[int]) -> list[float | None]:
    return [e / c if c else None for e, c in zip(energies, counts)]


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
