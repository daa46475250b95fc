"""Parameter sweeps and Monte Carlo device variability over any parameter.

A :class:`SweepSpec` (grid axes, Monte Carlo spreads, engines) expands into points
(:func:`points`); each point runs on each engine: ``ode`` points go through the RK4
batch kernel in chunks, ``ideal``/``hardware`` points run one per task in ngspice. Tasks
run on a local pool (threads, each driving its own ngspice process; the ODE kernel
releases the GIL) or on a Dask cluster (``scheduler="tcp://..."`` or ``cluster="local:N"``).

Every finished row is appended to ``DIR/rows.jsonl`` at once, so an interrupted sweep
loses nothing done; :func:`run_sweep` with ``resume=True`` skips the rows already there.
At the end ``results.parquet``, figures, ``summary.html``/``summary.md`` and
``manifest.json`` are written (see :mod:`alif_spice.sweep_report`).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .circuits import engines as circuit_engines
from .metrics import neuron_metrics, row_metrics
from .errors import AlifError, ParamError
from .params import Params, build_params
from .rowstore import ROWS_FILE, RowWriter, make_row, read_rows, remaining, sweep_id
from .units import parse_number

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DISTRIBUTIONS = ("lognormal", "normal", "uniform")
#: largest relative spread per distribution (lognormal: exp(10 z) already spans 1e-40..1e40)
MAX_SPREAD = {"lognormal": 10.0, "normal": 100.0, "uniform": 100.0}
#: grids up to this many points are validated point by point before a sweep starts
VALIDATE_ALL_UP_TO = 2000
ODE_CHUNK = 32  # neurons per ODE task (traces are recorded for the energy: ~1.6 MB per 10 ms neuron)
SPEC_FILE, RESULTS_FILE = "sweep.json", "results.parquet"


# ------------------------------------------------------------------------ specification


@dataclass(frozen=True)
class Axis:
    """One grid axis: a parameter and its values (``scale`` only labels plots)."""

    key: str
    values: tuple
    scale: str = "linear"


@dataclass(frozen=True)
class Vary:
    """Monte Carlo spread of one parameter around its nominal (grid or base) value:
    lognormal ``nominal*exp(spread*z)``, normal ``nominal*(1+spread*z)``, uniform
    ``nominal*(1+spread*u)`` with z ~ N(0,1), u ~ U(-1,1)."""

    key: str
    dist: str
    spread: float


@dataclass(frozen=True)
class SweepSpec:
    grid: tuple[Axis, ...] = ()
    vary: tuple[Vary, ...] = ()
    mc: int = 0
    seed: int = 0
    engines: tuple[str, ...] = ("ode",)

    def to_dict(self) -> dict:
        return {"grid": [{"key": a.key, "values": list(a.values), "scale": a.scale} for a in self.grid],
                "vary": [{"key": v.key, "dist": v.dist, "spread": v.spread} for v in self.vary],
                "mc": self.mc, "seed": self.seed, "engines": list(self.engines)}

    @classmethod
    def from_dict(cls, d: dict) -> SweepSpec:
        return cls(grid=tuple(Axis(a["key"], tuple(a["values"]), a.get("scale", "linear")) for a in d["grid"]),
                   vary=tuple(Vary(v["key"], v["dist"], float(v["spread"])) for v in d["vary"]),
                   mc=int(d["mc"]), seed=int(d["seed"]), engines=tuple(d["engines"]))

    @property
    def keys(self) -> list[str]:
        """Swept and varied parameter keys, in order, without repeats."""
        return list(dict.fromkeys([a.key for a in self.grid] + [v.key for v in self.vary]))

    @property
    def n_points(self) -> int:
        return math.prod(len(a.values) for a in self.grid) * max(self.mc, 1)


def _value(key: str, text: str) -> object:
    text = text.strip()
    try:
        return parse_number(text)
    except ValueError:
        if text.replace("_", "").replace("-", "").isalnum():
            return text  # a word such as "gmms": the parameter's own rule judges it
        raise ParamError(f"--grid {key}: {text!r} is not a number") from None


def parse_grid(item: str) -> Axis:
    """``key=start:stop:n`` (linear), ``key=start:stop:n:log`` or ``key=v1,v2,...``."""
    key, sep, rhs = item.partition("=")
    key = key.strip()
    if not sep or not key or not rhs.strip():
        raise ParamError(f"--grid {item!r}: expected KEY=START:STOP:N[:log] or KEY=V1,V2,...")
    if ":" in rhs:
        parts = rhs.split(":")
        if len(parts) not in (3, 4) or (len(parts) == 4 and parts[3].strip() not in ("lin", "log")):
            raise ParamError(f"--grid {item!r}: expected KEY=START:STOP:N[:lin|log]")
        try:
            start, stop = parse_number(parts[0]), parse_number(parts[1])
            n = int(parts[2])
        except ValueError:
            raise ParamError(f"--grid {item!r}: START and STOP must be numbers and N an integer") from None
        if n < 1 or n > 1_000_000:
            raise ParamError(f"--grid {item!r}: N must be between 1 and 1000000")
        if not (math.isfinite(start) and math.isfinite(stop)):
            raise ParamError(f"--grid {item!r}: START and STOP must be finite")
        scale = parts[3].strip() if len(parts) == 4 else "linear"
        if scale == "log":
            if start <= 0 or stop <= 0:
                raise ParamError(f"--grid {item!r}: a log grid needs START and STOP > 0")
            with np.errstate(all="ignore"):
                values = np.geomspace(start, stop, n)
        else:
            scale = "linear"
            with np.errstate(all="ignore"):
                values = np.linspace(start, stop, n)
        if not np.all(np.isfinite(values)):
            raise ParamError(f"--grid {item!r}: the grid's values are not finite numbers (range too wide)")
        return Axis(key, tuple(float(v) for v in values), "log" if scale == "log" else "linear")
    return Axis(key, tuple(_value(key, v) for v in rhs.split(",")))


def parse_vary(item: str) -> Vary:
    """``key=lognormal:0.1`` (also ``normal:``, ``uniform:``; the spread is relative)."""
    key, sep, rhs = item.partition("=")
    dist, _, spread = rhs.partition(":")
    dist = dist.strip()
    if not sep or not key.strip() or dist not in DISTRIBUTIONS:
        raise ParamError(f"--vary {item!r}: expected KEY=DIST:SPREAD with DIST one of {', '.join(DISTRIBUTIONS)}")
    try:
        s = parse_number(spread)
    except ValueError:
        raise ParamError(f"--vary {item!r}: SPREAD must be a number") from None
    limit = MAX_SPREAD[dist]
    if not (0 <= s <= limit):
        raise ParamError(f"--vary {item!r}: SPREAD must be a number between 0 and {limit:g} for {dist}")
    return Vary(key.strip(), dist, s)


def read_spec_file(path: str | os.PathLike[str]) -> dict:
    """A sweep TOML file -> keyword arguments of :func:`build_spec`.

    ``[sweep]`` engines, mc, seed; ``[grid]`` key = "start:stop:n[:log]" or a list;
    ``[vary]`` key = "lognormal:0.1"."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise ParamError(f"--spec: cannot read {os.fspath(path)!r}: {exc.strerror}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ParamError(f"--spec {os.fspath(path)}: not valid TOML: {exc}") from None
    unknown = set(raw) - {"sweep", "grid", "vary"}
    if unknown:
        raise ParamError(f"--spec: unknown table [{sorted(unknown)[0]}] (known: sweep, grid, vary)")
    for table in ("sweep", "grid", "vary"):
        if table in raw and not isinstance(raw[table], dict):
            raise ParamError(f"--spec: [{table}] must be a table (got {type(raw[table]).__name__} {raw[table]!r})")
    head = raw.get("sweep", {})
    if set(head) - {"engines", "mc", "seed"}:
        raise ParamError(f"--spec: unknown key sweep.{sorted(set(head) - {'engines', 'mc', 'seed'})[0]}")
    grid = []
    for key, value in raw.get("grid", {}).items():
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        if not isinstance(value, str):
            raise ParamError(f"--spec: grid.{key}: expected \"START:STOP:N\" or a list")
        grid.append(f"{key}={value}")
    vary = []
    for key, value in raw.get("vary", {}).items():
        if not isinstance(value, str):
            raise ParamError(f"--spec: vary.{key}: expected \"DIST:SPREAD\"")
        vary.append(f"{key}={value}")
    out: dict = {"grid": grid, "vary": vary}
    for key in ("engines", "mc", "seed"):
        if key in head:
            out[key] = head[key]
    return out


