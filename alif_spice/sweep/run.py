"""Running a sweep: its tasks (RK4 batches, one ngspice run per SPICE point), the executor
they run on (any :class:`concurrent.futures.Executor`: local threads by default, Dask's
``Client.get_executor()`` for a cluster), the progress bar, and :func:`run_sweep`, which
appends every finished row to the folder's row store at once and writes the outputs at
the end (:mod:`alif_spice.sweep.report`)."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor, as_completed
from pathlib import Path

from ..errors import AlifError, ParamError
from ..metrics import neuron_metrics, row_metrics
from ..params import Params
from .folder import SweepResult, check_resume, load_sweep, prepare
from .spec import Point, SweepSpec, point_params, points
from .store import ROWS_FILE, RowWriter, make_row, read_rows, remaining, sweep_id

ODE_CHUNK = 32  # neurons per ODE task (traces are recorded for the energy: ~1.6 MB per 10 ms neuron)


def preflight(spec: SweepSpec, base: Params, workers: int | None) -> None:
    """Refuse (exit 2) a sweep whose table and traces cannot fit in memory."""
    from ..budget import check_sweep

    check_sweep(spec.n_points, len(spec.engines), workers or os.cpu_count() or 1, base,
                any(e != "ode" for e in spec.engines), ODE_CHUNK)


# ------------------------------------------------------------------------------- tasks


def run_ode_task(base: Params, pts: Sequence[Point]) -> list[dict]:
    """RK4 batch over ``pts`` (one kernel call per shared t_stop/dt); rows in order."""
    from ..ode import check_step, solve_batch
    from ..stimulus import SquareWave

    t0 = time.perf_counter()
    rows: dict[int, dict] = {}
    good: list[tuple[Point, Params]] = []
    for pt in pts:
        try:
            p = point_params(base, pt)
            check_step(p)
            good.append((pt, p))
        except AlifError as exc:
            rows[pt.index] = make_row(pt, "ode", "failed", str(exc))
    groups: dict[tuple[float, float], list[tuple[Point, Params]]] = {}
    for pt, p in good:
        groups.setdefault((p.simulation.t_stop, p.simulation.dt), []).append((pt, p))
    for group in groups.values():
        result = solve_batch([p for _, p in group], record=True)
        for i, (pt, p) in enumerate(group):
            if not result.ok[i]:
                rows[pt.index] = make_row(pt, "ode", "failed", result.error_text(i))
                continue
            assert result.time is not None and result.v_c is not None  # recorded
            i_in = SquareWave.from_params(p)(result.time)
            rows[pt.index] = make_row(pt, "ode", metrics=neuron_metrics(p, result.time, result.v_c[i], i_in,
                                                                     result.spikes[i], row_metrics()))
    wall = (time.perf_counter() - t0) / max(len(pts), 1)
    for r in rows.values():
        r["wall_s"] = wall
    return [rows[pt.index] for pt in pts]


def run_spice_task(base: Params, engine: str, pt: Point) -> dict:
    """One point in ngspice (this thread's ngspice process); a failure is a failed row."""
    from ..spice import run_circuit
    from ..stuck import check_stuck

    t0 = time.perf_counter()
    try:
        p = point_params(base, pt)
        trace = run_circuit(p, engine)
        metrics = neuron_metrics(p, trace.time, trace["v_c"], trace["i_in"], trace.spikes, row_metrics())
        stuck = check_stuck(trace, p, engine)
    except AlifError as exc:
        return make_row(pt, engine, "failed", str(exc), time.perf_counter() - t0)
    if stuck.stuck:
        return make_row(pt, engine, "stuck", stuck.message(engine), time.perf_counter() - t0, metrics=metrics)
    return make_row(pt, engine, wall=time.perf_counter() - t0, metrics=metrics)


def run_task(base: Params, engine: str, pts: Sequence[Point]) -> list[dict]:
    """The unit of work sent to an executor (a thread, or a Dask worker)."""
    if engine == "ode":
        return run_ode_task(base, pts)
    return [run_spice_task(base, engine, pt) for pt in pts]


def tasks(spec: SweepSpec, pts: Sequence[Point], done: set[tuple[int, str]],
          ode_chunk: int = ODE_CHUNK) -> list[tuple[str, list[Point]]]:
    """(engine, points) work items for the rows not in ``done`` (see :func:`alif_spice.sweep.store.remaining`)."""
    return remaining(spec.engines, pts, done, ode_chunk)


# --------------------------------------------------------------------------- executors


def local_executor(workers: int | None = None) -> ThreadPoolExecutor:
    """Threads on this machine (default: one per core). Each thread drives its own ngspice
    process and the RK4 kernel releases the GIL, so ``workers`` tasks really run at once."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ParamError("--workers: expected an integer >= 1")
    return ThreadPoolExecutor(workers or os.cpu_count() or 1, thread_name_prefix="alif-sweep")


@contextlib.contextmanager
def dask_executor(scheduler: str | None = None, local_workers: int | None = None) -> Iterator[Executor]:
    """Dask's :class:`concurrent.futures.Executor` (``Client.get_executor``) on an existing
    scheduler (``tcp://host:port``) or on a LocalCluster of ``local_workers`` single-threaded
    worker processes; the client (and the cluster it started) close on leaving."""
    from distributed import Client, LocalCluster

    cluster = None
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise ParamError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
    else:
        cluster = LocalCluster(n_workers=local_workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=50)
        client = Client(cluster)
    try:
        yield client.get_executor(pure=False)
    finally:
        try:
            client.close()
        finally:
            if cluster is not None:
                cluster.close()


def make_executor(scheduler: str | None = None, cluster: str | None = None,
                  workers: int | None = None) -> contextlib.AbstractContextManager[Executor]:
    """The command line's choice, as a context manager: local threads by default (``workers``
    of them), a Dask scheduler's address (``scheduler``), or a local Dask cluster
    (``cluster`` = "local:N"). Its arguments are checked before anything starts."""
    if scheduler and cluster:
        raise ParamError("--scheduler and --cluster: choose one")
    if cluster:
        kind, _, n = cluster.partition(":")
        if kind != "local" or not n.isdigit() or int(n) < 1:
            raise ParamError(f"--cluster {cluster!r}: expected local:N (N worker processes)")
        return dask_executor(local_workers=int(n))
    if scheduler:
        if not scheduler.startswith(("tcp://", "tls://", "inproc://", "ws://", "wss://")):
            raise ParamError(f"--scheduler {scheduler!r}: expected an address like tcp://HOST:PORT")
        return dask_executor(scheduler=scheduler)
    return local_executor(workers)


def describe(executor: Executor) -> tuple[str, int | None]:
    """(kind, workers) of an executor, for the manifest and the memory check: "local" with
    its thread count, "dask" with the cluster's worker threads, else its type's name."""
    if isinstance(executor, ThreadPoolExecutor):
        return "local", executor._max_workers
    client = getattr(executor, "_client", None)  # distributed's ClientExecutor
    if client is not None and hasattr(client, "nthreads"):
        return "dask", int(sum(client.nthreads().values()))
    return type(executor).__name__, None


def _dask_tasks(executor: Executor | None) -> set:
    """The Dask futures a Dask executor (distributed's ClientExecutor) holds; empty for others."""
    held = getattr(executor, "_futures", None)
    return set(held) if getattr(executor, "_client", None) is not None and held is not None else set()


def cancel(executor: Executor | None, futures: Iterable[Future], dask_tasks: Iterable = ()) -> None:
    """An interrupted sweep: drop this sweep's queued tasks and end its running ones at once,
    leaving the executor usable (one you passed stays yours). Local threads: the queued
    tasks are cancelled and this process's ngspice runs killed (they end with
    SimulationError). Dask: this sweep's tasks (``dask_tasks``) cancelled in one call to the
    scheduler (cancelling each future would make one call per task)."""
    dask_tasks = list(dask_tasks)
    if dask_tasks:
        executor._client.cancel(dask_tasks)  # type: ignore[union-attr]
        return
    for f in futures:
        f.cancel()
    if isinstance(executor, ThreadPoolExecutor):
        from ..spice import kill_all

        kill_all()


# ------------------------------------------------------------------------------ progress


class Progress:
    """``done/total rows, elapsed, ETA`` on stderr: a redrawn bar on a terminal, a line
    every 10 % (or 30 s) otherwise."""

    def __init__(self, total: int, done: int = 0, stream=None, label: str = "sweep", unit: str = "rows") -> None:
        self.total, self.done, self.start_done = total, done, done
        self.failed = 0
        self.stream = stream if stream is not None else sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.t0 = self._last = time.monotonic()
        self._last_pct = -1
        self.label, self.unit = label, unit

    @staticmethod
    def _hms(s: float) -> str:
        s = int(round(s))
        return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"

    def text(self) -> str:
        elapsed = time.monotonic() - self.t0
        new = self.done - self.start_done
        left = self.total - self.done
        eta = self._hms(elapsed / new * left) if new else "?"
        frac = self.done / self.total if self.total else 1.0
        bar = "#" * int(frac * 24) + "." * (24 - int(frac * 24))
        fail = f", {self.failed} failed" if self.failed else ""
        return (f"{self.label} [{bar}] {self.done}/{self.total} {self.unit} ({frac:.0%}){fail}, "
                f"{self._hms(elapsed)} elapsed, ETA {eta}")

    def update(self, rows: Sequence[dict]) -> None:
        self.advance(len(rows), sum(r["status"] != "ok" for r in rows))

    def advance(self, n: int, failed: int = 0) -> None:
        """``n`` more rows done, ``failed`` of them failed."""
        self.done += n
        self.failed += failed
        now = time.monotonic()
        pct = int(100 * self.done / self.total) // 10 if self.total else 10
        if self.tty:
            self.stream.write("\r" + self.text())
            if self.done >= self.total:
                self.stream.write("\n")
            self.stream.flush()
        elif pct != self._last_pct or now - self._last > 30 or self.done >= self.total:
            self._last_pct, self._last = pct, now
            print(self.text(), file=self.stream, flush=True)


# ----------------------------------------------------------------------------- running


def run_sweep(out_dir: str | os.PathLike[str], spec: SweepSpec | None = None, base: Params | None = None,
              resume: bool = False, executor: Executor | None = None, progress: bool | Callable = True,
              ode_chunk: int = ODE_CHUNK, command: str = "", report: bool = True,
              force: bool = False, say: Callable[[str], None] | None = None) -> SweepResult:
    """Run (or continue, with ``resume``) a sweep into ``out_dir``; write its outputs.

    ``executor``: any :class:`concurrent.futures.Executor`, e.g. a ``ThreadPoolExecutor``
    (:func:`local_executor`) or a Dask client's ``get_executor()`` (:func:`dask_executor`);
    by default threads on all cores, shut down at the end (one you pass stays yours to shut
    down; an interrupted sweep cancels the tasks it submitted). Rows already in
    ``rows.jsonl`` are never run again. One process writes a sweep folder at a time (a
    lock; a second sweep or ``--resume`` of a running one is refused with exit 2).
    ``say`` receives notes for the user (stale lock taken over, rows skipped).
    """
    from ..files import FolderLock

    say = say or (lambda msg: print(f"alif-spice: {msg}", file=sys.stderr, flush=True))
    out = Path(out_dir)
    if resume:
        check_resume(out)  # a sweep folder at all? (before taking its lock)
        lock = FolderLock(out, "sweep")
    else:
        if spec is None or base is None:
            raise ParamError("run_sweep: give spec and base (or resume=True)")
        lock = prepare(out, spec, base, force)
    try:
        if lock.stale_pid:
            say(f"{os.fspath(out)}: took over the lock left by pid {lock.stale_pid}, which is no longer running")
        if resume:
            spec, base = load_sweep(out)
        assert spec is not None and base is not None
        return _run_locked(out, spec, base, executor, progress, ode_chunk, command, report, say)
    finally:
        lock.release()


def _run_locked(out: Path, spec: SweepSpec, base: Params, executor: Executor | None, progress, ode_chunk: int,
                command: str, report: bool, say: Callable[[str], None]) -> SweepResult:
    t0 = time.perf_counter()
    kind, workers = describe(executor) if executor is not None else ("local", None)
    preflight(spec, base, workers)
    pts = points(spec, base)
    skipped: list[int] = []
    ident = sweep_id(spec, base)
    done_rows = read_rows(out, pts, spec.engines, skipped, ident)
    if skipped:
        shown = ", ".join(map(str, skipped[:5])) + (" ..." if len(skipped) > 5 else "")
        say(f"{os.fspath(out / ROWS_FILE)}: skipped {len(skipped)} line(s) that are damaged or not rows of "
            f"this sweep (line {shown}); their points run again")
    done = {(r["point"], r["engine"]) for r in done_rows}
    work = tasks(spec, pts, done, ode_chunk)
    total = len(pts) * len(spec.engines)
    bar = Progress(total, len(done)) if progress is True else None
    own = executor is None and bool(work)
    if own:
        executor = local_executor()
        kind, workers = describe(executor)
    new: list[dict] = []
    futures: list = []
    before = _dask_tasks(executor)  # a Dask executor's tasks from before this sweep
    interrupted = False
    writer = RowWriter(out, ident)
    try:
        if work:
            assert executor is not None
            futures = [executor.submit(run_task, base, engine, chunk) for engine, chunk in work]
            for fut in as_completed(futures):
                rows = fut.result()
                writer.write(rows)
                new += rows
                if bar is not None:
                    bar.update(rows)
                elif callable(progress):
                    progress(rows)
    except BaseException:
        interrupted = True
        cancel(executor, futures, _dask_tasks(executor) - before)  # rows cut short are not recorded
        raise
    finally:
        writer.close()
        if own and isinstance(executor, ThreadPoolExecutor):
            executor.shutdown(wait=True, cancel_futures=interrupted)
    rows = sorted(done_rows + new, key=lambda r: (r["point"], spec.engines.index(r["engine"])))
    result = SweepResult(out, rows, spec, base, time.perf_counter() - t0, len(new))
    if report:
        from .report import write_outputs

        result.files = write_outputs(result, command=command, executor=kind if executor is not None else "none",
                                     workers=(workers or 0) if executor is not None else 0)
    return result
