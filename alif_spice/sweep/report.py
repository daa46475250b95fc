"""A finished sweep's outputs: results.parquet, figures/*.png, summary.md, summary.html and
manifest.json (each written atomically into the sweep folder)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..circuits import engine as engine_of
from ..files import atomic_path, staged_files, write_text_atomic
from ..metrics import METRICS as REGISTRY
from ..metrics import shown_metrics
from ..provenance import record
from .folder import RESULTS_FILE, SWEEP_OUTPUTS, SweepResult, check_outputs_ours, record_files
from .spec import SweepSpec
from .store import rows_frame

MAX_LINES = 6  # combinations of the other grid axes drawn per figure (marker shapes)
MAX_PANELS = 6  # grid points drawn as Monte Carlo histograms (the first ones)
POINT_TABLE_ROWS = 200  # rows of the per-point table on the page (all of them: results.parquet)
#: the per-point table's metrics (the registry's shown ones)
SHOWN = shown_metrics()


def _short(value) -> str:
    """A grid value in a legend or panel title: 3 significant digits for a number, a word as is."""
    return f"{value:.3g}" if isinstance(value, (int, float, np.number)) else str(value)


def _one_line(text: str, limit: int = 300) -> str:
    """An error text for the page: one line, at most ``limit`` characters (the whole text is in
    results.parquet)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def unit_label(key: str) -> str:
    """A parameter's axis label with its unit from the schema: ``stimulus.amplitude (A)``."""
    from dataclasses import fields

    from ..params import TABLES

    table, _, name = key.partition(".")
    unit = next((f.metadata["unit"] for f in fields(TABLES[table]) if f.name == name), "") if table in TABLES else ""
    return f"{key} ({unit})" if unit and unit != "1" else key


def undefined_reason(row, metric: str) -> str:
    """Why a row's metric has no value: the failure, or what the metric needs."""
    if row["status"] == "failed":
        return f"failed: {row['error']}"
    why = REGISTRY[metric].why_undefined
    return (why(dict(row)) if why is not None else None) or "undefined"


def _axis_figures(df: pd.DataFrame, spec: SweepSpec, folder: Path) -> list[tuple[str, Path]]:
    """Rate and adaptation ratio against every grid axis (other axes as separate lines,
    Monte Carlo samples as mean ± std)."""
    from matplotlib.figure import Figure

    out: list[tuple[str, Path]] = []
    ok = df[df.status == "ok"]
    if ok.empty:  # nothing to draw
        return out
    for axis in spec.grid:
        if not all(isinstance(v, (int, float)) for v in axis.values) or len(axis.values) < 2:
            continue
        others = [a.key for a in spec.grid if a.key != axis.key]
        for metric in ("rate_hz", "adaptation_ratio"):
            fig = Figure(figsize=(7, 4.5))
            ax = fig.subplots()
            groups = list(ok.groupby(others)) if others else [((), ok)]
            for li, (gkey, g) in enumerate(groups[:MAX_LINES]):
                gkey = gkey if isinstance(gkey, tuple) else (gkey,)
                tag = ", ".join(f"{k}={_short(v)}" for k, v in zip(others, gkey))
                for engine in spec.engines:
                    e = g[g.engine == engine].groupby(axis.key)[metric]
                    mean, std = e.mean(), e.std()
                    if mean.empty:
                        continue
                    ax.errorbar(mean.index, mean.values, yerr=std.values if spec.mc > 1 else None,
                                color=engine_of(engine).color, ls=engine_of(engine).linestyle,
                                lw=2.4 if engine == "ode" else 1.2,
                                marker="osv^D*"[li % 6], ms=4, capsize=2,
                                label=f"{engine_of(engine).label}{' · ' + tag if tag else ''}")
            if axis.scale == "log":
                ax.set_xscale("log")
            ax.set_xlabel(unit_label(axis.key))
            ax.set_ylabel(REGISTRY[metric].axis_label)
            title = {("rate_hz", "stimulus.amplitude"): "f–I curve: rate vs input amplitude",
                     ("adaptation_ratio", "stimulus.frequency"): "adaptation ratio vs input frequency"}.get(
                (metric, axis.key), f"{REGISTRY[metric].label} vs {axis.key}")
            if spec.mc > 1:
                title += f" (mean ± std over {spec.mc} Monte Carlo samples)"
            ax.set_title(title, fontsize=10)
            ax.grid(alpha=0.3)
            if ax.lines:
                ax.legend(fontsize=7)
            stem = f"{'rate' if metric == 'rate_hz' else 'adaptation'}_vs_{axis.key}"
            path = folder / f"{stem}.png"
            fig.tight_layout()
            fig.savefig(path, dpi=110)
            out.append((title, path))
    return out


