"""Fit MMS memristor parameters to measured I-V data (SPEC §5 ``fit``).

Readers take real lab exports (any delimiter, decimal comma, header or not, columns by
position or name, absolute/relative time or a sample rate) and what the columns mean.
The fit simulates the device *with the series resistor in the loop*, driven by the
measured source voltage from its periodic steady state (:func:`alif_spice.ode.solve_iv`'s
kernel), and minimises cost = RSS_I/TSS_I + RSS_V/TSS_V with a global start
(differential evolution) and a local polish (Powell), in log-parameter space.
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize

from .errors import ParamError, SimulationError
from .ode import solve_iv
from .params import Params, load_params

MEANINGS = ("time", "source_voltage", "resistor_voltage", "memristor_voltage", "current")
DELIMITERS = {"tab": "\t", "comma": ",", "semicolon": ";", "space": r"\s+", "whitespace": r"\s+"}
#: fitted parameters and their bounds (SI); r_off is fitted as the ratio r_off/r_on
BOUNDS = {"r_on": (10.0, 1e6), "ratio": (1.05, 1e3), "v_on": (0.005, 3.0), "v_off": (0.001, 3.0),
          "tau": (1e-8, 10.0), "temperature": (50.0, 2000.0)}


@dataclass(frozen=True)
class Measurement:
    """One periodic I-V record, cut to whole steady-state periods and resampled."""

    name: str
    t: np.ndarray  # s, uniform
    v_src: np.ndarray  # V, source voltage (drives the simulation)
    v_mem: np.ndarray  # V, across the memristor
    i: np.ndarray  # A
    r_series: float  # Ω (0 if the memristor voltage itself is the drive)
    frequency: float  # Hz
    periods: int


# --------------------------------------------------------------------------- reading


def _delimiter(spec: str | None, sample: str) -> str:
    if spec is None:
        try:
            return csv.Sniffer().sniff(sample, delimiters="\t,; ").delimiter
        except csv.Error:
            return r"\s+"
    if spec in DELIMITERS:
        return DELIMITERS[spec]
    if len(spec) == 1:
        return spec
    raise ParamError(f"--delimiter: expected tab, comma, semicolon, space or one character, got {spec!r}")


def _parse_columns(spec: str, ncols: int, header: list[str] | None) -> dict[str, int]:
    """``"source_voltage,resistor_voltage,time"`` (by position; ``-`` skips a column) or
    ``"time=t_s,current=2"`` (by header name or 0-based index)."""
    out: dict[str, int] = {}
    for pos, item in enumerate(s.strip() for s in spec.split(",")):
        if not item or item in ("-", "skip"):
            continue
        meaning, eq, col = item.partition("=")
        meaning = meaning.strip()
        if meaning not in MEANINGS:
            raise ParamError(f"--columns: unknown meaning {meaning!r} (known: {', '.join(MEANINGS)})")
        if eq:
            col = col.strip()
            if col.isdigit():
                idx = int(col)
            elif header is not None and col in header:
                idx = header.index(col)
            else:
                raise ParamError(f"--columns: no column {col!r} in the file")
        else:
            idx = pos
        if idx >= ncols:
            raise ParamError(f"--columns: {meaning} is column {idx} but the file has {ncols} column(s)")
        out[meaning] = idx
    return out


def read_table(path: str | os.PathLike[str], delimiter: str | None = None,
               decimal_comma: bool = False) -> tuple[np.ndarray, list[str] | None]:
    """Numbers of a delimited text file (header detected), shape (rows, columns)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ParamError(f"--data: cannot read {os.fspath(path)!r}: {exc.strerror}") from None
    lines = [l for l in text.splitlines() if l.strip() and not l.lstrip().startswith("#")]
    if not lines:
        raise ParamError(f"--data {p.name}: the file is empty")
    sep = _delimiter(delimiter, "\n".join(lines[:20]))
    if decimal_comma and sep == ",":
        raise ParamError(f"--data {p.name}: a decimal comma needs another delimiter (tab, semicolon)")

    def fields(line: str) -> list[str]:
        import re

        return [f for f in (re.split(sep, line.strip()) if sep == r"\s+" else line.split(sep))]

    def numeric(f: str) -> bool:
        try:
            float(f.strip().replace(",", ".") if decimal_comma else f.strip())
            return True
        except ValueError:
            return False

    first = fields(lines[0])
    header = None if all(numeric(f) for f in first) else [f.strip().strip('"') for f in first]
    body = "\n".join(lines[1:] if header else lines)
    try:
        frame = pd.read_csv(io.StringIO(body), sep=sep, header=None, decimal="," if decimal_comma else ".",
                            engine="python" if sep == r"\s+" else "c", dtype=float)
    except (ValueError, pd.errors.ParserError) as exc:
        raise ParamError(f"--data {p.name}: non-numeric or ragged data ({str(exc).splitlines()[0]})") from None
    values = frame.to_numpy(dtype=float)
    if values.shape[0] < 2 or values.shape[1] < 2:
        raise ParamError(f"--data {p.name}: need at least two columns and two rows "
                         f"(got {values.shape[1]} column(s), {values.shape[0]} row(s))")
    if not np.all(np.isfinite(values)):
        raise ParamError(f"--data {p.name}: non-numeric or missing values")
    return values, header


