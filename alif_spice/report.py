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
from .interactive import SHOWN, interactive_traces
from .metrics import METRICS as REGISTRY
from .stimulus import SquareWave
from .trace import decimate
from .provenance import record
from .units import format_quantity

MAX_POINTS = 4000
SPIKE_ROWS = 200  # matched spikes (and missing, extra) listed on the page; all in spike_matches.csv


def _traces(result: CaseResult) -> dict:
    return result.traces


def plain_text(text: str) -> str:
    """``text`` as matplotlib shows it literally (a ``$`` would start mathtext)."""
    return text.replace("$", r"\$")


def _fig_signals(result: CaseResult, span: tuple[float, float] | None, title: str):
    from matplotlib.figure import Figure

    rows = [("i_in", "input current (mA)", 1e3), ("v_mem", "v_mem (V)", 1), ("x", "memristor state x", 1),
            ("v_c", "v_c (V)", 1)]
    fig = Figure(figsize=(10, 10))
    axes = fig.subplots(len(rows) + 1, 1, sharex=True, gridspec_kw={"height_ratios": [1, 2, 2, 2, 1]})
    for ax, (col, label, scale) in zip(axes, rows):
        for name, tr in _traces(result).items():
            if (col == "i_in" and name != "ode") or col not in tr.signals:  # not recorded (an external run)
                continue
            lo, hi = span if span else (tr.time[0], tr.time[-1])
            m = (tr.time >= lo) & (tr.time <= hi)
            t, y = decimate(tr.time[m], tr[col][m] * scale, MAX_POINTS)
            ax.plot(t * 1e3, y, color=engine_of(name).color, lw=0.8 if name == "ode" else 0.7,
                    ls=engine_of(name).linestyle, label=engine_of(name).label)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=7)
    axes[1].axhline(result.params.neuron.v_th, color="gray", lw=0.6, ls=":", label="v_th")
    ax = axes[-1]
    for k, (name, tr) in enumerate(_traces(result).items()):
        lo, hi = span if span else (-np.inf, np.inf)
        s = tr.spikes[(tr.spikes >= lo) & (tr.spikes <= hi)]
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
    ax.set_yscale("log")  # the in-burst ISIs and the gaps between bursts differ tenfold
    ax.set_xlabel("time of spike (ms)")
    ax.set_ylabel("inter-spike interval (µs, log scale)")
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
        if e is None:  # not measured: a run from elsewhere without v_c
            continue
        ax2.plot(x, [v * 1e9 if v is not None else np.nan for v in e], "o-", color=engine_of(name).color,
                 label=engine_of(name).label)
    ax1.set_xlabel("input period")
    ax1.set_ylabel("spikes per period")
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3, axis="y")
    ax2.set_xlabel("input period")
    ax2.set_ylabel("input energy per spike (nJ)")
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8)
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
    if isinstance(value, dict):  # a record: each entry, its unit from its key's suffix
        return ", ".join(f"{k}: " + (_shown(v, unit) if k.endswith("_s") else _shown(v, ""))
                         for k, v in value.items())
    if isinstance(value, bool) or not isinstance(value, (int, float, type(None))):
        return json.dumps(value)
    if isinstance(value, int):
        return f"{value} {unit}".strip()
    return format_quantity(value, unit)


