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
from ..provenance import record
from .folder import RESULTS_FILE, SWEEP_OUTPUTS, SweepResult, check_outputs_ours, record_files
from .spec import SweepSpec
from .store import rows_frame

MAX_LINES = 6  # combinations of the other grid axes drawn per figure (marker shapes)


def _axis_figures(df: pd.DataFrame, spec: SweepSpec, folder: Path) -> list[tuple[str, Path]]:
    """Rate and adaptation ratio against every grid axis (other axes as separate lines,
    Monte Carlo samples as mean ± std)."""
    from matplotlib.figure import Figure

    out = []
    ok = df[df.status == "ok"]
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
                tag = ", ".join(f"{k}={v:.3g}" for k, v in zip(others, gkey))
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
            ax.set_xlabel(axis.key)
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
    from matplotlib.figure import Figure

    if spec.mc < 2:
        return []
    ok = df[df.status == "ok"]
    metrics = ["rate_hz", "adaptation_ratio", "energy_per_spike_j"]
    fig = Figure(figsize=(12, 3.8))
    axes = fig.subplots(1, 3)
    for ax, metric in zip(axes, metrics):
        for engine in spec.engines:
            v = ok[ok.engine == engine][metric].dropna()
            v = v[np.isfinite(v)]
            if v.size:
                ax.hist(v, bins=min(40, max(5, v.size // 5)), alpha=0.5, color=engine_of(engine).color,
                        label=f"{engine_of(engine).label} (n={v.size})")
        ax.set_xlabel(REGISTRY[metric].axis_label)
        ax.set_ylabel("points")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    varied = ", ".join(f"{v.key} {v.dist} {v.spread:g}" for v in spec.vary)
    pooled = " (all grid points pooled)" if spec.grid else ""
    title = f"Monte Carlo: {spec.mc} samples, seed {spec.seed}; {varied}{pooled}"
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = folder / "mc_histograms.png"
    fig.savefig(path, dpi=110)
    return [(title, path)]


def summary_table(df: pd.DataFrame, spec: SweepSpec) -> list[dict]:
    out = []
    for engine in spec.engines:
        e = df[df.engine == engine]
        ok = e[e.status == "ok"]
        out.append({"engine": engine, "rows": int(len(e)), "ok": int(len(ok)), "failed": int(len(e) - len(ok)),
                    "median_rate_hz": _median(ok.rate_hz), "median_adaptation_ratio": _median(ok.adaptation_ratio),
                    "median_energy_per_spike_j": _median(ok.energy_per_spike_j),
                    "median_wall_s": _median(e.wall_s)})
    return out


def _median(s: pd.Series) -> float | None:
    s = s.dropna()
    s = s[np.isfinite(s)]
    return float(s.median()) if len(s) else None


def _page_context(result: SweepResult, table: list[dict], df: pd.DataFrame,
                  figures: list[tuple[str, Path]]) -> dict:
    """What summary.md and summary.html show (the same content in both)."""
    from ..pages import number

    spec = result.spec
    grid = []
    for a in spec.grid:
        vals = a.values if len(a.values) <= 6 else (*a.values[:3], "...", *a.values[-2:])
        grid.append({"key": a.key, "scale": a.scale, "count": len(a.values), "shown": [number(v) for v in vals]})
    failed = df[df.status != "ok"]
    return {"title": f"alif-spice sweep {result.out_dir.name}", "name": result.out_dir.name, "rows": len(df),
            "n_points": df.point.nunique(), "engines": list(spec.engines), "n_failed": int(len(failed)),
            "grid": grid, "vary": spec.vary, "mc": spec.mc, "seed": spec.seed, "table": table,
            "failed": [r for _, r in failed.head(20).iterrows()], "figures": figures, "results_file": RESULTS_FILE,
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
    stage = Path(tempfile.mkdtemp(prefix=".figures.", suffix=".part", dir=out))
    try:
        figures = _axis_figures(df, result.spec, stage) + _mc_figure(df, result.spec, stage)
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

    page = _page_context(result, table, df, figures)
    write_text_atomic(out / "summary.md", render("summary.md.j2", **page))
    write_text_atomic(out / "summary.html", render("summary.html.j2", **page))
    spice_used = any(e != "ode" for e in result.spec.engines)
    manifest = {**record(command, ngspice=spice_used),
                "spec": result.spec.to_dict(), "base_params": result.base.to_dict(),
                "executor": executor, "workers": workers, "rows": len(df), "failed": int((df.status != "ok").sum()),
                "new_rows_this_run": result.new_rows, "wall_s_this_run": result.wall_s,
                "summary": table}
    write_text_atomic(out / "manifest.json", json.dumps(manifest, indent=1, allow_nan=False))
    record_files(out, [*SWEEP_OUTPUTS, *names])  # now with the SHA-256 of each
    return {"results": out / RESULTS_FILE, "summary_html": out / "summary.html", "summary_md": out / "summary.md",
            "manifest": out / "manifest.json", "figures": out / "figures"}