def _mc_figure(df: pd.DataFrame, spec: SweepSpec, folder: Path) -> list[tuple[str, Path]]:
    """Monte Carlo histograms, one row of panels per grid point (never pooled across points):
    rate, adaptation ratio and energy per spike of each engine."""
    from matplotlib.figure import Figure

    ok = df[df.status == "ok"]
    if spec.mc < 2 or ok.empty:
        return []
    metrics = [m for m in SHOWN if REGISTRY[m].kind == "float"]
    grid_points = sorted(df.grid_index.unique())[:MAX_PANELS]
    fig = Figure(figsize=(4 * len(metrics), 3.2 * len(grid_points) + 0.6))
    axes = np.atleast_2d(fig.subplots(len(grid_points), len(metrics), squeeze=False))
    keys = [a.key for a in spec.grid]
    for r, g in enumerate(grid_points):
        here = ok[ok.grid_index == g]
        first = df[df.grid_index == g].iloc[0]
        tag = ", ".join(f"{k}={_short(first[k])}" for k in keys)
        for ax, metric in zip(axes[r], metrics):
            for engine in spec.engines:
                v = here[here.engine == engine][metric].dropna()
                v = v[np.isfinite(v)]
                if v.size:
                    ax.hist(v, bins=min(40, max(5, v.size // 5)), alpha=0.5, color=engine_of(engine).color,
                            label=f"{engine_of(engine).label} (n={v.size})")
            ax.set_xlabel(REGISTRY[metric].axis_label)
            ax.set_ylabel("samples")
            ax.grid(alpha=0.3)
            if tag:
                ax.set_title(tag, fontsize=8)
            if ax.patches:
                ax.legend(fontsize=7)
    varied = ", ".join(f"{v.key} {v.dist} {v.spread:g}" for v in spec.vary)
    shown = f"; the first {len(grid_points)} of {df.grid_index.nunique()} grid points" if (
        df.grid_index.nunique() > len(grid_points)) else ""
    title = f"Monte Carlo: {spec.mc} samples per grid point, seed {spec.seed}; {varied}{shown}"
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = folder / "mc_histograms.png"
    fig.savefig(path, dpi=110)
    return [(title, path)]


def _difference_figures(diffs: pd.DataFrame, spec: SweepSpec, folder: Path) -> list[tuple[str, Path]]:
    """Each circuit minus the model, per point, against every numeric grid axis: the
    difference in spikes and the relative difference in rate."""
    from matplotlib.figure import Figure

    if diffs.empty:
        return []
    out = []
    for axis in spec.grid:
        if not all(isinstance(v, (int, float)) for v in axis.values) or len(axis.values) < 2:
            continue
        fig = Figure(figsize=(11, 4))
        ax1, ax2 = fig.subplots(1, 2)
        for circuit, d in diffs.groupby("engine"):
            style = dict(color=engine_of(circuit).color, marker="o", ms=3, ls="none", label=engine_of(circuit).label)
            ax1.plot(d[axis.key], d["d_n_spikes"], **style)
            ax2.plot(d[axis.key], 100 * d["rel_rate"], **style)
        for ax, label in ((ax1, "spikes, circuit − model"), (ax2, "rate, (circuit − model) / model (%)")):
            ax.axhline(0, color="black", lw=0.6)
            ax.set_xlabel(unit_label(axis.key))
            ax.set_ylabel(label)
            if axis.scale == "log":
                ax.set_xscale("log")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        title = f"circuit against model vs {axis.key}"
        fig.suptitle(title, fontsize=10)
        fig.tight_layout()
        path = folder / f"difference_vs_{axis.key}.png"
        fig.savefig(path, dpi=110)
        out.append((title, path))
    return out


def differences(df: pd.DataFrame, spec: SweepSpec) -> pd.DataFrame:
    """Per point and SPICE engine where both it and the model ran: the circuit's spikes,
    rate and adaptation ratio minus the model's, absolute and relative (to the model)."""
    keys = spec.keys
    ode = df[(df.engine == "ode") & (df.status == "ok")].set_index("point")
    rows = []
    for _, r in df[(df.engine != "ode") & (df.status == "ok")].iterrows():
        if r.point not in ode.index:
            continue
        m = ode.loc[r.point]
        row = {"point": r.point, "engine": r.engine, **{k: r[k] for k in keys}}
        for name, metric in (("n_spikes", "n_spikes"), ("rate", "rate_hz"), ("adaptation", "adaptation_ratio")):
            a, b = r[metric], m[metric]
            defined = not (pd.isna(a) or pd.isna(b))
            row[f"d_{name}"] = float(a - b) if defined else None
            row[f"rel_{name}"] = float((a - b) / b) if defined and b else None
        rows.append(row)
    return pd.DataFrame(rows)


def summary_table(df: pd.DataFrame, spec: SweepSpec) -> list[dict]:
    """Rows per engine and how they ended (no statistics across the grid: a median of an
    f-I curve means nothing)."""
    out = []
    for engine in spec.engines:
        e = df[df.engine == engine]
        out.append({"engine": engine, "rows": int(len(e)), "ok": int((e.status == "ok").sum()),
                    "failed": int((e.status == "failed").sum()), "stuck": int((e.status == "stuck").sum()),
                    "wall_s": float(e.wall_s.sum())})
    return out


def point_rows(df: pd.DataFrame, spec: SweepSpec, diffs: pd.DataFrame, limit: int = POINT_TABLE_ROWS) -> list[dict]:
    """The per-point table: each point's swept values and, per engine, its status and
    metrics (an undefined metric with its reason), then each circuit's difference from the
    model."""
    from ..units import format_quantity

    by_point = {p: g for p, g in df.groupby("point")}
    out = []
    for point in sorted(by_point)[:limit]:
        g = by_point[point]
        first = g.iloc[0]
        cells: dict = {}
        for _, r in g.iterrows():
            shown = {}
            for metric in SHOWN:
                value = r[metric]
                if pd.isna(value) and r.status == "failed":
                    shown[metric] = "–"  # the failure is listed with its reason below the table
                elif pd.isna(value):
                    shown[metric] = f"n/a ({undefined_reason(r, metric)})"
                elif REGISTRY[metric].kind == "int":
                    shown[metric] = str(int(value))
                else:
                    shown[metric] = format_quantity(float(value), REGISTRY[metric].unit)
            cells[r.engine] = {"status": r.status, **shown}
        d = diffs[diffs.point == point] if not diffs.empty else diffs
        delta = {r.engine: {"spikes": "n/a" if pd.isna(r.d_n_spikes) else f"{r.d_n_spikes:+.0f}",
                            "rate": "n/a" if pd.isna(r.rel_rate) else f"{100 * r.rel_rate:+.2f} %",
                            "adaptation": "n/a" if pd.isna(r.d_adaptation) else f"{r.d_adaptation:+.3g}"}
                 for _, r in d.iterrows()}
        out.append({"point": int(point), "values": {k: first[k] for k in spec.keys}, "engines": cells,
                    "delta": delta})
    return out


def _page_context(result: SweepResult, table: list[dict], df: pd.DataFrame,
                  figures: list[tuple[str, Path]], prov: dict, diffs: pd.DataFrame) -> dict:
    """What summary.md and summary.html show (the same content in both)."""
    from ..circuits import parameter_tables
    from ..pages import precise

    spec = result.spec
    swept = set(spec.keys)
    tables = parameter_tables(spec.engines)
    base = [{"key": k, "value": precise(v)} for k, v in result.base.flat().items()
            if k not in swept and k.split(".")[0] in tables]
    grid = []
    for a in spec.grid:
        vals = a.values if len(a.values) <= 6 else (*a.values[:3], "...", *a.values[-2:])
        grid.append({"key": a.key, "scale": a.scale, "count": len(a.values), "shown": [precise(v) for v in vals]})
    failed = df[df.status != "ok"]  # failed or stuck, each with its reason
    return {"title": f"alif-spice sweep {result.out_dir.name}", "name": result.out_dir.name, "rows": len(df),
            "n_points": df.point.nunique(), "engines": list(spec.engines),
            "n_failed": int((df.status == "failed").sum()), "n_stuck": int((df.status == "stuck").sum()),
            "n_not_ok": int(len(failed)), "listed": 20,
            "grid": grid, "vary": spec.vary, "mc": spec.mc, "seed": spec.seed, "table": table,
            "failed": [{"point": r.point, "engine": r.engine, "status": r.status, "error": _one_line(r.error)}
                       for _, r in failed.head(20).iterrows()],
            "figures": figures, "results_file": RESULTS_FILE,
            "points": point_rows(df, spec, diffs), "circuits": [e for e in spec.engines if e != "ode"],
            "has_ode": "ode" in spec.engines, "keys": spec.keys, "labels": {k: unit_label(k) for k in spec.keys},
            "point_limit": POINT_TABLE_ROWS, "shown": SHOWN,
            "metric_labels": {m: REGISTRY[m].label for m in SHOWN}, "base": base, "prov": prov,
            "energy_note": "Energy per spike: energy delivered by the input current source (∫ v_c i_in dt) / spikes."}


def write_outputs(result: SweepResult, command: str = "", executor: str = "local", workers: int = 0
                  ) -> dict[str, Path]:
    """Write results.parquet, figures/, summary.md, summary.html and manifest.json; a
    write that fails raises :class:`OutputError` (exit 3; the rows stay for --resume)."""
    from ..errors import OutputError

    try:
        return _write_outputs(result, command, executor, workers)
    except OSError as exc:
        raise OutputError(f"cannot write the sweep's outputs in {os.fspath(result.out_dir)!r}: "
                          f"{exc.strerror or exc}; the rows are kept: run --resume when fixed") from None


def _write_outputs(result: SweepResult, command: str, executor: str, workers: int) -> dict[str, Path]:
    out = result.out_dir
    df = rows_frame(result.rows, result.spec)
    check_outputs_ours(out)  # nothing of someone else's is in the way (exit 3 otherwise)
    diffs = differences(df, result.spec)  # once: the figures and the per-point table
    stage = Path(tempfile.mkdtemp(prefix=".figures.", suffix=".part", dir=out))
    try:
        figures = (_axis_figures(df, result.spec, stage) + _difference_figures(diffs, result.spec, stage)
                   + _mc_figure(df, result.spec, stage))
        names = [f"figures/{p.name}" for _, p in figures]
        check_outputs_ours(out)
        record_files(out, pending=[*SWEEP_OUTPUTS, *names])
        with staged_files(out / "figures") as folder:  # replaces this sweep's figures, nothing else
            for _, p in figures:
                os.replace(p, folder / p.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    figures = [(title, out / "figures" / p.name) for title, p in figures]
    with atomic_path(out / RESULTS_FILE) as tmp:
        df.to_parquet(tmp, index=False)
    table = summary_table(df, result.spec)
    from ..pages import render

    spice_used = any(e != "ode" for e in result.spec.engines)
    prov = record(command, ngspice=spice_used)
    page = _page_context(result, table, df, figures, prov, diffs)
    write_text_atomic(out / "summary.md", render("summary.md.j2", **page))
    write_text_atomic(out / "summary.html", render("summary.html.j2", **page))
    manifest = {**prov,
                "spec": result.spec.to_dict(), "base_params": result.base.to_dict(),
                "executor": executor, "workers": workers, "rows": len(df), "failed": int((df.status != "ok").sum()),
                "new_rows_this_run": result.new_rows, "wall_s_this_run": result.wall_s,
                "summary": table}
    write_text_atomic(out / "manifest.json", json.dumps(manifest, indent=1, allow_nan=False))
    record_files(out, [*SWEEP_OUTPUTS, *names])  # now with the SHA-256 of each
    return {"results": out / RESULTS_FILE, "summary_html": out / "summary.html", "summary_md": out / "summary.md",
            "manifest": out / "manifest.json", "figures": out / "figures"}
