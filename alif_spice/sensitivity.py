"""Global sensitivity of neuron metrics to parameter spreads, on the RK4 batch kernel.

Each varied parameter is uniform within ± its spread around its nominal value. Sobol'
first-order (S1) and total-order (S_T) indices come from SALib (Saltelli's sampling with a
scrambled Sobol' sequence, N (D + 2) neurons for D parameters; Jansen's estimators; the
confidence intervals by bootstrap), seeded. Beside them, a one-at-a-time scan: each
parameter alone at its low and high end, the others nominal (the tornado chart).

S1 is the share of the metric's variance a parameter explains alone, S_T the share it has a
hand in (alone or with others); S_T = 0 means the parameter does not matter over these
spreads. A metric undefined for some samples (an adaptation ratio without a spike in the
last period) has no indices: the report says in how many samples and why.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .batch import MAX_NEURONS, Evaluation, check_keys, check_metrics, evaluate
from .errors import ParamError
from .params import Params
from .units import parse_number

#: indices below this are "little or no influence" in the verdict
MINOR = 0.05
CONF_LEVEL = 0.95
RESAMPLES = 200
#: a verdict calls its indices uncertain where an S_T's 95 % half-width exceeds this
WIDE = 0.1


@dataclass(frozen=True)
class Spread:
    """A parameter varied uniformly within nominal·(1 ± rel)."""

    key: str
    rel: float

    def bounds(self, nominal: float) -> tuple[float, float]:
        lo, hi = nominal * (1 - self.rel), nominal * (1 + self.rel)
        return (min(lo, hi), max(lo, hi))


def parse_spread(item: str) -> Spread:
    """``KEY=S%`` (or ``KEY=0.1``, a fraction): uniform within ± S % of the nominal value."""
    key, sep, rhs = item.partition("=")
    key, rhs = key.strip(), rhs.strip()
    if not sep or not key or not rhs:
        raise ParamError(f"--vary {item!r}: expected KEY=S% (e.g. memristor.tau=20%)")
    try:
        rel = parse_number(rhs[:-1]) / 100 if rhs.endswith("%") else parse_number(rhs)
    except ValueError:
        raise ParamError(f"--vary {item!r}: the spread must be a percentage such as 10% or a fraction") from None
    if not (0 < rel < 1):
        raise ParamError(f"--vary {item!r}: the spread must be between 0 and 100 % (exclusive)")
    return Spread(key, rel)


def problem_bounds(base: Params, spreads: Sequence[Spread]) -> np.ndarray:
    """(D, 2) array of each parameter's range around its value in ``base``."""
    keys = [s.key for s in spreads]
    if len(keys) < 2:
        raise ParamError("--vary: Sobol' indices need at least two parameters")
    check_keys(base, keys, "--vary")
    out = []
    for s in spreads:
        nominal = base.get(s.key)
        if nominal is None or nominal == 0:
            raise ParamError(f"--vary {s.key}: its value is {'auto' if nominal is None else 0}; "
                             "a relative spread needs a nonzero number (set it with --set)")
        out.append(s.bounds(float(nominal)))
    bounds = np.array(out)
    _check_corners(base, keys, bounds)
    return bounds


def _check_corners(base: Params, keys: Sequence[str], bounds: np.ndarray) -> None:
    """Every corner of the box (up to 12 parameters; else each end alone) must be a valid
    parameter set: a range that crosses a rule (r_on past r_off) is refused before the run."""
    import itertools

    d = len(keys)
    corners = (itertools.product((0, 1), repeat=d) if d <= 12
               else [tuple(int(i == j and e) for i in range(d)) for j in range(d) for e in (0, 1)])
    for corner in corners:
        values = {k: float(bounds[i, c]) for i, (k, c) in enumerate(zip(keys, corner))}
        try:
            base.with_values(values)
        except ParamError as exc:
            shown = ", ".join(f"{k}={v:.6g}" for k, v in values.items())
            raise ParamError(f"--vary: the ranges reach invalid parameter sets ({shown}: {exc}); narrow a spread"
                             ) from None