def build_spec(base: Params, grid: Iterable[str] = (), vary: Iterable[str] = (), mc: int = 0,
               seed: int = 0, engines: str | Sequence[str] = ("ode",)) -> SweepSpec:
    """Validate command-line style items against ``base`` and return the spec."""
    if isinstance(engines, str):
        engines = [e.strip() for e in engines.split(",") if e.strip()]
    if not isinstance(engines, (list, tuple)) or not all(isinstance(e, str) for e in engines):
        raise ParamError(f"--engines: expected names such as {','.join(circuit_engines())} (got {engines!r})")
    engines = tuple(dict.fromkeys(engines))
    engine_names = circuit_engines()
    if not engines or any(e not in engine_names for e in engines):
        raise ParamError(f"--engines: choose from {', '.join(engine_names)} "
                         f"(got {','.join(engines) or 'nothing'})")
    if isinstance(mc, bool) or not isinstance(mc, int) or mc < 0:
        raise ParamError(f"--mc: expected an integer >= 0 (got {mc!r})")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParamError(f"--seed: expected an integer >= 0 (got {seed!r})")
    axes = tuple(parse_grid(g) for g in grid)
    spreads = tuple(parse_vary(v) for v in vary)
    known = base.flat()
    for key in [a.key for a in axes] + [v.key for v in spreads]:
        if key not in known:
            raise ParamError(f"sweep: unknown parameter {key!r} (keys look like stimulus.amplitude)")
    if len({a.key for a in axes}) != len(axes):
        raise ParamError("--grid: a parameter appears on two grid axes")
    if len({v.key for v in spreads}) != len(spreads):
        raise ParamError("--vary: a parameter is varied twice")
    for v in spreads:
        if known[v.key] is None:
            raise ParamError(f'--vary {v.key}: the value is "auto" (designed); set one (--set {v.key}=...) '
                             "to vary it around")
        if not isinstance(known[v.key], (int, float)):
            raise ParamError(f"--vary {v.key}: only numeric parameters can vary")
    if spreads and mc == 0:
        raise ParamError("--vary needs --mc N (the number of Monte Carlo samples)")
    if mc and not spreads:
        raise ParamError("--mc needs at least one --vary KEY=DIST:SPREAD")
    spec = SweepSpec(grid=axes, vary=spreads, mc=mc, seed=seed, engines=engines)
    if spec.n_points > 10_000_000:
        raise ParamError(f"sweep: {spec.n_points} points is more than 10,000,000")
    _check_grid_values(spec, base)
    return spec


