"""The comparison report: figures (PNG + SVG), report.html, metrics.json, traces.parquet,
netlists/*.cir and manifest.json, written atomically into one folder."""

from __future__ import annotations

import base64
import html
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
    import matplotlib.pyplot as plt

    rows = [("i_in", "input current (mA)", 1e3), ("v_mem", "v_mem (V)", 1), ("x", "memristor state x", 1),
            ("v_c", "v_c (V)", 1)]
    fig, axes = plt.subplots(len(rows) + 1, 1, figsize=(10, 10), sharex=True,
                             gridspec_kw={"height_ratios": [1, 2, 2, 2, 1]})
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
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4))
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
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
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
    import matplotlib.pyplot as plt

    png = folder / f"{stem}.png"
    fig.savefig(png, dpi=110)
    fig.savefig(folder / f"{stem}.svg")
    plt.close(fig)
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
    def esc(v):
        return html.escape(str(v))

    rows = "".join(f"<tr><td>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in result.params.flat().items())
    checks = "".join(
        f"<tr class='{'pass' if c.passed else 'fail'}'><td>{esc(c.circuit)}</td><td>{esc(c.name)}</td>"
        f"<td>{esc('n/a' if c.value is None else f'{c.value:.4g}')}</td><td>{'≤' if c.kind == 'max' else '≥'} "
        f"{c.limit:.4g}</td><td>{'PASS' if c.passed else 'FAIL'}</td></tr>" for c in result.checks)
    metric_rows = []
    for circuit, m in result.metrics.items():
        for key, value in m.items():
            label, unit = (REGISTRY[key].label, REGISTRY[key].unit) if key in REGISTRY else (key, "")
            if isinstance(value, dict) and set(value) == {"ode", "spice"}:
                cells = (f"<td>{esc(_shown(value['ode'], unit))}</td>"
                         f"<td>{esc(_shown(value['spice'], unit))}</td>")
            else:
                cells = f"<td colspan='2'>{esc(_shown(value, unit))}</td>"
            metric_rows.append(f"<tr><td>{esc(circuit)}</td><td>{esc(label)} <code>{esc(key)}</code></td>"
                               f"{cells}</tr>")
    imgs = "".join(
        f"<figure><img alt='{esc(title)}' src='data:image/png;base64,"
        f"{base64.b64encode(path.read_bytes()).decode()}'><figcaption>{esc(title)} "
        f"(vector: figures/{esc(path.stem)}.svg)</figcaption></figure>" for title, path in figures)
    status = "all tolerances met" if result.passed else "FAILED: " + ", ".join(
        f"{c.circuit}.{c.name}" for c in result.checks if not c.passed)
    vers = ", ".join(f"{esc(k)} {esc(v)}" for k, v in prov["versions"].items())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>alif-spice: {esc(result.case.name)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:2px 6px;font-size:90%}}
tr.pass td:last-child{{color:#060;font-weight:bold}}tr.fail td{{background:#fdd}}
tr.fail td:last-child{{color:#a00;font-weight:bold}}img{{max-width:100%}}code{{font-size:85%}}</style>
</head><body>
<h1>alif-spice comparison: {esc(result.case.name)}</h1>
<p>{esc(result.case.description)}</p>
<p><b>Result: {esc(status)}</b>. Wall time {wall:.1f} s. Created {esc(prov["created"])}. Versions: {vers}.</p>
<p>To run it again: <code>{esc(prov["command"])}</code></p>
{"".join(f"<p><b>Note:</b> {esc(note)}</p>" for note in result.notes)}
<p>{esc(energy_statement(result))}</p>
<h2>Tolerances</h2>
<table><tr><th>circuit</th><th>check</th><th>measured</th><th>limit</th><th></th></tr>{checks}</table>
<h2>Figures</h2>{imgs}
<h2>Metrics</h2>
<table><tr><th>circuit</th><th>metric (key in metrics.json)</th><th>RK4 model</th><th>circuit</th></tr>
{"".join(metric_rows)}</table>
<h2>Parameters</h2>
<table><tr><th>parameter</th><th>value (SI units)</th></tr>{rows}</table>
<p>Netlists: netlists/*.cir (run with <code>ngspice -b</code>); traces: traces.parquet;
metrics: metrics.json; provenance: manifest.json.</p>
</body></html>
"""


def write_report(result: CaseResult, out_dir: str | Path | OutputDir, wall: float,
                 command: list[str] | None = None) -> Path:
    """Write every output of a comparison into ``out_dir`` (atomically); return report.html."""
    import matplotlib

    matplotlib.use("Agg")
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

