"""The control experiment for adaptation's energy cost: the same neuron with its memristor
frozen at the initial state (``memristor.state = "frozen"``: x stays at x0, a plain leaky
integrate-and-fire neuron), run beside the adaptive one by the model and by each circuit.

Per input period it compares the spikes, the energy the input source delivers
(∫ v_c i_in dt, J) and, for circuits with supplies, the energy the supplies deliver; the
verdict says whether adaptation lowers the energy against this control, over the whole run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .compare import adaptation_ratio, energy_per_period
from .metrics import Run, supply_curve
from .params import Params
from .trace import Trace


def frozen(p: Params) -> Params:
    """``p`` with the memristor's state frozen at x0 (the non-adaptive control neuron)."""
    return p if p.memristor.state == "frozen" else p.with_values({"memristor.state": "frozen"})


def side(p: Params, trace: Trace, circuit: str | None = None) -> dict[str, Any]:
    """One run's figures: spikes and energies (J) in total and per input period (the metrics'
    own definitions); the supply energy where ``circuit`` has supplies."""
    r = Run.of(p, trace)
    n = int(r.spikes.size)
    e_in = float(r.energy_curve[-1])
    out: dict[str, Any] = {
        "n_spikes": n, "spikes_per_period": r.per_period, "adaptation_ratio": adaptation_ratio(r.per_period),
        "energy_input_j": e_in, "energy_input_per_period_j": r.energy_per_period,
        "energy_input_per_spike_j": e_in / n if n else None,
    }
    curve = supply_curve(p, trace, circuit) if circuit is not None else None
    if curve is not None:
        out["energy_supply_j"] = float(curve[-1])
        out["energy_supply_per_period_j"] = energy_per_period(r.time, curve, r.stimulus, r.t_stop)
        out["energy_supply_per_spike_j"] = float(curve[-1]) / n if n else None
    return out


def _change(a: float, b: float) -> str:
    """a against b as a signed percentage of b."""
    if not b:
        return "n/a"
    pct = (a - b) / b * 100
    return f"{pct:+.0f} %" if abs(pct) >= 10 else f"{pct:+.2g} %" if abs(pct) >= 0.01 else "within 0.01 %"


def _sentence(name: str, a: dict, f: dict, key: str, what: str) -> str:
    ea, ef = a[key], f[key]
    same = abs(ea - ef) <= 1e-4 * max(abs(ea), abs(ef))
    if same and key == "energy_supply_j":  # a circuit whose supply draw does not follow its activity
        return (f"{name}: the {what} is the same within 0.01 % ({ea * 1e6:.4g} µJ) with "
                f"{a['n_spikes']} and {f['n_spikes']} spikes: the circuit's supply draw does not depend on "
                "its spiking, so it cannot tell")
    word = "does not change" if same else "lowers" if ea < ef else "raises"
    return (f"{name}: adaptation {word} the {what} ({ea * 1e6:.4g} µJ against {ef * 1e6:.4g} µJ frozen, "
            f"{_change(ea, ef)}) with {a['n_spikes']} against {f['n_spikes']} spikes "
            f"({_change(a['n_spikes'], f['n_spikes'])})")


def verdict(control: dict[str, dict]) -> str:
    """One line: does adaptation lower the energy against the frozen control? The model's
    input energy, and the supply energy of each circuit that has supplies."""
    parts = []
    for name, pair in control.items():
        a, f = pair["adaptive"], pair["frozen"]
        if name == "model":
            parts.append(_sentence("RK4 model", a, f, "energy_input_j", "input energy"))
        elif "energy_supply_j" in a:
            parts.append(_sentence(f"{name} circuit", a, f, "energy_supply_j", "supply energy"))
    if not parts:
        return ""
    model = control.get("model")
    head = ""
    if model is not None:
        a, f = model["adaptive"], model["frozen"]
        fewer = a["n_spikes"] < f["n_spikes"]
        cheaper = a["energy_input_j"] < f["energy_input_j"]
        head = ("Adaptation saves energy against the non-adaptive control. " if fewer and cheaper else
                "Adaptation lowers the spike count but not the energy against the non-adaptive control. "
                if fewer else "Adaptation does not lower the spike count against the non-adaptive control. ")
    return head + "; ".join(parts) + "."


def control_experiment(p_model: Params, ode: Trace, ode_frozen: Trace, p: Params,
                       spice: dict[str, Trace], spice_frozen: dict[str, Trace]) -> dict[str, Any]:
    """The control's figures for the model and each circuit, and the verdict (JSON-ready)."""
    out: dict[str, Any] = {"model": {"adaptive": side(p_model, ode), "frozen": side(frozen(p_model), ode_frozen)}}
    for c, tr in spice.items():
        out[c] = {"adaptive": side(p, tr, c), "frozen": side(frozen(p), spice_frozen[c], c)}
    out["verdict"] = verdict({k: v for k, v in out.items()})
    out["x0"] = p.memristor.x0
    return out


def period_table(control: dict[str, Any]) -> list[dict]:
    """Rows per input period: spikes and energies (J) of each run, adaptive and frozen."""
    runs = [k for k in control if isinstance(control[k], dict) and "adaptive" in control[k]]
    n = len(control["model"]["adaptive"]["spikes_per_period"])
    rows = []
    for i in range(n):
        row: dict[str, Any] = {"period": i + 1}
        for r in runs:
            for state in ("adaptive", "frozen"):
                s = control[r][state]
                row[f"{r}.{state}.spikes"] = s["spikes_per_period"][i]
                row[f"{r}.{state}.energy_input_j"] = s["energy_input_per_period_j"][i]
                if "energy_supply_per_period_j" in s:
                    row[f"{r}.{state}.energy_supply_j"] = s["energy_supply_per_period_j"][i]
        rows.append(row)
    return rows


def figure(control: dict[str, Any]):
    """Spikes, input energy and supply energy per input period, adaptive (solid) against
    frozen (dashed), for the model and each circuit."""
    from matplotlib.figure import Figure

    from .circuits import engine as engine_of

    runs = [k for k in control if isinstance(control[k], dict) and "adaptive" in control[k]]
    supply = [r for r in runs if "energy_supply_per_period_j" in control[r]["adaptive"]]
    fig = Figure(figsize=(5 * (3 if supply else 2), 4))
    axes = fig.subplots(1, 3 if supply else 2)
    for r in runs:
        eng = engine_of("ode" if r == "model" else r)
        for state, style in (("adaptive", "o-"), ("frozen", "s--")):
            s = control[r][state]
            x = np.arange(1, len(s["spikes_per_period"]) + 1)
            lab = f"{eng.label}, {state}"
            axes[0].plot(x, s["spikes_per_period"], style, color=eng.color, label=lab, ms=4)
            axes[1].plot(x, np.array(s["energy_input_per_period_j"]) * 1e9, style, color=eng.color, label=lab, ms=4)
            if r in supply:
                axes[2].plot(x, np.array(s["energy_supply_per_period_j"]) * 1e9, style, color=eng.color,
                             label=lab, ms=4)
    for ax, ylabel in zip(axes, ("spikes per period", "input energy per period (nJ)",
                                 "supply energy per period (nJ)")):
        ax.set_xlabel("input period")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.ticklabel_format(axis="y", useOffset=False)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig
