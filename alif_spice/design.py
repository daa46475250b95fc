"""Inverse design: the circuit values that give a neuron the behaviour asked for.

Targets are registered neuron metrics with a value, a relative tolerance (default 2 %) and a
weight; the free parameters have ranges. scipy's differential evolution (vectorised: one
generation is one call of the RK4 batch kernel on all cores, seeded) minimises

    cost = sum_i weight_i ((achieved_i - target_i) / (tol_i |target_i|))^2

so a design meets every target exactly when each term is <= its weight (|error| <= tol).
A free parameter whose range spans a factor of 3 or more (and is positive) is searched on a
log scale. A candidate that breaks a parameter rule, or (by default) for which the hardware
circuit has no design, is infeasible. The search stops at the first generation whose best
design meets every target, or after ``generations``. The best design is then run in ngspice,
ideal and hardware circuits, and the report gives the target against the achieved value for
the model and each circuit. A target the search cannot reach is reported as such, with the
closest design found.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .batch import MAX_NEURONS, check_keys, check_metrics, evaluate
from .errors import AlifError, ParamError
from .params import Params
from .units import parse_number

DEFAULT_TOL = 0.02
#: cost of a candidate that is infeasible or whose metric is undefined
PENALTY = 1e12
#: runner-up designs reported
RUNNERS_UP = 5


@dataclass(frozen=True)
class Target:
    metric: str
    value: float
    tol: float = DEFAULT_TOL  # relative (absolute where value is 0)
    weight: float = 1.0

    def error(self, achieved: float) -> float:
        """(achieved - value) in units of the tolerance (|error| <= 1: met)."""
        scale = self.tol * abs(self.value) if self.value != 0 else self.tol
        return (achieved - self.value) / scale

    def met(self, achieved: float | None) -> bool:
        return achieved is not None and math.isfinite(achieved) and abs(self.error(achieved)) <= 1 + 1e-12


@dataclass(frozen=True)
class Free:
    key: str
    lo: float
    hi: float

    @property
    def log(self) -> bool:
        return self.lo > 0 and self.hi / self.lo >= 3

    def value(self, u: np.ndarray) -> np.ndarray:
        """Parameter values at unit coordinates ``u`` in [0, 1]."""
        if self.log:
            return np.exp(math.log(self.lo) + u * (math.log(self.hi) - math.log(self.lo)))
        return self.lo + u * (self.hi - self.lo)


def parse_target(item: str) -> Target:
    """``METRIC=VALUE[,tol=P%][,weight=W]``."""
    head, *opts = [s.strip() for s in item.split(",")]
    metric, sep, value = head.partition("=")
    metric = metric.strip()
    if not sep or not metric or not value.strip():
        raise ParamError(f"--target {item!r}: expected METRIC=VALUE[,tol=P%][,weight=W]")
    check_metrics([metric], "--target")
    try:
        v = parse_number(value.strip())
    except ValueError:
        raise ParamError(f"--target {item!r}: {value.strip()!r} is not a number") from None
    tol, weight = DEFAULT_TOL, 1.0
    seen: set[str] = set()
    for opt in opts:
        k, _, t = (x.strip() for x in opt.partition("="))
        if k not in ("tol", "weight"):
            raise ParamError(f"--target {item!r}: unknown option {k!r} (tol, weight)")
        if k in seen:
            raise ParamError(f"--target {item!r}: {k} is given twice")
        seen.add(k)
        try:
            if k == "tol":
                tol = parse_number(t[:-1]) / 100 if t.endswith("%") else parse_number(t)
            else:
                weight = parse_number(t)
        except ValueError:
            raise ParamError(f"--target {item!r}: {opt!r} is not a number") from None
    if v == 0 and "tol" not in seen:
        raise ParamError(f"--target {item!r}: a target of 0 has no relative tolerance; give an absolute one in "
                         "the metric's unit, e.g. tol=1e-9")
    if not (math.isfinite(v) and 0 < tol and (v == 0 or tol < 10) and math.isfinite(tol) and 0 < weight < 1e6
            and math.isfinite(weight)):
        raise ParamError(f"--target {item!r}: needs a finite value, 0 < tol < 1000 % and 0 < weight < 1e6")
    return Target(metric, v, tol, weight)


def parse_free(item: str) -> Free:
    """``KEY=LOW:HIGH`` (SPICE suffixes allowed: ``neuron.c=5n:100n``)."""
    key, sep, rhs = item.partition("=")
    lo_text, colon, hi_text = rhs.partition(":")
    if not sep or not key.strip() or not colon:
        raise ParamError(f"--free {item!r}: expected KEY=LOW:HIGH (e.g. neuron.c=5n:100n)")
    try:
        lo, hi = parse_number(lo_text.strip()), parse_number(hi_text.strip())
    except ValueError:
        raise ParamError(f"--free {item!r}: LOW and HIGH must be numbers") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ParamError(f"--free {item!r}: needs finite LOW < HIGH")
    return Free(key.strip(), lo, hi)


@dataclass
class Candidate:
    values: dict[str, float]
    cost: float
    achieved: dict[str, float | None]
    error: str = ""


@dataclass
class DesignResult:
    base: Params
    targets: tuple[Target, ...]
    free: tuple[Free, ...]
    best: Candidate
    best_params: Params | None
    runners_up: list[Candidate]
    #: per generation: (neurons evaluated so far, best cost so far)
    history: list[tuple[int, float]]
    evaluations: int
    reached: bool
    search_s: float
    #: circuit -> metric -> value (None: undefined), from ngspice; or circuit -> {"error": text}
    verification: dict[str, dict] = field(default_factory=dict)
    verify_s: float = 0.0
    hardware_rule: bool = True
    seed: int = 0
    popsize: int = 0

    def met(self, engine: str = "model") -> dict[str, bool]:
        got = self.best.achieved if engine == "model" else self.verification.get(engine, {})
        return {t.metric: t.met(got.get(t.metric)) for t in self.targets}

    def summary(self) -> str:
        """One line: reached or not, and the worst target."""
        if self.reached:
            return (f"all {len(self.targets)} targets met by the model after {self.evaluations} neurons "
                    f"({self.search_s:.1f} s)")
        def miss(t: Target) -> float:
            a = self.best.achieved.get(t.metric)
            return math.inf if a is None else abs(t.error(a))

        worst = max(self.targets, key=miss)
        a = self.best.achieved.get(worst.metric)
        off = "undefined" if a is None else f"{a:.6g} against {worst.value:.6g}"
        return (f"targets not reached: after {self.evaluations} neurons the closest design in the ranges misses "
                f"{worst.metric} ({off}, tolerance {worst.tol:.3g}); the target may be out of reach within "
                "these ranges (or need more --generations)")


def _cost(targets: Sequence[Target], achieved: np.ndarray) -> float:
    total = 0.0
    for t, a in zip(targets, achieved):
        if not math.isfinite(a):
            return PENALTY
        total += t.weight * t.error(float(a)) ** 2
    return total


class _Reached(Exception):
    """Raised by :class:`Objective` once a generation's best design meets every target:
    ends the search at once (the optimiser would start another generation first)."""


class _Failed(Exception):
    """An error inside the optimiser's call of :class:`Objective`, carried out unchanged
    (scipy rewraps a ValueError from the cost function)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class Objective:
    """The search's cost function on unit coordinates: ``objective(U)`` with U (n, D) in
    [0, 1] evaluates n candidate neurons in one batch and returns their costs; it keeps every
    candidate and the best cost after each call (one call: one generation)."""

    def __init__(self, base: Params, targets: Sequence[Target], free: Sequence[Free], workers: int | None = None,
                 hardware_rule: bool = True, progress: Callable[[int, float], None] | None = None,
                 stop_when_reached: bool = False) -> None:
        self.base, self.targets, self.free = base, tuple(targets), tuple(free)
        self.keys = [f.key for f in free]
        self.metrics = tuple(t.metric for t in targets)
        self.workers, self.hardware_rule, self.progress = workers, hardware_rule, progress
        self.stop_when_reached = stop_when_reached
        self.candidates: list[Candidate] = []
        self.history: list[tuple[int, float]] = []
        self._best: Candidate | None = None

    def __call__(self, U: np.ndarray) -> np.ndarray:
        from .hardware import design as hardware_design

        U = np.atleast_2d(U)
        X = np.column_stack([f.value(U[:, j]) for j, f in enumerate(self.free)])
        try:
            ev = evaluate(self.base, self.keys, X, self.metrics, workers=self.workers,
                          check=hardware_design if self.hardware_rule else None)
        except Exception as exc:
            raise _Failed(exc) from exc
        costs = np.empty(X.shape[0])
        for i in range(X.shape[0]):
            costs[i] = _cost(self.targets, ev.values[i]) if not ev.errors[i] else PENALTY
            got = {m: (float(a) if math.isfinite(a) else None) for m, a in zip(self.metrics, ev.values[i])}
            c = Candidate(dict(zip(self.keys, X[i].tolist())), float(costs[i]), got, ev.errors[i])
            self.candidates.append(c)
            if self._best is None or c.cost < self._best.cost:
                self._best = c
        assert self._best is not None
        self.history.append((len(self.candidates), self._best.cost))
        if self.progress:
            self.progress(len(self.history), self._best.cost)
        if self.stop_when_reached and self.reached():
            raise _Reached
        return costs

    @property
    def best(self) -> Candidate:
        assert self._best is not None, "nothing evaluated yet"
        return self._best

    def reached(self) -> bool:
        """Whether the best candidate so far meets every target."""
        return (self._best is not None and not self._best.error
                and all(t.met(self._best.achieved.get(t.metric)) for t in self.targets))