def read_measurement(path: str | os.PathLike[str], columns: str, *, delimiter: str | None = None,
                     decimal_comma: bool = False, series_resistor: float | None = None,
                     sample_rate: float | None = None, max_periods: int = 5,
                     points_per_period: int = 200) -> Measurement:
    """Read one file, derive source/memristor voltage and current, keep the last
    ``max_periods`` whole periods (the first period is dropped as start-up) and resample
    each to ``points_per_period`` samples."""
    name = Path(path).stem
    values, header = read_table(path, delimiter, decimal_comma)
    cols = _parse_columns(columns, values.shape[1], header)
    get = {k: values[:, v] for k, v in cols.items()}
    if "time" in get:
        t = get["time"] - get["time"][0]
    elif sample_rate:
        t = np.arange(values.shape[0]) / sample_rate
    else:
        raise ParamError("--columns/--sample-rate: the data needs a time column or a sample rate")
    if np.any(np.diff(t) <= 0):
        raise ParamError(f"--data {name}: time must increase strictly")
    r = series_resistor
    if "source_voltage" in get and "resistor_voltage" in get:
        if not r:
            raise ParamError("--series-resistor: needed to turn the resistor voltage into a current")
        i = get["resistor_voltage"] / r
        v_src, v_mem = get["source_voltage"], get["source_voltage"] - get["resistor_voltage"]
    elif "source_voltage" in get and "current" in get:
        if not r:
            raise ParamError("--series-resistor: needed to get the memristor voltage from the source's")
        i, v_src = get["current"], get["source_voltage"]
        v_mem = v_src - i * r
    elif "memristor_voltage" in get and "current" in get:
        i, v_mem = get["current"], get["memristor_voltage"]
        r = r or 0.0
        v_src = v_mem + i * r
    else:
        raise ParamError("--columns: give source_voltage + resistor_voltage, source_voltage + current, "
                         "or memristor_voltage + current")
    # whole periods from upward zero crossings of the (mean-free) drive
    crossings = _upward_crossings(t, v_src)
    if crossings.size < 3:
        raise ParamError(f"--data {name}: too few periods (need at least 2 whole periods after the first)")
    period = float(np.median(np.diff(crossings)))
    n_avail = int(math.floor((t[-1] - crossings[1]) / period + 0.02))  # skip the first period
    if n_avail < 2:
        raise ParamError(f"--data {name}: too few periods (need at least 2 whole periods after the first)")
    n = min(max_periods, n_avail)
    # the latest upward crossing from which n whole periods still fit: the most settled data
    fits = crossings[(crossings >= crossings[1]) & (crossings + n * period <= t[-1] + 0.02 * period)]
    start = float(fits[-1])
    grid = start + np.arange(n * points_per_period + 1) * (period / points_per_period)
    resample = lambda y: np.interp(grid, t, y)  # noqa: E731
    return Measurement(name=name, t=grid - grid[0], v_src=resample(v_src), v_mem=resample(v_mem),
                       i=resample(i), r_series=float(r), frequency=1.0 / period, periods=n)


