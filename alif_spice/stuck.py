"""Stuck output: the spike output (ideal latch or hardware comparator) staying on too long.

A healthy output is on for one hold (ideal circuit: ``t_ref``) or one discharge (hardware:
a few ``(r_discharge + R_DS,on) c``). It counts as stuck when one on-interval lasts longer
than :func:`stuck_bound`:

    bound = hold + max(10 (r_discharge + R_DS,on) c,  min(duty, 1 - duty) / (2 frequency))

with hold = the ideal circuit's hold (0 for the hardware) and the discharge term 0 for the
ideal circuit; i.e. longer than half the shorter input phase beyond what a reset needs. A
stuck comparator holds through the input's on phase, far beyond this bound.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .params import Params
from .spice import crossings
from .trace import Trace

@dataclass(frozen=True)
class Stuck:
    """Longest on-interval of a circuit's output and the bound it is held to."""

    longest_on_s: float
    start_s: float
    bound_s: float

    @property
    def stuck(self) -> bool:
        return bool(self.longest_on_s > self.bound_s)

    def message(self, circuit: str) -> str:
        from .circuits import get

        why = get(circuit).stuck_why
        return (f"{circuit} circuit: output stuck on for {self.longest_on_s:.4g} s from t = {self.start_s:.4g} s, "
                f"longer than the bound {self.bound_s:.4g} s{why}")


def stuck_bound(p: Params, circuit: str) -> float:
    """Longest on-interval (s) a working output can have (module docstring)."""
    from .circuits import get

    bound = get(circuit).stuck_bound
    if bound is None:
        raise ValueError(f"the {circuit} circuit has no spike output to check")
    return bound(p)


def check_stuck(trace: Trace, p: Params, circuit: str) -> Stuck:
    """Longest on-interval of ``trace``'s output (an interval still on at the end counts to t_stop)."""
    from .netlist import spike_output

    output = spike_output(p, circuit)
    if output is None:
        raise ValueError(f"the {circuit} circuit has no spike output to check")
    column, level = output
    t, y = trace.time, trace[column]
    ups = crossings(t, y, level)
    downs = crossings(t, -y, -level)
    if y[0] >= level:
        ups = np.insert(ups, 0, t[0])
    longest, start = 0.0, float("nan")
    for u in ups:
        later = downs[downs > u]
        end = float(later[0]) if later.size else float(t[-1])
        if end - u > longest:
            longest, start = end - u, float(u)
    return Stuck(longest_on_s=float(longest), start_s=start, bound_s=float(stuck_bound(p, circuit)))