def _check_grid_values(spec: SweepSpec, base: Params) -> None:
    """Grid values that break a parameter rule are refused before the sweep (exit 2):
    every value against its own rule, and every grid point against every rule when the
    grid is small enough (larger grids: a point breaking a rule that relates several
    values becomes a failed row naming the rule; so does a Monte Carlo draw)."""
    from .params import check_value

    for axis in spec.grid:
        for value in axis.values:
            try:
                check_value(axis.key, value)
            except ParamError as exc:
                raise ParamError(f"--grid {axis.key}={value!r}: {exc}") from None
    n_grid = math.prod(len(a.values) for a in spec.grid)
    if spec.grid and n_grid <= VALIDATE_ALL_UP_TO:
        keys = [a.key for a in spec.grid]
        for combo in itertools.product(*(a.values for a in spec.grid)):
            try:
                base.with_values(dict(zip(keys, combo)))
            except ParamError as exc:
                shown = ", ".join(f"{k}={v!r}" for k, v in zip(keys, combo))
                raise ParamError(f"--grid point ({shown}): {exc}") from None


def preflight(spec: SweepSpec, base: Params, workers: int | None) -> None:
    """Refuse (exit 2) a sweep whose table and traces cannot fit in memory."""
    from .budget import check_sweep

    check_sweep(spec.n_points, len(spec.engines), workers or os.cpu_count() or 1, base,
                any(e != "ode" for e in spec.engines), ODE_CHUNK)