def sobol_sample(bounds: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Saltelli's design: n (D + 2) points in the box ``bounds`` (scrambled Sobol', seeded)."""
    from SALib.sample import sobol

    problem = {"num_vars": len(bounds), "names": [f"x{i}" for i in range(len(bounds))],
               "bounds": [list(b) for b in bounds]}
    import warnings

    with warnings.catch_warnings():  # n not a power of 2: said once by the command, not as a warning
        warnings.filterwarnings("ignore", message=".*power of 2", category=UserWarning)
        return sobol.sample(problem, n, calc_second_order=False, scramble=True, seed=seed)


def sobol_indices(bounds: np.ndarray, Y: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """S1, S1_conf, ST, ST_conf (each length D) of the model outputs ``Y`` on the
    :func:`sobol_sample` design; confidence half-widths at 95 % by bootstrap."""
    from SALib.analyze import sobol

    problem = {"num_vars": len(bounds), "names": [f"x{i}" for i in range(len(bounds))],
               "bounds": [list(b) for b in bounds]}
    if np.ptp(Y) == 0:  # a constant output: no variance to share (SALib would divide by 0)
        zero = np.zeros(len(bounds))
        return {"S1": zero, "S1_conf": zero, "ST": zero, "ST_conf": zero}
    # SALib takes a seed of 0 for none: shift by one so that every seed is a seed
    res = sobol.analyze(problem, np.asarray(Y, dtype=float), calc_second_order=False, num_resamples=RESAMPLES,
                        conf_level=CONF_LEVEL, seed=seed + 1, print_to_console=False)
    return {k: np.asarray(res[k], dtype=float) for k in ("S1", "S1_conf", "ST", "ST_conf")}


@dataclass
class SensitivityResult:
    base: Params
    spreads: tuple[Spread, ...]
    bounds: np.ndarray
    metrics: tuple[str, ...]
    n: int
    seed: int
    X: np.ndarray
    evaluation: Evaluation
    nominal: dict[str, float]
    #: metric -> S1, S1_conf, ST, ST_conf (arrays over the parameters); absent where undefined
    indices: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    #: metric -> why it has no indices
    undefined: dict[str, str] = field(default_factory=dict)
    #: metric -> (D, 2) values at each parameter's low and high end (one at a time)
    oat: dict[str, np.ndarray] = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def keys(self) -> list[str]:
        return [s.key for s in self.spreads]

    def verdict(self, metric: str) -> str:
        """One sentence: which parameters drive ``metric``."""
        if metric in self.undefined:
            return f"{metric}: no indices ({self.undefined[metric]})."
        st, conf = self.indices[metric]["ST"], self.indices[metric]["ST_conf"]
        wide = int(np.argmax(conf))
        doubt = ""
        if conf[wide] > WIDE or np.any(st > 1 + conf):
            doubt = (f"Uncertain (the 95 % intervals are wide: S_T of {self.keys[wide]} ± {conf[wide]:.2f}"
                     + ("; an S_T above 1 is estimator noise" if np.any(st > 1 + conf) else "")
                     + "; raise --samples): ")
        order = np.argsort(-st)
        major = [i for i in order if st[i] >= MINOR]
        minor = [self.keys[i] for i in order if st[i] < MINOR]
        if not major:
            return (f"{doubt}{metric} hardly depends on any of these parameters over these spreads "
                    f"(every S_T < {MINOR}).")
        parts = [f"{self.keys[i]} (S_T = {st[i]:.2f})" for i in major[:3]]
        more = len(major) - len(parts)
        if more:
            parts.append(f"{more} more with S_T >= {MINOR}")
        text = f"{doubt}{metric} " + ("seems driven by " if doubt else "is driven by ") + (
            ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0])
        if minor:
            text += f"; {', '.join(minor)} matter{'s' if len(minor) == 1 else ''} little (S_T < {MINOR})"
        return text + "."

    def table(self) -> list[dict]:
        rows = []
        for m in self.metrics:
            for j, key in enumerate(self.keys):
                idx = self.indices.get(m)
                row = {"metric": m, "parameter": key, "low": float(self.bounds[j, 0]),
                       "high": float(self.bounds[j, 1])}
                for k in ("S1", "S1_conf", "ST", "ST_conf"):
                    row[k] = float(idx[k][j]) if idx is not None else None
                row["oat_low"], row["oat_high"] = (float(v) if math.isfinite(v) else None for v in self.oat[m][j])
                rows.append(row)
        return rows


def _why_undefined(ev: Evaluation, metric: str) -> str:
    col = ev.column(metric)
    bad = ~np.isfinite(col)
    failed = int((~ev.ok).sum())
    if failed:
        first = next(e for e in ev.errors if e)
        return f"{failed} of {col.size} samples failed, e.g. {first}"
    return (f"undefined or infinite in {int(bad.sum())} of {col.size} samples (see samples.parquet); "
            "Sobol' indices need a value in every sample")


def neurons(n: int, d: int) -> int:
    """Neurons a run evaluates: N (D + 2) Sobol' samples, the nominal set, 2 D one at a time."""
    return n * (d + 2) + 1 + 2 * d


def check_sensitivity(base: Params, spreads: Sequence[Spread], metrics: Sequence[str], n: int) -> np.ndarray:
    """Everything a run needs, checked before it starts (ParamError); returns the bounds."""
    from .ode import check_step

    metrics = check_metrics(metrics, "--metric")
    if not metrics:
        raise ParamError("--metric: name at least one metric")
    if len(set(metrics)) != len(metrics):
        raise ParamError("--metric: a metric is given twice")
    if not isinstance(n, int) or isinstance(n, bool) or n < 8:
        raise ParamError(f"--samples: expected an integer >= 8 (got {n!r})")
    check_step(base)
    total = neurons(n, len(spreads))
    if total > MAX_NEURONS:
        raise ParamError(f"--samples: {total} neurons for {len(spreads)} parameters at N = {n}; at most "
                         f"{MAX_NEURONS} in one run (a few hours on two cores)")
    return problem_bounds(base, spreads)


def run_sensitivity(base: Params, spreads: Sequence[Spread], metrics: Sequence[str], n: int = 1024,
                    seed: int = 0, workers: int | None = None,
                    progress: Callable[[int, int], None] | None = None) -> SensitivityResult:
    """Sobol' and one-at-a-time sensitivity of ``metrics`` to ``spreads`` around ``base``."""
    import time

    t0 = time.perf_counter()
    spreads = tuple(spreads)
    metrics = tuple(metrics)
    bounds = check_sensitivity(base, spreads, metrics, n)
    keys = [s.key for s in spreads]
    X = sobol_sample(bounds, n, seed)
    nominal_x = np.array([float(base.get(k)) for k in keys])
    oat_x = []
    for j in range(len(keys)):
        for end in (0, 1):
            x = nominal_x.copy()
            x[j] = bounds[j, end]
            oat_x.append(x)
    every = np.vstack([X, nominal_x[None, :], np.array(oat_x)])
    ev_all = evaluate(base, keys, every, metrics, workers=workers, progress=progress)
    m = X.shape[0]
    ev = Evaluation(ev_all.metrics, ev_all.values[:m], ev_all.errors[:m])
    result = SensitivityResult(base, spreads, bounds, metrics, n, seed, X, ev,
                               nominal={k: float(v) for k, v in zip(metrics, ev_all.values[m])})
    oat = ev_all.values[m + 1:]
    for i, name in enumerate(metrics):
        result.oat[name] = oat[:, i].reshape(len(keys), 2)
        y = ev.column(name)
        if not np.all(np.isfinite(y)):
            result.undefined[name] = _why_undefined(ev, name)
            continue
        result.indices[name] = sobol_indices(bounds, y, seed)
    result.wall_s = time.perf_counter() - t0
    return result


# ----------------------------------------------------------------------------- outputs


