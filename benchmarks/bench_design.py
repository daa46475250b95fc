"""Inverse-design speed, and the choice of optimiser: scipy's differential evolution (the
one `alif-spice design` uses) against CMA-ES (the `cma` package) on the same problem.

Problem: four free parameters (neuron.c 5n:100n, neuron.r_s 500:20k, neuron.v_th 0.2:0.7,
memristor.tau 50u:2m) and three targets computed from a known neuron (c 33 nF, r_s 4.7 kΩ,
v_th 0.45 V, tau 0.4 ms): first_period_spikes, adaptation_ratio, energy_per_spike_j, each
within 2 %. Both optimisers run on the same cost function (alif_spice.design.Objective, one
batch kernel call per generation on all cores) and stop at the first generation whose best
design meets every target, or after 3600 neurons. The design command's time includes the
ngspice verification of the best design (ideal and hardware circuits, side by side).
Target: under 60 s on this 2-core machine. Prints, per optimiser and seed, whether the
targets were reached, the neurons evaluated and the wall time; then medians.
Run: .venv/bin/python benchmarks/bench_design.py [--seeds N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from alif_spice import load_params
from alif_spice.batch import evaluate
from alif_spice.design import Free, Objective, Target, run_design

KNOWN = {"neuron.c": 33e-9, "neuron.r_s": 4.7e3, "neuron.v_th": 0.45, "memristor.tau": 4e-4}
FREE = [Free("neuron.c", 5e-9, 100e-9), Free("neuron.r_s", 500.0, 20e3), Free("neuron.v_th", 0.2, 0.7),
        Free("memristor.tau", 50e-6, 2e-3)]
METRICS = ("first_period_spikes", "adaptation_ratio", "energy_per_spike_j")
BUDGET = 3600


PROBLEMS = {
    # name: (free parameters, targets: a known neuron's values or given numbers)
    "known neuron A": (FREE, KNOWN),
    "known neuron B": (FREE, {"neuron.c": 12e-9, "neuron.r_s": 2e3, "neuron.v_th": 0.3, "memristor.tau": 1e-3}),
    "15 spikes, ratio 3": (FREE[:3], {"first_period_spikes": 15.0, "adaptation_ratio": 3.0}),
}


def cma_search(base, free, targets, seed: int) -> tuple[bool, int]:
    import cma

    search = Objective(base, targets, free)
    es = cma.CMAEvolutionStrategy([0.5] * len(free), 0.3, {"bounds": [0, 1], "seed": seed + 1, "verbose": -9,
                                                            "popsize": 15})
    while not es.stop() and len(search.candidates) < BUDGET:
        U = np.array(es.ask())
        es.tell(list(U), list(search(U)))
        if search.reached():
            break
    return search.reached(), len(search.candidates)


def problem_targets(base, free, given) -> list[Target]:
    if all(k in METRICS for k in given):
        return [Target(m, v) for m, v in given.items()]
    ev = evaluate(base, list(given), np.array([list(given.values())]), METRICS)
    return [Target(m, float(v)) for m, v in zip(METRICS, ev.values[0])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    base = load_params("paper")
    run_design(base, [Target("n_spikes", 100)], FREE, generations=1, spice=False)  # compile outside the timing
    for pname, (free, given) in PROBLEMS.items():
        targets = problem_targets(base, free, given)
        print(f"\n{pname}: {len(free)} free; targets " + ", ".join(f"{t.metric} = {t.value:.6g}" for t in targets))
        rows: dict[str, list[tuple[bool, int, float]]] = {"differential evolution + ngspice": [], "CMA-ES": []}
        for seed in range(args.seeds):
            t0 = time.perf_counter()
            res = run_design(base, targets, free, seed=seed, generations=BUDGET // (15 * len(free)))
            wall = time.perf_counter() - t0
            rows["differential evolution + ngspice"].append((res.reached, res.evaluations, wall))
            print(f"  DE     seed {seed}: reached {res.reached}, {res.evaluations} neurons, "
                  f"search {res.search_s:.1f} s + ngspice {res.verify_s:.1f} s = {wall:.1f} s; "
                  f"ideal meets: {all(res.met('ideal').values())}, "
                  f"hardware meets: {all(res.met('hardware').values())}")
            try:
                t0 = time.perf_counter()
                reached, n = cma_search(base, free, targets, seed)
                wall = time.perf_counter() - t0
            except ImportError:
                print("  CMA-ES: the cma package is not installed (pip install cma): skipped")
                continue
            rows["CMA-ES"].append((reached, n, wall))
            print(f"  CMA-ES seed {seed}: reached {reached}, {n} neurons, search {wall:.1f} s")
        for name, r in rows.items():
            if r:
                print(f"  {name}: reached {sum(x[0] for x in r)}/{len(r)}, median "
                      f"{statistics.median(x[1] for x in r):.0f} neurons, median "
                      f"{statistics.median(x[2] for x in r):.1f} s")


if __name__ == "__main__":
    main()