def _html(result: CaseResult, figures: list[tuple[str, Path, str]], prov: dict, wall: float,
          files: list[str], interactive: dict | None = None) -> str:
    from .pages import render

    metric_rows = []
    for circuit, m in result.metrics.items():
        for key, value in m.items():
            label, unit = REGISTRY[key].label, REGISTRY[key].unit
            pair = isinstance(value, dict) and set(value) == {"ode", "spice"}
            metric_rows.append({"circuit": circuit, "key": key, "label": label,
                                "ode": _shown(value["ode"] if pair else value, unit),
                                "spice": _shown(value["spice"], unit) if pair else None})
    failed = [f"{c.circuit}.{c.name}" for c in result.checks if not c.passed]
    status = ("no tolerances set" if not result.checks else "FAILED: " + ", ".join(failed) if failed
              else "all tolerances met")
    engines = [("ode", engine_of("ode").label)] + [(c, engine_of(c).label) for c in result.spice]
    matches = spike_matches(result)
    spikes = []
    for c in result.spice:
        mine = matches[matches.circuit == c]
        matched, missing, extra = (mine[mine.kind == k] for k in ("matched", "missing", "extra"))
        spikes.append({"circuit": c, "label": engine_of(c).label, "n_matched": len(matched),
                       "n_missing": len(missing), "n_extra": len(extra), "limit": SPIKE_ROWS,
                       "matched": list(matched.head(SPIKE_ROWS).itertuples()),
                       "missing": missing.t_model_s.head(SPIKE_ROWS).tolist(),
                       "extra": extra.t_circuit_s.head(SPIKE_ROWS).tolist()})
    return render("report.html.j2", title=f"alif-spice: {result.case.name}", case=result.case, status=status,
                  wall=wall, prov=prov, notes=result.notes, energy=energy_statement(result), checks=result.checks,
                  figures=figures, metric_rows=metric_rows, params=parameter_rows(result), engines=engines,
                  periods=period_rows(result), spikes=spikes, files=files, interactive=interactive,
                  control=_control_view(result))


def _control_view(result: CaseResult) -> dict | None:
    """The control experiment's verdict and per-period table for the report."""
    if result.control is None:
        return None
    from .control import period_table

    ctrl = result.control
    runs = [(k, engine_of("ode" if k == "model" else k).label) for k in ctrl
            if isinstance(ctrl[k], dict) and "adaptive" in ctrl[k]]
    columns = []
    for key, label in runs:
        columns.append((f"{key}.adaptive.spikes", f"{label}: spikes, adaptive", ""))
        columns.append((f"{key}.frozen.spikes", f"{label}: spikes, frozen", ""))
        columns.append((f"{key}.adaptive.energy_input_j", f"{label}: input energy, adaptive", "J"))
        columns.append((f"{key}.frozen.energy_input_j", f"{label}: input energy, frozen", "J"))
        if "energy_supply_per_period_j" in ctrl[key]["adaptive"]:
            columns.append((f"{key}.adaptive.energy_supply_j", f"{label}: supply energy, adaptive", "J"))
            columns.append((f"{key}.frozen.energy_supply_j", f"{label}: supply energy, frozen", "J"))
    rows = [[str(r["period"])] + [str(r[c]) if not u else format_quantity(r[c], u) for c, _, u in columns]
            for r in period_table(ctrl)]
    totals = ["all"]
    for c, _, _unit in columns:
        run, state, what = c.split(".")
        s = ctrl[run][state]
        totals.append(str(s["n_spikes"]) if what == "spikes" else format_quantity(s[what], "J"))
    return {"verdict": ctrl["verdict"], "x0": ctrl["x0"], "header": [label for _, label, _ in columns],
            "rows": rows + [totals]}


def zoom_span(result: CaseResult, zoom: tuple[float, float] | None = None) -> tuple[float, float]:
    """The zoom figure's time range (s): ``zoom``, else the case's first input periods."""
    if zoom is not None:
        return zoom
    stim = SquareWave.from_params(result.params)
    return 0.0, min(result.params.simulation.t_stop, stim.td + result.case.zoom_periods * stim.per)