def _fig_sobol(result: SensitivityResult, metric: str):
    from matplotlib.figure import Figure

    idx = result.indices[metric]
    keys = result.keys
    y = np.arange(len(keys))
    fig = Figure(figsize=(7, 0.5 * len(keys) + 1.5))
    ax = fig.subplots()
    ax.barh(y - 0.2, idx["S1"], 0.4, xerr=idx["S1_conf"], label="first order S1", color="tab:blue")
    ax.barh(y + 0.2, idx["ST"], 0.4, xerr=idx["ST_conf"], label="total order S_T", color="tab:orange")
    ax.set_yticks(y, keys)
    ax.invert_yaxis()
    ax.set_xlabel(f"Sobol' index of {metric} (bars: 95 % confidence)")
    ax.axvline(0, color="k", lw=0.5)
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _fig_tornado(result: SensitivityResult, metric: str):
    from matplotlib.figure import Figure

    from .metrics import METRICS

    vals = result.oat[metric]
    nominal = result.nominal[metric]
    span = np.nan_to_num(np.abs(vals[:, 1] - vals[:, 0]), nan=-1)
    order = np.argsort(-span)
    fig = Figure(figsize=(7, 0.5 * len(order) + 1.5))
    ax = fig.subplots()
    for row, j in enumerate(order):
        for end, color in ((0, "tab:blue"), (1, "tab:red")):
            v = vals[j, end]
            if math.isfinite(v) and math.isfinite(nominal):
                ax.barh(row, v - nominal, left=nominal, color=color, alpha=0.8,
                        label=("low end (-spread)" if end == 0 else "high end (+spread)") if row == 0 else None)
    ax.set_yticks(range(len(order)), [f"{result.keys[j]} ±{result.spreads[j].rel * 100:.3g} %" for j in order])
    ax.invert_yaxis()
    ax.axvline(nominal, color="k", lw=0.8)
    ax.set_title("one parameter at a time (line: all nominal)", fontsize=9)
    ax.set_xlabel(METRICS[metric].axis_label)
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def result_json(result: SensitivityResult) -> dict:
    from .compare import json_ready

    return json_ready({
        "n_base_samples": result.n, "n_sobol_neurons": int(result.X.shape[0]),
        "n_neurons": neurons(result.n, len(result.spreads)), "seed": result.seed,
        "method": "Sobol' (Saltelli sampling, scrambled, SALib; Jansen estimators; 95 % bootstrap intervals, "
                  f"{RESAMPLES} resamples) and one-at-a-time",
        "parameters": [{"key": s.key, "spread": s.rel, "nominal": float(result.base.get(s.key)),
                        "low": float(b[0]), "high": float(b[1])} for s, b in zip(result.spreads, result.bounds)],
        "metrics": list(result.metrics),
        "nominal": result.nominal,
        "failed_samples": int((~result.evaluation.ok).sum()),
        "indices": {m: {k: [float(v) for v in arr] for k, arr in idx.items()} for m, idx in result.indices.items()},
        "undefined": result.undefined,
        "one_at_a_time": {m: {"low": [float(v) for v in vals[:, 0]], "high": [float(v) for v in vals[:, 1]]}
                          for m, vals in result.oat.items()},
        "verdict": {m: result.verdict(m) for m in result.metrics},
        "wall_s": result.wall_s,
    })


def write_outputs(result: SensitivityResult, plan, command: list[str] | None = None) -> Path:
    """``sensitivity.json``, ``indices.csv``, ``samples.parquet``, figures, ``report.html``
    and the manifest, atomically into the planned folder; returns report.html."""
    import pandas as pd

    from .files import OutputDir, atomic_dir
    from .pages import render
    from .provenance import record

    prov = record(command, ngspice=False)
    with atomic_dir(plan, "sensitivity") as tmp:
        figdir = tmp / "figures"
        figdir.mkdir()
        figures = []
        for m in result.metrics:
            if m in result.indices:
                fig = _fig_sobol(result, m)
                fig.savefig(figdir / f"sobol_{m}.png", dpi=110)
                fig.savefig(figdir / f"sobol_{m}.svg")
                figures.append((f"Sobol' indices of {m}", f"figures/sobol_{m}.png"))
            fig = _fig_tornado(result, m)
            fig.savefig(figdir / f"tornado_{m}.png", dpi=110)
            fig.savefig(figdir / f"tornado_{m}.svg")
            figures.append((f"One at a time: {m}", f"figures/tornado_{m}.png"))
        data = result_json(result)
        (tmp / "sensitivity.json").write_text(json.dumps(data, indent=2) + "\n")
        pd.DataFrame(result.table()).to_csv(tmp / "indices.csv", index=False, float_format="%.6g")
        frame = pd.DataFrame(result.X, columns=result.keys)
        for i, m in enumerate(result.metrics):
            frame[m] = result.evaluation.values[:, i]
        frame["error"] = list(result.evaluation.errors)
        frame.to_parquet(tmp / "samples.parquet", index=False)
        (tmp / "parameters.toml").write_text(result.base.to_toml())
        files = sorted(str(f.relative_to(tmp)) for f in tmp.rglob("*") if f.is_file()) + ["report.html",
                                                                                         "manifest.json"]
        html = render("sensitivity.html.j2", title="alif-spice: sensitivity", data=data, result=result,
                      rows=result.table(), figures=[(t, tmp / p) for t, p in figures], prov=prov, files=files)
        (tmp / "report.html").write_text(html, encoding="utf-8")
        manifest = {**prov, "parameters": result.base.to_dict(), "wall_time_s": result.wall_s,
                    "n_neurons": neurons(result.n, len(result.spreads)), "seed": result.seed}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return (plan.path if isinstance(plan, OutputDir) else Path(plan)) / "report.html"
