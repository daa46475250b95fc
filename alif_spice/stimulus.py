"""The input current: one definition shared by the ODE and the SPICE PULSE source.

A square wave of ``amplitude`` (A) during the first ``duty/frequency`` of each
period and ``low`` otherwise, starting at ``delay``, with linear edges of
``t_edge``. It is stored as SPICE PULSE parameters (v1 v2 td tr tf pw per) with
``tr = tf = t_edge`` and ``pw = duty/frequency - t_edge``, so that the charge of
one period is exactly ``amplitude * duty / frequency`` (plus ``low`` the rest
of the period) and the half-amplitude points sit ``duty/frequency`` apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from . import _jit  # noqa: F401  (before any @njit: the cache notices edits of every kernel module)
from .params import Params, StimulusParams

#: Two times closer than this (s) are the same breakpoint.
TIME_TOL = 1e-14


@njit(cache=True, inline="always", error_model="numpy")
def pulse_segment(t, v1, v2, td, tr, pw, tf, per):
    """The linear piece of the PULSE waveform that starts at or contains ``t``.

    Returns ``(value_at_t, slope, t_end)``: on ``[t, t_end]`` the waveform is
    ``value_at_t + slope * (s - t)``. A ``t`` within ``TIME_TOL`` of a corner
    belongs to the piece that starts there.
    """
    if t < td - TIME_TOL:
        return v1, 0.0, td
    k = np.floor((t - td) / per)
    base = td + k * per
    if t - base >= per - TIME_TOL:  # rounding put us at the very end of a period
        base += per
    p1 = base + tr
    p2 = p1 + pw
    p3 = p2 + tf
    if t < p1 - TIME_TOL:
        slope = (v2 - v1) / tr
        return v1 + slope * max(t - base, 0.0), slope, p1
    if t < p2 - TIME_TOL:
        return v2, 0.0, p2
    if t < p3 - TIME_TOL:
        slope = (v1 - v2) / tf
        return v2 + slope * max(t - p2, 0.0), slope, p3
    return v1, 0.0, base + per


@njit(cache=True, error_model="numpy")
def _pulse_values(t, v1, v2, td, tr, pw, tf, per):
    out = np.empty(t.shape[0])
    for i in range(t.shape[0]):
        out[i] = pulse_segment(t[i], v1, v2, td, tr, pw, tf, per)[0]
    return out


@dataclass(frozen=True)
class SquareWave:
    """Unipolar square-wave current source; see the module docstring."""

    v1: float
    v2: float
    td: float
    tr: float
    pw: float
    tf: float
    per: float

    @classmethod
    def from_params(cls, p: Params | StimulusParams) -> SquareWave:
        s = p.stimulus if isinstance(p, Params) else p
        return cls(v1=s.low, v2=s.amplitude, td=s.delay, tr=s.t_edge,
                   pw=s.duty / s.frequency - s.t_edge, tf=s.t_edge, per=1.0 / s.frequency)

    @property
    def pulse(self) -> tuple[float, float, float, float, float, float, float]:
        """SPICE ``PULSE(v1 v2 td tr tf pw per)`` arguments, in that order."""
        return (self.v1, self.v2, self.td, self.tr, self.tf, self.pw, self.per)

    def _args(self) -> tuple[float, ...]:
        return (self.v1, self.v2, self.td, self.tr, self.pw, self.tf, self.per)

    def __call__(self, t):
        """Current (A) at time(s) ``t`` (s)."""
        arr = np.asarray(t, dtype=float)
        values = _pulse_values(np.ascontiguousarray(arr.ravel()), *self._args())
        return values.reshape(arr.shape) if arr.ndim else float(values[0])

    def breakpoints(self, t_stop: float) -> np.ndarray:
        """Every corner of the waveform in ``(0, t_stop]`` (a corner up to ``TIME_TOL`` after
        ``t_stop`` counts as at it), s."""
        out: list[float] = []
        t = 0.0
        while True:
            _, _, t_end = pulse_segment(t, *self._args())
            if t_end > t_stop + TIME_TOL:
                return np.array(out)
            out.append(t_end)
            t = t_end

    def period_starts(self, t_stop: float) -> np.ndarray:
        """Start times of the whole input periods (ending by ``t_stop``): per-period metrics
        count only these, so a run shorter than one period (a step input) has none."""
        n = int(np.floor((t_stop - self.td) / self.per + 1e-9))
        return self.td + self.per * np.arange(max(n, 0))


@dataclass(frozen=True)
class IvSource:
    """Voltage source of the ``memristor-iv`` circuit: sine, or triangle 0 -> +A -> -A -> 0."""

    waveform: str
    amplitude: float
    frequency: float

    @classmethod
    def from_params(cls, p: Params) -> IvSource:
        return cls(p.iv.waveform, p.iv.amplitude, p.iv.frequency)

    def _triangle_corners(self) -> tuple[list[float], list[float]]:
        per = 1.0 / self.frequency
        return [0.0, 0.25 * per, 0.75 * per, per], [0.0, self.amplitude, -self.amplitude, 0.0]

    def __call__(self, t):
        """Source voltage (V) at time(s) ``t`` (s)."""
        t = np.asarray(t, dtype=float)
        if self.waveform == "sine":
            return self.amplitude * np.sin(2.0 * np.pi * self.frequency * t)
        ts, vs = self._triangle_corners()
        return np.interp(np.mod(t, 1.0 / self.frequency), ts, vs)

    def spice(self) -> str:
        """The same source as an ngspice independent-source specification."""
        from .units import format_spice_number as f

        if self.waveform == "sine":
            return f"SIN(0 {f(self.amplitude)} {f(self.frequency)})"
        ts, vs = self._triangle_corners()
        return "PWL(" + " ".join(f"{f(t)} {f(v)}" for t, v in zip(ts, vs)) + ") r=0"
