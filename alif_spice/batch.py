"""Many neurons on the RK4 batch kernel: the values of registered neuron metrics for many
parameter sets, on all cores. The engine under ``design`` and ``sensitivity``.

Each set is a base :class:`~alif_spice.params.Params` with some keys replaced; a set that
fails validation or whose integration fails gets NaN metrics and a reason. Traces are
recorded only where a metric needs them (the input energy needs v_c).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .errors import AlifError, ParamError
from .metrics import METRICS, neuron_metrics
from .params import Params

#: neurons per kernel call (a recorded 10 ms neuron at 0.1 µs holds 16 MB of trace)
CHUNK = 32


@dataclass(frozen=True)
class Evaluation:
    """Metric values (rows: parameter sets, columns: ``metrics``; NaN where undefined or
    failed) and why a set failed ("" where it ran)."""

    metrics: tuple[str, ...]
    values: np.ndarray
    errors: tuple[str, ...]

    @property
    def ok(self) -> np.ndarray:
        return np.array([e == "" for e in self.errors])

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.metrics.index(name)]


def scalar_metrics() -> tuple[str, ...]:
    """Neuron metrics with one number per run (the ones a target or a sensitivity can use)."""
    return tuple(m.name for m in METRICS.values() if m.scope == "neuron" and m.kind in ("int", "float"))


def check_metrics(names: Sequence[str], option: str) -> tuple[str, ...]:
    """``names`` if each is a scalar neuron metric; else ParamError naming the known ones."""
    known = scalar_metrics()
    for n in names:
        if n not in known:
            raise ParamError(f"{option}: unknown metric {n!r} (known: {', '.join(known)})")
    return tuple(names)


def needs_trace(metrics: Sequence[str]) -> bool:
    """Whether any of ``metrics`` reads the recorded v_c (the input energy does)."""
    return any(c == "v_c" for m in metrics for c in METRICS[m].needs)


def check_memory(base: Params, metrics: Sequence[str], workers: int | None) -> None:
    """Refuse (exit 2) a batch whose recorded traces cannot fit in memory, before it starts."""
    from .budget import batch_chunk

    batch_chunk(base, workers or os.cpu_count() or 1, needs_trace(metrics), CHUNK)


def _value(v) -> float:
    if v is None:
        return math.nan
    return float(v)


def evaluate(base: Params, keys: Sequence[str], X: np.ndarray, metrics: Sequence[str],
             workers: int | None = None, progress: Callable[[int, int], None] | None = None,
             chunk: int = CHUNK, check: Callable[[Params], object] | None = None) -> Evaluation:
    """The ``metrics`` of ``base`` with ``keys`` set to each row of ``X`` (n x len(keys)).

    ``workers`` threads (default: one per core; the kernel releases the GIL);
    ``progress(done, failed)`` after each chunk; ``check(p)``: a further rule a set must
    pass (it raises :class:`~alif_spice.errors.AlifError` otherwise), e.g. the hardware design."""
    from .ode import check_step, solve_batch
    from .stimulus import SquareWave

    X = np.atleast_2d(np.asarray(X, dtype=float))
    if X.shape[1] != len(keys):
        raise ValueError(f"X has {X.shape[1]} columns for {len(keys)} keys")
    from .budget import batch_chunk

    metrics = tuple(metrics)
    record = needs_trace(metrics)
    workers = workers or os.cpu_count() or 1
    chunk = batch_chunk(base, workers, record, chunk)
    n = X.shape[0]
    values = np.full((n, len(metrics)), np.nan)
    errors = [""] * n

    def run(lo: int, hi: int) -> tuple[int, int]:
        good: list[tuple[int, Params]] = []
        for i in range(lo, hi):
            try:
                p = base.with_values(dict(zip(keys, X[i].tolist())))
                check_step(p)
                if check is not None:
                    check(p)
                good.append((i, p))
            except AlifError as exc:
                errors[i] = str(exc)
        if good:
            result = solve_batch([p for _, p in good], record=record)
            t_stop = base.simulation.t_stop
            grid = result.time if result.time is not None else np.array([0.0, t_stop])
            for k, (i, p) in enumerate(good):
                if not result.ok[k]:
                    errors[i] = result.error_text(k)
                    continue
                if record:
                    assert result.v_c is not None
                    v_c, i_in = result.v_c[k], SquareWave.from_params(p)(grid)
                else:  # no metric asked for reads the trace
                    v_c, i_in = np.full(2, np.nan), np.zeros(2)
                m = neuron_metrics(p, grid, v_c, i_in, result.spikes[k], metrics)
                values[i] = [_value(m[name]) for name in metrics]
        return hi - lo, sum(1 for i in range(lo, hi) if errors[i])

    bounds = [(lo, min(lo + chunk, n)) for lo in range(0, n, chunk)]
    if workers == 1 or len(bounds) == 1:
        for lo, hi in bounds:
            done, failed = run(lo, hi)
            if progress:
                progress(done, failed)
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="alif-batch") as pool:
            futures = [pool.submit(run, lo, hi) for lo, hi in bounds]
            try:
                for f in futures:
                    done, failed = f.result()
                    if progress:
                        progress(done, failed)
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    return Evaluation(metrics, values, tuple(errors))


#: the most neurons one command evaluates (a 10 ms neuron takes about 5 ms of one core)
MAX_NEURONS = 4_000_000


def check_keys(base: Params, keys: Sequence[str], option: str) -> None:
    """Each key must be a numeric parameter of the neuron (ParamError otherwise): not a
    string, not [simulation] (the neurons of a batch share one time grid) and not [iv] (the
    memristor's I-V bench, not the neuron)."""
    flat = base.flat()
    if len(set(keys)) != len(keys):
        raise ParamError(f"{option}: a parameter is given twice")
    for k in keys:
        if k not in flat:
            base.with_values({k: flat.get(k)})  # raises the schema's "unknown key" error
        if isinstance(flat[k], str) or (flat[k] is None and not k.startswith("hardware.")):
            raise ParamError(f"{option} {k}: not a numeric parameter")
        if k.startswith("simulation."):
            raise ParamError(f"{option} {k}: the simulation settings are shared by every neuron of the batch; "
                             "set them with --set")
        if k.startswith("iv."):
            raise ParamError(f"{option} {k}: a setting of the memristor's I-V bench, not of the neuron")
