"""Ideal circuit vs the RK4 model on random parameter sets (and the latch's exactness).

Draws N sets (seeded) over the ranges of alif_spice.randomsets, three input periods each,
a third with t_ref = 0, runs the model and the ideal circuit, and prints the distribution
of max |spike-time difference| / mean ISI, how many sets pass (equal counts and <= 0.5 %),
hold and latch checks, and SPICE wall times. The SPICE step is capped at the model's
mean ISI / --steps-per-isi (default 200).
Run: .venv/bin/python benchmarks/bench_parity.py [--n 100] [--seed 11] [--steps-per-isi 200]
     [--only 22,39]  (only these set numbers)
"""

from __future__ import annotations

import argparse

import numpy as np

from alif_spice.randomsets import draw_sets, ideal_parity


def summary(label: str, results, index) -> None:
    fired = [(i, r) for i, r in zip(index, results) if r.n_model >= 2]
    errs = np.array([r.max_error_rel_isi if r.max_error_rel_isi is not None else np.inf for _, r in fired])
    walls = np.array([r.spice_wall_s for r in results])
    holds = np.concatenate([np.abs(r.holds - r.hold) for r in results if r.holds.size])
    latch = max(r.latch_off_max for r in results)
    print(f"\n{label}")
    print(f"  sets {len(results)}, firing (>= 2 model spikes) {len(fired)}, "
          f"equal spike counts {sum(r.n_model == r.n_spice for r in results)}/{len(results)}, "
          f"pass (<= 0.5 % of mean ISI) {sum(r.passed for r in results)}/{len(results)}")
    q = np.percentile(errs[np.isfinite(errs)], [50, 90, 99, 100]) if np.isfinite(errs).any() else [np.nan] * 4
    print(f"  max |dt| / mean ISI: median {q[0]:.2e}, 90 % {q[1]:.2e}, 99 % {q[2]:.2e}, max {q[3]:.2e}")
    worst = sorted(zip([i for i, _ in fired], errs), key=lambda v: -v[1])[:8]
    print("  worst sets: " + ", ".join(f"#{i} {e:.2e}" for i, e in worst))
    print(f"  |hold - t_ref| max {holds.max() * 1e9:.4f} ns over {holds.size} holds; "
          f"latch between spikes max {latch * 1e3:.4f} mV")
    print(f"  SPICE wall: median {np.median(walls):.2f} s, max {walls.max():.2f} s, total {walls.sum():.0f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--steps-per-isi", type=float, default=200.0,
                    help="SPICE max step <= model mean ISI / this (0: the preset's max_step alone)")
    ap.add_argument("--only", default="", help="comma-separated set numbers to run (default: all)")
    args = ap.parse_args()
    sets = draw_sets(args.seed, args.n)
    index = [int(v) for v in args.only.split(",")] if args.only else list(range(len(sets)))
    steps = args.steps_per_isi or None
    runs = [(f"SPICE max step <= mean ISI / {steps:g}" if steps else "SPICE max step = preset", steps)]
    for label, steps in runs:
        results = []
        for i in index:
            p = sets[i]
            r = ideal_parity(p, steps)
            results.append(r)
            err = "n/a" if r.max_error_rel_isi is None else f"{r.max_error_rel_isi:.2e}"
            print(f"#{i:3d} t_ref={p.neuron.t_ref:.2e} spikes {r.n_model}/{r.n_spice} err {err} "
                  f"max_step {r.max_step:.2e} wall {r.spice_wall_s:.2f} s {'ok' if r.passed else 'FAIL'}",
                  flush=True)
        summary(label, results, index)


if __name__ == "__main__":
    main()
