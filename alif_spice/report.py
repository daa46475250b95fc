"""The comparison report: figures (PNG + SVG), report.html, metrics.json, traces.parquet,
netlists/*.cir and manifest.json, written atomically into one folder."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import numpy as np
import pandas as pd

from .cases import CaseResult
from .circuits import engine as engine_of
from .compare import json_ready
from .files import OutputDir, atomic_dir
from .metrics import METRICS as REGISTRY
from .stimulus import SquareWave
from .provenance import record
from .units import format_quantity

MAX_POINTS = 4000


def _decimate(t: np.ndarray, y: np.ndarray, n: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most ~n points per line, keeping each bucket's min and max (spikes stay visible)."""
    if t.size <= n:
        return t, y
    k = n // 2
    size = t.size // k
    m = size * k
    yb = y[:m].reshape(k, size)
    base = np.arange(k) * size
    idx = np.unique(np.concatenate([base + yb.argmin(axis=1), base + yb.argmax(axis=1), [t.size - 1]]))
    return t[idx], y[idx]


def _traces(result: CaseResult) -> dict:
    return {"ode": result.ode, **result.spice}


def plain_text(text: str) -> str:
    """``text`` as matplotlib shows it literally (a ``$`` would start mathtext)."""
    return text.replace("$", r"\$")


def _fig_signals(result: CaseResult, t_max: float | None, title: str):
    from matplotlib.figure import Figure

    rows = [("i_in", "input current (mA)", 1e3), ("v_mem", "v_mem (V)", 1), ("x", "memristor state x", 1),
            ("v_c", "v_c (V)", 1)]
    fig = Figure(figsize=(10, 10))
    axes = fig.subplots(len(rows) + 1, 1, sharex=True, gridspec_kw={"height_ratios": [1, 2, 2, 2, 1]})
    for ax, (col, label, scale) in zip(axes, rows):
        for name, tr in _traces(result).items():
            if col == "i_in" and name != "ode":
                continue
            m = tr.time <= (t_max if t_max else tr.time[-1])
            t, y = _decimate(tr.time[m], tr[col][m] * scale)
            ax.plot(t * 1e3, y, color=engine_of(name).color, lw=0.8 if name == "ode" else 0.7,
                    ls="-" if name == "ode" else "--", label=engine_of(name).label)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[1].axhline(result.params.neuron.v_th, color="gray", lw=0.6, ls=":", label="v_th")
    ax = axes[-1]
    for k, (name, tr) in enumerate(_traces(result).items()):
        s = tr.spikes[tr.spikes <= (t_max if t_max else np.inf)]
        ax.vlines(s * 1e3, k + 0.1, k + 0.9, color=engine_of(name).color, lw=0.8)
    ax.set_yticks([k + 0.5 for k in range(len(_traces(result)))],
                  [engine_of(n).label.split(" (")[0] for n in _traces(result)])
    ax.set_xlabel("time (ms)")
    axes[0].set_title(plain_text(title))
    axes[1].legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    return fig


def _fig_isi(result: CaseResult):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4))
    ax = fig.subplots()
    for name, tr in _traces(result).items():
        s = tr.spikes
        if s.size > 1:
            ax.plot(s[1:] * 1e3, np.diff(s) * 1e6, "o", ms=3, color=engine_of(name).color, label=engine_of(name).label,
                    mfc="none" if name != "ode" else engine_of(name).color)
    ax.set_xlabel("time of spike (ms)")
    ax.set_ylabel("inter-spike interval (µs)")
    ax.set_title("ISI over time: adaptation lengthens the ISI within and across bursts")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _fig_per_period(result: CaseResult):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4))
    ax1, ax2 = fig.subplots(1, 2)
    names = list(_traces(result))
    width = 0.8 / len(names)
    for k, name in enumerate(names):
        per = (result.metrics[name]["spikes_per_period"]["spice"] if name != "ode"
               else next(iter(result.metrics.values()))["spikes_per_period"]["ode"])
        x = np.arange(1, len(per) + 1)
        ax1.bar(x + (k - (len(names) - 1) / 2) * width, per, width, color=engine_of(name).color,
                label=engine_of(name).label)
        e = (result.metrics[name]["energy_per_spike_per_period_j"]["spice"] if name != "ode"
             else next(iter(result.metrics.values()))["energy_per_spike_per_period_j"]["ode"])
        ax2.plot(x, [v * 1e9 if v is not None else np.nan for v in e], "o-", color=engine_of(name).color,
                 label=engine_of(name).label)
    ax1.set_xlabel("input period")
    ax1.set_ylabel("spikes per period")
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3, axis="y")
    ax2.set_xlabel("input period")
    ax2.set_ylabel("input energy per spike (nJ)")
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _save(fig, folder: Path, stem: str) -> Path:
    png = folder / f"{stem}.png"
    fig.savefig(png, dpi=110)
    fig.savefig(folder / f"{stem}.svg")
    return png


def energy_statement(result: CaseResult) -> str:
    """Does adaptation save energy? Numbers from the RK4 model's input energy."""
    m = next(iter(result.metrics.values()))
    e = m["energy_input_per_period_j"]["ode"]
    per = m["spikes_per_period"]["ode"]
    eps = m["energy_per_spike_per_period_j"]["ode"]
    if len(e) < 2 or not eps[0] or not eps[-1]:
        return "Too few input periods to judge the energy cost of adaptation."
    verdict = "saves" if e[-1] < e[0] else "does not save"
    return (f"Adaptation {verdict} energy per input period here: the input source delivers "
            f"{e[0] * 1e9:.1f} nJ in period 1 ({per[0]} spikes) and {e[-1] * 1e9:.1f} nJ in period "
            f"{len(e)} ({per[-1]} spikes); energy per spike goes from {eps[0] * 1e9:.1f} to "
            f"{eps[-1] * 1e9:.1f} nJ (RK4 model; the SPICE circuits' figures are in the table).")