def generation_size(popsize: int, n_free: int) -> int:
    """Candidates per generation: ``popsize`` per free parameter, at least 5 (the optimiser's floor)."""
    return max(5, popsize * n_free)


def check_design(base: Params, targets: Sequence[Target], free: Sequence[Free], popsize: int = 15,
                 generations: int = 60) -> None:
    """Everything a search needs, checked before it starts (ParamError)."""
    from .ode import check_step

    if not targets:
        raise ParamError("--target: give at least one target")
    if not free:
        raise ParamError("--free: give at least one free parameter")
    if len({t.metric for t in targets}) != len(targets):
        raise ParamError("--target: a metric is given twice")
    check_keys(base, [f.key for f in free], "--free")
    check_step(base)
    if popsize < 1 or generations < 1:
        raise ParamError("--popsize, --generations: expected integers >= 1")
    most = generation_size(popsize, len(free)) * generations
    if most > MAX_NEURONS:
        raise ParamError(f"--popsize, --generations: up to {most} neurons; at most {MAX_NEURONS} in one search")


def run_design(base: Params, targets: Sequence[Target], free: Sequence[Free], *, popsize: int = 15,
               generations: int = 60, seed: int = 0, workers: int | None = None, hardware_rule: bool = True,
               spice: bool = True, progress: Callable[[int, float], None] | None = None) -> DesignResult:
    """Search the ``free`` parameters for a design that meets ``targets`` (module docstring).
    ``progress(generation, best cost)`` after each generation."""
    from scipy.optimize import differential_evolution

    targets, free = tuple(targets), tuple(free)
    check_design(base, targets, free, popsize, generations)
    keys = [f.key for f in free]
    search = Objective(base, targets, free, workers=workers, hardware_rule=hardware_rule, progress=progress,
                       stop_when_reached=True)
    t0 = time.perf_counter()
    try:  # generations counts the first population: scipy's maxiter counts the ones after it
        differential_evolution(lambda U: search(U.T), [(0.0, 1.0)] * len(free), popsize=popsize,
                               maxiter=generations - 1, seed=seed, vectorized=True, updating="deferred",
                               polish=False, tol=0.0, atol=-1.0, init="latinhypercube")
        # atol < 0: no stop on a population of equal costs (all infeasible, or all on one
        # count): only the targets or the generations end the search
    except _Reached:
        pass
    except _Failed as exc:
        raise exc.error from None
    candidates, history = search.candidates, search.history
    search_s = time.perf_counter() - t0
    if all(c.error for c in candidates):
        raise ParamError(f"design: none of the {len(candidates)} candidates tried in the ranges is a valid "
                         f"design, e.g. {candidates[0].error}")
    best, reached = search.best, search.reached()
    runners: list[Candidate] = []
    for c in sorted(candidates, key=lambda c: c.cost):
        if c is best or c.error or any(all(abs(c.values[k] - r.values[k]) <= 1e-3 * abs(r.values[k]) for k in keys)
                          for r in [best, *runners]):
            continue
        runners.append(c)
        if len(runners) == RUNNERS_UP:
            break
    best_params = base.with_values(best.values) if not best.error else None
    result = DesignResult(base, targets, free, best, best_params, runners, history, len(candidates), reached,
                          search_s, hardware_rule=hardware_rule, seed=seed, popsize=popsize)
    if spice and best_params is not None:
        verify(result)
    return result