# ------------------------------------------------------------------------------ points


@dataclass(frozen=True)
class Point:
    index: int
    grid_index: int
    sample: int  # Monte Carlo sample number, -1 without Monte Carlo
    values: dict = field(hash=False)


def mc_values(spec: SweepSpec, sample: int, nominal: dict[str, float]) -> dict[str, float]:
    """Monte Carlo sample ``sample``: its own generator seeded with (seed, sample), so a
    sample's draws do not depend on the grid or on which points ran before."""
    rng = np.random.default_rng([spec.seed, sample])
    out = {}
    for v in spec.vary:
        x = float(nominal[v.key])
        if v.dist == "lognormal":
            out[v.key] = x * math.exp(min(v.spread * rng.standard_normal(), 700.0))
        elif v.dist == "normal":
            out[v.key] = x * (1.0 + v.spread * rng.standard_normal())
        else:
            out[v.key] = x * (1.0 + v.spread * rng.uniform(-1.0, 1.0))
    return out


def points(spec: SweepSpec, base: Params) -> list[Point]:
    """Every point of the sweep, in a fixed order (grid outer, Monte Carlo inner)."""
    keys = [a.key for a in spec.grid]
    out: list[Point] = []
    combos = itertools.product(*(a.values for a in spec.grid)) if spec.grid else [()]
    for g, combo in enumerate(combos):
        values = dict(zip(keys, combo))
        if not spec.mc:
            out.append(Point(len(out), g, -1, values))
            continue
        nominal = {v.key: values.get(v.key, base.get(v.key)) for v in spec.vary}
        for s in range(spec.mc):
            out.append(Point(len(out), g, s, {**values, **mc_values(spec, s, nominal)}))
    return out


# ------------------------------------------------------------------------------- tasks


def _point_params(base: Params, point: Point) -> Params:
    return base.with_values(point.values) if point.values else base


def run_ode_task(base: Params, pts: Sequence[Point]) -> list[dict]:
    """RK4 batch over ``pts`` (one kernel call per shared t_stop/dt); rows in order."""
    from .ode import check_step, solve_batch
    from .stimulus import SquareWave

    t0 = time.perf_counter()
    rows: dict[int, dict] = {}
    good: list[tuple[Point, Params]] = []
    for pt in pts:
        try:
            p = _point_params(base, pt)
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
    from .spice import run_circuit
    from .stuck import check_stuck

    t0 = time.perf_counter()
    try:
        p = _point_params(base, pt)
        trace = run_circuit(p, engine)
        metrics = neuron_metrics(p, trace.time, trace["v_c"], trace["i_in"], trace.spikes, row_metrics())
        stuck = check_stuck(trace, p, engine)
    except AlifError as exc:
        return make_row(pt, engine, "failed", str(exc), time.perf_counter() - t0)
    if stuck.stuck:
        return make_row(pt, engine, "stuck", stuck.message(engine), time.perf_counter() - t0, metrics=metrics)
    return make_row(pt, engine, wall=time.perf_counter() - t0, metrics=metrics)


def run_task(base: Params, engine: str, pts: Sequence[Point]) -> list[dict]:
    """The unit of work sent to a pool or a Dask worker."""
    if engine == "ode":
        return run_ode_task(base, pts)
    return [run_spice_task(base, engine, pt) for pt in pts]