def figure_texts(result: CaseResult, span: tuple[float, float], zoomed: bool) -> dict[str, tuple[str, str]]:
    """Each figure's (title, caption): what it shows and what to look for."""
    ref = f" (cf. {result.case.reference})" if result.case.reference else ""
    periods = result.case.zoom_periods
    whole = SquareWave.from_params(result.params).period_starts(result.params.simulation.t_stop).size
    zoom_title = (f"Zoom on {format_quantity(span[0], 's')} to {format_quantity(span[1], 's')}"
                  if zoomed or whole < periods
                  else f"Zoom on the first {periods} input period{'s' if periods != 1 else ''}")
    isi = ("Each spike's interval to the previous one (log scale): the in-burst intervals lengthen as "
           "the neuron adapts" + ("; the long intervals are the gaps between input periods." if whole > 1 else "."))
    texts = {
        "signals": ("Signals over the whole run" + ref,
                    "Input current, memristor voltage v_mem (threshold v_th dotted), memristor state x and "
                    "capacitor voltage v_c of the RK4 model and of each circuit, with their spike rasters. "
                    "Look for the bursts shortening as x grows, and for where the circuits part from the model."),
        "zoom": (zoom_title,
                 "The same signals spike by spike: each reset, the refractory hold and the timing of the "
                 "circuits' spikes against the model's."),
        "isi": ("Inter-spike intervals", isi),
        "per_period": ("Spikes and energy per input period",
                       "Spikes in each input period (left) and the input source's energy per spike (right), "
                       "for the model and each circuit."),
    }
    if result.control is not None and whole:
        texts["control"] = ("Control: adaptive against a frozen memristor",
                            "Spikes, input energy and (hardware) supply energy per input period, with adaptation "
                            "(solid) and with the memristor frozen at its initial state x0 (dashed): the same "
                            "neuron without adaptation, for the model and each circuit.")
    if not whole:  # no whole input period: nothing to draw per period
        del texts["per_period"]
    return texts


def write_report(result: CaseResult, out_dir: str | Path | OutputDir, wall: float,
                 command: list[str] | None = None, zoom: tuple[float, float] | None = None) -> Path:
    """Write every output of a comparison into ``out_dir`` (atomically); return report.html.
    ``zoom``: the zoom figure's time range (s; default: the case's first input periods)."""
    prov = record(command, ngspice=bool(result.netlists))  # a run from elsewhere needs no ngspice
    span = zoom_span(result, zoom)
    texts = figure_texts(result, span, zoom is not None)
    with atomic_dir(out_dir, "compare") as tmp:
        figdir = tmp / "figures"
        figdir.mkdir()
        titles = {name: title for name, (title, _) in texts.items()}
        # figures render in forked worker processes while this one writes the data files
        global _JOB
        _JOB = (result, span, figdir)
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
            js, figure, what = interactive_traces(result)
            interactive = {"js": js, "figure": figure, "what": what, "shown": SHOWN}
            figures = [(titles[name], futures[name].result(), texts[name][1]) for name in titles]
        except BaseException:  # interrupted: end the figure workers now, do not wait
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.kill()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        _JOB = None
        files = sorted(str(f.relative_to(tmp)) for f in tmp.rglob("*") if f.is_file())
        (tmp / "report.html").write_text(_html(result, figures, prov, wall, files, interactive), encoding="utf-8")
    return (out_dir.path if isinstance(out_dir, OutputDir) else Path(out_dir)) / "report.html"


_JOB: tuple | None = None


def _figure_job(name: str) -> Path:
    assert _JOB is not None  # set by write_report before the workers fork
    result, span, figdir = _JOB
    if name == "signals":
        fig = _fig_signals(result, None, f"{result.case.name}: model vs circuits")
    elif name == "zoom":
        fig = _fig_signals(result, span, f"{result.case.name}: {format_quantity(span[0], 's')} to "
                                         f"{format_quantity(span[1], 's')}")
    elif name == "isi":
        fig = _fig_isi(result)
    elif name == "control":
        from .control import figure

        assert result.control is not None
        fig = figure(result.control)
    else:
        fig = _fig_per_period(result)
    return _save(fig, figdir, name)


def spike_matches(result: CaseResult) -> pd.DataFrame:
    """Every circuit's spikes against the model's (the metrics' matching: nearest spike within
    half the model's shortest ISI): rows of circuit, kind ("matched", "missing": a model spike
    the circuit lacks, "extra": a circuit spike the model lacks), t_model_s, t_circuit_s, dt_s."""
    from .compare import match_spikes, match_window

    rows = []
    for circuit, tr in result.spice.items():
        m = match_spikes(result.ode.spikes, tr.spikes, match_window(result.ode.spikes))
        rows += [(circuit, "matched", a, b, b - a) for a, b in m.pairs]
        rows += [(circuit, "missing", a, np.nan, np.nan) for a in m.missing]
        rows += [(circuit, "extra", np.nan, b, np.nan) for b in m.extra]
    frame = pd.DataFrame(rows, columns=["circuit", "kind", "t_model_s", "t_circuit_s", "dt_s"])
    return frame.sort_values(["circuit", "t_model_s", "t_circuit_s"], kind="stable", ignore_index=True)