def verify(result: DesignResult) -> None:
    """Run the best design's ideal and hardware circuits in ngspice (side by side) and
    record their values of the target metrics."""
    from concurrent.futures import ThreadPoolExecutor

    from .metrics import neuron_metrics
    from .spice import run_circuit

    p = result.best_params
    assert p is not None
    metrics = tuple(t.metric for t in result.targets)
    circuits = ("ideal", "hardware") if result.hardware_rule else ("ideal",)

    def job(circuit: str) -> dict:
        try:
            tr = run_circuit(p, circuit)
        except AlifError as exc:
            return {"error": str(exc)}
        m = neuron_metrics(p, tr.time, tr["v_c"], tr["i_in"], tr.spikes, metrics)
        return {k: (float(v) if v is not None and math.isfinite(v) else None) for k, v in m.items()}

    t0 = time.perf_counter()
    pool = ThreadPoolExecutor(len(circuits))
    try:
        out = dict(zip(circuits, pool.map(job, circuits)))
    except BaseException:  # interrupted: end the ngspice runs now, do not wait for them
        from .spice import kill_all

        kill_all()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    result.verification = out
    result.verify_s = time.perf_counter() - t0


# ----------------------------------------------------------------------------- outputs


def _fig_convergence(result: DesignResult):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4))
    ax1, ax2 = fig.subplots(1, 2)
    n, c = zip(*result.history)
    ax1.semilogy(n, np.maximum(c, 1e-6), "o-", ms=3)
    ax1.axhline(sum(t.weight for t in result.targets), color="tab:green", ls="--",
                label="cost with every target at its tolerance")
    ax1.set_xlabel("neurons evaluated")
    ax1.set_ylabel("best cost so far")
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    engines = ["model", *result.verification]
    width = 0.8 / len(engines)
    x = np.arange(len(result.targets))
    for k, e in enumerate(engines):
        got = result.best.achieved if e == "model" else result.verification[e]
        vals = [got.get(t.metric) for t in result.targets]
        rel = [(v - t.value) / t.value * 100 if v is not None and t.value else np.nan
               for v, t in zip(vals, result.targets)]
        ax2.bar(x + (k - (len(engines) - 1) / 2) * width, rel, width, label=e)
    for i, t in enumerate(result.targets):
        ax2.plot([i - 0.45, i + 0.45], [t.tol * 100] * 2, "k--", lw=0.8)
        ax2.plot([i - 0.45, i + 0.45], [-t.tol * 100] * 2, "k--", lw=0.8)
    ax2.set_xticks(x, [t.metric for t in result.targets], fontsize=8)
    ax2.set_ylabel("achieved - target (% of target); dashed: tolerance")
    ax2.axhline(0, color="k", lw=0.5)
    ax2.grid(alpha=0.3, axis="y")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return fig