def tasks(spec: SweepSpec, pts: Sequence[Point], done: set[tuple[int, str]],
          ode_chunk: int = ODE_CHUNK) -> list[tuple[str, list[Point]]]:
    """(engine, points) work items for the rows not in ``done`` (see :func:`rowstore.remaining`)."""
    return remaining(spec.engines, pts, done, ode_chunk)


# --------------------------------------------------------------------------- executors


class LocalPool:
    """Threads on this machine; each drives its own ngspice process, the ODE kernel
    releases the GIL, so ``workers`` tasks really run at once."""

    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.workers = workers or os.cpu_count() or 1
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="alif-sweep")

    def submit(self, fn, *args):
        return self._pool.submit(fn, *args)

    def as_completed(self, futures):
        from concurrent.futures import as_completed

        return as_completed(futures)

    def cancel(self, futures) -> None:
        """Drop queued tasks and end running SPICE tasks at once (an interrupted sweep)."""
        from .spice import kill_all

        for f in futures:
            f.cancel()
        kill_all()

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class DaskPool:
    """A real dask.distributed client: an existing scheduler (``tcp://host:port``) or a
    LocalCluster of ``n`` single-threaded worker processes."""

    name = "dask"

    def __init__(self, scheduler: str | None = None, local_workers: int | None = None) -> None:
        from distributed import Client, LocalCluster

        self._cluster = None
        if scheduler:
            try:
                self.client = Client(scheduler, timeout="20s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise ParamError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
        else:
            self._cluster = LocalCluster(n_workers=local_workers, threads_per_worker=1, processes=True,
                                         dashboard_address=None, silence_logs=50)
            self.client = Client(self._cluster)
        self.workers = sum(w["nthreads"] for w in self.client.scheduler_info()["workers"].values())
        self.address = self.client.scheduler.address

    def submit(self, fn, *args):
        return self.client.submit(fn, *args, pure=False)

    def as_completed(self, futures):
        from distributed import as_completed

        return as_completed(futures)

    def cancel(self, futures) -> None:
        self.client.cancel(futures)

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self._cluster is not None:
                self._cluster.close()


def make_pool(scheduler: str | None = None, cluster: str | None = None, workers: int | None = None):
    """Local pool by default; ``scheduler`` = Dask address; ``cluster`` = "local:N"."""
    if scheduler and cluster:
        raise ParamError("--scheduler and --cluster: choose one")
    if cluster:
        kind, _, n = cluster.partition(":")
        if kind != "local" or not n.isdigit() or int(n) < 1:
            raise ParamError(f"--cluster {cluster!r}: expected local:N (N worker processes)")
        return DaskPool(local_workers=int(n))
    if scheduler:
        if not scheduler.startswith(("tcp://", "tls://", "inproc://", "ws://", "wss://")):
            raise ParamError(f"--scheduler {scheduler!r}: expected an address like tcp://HOST:PORT")
        return DaskPool(scheduler=scheduler)
    if workers is not None and workers < 1:
        raise ParamError("--workers: expected an integer >= 1")
    return LocalPool(workers)


# ------------------------------------------------------------------------- row storage


# ------------------------------------------------------------------------------ progress


class Progress:
    """``done/total rows, elapsed, ETA`` on stderr: a redrawn bar on a terminal, a line
    every 10 % (or 30 s) otherwise."""

    def __init__(self, total: int, done: int = 0, stream=None, label: str = "sweep") -> None:
        self.total, self.done, self.start_done = total, done, done
        self.failed = 0
        self.stream = stream if stream is not None else sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.t0 = self._last = time.monotonic()
        self._last_pct = -1
        self.label = label

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
        return (f"{self.label} [{bar}] {self.done}/{self.total} rows ({frac:.0%}){fail}, "
                f"{self._hms(elapsed)} elapsed, ETA {eta}")

    def update(self, rows: Sequence[dict]) -> None:
        self.done += len(rows)
        self.failed += sum(r["status"] != "ok" for r in rows)
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


@dataclass
class SweepResult:
    out_dir: Path
    rows: list[dict]
    spec: SweepSpec
    base: Params
    wall_s: float
    new_rows: int
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return sum(r["status"] != "ok" for r in self.rows)

    def frame(self):
        from .sweep_report import rows_frame

        return rows_frame(self.rows, self.spec)


def _save_spec(out_dir: Path, spec: SweepSpec, base: Params) -> None:
    from .files import write_text_atomic
    from .version import __version__

    from .files import output_record

    doc = {"alif_spice": __version__, "spec": spec.to_dict(), "base": base.to_dict(),
           "output": output_record("sweep", [SPEC_FILE, ROWS_FILE])}
    write_text_atomic(out_dir / SPEC_FILE, json.dumps(doc, indent=1))


def load_sweep(out_dir: str | os.PathLike[str]) -> tuple[SweepSpec, Params]:
    """The spec and base parameters saved in a sweep folder (for ``--resume``)."""
    path = Path(out_dir) / SPEC_FILE
    try:
        doc = json.loads(path.read_text())
        return SweepSpec.from_dict(doc["spec"]), build_params(doc["base"])
    except FileNotFoundError:
        raise ParamError(f"--resume {os.fspath(out_dir)}: no {SPEC_FILE} there (not a sweep folder)") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ParamError(f"--resume {os.fspath(out_dir)}: unreadable {SPEC_FILE}: {exc}") from None


#: The final outputs of a sweep (figures are listed when they are written).
SWEEP_OUTPUTS = (RESULTS_FILE, "summary.md", "summary.html", "manifest.json")


def check_folder(out_dir: str | os.PathLike[str], force: bool = False, inputs: Iterable = (),
                 probe_lock: bool = True):
    """Check a new sweep's folder before any work (exit 2 when refused): new or empty,
    or (with ``force``) an earlier sweep holding nothing but its own files and not being
    written by another process."""
    from .files import FolderLock, check_output_dir

    out = Path(out_dir)
    if (out / SPEC_FILE).is_file() and not force:
        raise ParamError(f"-o {os.fspath(out)}: already holds a sweep; continue it with --resume "
                         f"{os.fspath(out)}, replace it with --force, or choose another folder")
    plan = check_output_dir(out, "sweep", force, marker=SPEC_FILE, extra_inputs=tuple(inputs))
    if plan.mode != "new" and probe_lock:
        FolderLock(out, "sweep", probe=True)
    return plan


def prepare(out_dir: str | os.PathLike[str], spec: SweepSpec, base: Params, force: bool = False):
    """Create a new sweep folder and lock it (refuses one that holds anything but an
    earlier sweep replaced with ``force``); return the held :class:`FolderLock`."""
    from .files import FolderLock, remove_output_files

    out = Path(out_dir)
    check_folder(out, force)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ParamError(f"-o {os.fspath(out)}: cannot create the folder: {exc.strerror}") from None
    lock = FolderLock(out, "sweep")
    try:
        plan = check_folder(out, force, probe_lock=False)  # again, now that no one else can write here
        remove_output_files(plan)
        _save_spec(out, spec, base)
    except BaseException:
        lock.release()
        raise
    return lock


def _foreign(out: Path) -> list[str]:
    """Entries of a sweep folder that the sweep did not write (or that changed since)."""
    from .files import foreign_entries, read_output_manifest

    rec = read_output_manifest(out, SPEC_FILE)
    if rec is None:
        return [SPEC_FILE + " (not a sweep's own)"]
    return foreign_entries(out, rec)


def check_resume(out_dir: str | os.PathLike[str]) -> None:
    """Before any work: ``out_dir`` is a sweep folder that no other process is writing
    and that holds nothing the sweep did not write (exit 2 otherwise)."""
    from .files import FolderLock

    out = Path(out_dir)
    if not (out / SPEC_FILE).is_file():
        raise ParamError(f"--resume {os.fspath(out)}: no {SPEC_FILE} there (not a sweep folder)")
    FolderLock(out, "sweep", probe=True)
    load_sweep(out)
    foreign = _foreign(out)
    if foreign:
        raise ParamError(f"--resume {os.fspath(out)}: the folder holds files the sweep did not write "
                         f"(e.g. {foreign[0]!r}); move them away first")


def record_files(out_dir: Path, extra: Iterable[str] = (), pending: Iterable[str] = ()) -> None:
    """List the sweep's files in its ``sweep.json`` with the SHA-256 of each (``extra``,
    e.g. figures, are listed too), so that a later ``--force`` or ``--resume`` knows what
    it may replace. ``pending``: files about to be written (listed, not yet hashed)."""
    from .files import output_record, write_text_atomic

    path = Path(out_dir) / SPEC_FILE
    doc = json.loads(path.read_text(encoding="utf-8"))
    old = doc.get("output") or {}
    files = [f for f in old.get("files", []) if f not in pending] + list(extra) + list(pending)
    rec = output_record("sweep", [SPEC_FILE, ROWS_FILE, *files], Path(out_dir),
                        unhashed=(SPEC_FILE, ROWS_FILE, *pending))
    doc["output"] = rec
    write_text_atomic(path, json.dumps(doc, indent=1))


def check_outputs_ours(out_dir: Path) -> None:
    """Just before the final outputs are written: nothing in the folder was put there by
    someone else meanwhile (exit 3 if so; the rows stay in rows.jsonl for --resume)."""
    from .errors import OutputError

    foreign = _foreign(Path(out_dir))
    if foreign:
        raise OutputError(f"not written: {os.fspath(out_dir)} now holds {foreign[0]!r}, which alif-spice "
                          f"did not write; the rows are kept: move it away and run --resume {os.fspath(out_dir)}")


def run_sweep(out_dir: str | os.PathLike[str], spec: SweepSpec | None = None, base: Params | None = None,
              resume: bool = False, pool=None, progress: bool | Callable = True,
              ode_chunk: int = ODE_CHUNK, command: str = "", report: bool = True,
              force: bool = False, say: Callable[[str], None] | None = None) -> SweepResult:
    """Run (or continue, with ``resume``) a sweep into ``out_dir``; write its outputs.

    ``pool``: a :class:`LocalPool`/:class:`DaskPool` (default: a local pool on all
    cores, closed at the end; a pool you pass stays yours to close). Rows already in
    ``rows.jsonl`` are never run again. One process writes a sweep folder at a time (a
    lock; a second sweep or ``--resume`` of a running one is refused with exit 2).
    ``say`` receives notes for the user (stale lock taken over, rows skipped).
    """
    from .files import FolderLock

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
        return _run_locked(out, spec, base, pool, progress, ode_chunk, command, report, say)
    finally:
        lock.release()


def _run_locked(out: Path, spec: SweepSpec, base: Params, pool, progress, ode_chunk: int, command: str,
                report: bool, say: Callable[[str], None]) -> SweepResult:
    t0 = time.perf_counter()
    preflight(spec, base, getattr(pool, "workers", None))
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
    own_pool = pool is None and bool(work)
    if own_pool:
        pool = LocalPool()
    new: list[dict] = []
    futures: list = []
    writer = RowWriter(out, ident)
    try:
        if work:
            futures = [pool.submit(run_task, base, engine, chunk) for engine, chunk in work]
            for fut in pool.as_completed(futures):
                rows = fut.result()
                writer.write(rows)
                new += rows
                if bar is not None:
                    bar.update(rows)
                elif callable(progress):
                    progress(rows)
    except BaseException:
        if futures:
            pool.cancel(futures)  # rows of tasks cut short are not recorded
        raise
    finally:
        writer.close()
        if own_pool:
            pool.close()
    rows = sorted(done_rows + new, key=lambda r: (r["point"], spec.engines.index(r["engine"])))
    result = SweepResult(out, rows, spec, base, time.perf_counter() - t0, len(new))
    if report:
        from .sweep_report import write_outputs

        result.files = write_outputs(result, command=command,
                                     executor=getattr(pool, "name", "local") if pool is not None else "none",
                                     workers=getattr(pool, "workers", 0) if pool is not None else 0)
    return result