def _shown(value, unit: str) -> str:
    """A metric's value (a number, a list of numbers or a JSON object) with its unit."""
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v, unit) for v in value) + "]"
    if isinstance(value, bool) or not isinstance(value, (int, float, type(None))):
        return json.dumps(value)
    if isinstance(value, int):
        return f"{value} {unit}".strip()
    return format_quantity(value, unit)


def _html(result: CaseResult, figures: list[tuple[str, Path]], prov: dict, wall: float) -> str:
    from .pages import render

    metric_rows = []
    for circuit, m in result.metrics.items():
        for key, value in m.items():
            label, unit = (REGISTRY[key].label, REGISTRY[key].unit) if key in REGISTRY else (key, "")
            pair = isinstance(value, dict) and set(value) == {"ode", "spice"}
            metric_rows.append({"circuit": circuit, "key": key, "label": label,
                                "ode": _shown(value["ode"] if pair else value, unit),
                                "spice": _shown(value["spice"], unit) if pair else None})
    status = "all tolerances met" if result.passed else "FAILED: " + ", ".join(
        f"{c.circuit}.{c.name}" for c in result.checks if not c.passed)
    return render("report.html.j2", title=f"alif-spice: {result.case.name}", case=result.case, status=status,
                  wall=wall, prov=prov, notes=result.notes, energy=energy_statement(result), checks=result.checks,
                  figures=figures, metric_rows=metric_rows, params=result.params.flat())


def write_report(result: CaseResult, out_dir: str | Path | OutputDir, wall: float,
                 command: list[str] | None = None) -> Path:
    """Write every output of a comparison into ``out_dir`` (atomically); return report.html."""
    prov = record(command)
    stim = SquareWave.from_params(result.params)
    zoom = min(result.params.simulation.t_stop, stim.td + result.case.zoom_periods * stim.per)
    with atomic_dir(out_dir, "compare") as tmp:
        figdir = tmp / "figures"
        figdir.mkdir()
        titles = {
            "signals": "Signals over the whole run (cf. paper Figs. 5 and 6)",
            "zoom": f"Zoom on the first {result.case.zoom_periods} input period(s)",
            "isi": "Inter-spike intervals",
            "per_period": "Spikes and energy per input period",
        }
        # figures render in forked worker processes while this one writes the data files
        global _JOB
        _JOB = (result, zoom, figdir)
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        from .processes import die_with_parent

        pool = ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork"),
                                   initializer=die_with_parent, initargs=(os.getpid(),))
        try:
            # Ctrl-C during the fork would be swallowed by an at-fork handler ("Exception
            # ignored"): hold SIGINT until the workers exist (they inherit it blocked)
            held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                futures = {name: pool.submit(_figure_job, name) for name in titles}
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, held)
            _write_data(result, tmp, prov, wall)
            figures = [(titles[name], futures[name].result()) for name in titles]
        except BaseException:  # interrupted: end the figure workers now, do not wait
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.kill()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        _JOB = None
        (tmp / "report.html").write_text(_html(result, figures, prov, wall), encoding="utf-8")
    return (out_dir.path if isinstance(out_dir, OutputDir) else Path(out_dir)) / "report.html"


_JOB: tuple | None = None


def _figure_job(name: str) -> Path:
    assert _JOB is not None  # set by write_report before the workers fork
    result, zoom, figdir = _JOB
    if name == "signals":
        fig = _fig_signals(result, None, f"{result.case.name}: model vs circuits")
    elif name == "zoom":
        fig = _fig_signals(result, zoom, "zoom")
    elif name == "isi":
        fig = _fig_isi(result)
    else:
        fig = _fig_per_period(result)
    return _save(fig, figdir, name)


def _write_data(result: CaseResult, tmp: Path, prov: dict, wall: float) -> None:
    (tmp / "metrics.json").write_text(json.dumps(json_ready(result.metrics), indent=2) + "\n")
    frames = []
    for name, tr in _traces(result).items():
        f = tr.to_frame()
        f.insert(0, "source", name)
        frames.append(f)
    pd.concat(frames, ignore_index=True).to_parquet(tmp / "traces.parquet", index=False)
    spikes = pd.concat([pd.DataFrame({"source": n, "t_spike": tr.spikes}) for n, tr in _traces(result).items()])
    spikes.to_csv(tmp / "spikes.csv", index=False, float_format="%.17g")
    netdir = tmp / "netlists"
    netdir.mkdir()
    for circuit, netlist in result.netlists.items():
        (netdir / f"{circuit}.cir").write_text(netlist.text)
    manifest = {
        **prov, "case": result.case.name, "passed": result.passed,
        "failed_checks": [f"{c.circuit}.{c.name}" for c in result.checks if not c.passed],
        "parameters": result.params.to_dict(),
        "netlist_sha256": {c: n.sha256 for c, n in result.netlists.items()},
        "wall_time_s": wall, "timings_s": result.timings, "notes": result.notes,
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")

