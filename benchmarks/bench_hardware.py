"""Hardware circuit vs the RK4 model on random parameter sets (designed [hardware] values).

Draws N sets (seeded, the ranges of alif_spice.randomsets, three input periods each) and
prints for each: spikes per input period of the model and of the hardware circuit, the
per-period count ratio hardware/model, whether the hardware fires wherever the model
fires, stuck outputs, the adaptation ratio (first period / last) of each; then the
distribution of the ratios (goal: within ±25 % on every set) and wall times.
Run: .venv/bin/python benchmarks/bench_hardware.py [--n 100] [--seed 11]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from alif_spice import solve_ode
from alif_spice.compare import adaptation_ratio, spikes_per_period
from alif_spice.errors import ParamError, SimulationError
from alif_spice.randomsets import draw_sets
from alif_spice.spice import run_circuit
from alif_spice.stimulus import SquareWave
from alif_spice.stuck import check_stuck


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    ratios, set_ratio, walls, refused, failed, stuck_sets, silent_where_model_fires = [], [], [], 0, 0, 0, 0
    fired_sets = 0
    for i, p in enumerate(draw_sets(args.seed, args.n)):
        stim, t_stop = SquareWave.from_params(p), p.simulation.t_stop
        model = spikes_per_period(solve_ode(p).spikes, stim, t_stop)
        t0 = time.perf_counter()
        try:
            tr = run_circuit(p, "hardware")
        except (ParamError, SimulationError) as exc:
            refused += isinstance(exc, ParamError)
            failed += isinstance(exc, SimulationError)
            print(f"#{i:3d} model {model} hardware: {exc}", flush=True)
            continue
        walls.append(time.perf_counter() - t0)
        hw = spikes_per_period(tr.spikes, stim, t_stop)
        stuck = check_stuck(tr, p, "hardware")
        stuck_sets += stuck.stuck
        r = [h / m for h, m in zip(hw, model) if m >= 2]
        if r:
            fired_sets += 1
            ratios += r
            set_ratio.append(max(r, key=lambda v: abs(v - 1)))
        silent = any(m >= 2 and h == 0 for m, h in zip(model, hw))
        silent_where_model_fires += silent
        print(f"#{i:3d} model {model} hardware {hw} ratio {['%.2f' % v for v in r]} adaptation "
              f"{adaptation_ratio(model):.3g} / {adaptation_ratio(hw):.3g}"
              f"{' STUCK' if stuck.stuck else ''}{' SILENT' if silent else ''} wall {walls[-1]:.1f} s", flush=True)
    ratios, set_ratio = np.array(ratios), np.array(set_ratio)
    print(f"\nsets {args.n}: design refused (exit 2) {refused}, ngspice failed (exit 3) {failed}, stuck {stuck_sets}, "
          f"hardware silent in a period where the "
          f"model fires (>= 2 spikes) {silent_where_model_fires}")
    if ratios.size:
        q = np.percentile(ratios, [0, 5, 50, 95, 100])
        print(f"per-period count ratio hardware/model over {ratios.size} periods of {fired_sets} firing sets: "
              f"min {q[0]:.2f}, 5 % {q[1]:.2f}, median {q[2]:.2f}, 95 % {q[3]:.2f}, max {q[4]:.2f}")
        inside = np.mean(np.abs(set_ratio - 1) <= 0.25)
        print(f"sets whose every period is within ±25 %: {inside * 100:.0f} % ({np.sum(np.abs(set_ratio - 1) <= 0.25)}"
              f"/{set_ratio.size})")
    if walls:
        print(f"SPICE wall: median {np.median(walls):.2f} s, max {max(walls):.2f} s, total {sum(walls):.0f} s")


if __name__ == "__main__":
    main()
