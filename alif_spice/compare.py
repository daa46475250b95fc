"""Comparison metrics of traces and spike trains (SPEC §5)."""

from __future__ import annotations

import numpy as np

from .stimulus import SquareWave


def spikes_per_period(spikes: np.ndarray, stimulus: SquareWave, t_stop: float) -> list[int]:
    """Number of spikes in each complete-or-started input period before ``t_stop``."""
    starts = stimulus.period_starts(t_stop)
    edges = np.append(starts, starts[-1] + stimulus.per) if starts.size else np.array([])
    if edges.size < 2:
        return []
    counts, _ = np.histogram(np.asarray(spikes, dtype=float), bins=edges)
    return [int(c) for c in counts]


def adaptation_ratio(per_period: list[int]) -> float:
    """Spikes in the first input period / spikes in the last (inf if the last has none)."""
    if not per_period or per_period[0] == 0:
        return float("nan")
    if per_period[-1] == 0:
        return float("inf")
    return per_period[0] / per_period[-1]
