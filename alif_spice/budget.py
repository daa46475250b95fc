"""Resource preflight: estimate what a run will allocate and refuse, before allocating,
what cannot fit in this machine's memory (exit 2, naming the estimate and the setting
to change).

The per-point figures are estimates, so the limit keeps a margin: the ODE figure is the
peak traced by tracemalloc for a 500,001-point solve and write (179 B/point for CSV, 99 for
parquet), rounded up; the SPICE figure comes from the ngspice process's resident memory
(about 1.1 GB for the 2 million points of a 100 ms ideal run) plus the copies this process
makes; the sweep figures from tracemalloc of the points (350 B) and row dicts (660 B),
with room for their JSON lines and table rows.
"""

from __future__ import annotations

import math
import os
import resource

from .errors import ParamError
from .params import Params

#: bytes per recorded ODE time point: v_c and x in the kernel, time, v_mem, i_m, i_in,
#: the temporaries of the divider, a DataFrame copy and the writer's buffers (179 measured)
ODE_BYTES_PER_POINT = 200
#: bytes per SPICE time point: ngspice's own vectors and state (≈ 550 B on the ideal
#: circuit), the copy sent back and the trace built from it
SPICE_BYTES_PER_POINT = 900
#: ngspice takes about twice as many points as t_stop / max_step (206k for 1e5)
SPICE_POINTS_PER_MAX_STEP = 2.2
#: a sweep point (its parameter values) and a result row (dict, JSON line, table row)
SWEEP_BYTES_PER_POINT = 400
SWEEP_BYTES_PER_ROW = 2500
#: share of the available memory a run may plan to use
USABLE = 0.8


def available_memory() -> int:
    """Bytes this process may still allocate: the least of the system's available
    memory, the cgroup's remaining limit and the address-space limit."""
    limits = []
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    limits.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as fh:
            raw = fh.read().strip()
        if raw != "max":
            with open("/sys/fs/cgroup/memory.current") as fh:
                limits.append(int(raw) - int(fh.read().strip()))
    except (OSError, ValueError):
        pass
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        limits.append(soft)
    if not limits:
        pages = os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 0
        limits.append(pages * os.sysconf("SC_PAGE_SIZE") if pages > 0 else 1 << 34)
    return max(min(limits), 0)


def _gib(n: float) -> str:
    return f"{n / 2**30:.3g} GiB" if n >= 2**28 else f"{n / 2**20:.3g} MiB"


def check(estimate: float, what: str, change: str) -> None:
    """Refuse ``estimate`` bytes when they exceed the usable memory (exit 2)."""
    free = available_memory()
    if not math.isfinite(estimate) or estimate > USABLE * free:
        raise ParamError(f"{what} needs about {_gib(estimate)} of memory, more than this machine has "
                         f"available ({_gib(free)}): {change}")


def ode_points(p: Params, every: int = 1) -> float:
    """Recorded time points of an ODE trace (every ``every``-th grid point and the last)."""
    return math.ceil(p.simulation.t_stop / p.simulation.dt / every) + 2


def spice_points(p: Params) -> float:
    return SPICE_POINTS_PER_MAX_STEP * p.simulation.t_stop / p.simulation.max_step + 10


def check_ode(p: Params, every: int = 1) -> None:
    n = ode_points(p, every)
    check(n * ODE_BYTES_PER_POINT, f"the RK4 trace ({n:.3g} time points of simulation.dt = {p.simulation.dt:g} s)",
          "raise simulation.dt, shorten simulation.t_stop, or keep every N-th point with --save-every N")


def check_spice(p: Params, circuits: int = 1) -> None:
    n = spice_points(p)
    check(circuits * n * SPICE_BYTES_PER_POINT,
          f"the SPICE run ({n:.3g} time points at simulation.max_step = {p.simulation.max_step:g} s"
          + (f", {circuits} circuits at once" if circuits > 1 else "") + ")",
          "raise simulation.max_step or shorten simulation.t_stop")


def check_sweep(n_points: int, engines: int, workers: int, p: Params, spice: bool, ode_chunk: int) -> None:
    """A sweep's table and the traces its workers hold at once."""
    ode_task = ode_chunk * ode_points(p) * 16
    spice_task = spice_points(p) * SPICE_BYTES_PER_POINT if spice else 0
    if spice_task >= ode_task:
        check(workers * spice_task, f"each SPICE point of the sweep ({spice_points(p):.3g} time points, "
              f"{workers} at once)", "raise simulation.max_step, shorten simulation.t_stop, or use fewer --workers")
    else:
        check(workers * ode_task, f"each RK4 task of the sweep ({ode_chunk} neurons x {ode_points(p):.3g} "
              f"time points, {workers} at once)", "raise simulation.dt, shorten simulation.t_stop, "
              "or use fewer --workers")
    rows = n_points * SWEEP_BYTES_PER_POINT + n_points * engines * SWEEP_BYTES_PER_ROW
    check(rows + workers * max(ode_task, spice_task), f"the sweep ({n_points:,} points x {engines} engine(s))",
          "use fewer grid points or Monte Carlo samples, or split the sweep")


def batch_chunk(p: Params, workers: int, record: bool, chunk: int) -> int:
    """Neurons per kernel call of a batch evaluation (design, sensitivity) that fit in memory:
    ``chunk`` or fewer. A recording run holds v_c and x of a chunk per worker, and one
    neuron's metric temporaries (input current, power, energy). Refused (exit 2) when not
    even one neuron per worker fits."""
    if not record:
        return chunk
    points = ode_points(p)
    budget = USABLE * available_memory() / max(workers, 1) - points * 40
    fits = int(budget // (points * 16)) if budget > 0 else 0
    if fits < 1:
        need = workers * points * (16 + 40)
        check(math.inf, f"the batch's recorded traces ({points:.3g} time points per neuron at simulation.dt = "
              f"{p.simulation.dt:g} s, {workers} at once, about {_gib(need)})",
              "raise simulation.dt, shorten simulation.t_stop, use fewer --workers, or choose metrics that "
              "need no trace (not the energies)")
    return max(1, min(chunk, fits))