def _upward_crossings(t: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Upward crossings of the drive's mid-level, with hysteresis (half the amplitude) so
    that measurement noise near the crossing does not count as extra periods."""
    mid = 0.5 * (v.max() + v.min())
    half = 0.25 * (v.max() - v.min())
    armed, out = False, []
    for k in range(1, v.size):
        if v[k] < mid - half:
            armed = True
        elif armed and v[k] > mid + half:
            armed = False
            j = k
            while j > 0 and v[j - 1] >= mid:  # walk back to the last crossing of mid
                j -= 1
            if j > 0:
                a, b = v[j - 1] - mid, v[j] - mid
                out.append(t[j - 1] + (t[j] - t[j - 1]) * (-a) / (b - a))
    return np.array(out)


# --------------------------------------------------------------------------- model


def _device(theta: dict[str, float], base: Params) -> Params:
    """``base`` with the memristor of the fit vector ``theta`` (r_off as r_off/r_on)."""
    return base.with_values({
        "memristor.r_on": theta["r_on"], "memristor.r_off": theta["r_on"] * theta["ratio"],
        "memristor.v_on": theta["v_on"], "memristor.v_off": theta["v_off"], "memristor.tau": theta["tau"],
        "memristor.temperature": theta.get("temperature", base.memristor.temperature),
        "memristor.x0": 0.0, "memristor.phi": 1.0})


def simulate(theta: dict[str, float], base: Params, meas: Measurement, warmup_periods: int = 2,
             substeps: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Model current and memristor voltage on ``meas.t`` from the periodic steady state
    (the first period of the drive is played ``warmup_periods`` times before the data)."""
    per = meas.t.size // meas.periods
    t, v = meas.t, meas.v_src
    if warmup_periods:
        t = np.concatenate([np.concatenate([meas.t[:per] + k * meas.t[per] for k in range(warmup_periods)]),
                            meas.t[1:] + warmup_periods * meas.t[per]])
        v = np.concatenate([np.tile(meas.v_src[:per], warmup_periods), meas.v_src[1:]])
    tr = solve_iv(_device(theta, base), t, v, substeps=substeps, r_series=meas.r_series)
    n = meas.t.size
    return tr["i_m"][-n:], tr["v_mem"][-n:]


def cost(theta: dict[str, float], base: Params, meas: Measurement) -> float:
    """RSS_I/TSS_I + RSS_V/TSS_V (0 = perfect)."""
    try:
        i, v = simulate(theta, base, meas)
    except (ParamError, SimulationError):
        return 1e3
    if not (np.all(np.isfinite(i)) and np.all(np.isfinite(v))):
        return 1e3
    return float(np.sum((i - meas.i) ** 2) / np.sum((meas.i - meas.i.mean()) ** 2)
                 + np.sum((v - meas.v_mem) ** 2) / np.sum((meas.v_mem - meas.v_mem.mean()) ** 2))


@dataclass
class FitResult:
    params: dict[str, float]  # r_on, r_off, v_on, v_off, tau, temperature
    cost: float
    per_file: dict[str, dict[str, float]]  # name -> cost, r2_current
    poorly_determined: list[str]
    relative_std: dict[str, float]
    correlations: dict[str, float] = field(default_factory=dict)
    evaluations: int = 0
    theta: dict[str, float] = field(default_factory=dict)  # the fit vector (r_off as ratio)

    def memristor_table(self, base: Params) -> Params:
        return _device(self.theta, base)


def fit(measurements: list[Measurement], base: Params | None = None, free_temperature: bool = False,
        seed: int = 1, maxiter: int = 60) -> FitResult:
    """One shared MMS parameter set for all ``measurements``."""
    base = base or load_params("paper")
    names = ["r_on", "ratio", "v_on", "v_off", "tau"] + (["temperature"] if free_temperature else [])
    lo = np.log([BOUNDS[n][0] for n in names])
    hi = np.log([BOUNDS[n][1] for n in names])
    evals = 0

    def theta_of(z):
        return dict(zip(names, np.exp(z)))

    def total(z):
        nonlocal evals
        evals += 1
        th = theta_of(np.clip(z, lo, hi))
        return sum(cost(th, base, m) for m in measurements) / len(measurements)

    de = optimize.differential_evolution(total, list(zip(lo, hi)), seed=seed, maxiter=maxiter, popsize=12,
                                         tol=1e-8, polish=False, init="sobol")
    loc = optimize.minimize(total, de.x, method="Powell", bounds=list(zip(lo, hi)),
                            options={"xtol": 1e-6, "ftol": 1e-10, "maxfev": 4000})
    z = loc.x if loc.fun <= de.fun else de.x
    th = theta_of(z)
    per_file = {}
    for m in measurements:
        i, _ = simulate(th, base, m)
        per_file[m.name] = {"cost": cost(th, base, m),
                            "r2_current": 1 - float(np.sum((i - m.i) ** 2) / np.sum((m.i - m.i.mean()) ** 2))}
    n_points = sum(2 * m.t.size for m in measurements)
    rel_std, corr, poorly = _identifiability(total, z, names, n_points)
    params = {"r_on": th["r_on"], "r_off": th["r_on"] * th["ratio"], "v_on": th["v_on"], "v_off": th["v_off"],
              "tau": th["tau"], "temperature": th.get("temperature", base.memristor.temperature)}
    return FitResult(params=params, cost=float(total(z)), per_file=per_file, poorly_determined=poorly,
                     relative_std=rel_std, correlations=corr, evaluations=evals, theta=th)


def _identifiability(total, z, names, n_points, h=1e-3):
    """Curvature of the cost in log space: relative spreads and strong correlations.

    A parameter whose relative standard deviation (from the inverse Hessian, scaled by
    the cost) exceeds 20 %, or that is > 95 % correlated with another, is reported as
    poorly determined (below threshold only tau*exp(beta v_on) is identifiable).
    """
    n = len(z)
    f0 = total(z)
    hess = np.empty((n, n))
    za = np.array(z, dtype=float)
    for a in range(n):
        for b in range(a, n):
            def f(da, db, a=a, b=b):
                w = za.copy()
                w[a] += da
                w[b] += db
                return total(w)

            hess[a, b] = hess[b, a] = (f(h, h) - f(h, -h) - f(-h, h) + f(-h, -h)) / (4 * h * h)
    try:
        # cost = RSS/TSS: cov(log theta) ~ 2 cost / (N H), N = residuals (current + voltage)
        cov = np.linalg.pinv(hess) * 2 * max(f0, 1e-12) / n_points
    except np.linalg.LinAlgError:
        cov = np.full((n, n), np.inf)
    # report in (r_on, r_off, ...) rather than the fitted (r_on, r_off/r_on, ...)
    if "ratio" in names:
        a = np.eye(n)
        a[names.index("ratio"), names.index("r_on")] = 1.0
        cov = a @ cov @ a.T
    diag = np.diag(cov)
    std = np.where(diag > 0, np.sqrt(np.abs(diag)), np.inf)  # no curvature: not determined
    rel = {nm: float(math.expm1(min(s, 700.0))) if np.isfinite(s) else float("inf") for nm, s in zip(names, std)}
    corr, poorly = {}, set()
    for i in range(n):
        for j in range(i + 1, n):
            d = math.sqrt(max(cov[i, i], 0.0) * max(cov[j, j], 0.0))
            c = float(cov[i, j] / d) if d > 0 else 0.0
            if abs(c) > 0.95:
                corr[f"{names[i]}~{names[j]}"] = c
                poorly.update({names[i], names[j]})
    poorly.update(nm for nm, r in rel.items() if r > 0.2)
    rename = {"ratio": "r_off"}
    return ({rename.get(k, k): v for k, v in rel.items()},
            {"~".join(rename.get(p, p) for p in k.split("~")): v for k, v in corr.items()},
            sorted(rename.get(p, p) for p in poorly))


# --------------------------------------------------------------------------- output


def write_outputs(result: FitResult, measurements: list[Measurement], base: Params, out_dir,
                  command: list[str] | None = None) -> Path:
    """``memristor.toml`` (loadable with --params), ``fit.json``, ``fit_<file>.png``; atomic."""
    import json
    import shlex
    import sys

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .files import atomic_dir

    fitted = result.memristor_table(base)
    with atomic_dir(out_dir, "fit") as tmp:
        (tmp / "memristor.toml").write_text(
            "# fitted by alif-spice fit; load with --params memristor.toml\n" + fitted.to_toml(["memristor"]))
        summary = {"cost": result.cost, "r2_current": min(f["r2_current"] for f in result.per_file.values()),
                   "parameters": result.params, "per_file": result.per_file,
                   "cross_prediction": {name: v["cost"] for name, v in result.per_file.items()},
                   "poorly_determined": result.poorly_determined, "relative_std": result.relative_std,
                   "correlations": result.correlations, "evaluations": result.evaluations,
                   "files": {m.name: {"frequency_hz": m.frequency, "periods": m.periods,
                                      "r_series_ohm": m.r_series, "points": int(m.t.size)} for m in measurements},
                   "command": shlex.join(command if command is not None else sys.argv)}
        from .compare import json_ready

        (tmp / "fit.json").write_text(json.dumps(json_ready(summary), indent=2, allow_nan=False) + "\n")
        for m in measurements:
            i, v = simulate(result.theta, base, m)
            fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
            a1.plot(m.v_mem, m.i * 1e3, ".", ms=2, color="0.5", label="measured")
            a1.plot(v, i * 1e3, "-", lw=1, color="tab:red", label="fitted MMS")
            a1.set_xlabel("memristor voltage (V)")
            a1.set_ylabel("current (mA)")
            a1.set_title(f"{m.name}: I-V loop ({m.frequency:.4g} Hz)")
            a1.legend()
            a1.grid(alpha=0.3)
            a2.plot(m.t * 1e3, m.i * 1e3, ".", ms=2, color="0.5", label="measured")
            a2.plot(m.t * 1e3, i * 1e3, "-", lw=1, color="tab:red", label="fitted MMS")
            a2.set_xlabel("time (ms)")
            a2.set_ylabel("current (mA)")
            a2.set_title(f"cost {result.per_file[m.name]['cost']:.3g}, "
                         f"R² {result.per_file[m.name]['r2_current']:.4f}")
            a2.grid(alpha=0.3)
            fig.tight_layout()
            fig.savefig(tmp / f"fit_{m.name}.png", dpi=110)
            plt.close(fig)
    return out_dir.path if hasattr(out_dir, "path") else Path(out_dir)