def period_rows(result: CaseResult) -> list[dict]:
    """One row per input period: spikes of the model and of each circuit, the input energy
    and the energy per spike of each (J); None where undefined."""
    any_metrics = next(iter(result.metrics.values()))
    starts = SquareWave.from_params(result.params).period_starts(result.params.simulation.t_stop)
    rows = []
    for k, start in enumerate(starts):
        row: dict = {"period": k + 1, "start_s": float(start),
                     "spikes": {"ode": any_metrics["spikes_per_period"]["ode"][k]},
                     "energy_j": {"ode": any_metrics["energy_input_per_period_j"]["ode"][k]},
                     "per_spike_j": {"ode": any_metrics["energy_per_spike_per_period_j"]["ode"][k]}}
        for circuit, m in result.metrics.items():
            row["spikes"][circuit] = m["spikes_per_period"]["spice"][k]
            for key, metric in (("energy_j", "energy_input_per_period_j"),
                                ("per_spike_j", "energy_per_spike_per_period_j")):
                values = m[metric]["spice"]  # None where not measured (a run from elsewhere without v_c)
                row[key][circuit] = None if values is None else values[k]
        rows.append(row)
    return rows


def parameter_rows(result: CaseResult) -> list[dict]:
    """The parameters that take part in this comparison, with unit and meaning: the device
    model's [memristor] keys, [neuron], [stimulus], [simulation], and the tables of the
    circuits that run (e.g. [hardware], with its "auto" values as designed)."""
    from dataclasses import fields

    from .circuits import get as circuit
    from .circuits import parameter_tables
    from .devices import keys_read
    from .params import TABLES

    p = result.params
    owners = {t: circuit(c) for c in result.case.circuits for t in circuit(c).tables}
    rows = []
    for table in parameter_tables(result.case.circuits):
        keys = keys_read(p.memristor) if table == "memristor" else None
        owner = owners.get(table)
        designed = owner.designed(p) if owner is not None and owner.designed is not None else None
        for f in fields(TABLES[table]):
            if keys is not None and f.name not in keys:
                continue
            value = getattr(getattr(p, table), f.name)
            unit = f.metadata["unit"]
            shown_unit = "" if unit == "1" else unit
            if value is None and designed is not None:  # "auto": the value designed and used
                shown = format_quantity(getattr(designed, f.name), shown_unit, digits=10) + " (designed)"
            else:
                shown = ("auto" if value is None else value if isinstance(value, str)
                         else format_quantity(value, shown_unit, digits=10))
            rows.append({"key": f"{table}.{f.name}", "value": shown, "unit": unit or "–",
                         "meaning": f.metadata["doc"]})
    return rows


def _write_data(result: CaseResult, tmp: Path, prov: dict, wall: float) -> None:
    (tmp / "metrics.json").write_text(json.dumps(json_ready(result.metrics), indent=2) + "\n")
    if result.control is not None:
        (tmp / "control.json").write_text(json.dumps(json_ready(result.control), indent=2) + "\n")
    frames = []
    for name, tr in _traces(result).items():
        f = tr.to_frame()
        f.insert(0, "source", name)
        frames.append(f)
    pd.concat(frames, ignore_index=True).to_parquet(tmp / "traces.parquet", index=False)
    spikes = pd.concat([pd.DataFrame({"source": n, "t_spike": tr.spikes}) for n, tr in _traces(result).items()])
    spikes.to_csv(tmp / "spikes.csv", index=False, float_format="%.17g")
    spike_matches(result).to_csv(tmp / "spike_matches.csv", index=False, float_format="%.17g")
    netdir = tmp / "netlists"
    if result.netlists:
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