def result_json(result: DesignResult) -> dict:
    from .compare import json_ready

    def cand(c: Candidate) -> dict:
        return {"values": c.values, "cost": c.cost, "achieved": c.achieved}

    return json_ready({
        "reached": result.reached, "summary": result.summary(),
        "targets": [{"metric": t.metric, "value": t.value, "tol": t.tol, "weight": t.weight} for t in result.targets],
        "free": [{"key": f.key, "low": f.lo, "high": f.hi, "scale": "log" if f.log else "linear"}
                 for f in result.free],
        "best": cand(result.best),
        "met": {"model": result.met("model"),
                **{c: result.met(c) for c, v in result.verification.items() if "error" not in v}},
        "verification": result.verification,
        "runners_up": [cand(c) for c in result.runners_up],
        "history": [{"neurons": n, "best_cost": c} for n, c in result.history],
        "optimiser": {"method": "scipy differential evolution (vectorised, deferred updating, Latin hypercube "
                                "start)", "popsize": result.popsize, "seed": result.seed,
                      "hardware_design_rule": result.hardware_rule},
        "neurons_evaluated": result.evaluations, "search_s": result.search_s, "verify_s": result.verify_s,
    })


def write_outputs(result: DesignResult, plan, command: list[str] | None = None) -> Path:
    """``design.toml`` (ready for ``--params``; only where a design was found), ``design.json``,
    ``figures/convergence.*``, ``report.html`` and the manifest, atomically; returns report.html."""
    from .files import OutputDir, atomic_dir
    from .pages import render
    from .provenance import record

    prov = record(command, ngspice=bool(result.verification))
    with atomic_dir(plan, "design") as tmp:
        figdir = tmp / "figures"
        figdir.mkdir()
        fig = _fig_convergence(result)
        fig.savefig(figdir / "convergence.png", dpi=110)
        fig.savefig(figdir / "convergence.svg")
        data = result_json(result)
        (tmp / "design.json").write_text(json.dumps(data, indent=2) + "\n")
        if result.best_params is not None:
            head = ("# alif-spice design: " + ("every target met by the model" if result.reached else
                                                "TARGETS NOT MET: the closest design found") + "\n"
                    + "".join(f"#   {t.metric} = {t.value:g} (tol {t.tol:.3g}): model "
                              f"{result.best.achieved.get(t.metric)}\n" for t in result.targets)
                    + "# use with: --params design.toml\n")
            (tmp / "design.toml").write_text(head + result.best_params.to_toml())
        files = sorted(str(f.relative_to(tmp)) for f in tmp.rglob("*") if f.is_file()) + ["report.html",
                                                                                         "manifest.json"]
        engines = ["model", *result.verification]
        rows = []
        for t in result.targets:
            cells = []
            for e in engines:
                got = result.best.achieved if e == "model" else result.verification[e]
                v = got.get(t.metric) if "error" not in got else None
                cells.append({"value": v, "met": t.met(v)})
            rows.append({"metric": t.metric, "target": t.value, "tol": t.tol, "cells": cells})
        html = render("design.html.j2", title="alif-spice: design", data=data, rows=rows, engines=engines,
                      figure=figdir / "convergence.png", prov=prov, files=files)
        (tmp / "report.html").write_text(html, encoding="utf-8")
        manifest = {**prov, "parameters": result.base.to_dict(), "reached": result.reached,
                    "search_s": result.search_s, "verify_s": result.verify_s}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return (plan.path if isinstance(plan, OutputDir) else Path(plan)) / "report.html"
