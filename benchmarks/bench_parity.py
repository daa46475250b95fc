"""Ideal circuit vs the RK4 model on random parameter sets (and the latch's exactness).

Draws N sets (seeded) over the ranges of alif_spice.randomsets, three input periods each,
a third with t_ref = 0, runs the model and the ideal circuit, and prints the distribution
of max |spike-time difference| / mean ISI, how many sets pass (equal counts and <= 0.5 %),
hold and latch checks, and SPICE wall times. Twice: with the SPICE step capped at the
model's mean ISI / 200, and with the preset's max_step alone.
Run: .venv/bin/python benchmarks/bench_parity.py [--n 100] [--seed 11]
"""

from __future__ import annotations

import argparse

import numpy as np

from alif_spice.randomsets import draw_sets, ideal_parity


def summary(label: str, results) -> None:
    fired = [r for r in results if r.n_model >= 2]
    errs = np.array([r.max_error_rel_isi if r.max_error_rel_isi is not None else np.inf for r in fired])
    walls = np.array([r.spice_wall_s for r in results])
    holds = np.concatenate([np.abs(r.holds - r.hold) for r in results if r.holds.size])
    latch = max(r.latch_off_max for r in results)
    print(f"\n{label}")
    print(f"  sets {len(results)}, firing (>= 2 model spikes) {len(fired)}, "
          f"equal spike counts {sum(r.n_model == r.n_spice for r in results)}/{len(results)}, "
          f"pass (<= 0.5 % of mean ISI) {sum(r.passed for r in results)}/{len(results)}")
    q = np.percentile(errs[np.isfinite(errs)], [50, 90, 99, 100]) if np.isfinite(errs).any() else [np.nan] * 4
    print(f"  max |dt| / mean ISI: median {q[0]:.2e}, 90 % {q[1]:.2e}, 99 % {q[2]:.2e}, max {q[3]:.2e}")
    print(f"  worst sets: " + ", ".join(f"#{i} {e:.2e}" for i, e in sorted(enumerate(errs), key=lambda v: -v[1])[:5]))
    print(f"  |hold - t_ref| max {holds.max() * 1e9:.4f} ns over {holds.size} holds; "
          f"latch between spikes max {latch * 1e3:.4f} mV")
    print(f"  SPICE wall: median {np.median(walls):.2f} s, max {walls.max():.2f} s, total {walls.sum():.0f} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--preset-step", action="store_true", help="also run with the preset max_step alone")
    args = ap.parse_args()
    sets = draw_sets(args.seed, args.n)
    runs = [("SPICE max step <= mean ISI / 200", 200.0)]
    if args.preset_step:
        runs.append(("SPICE max step = preset (100 ns)", None))
    for label, steps in runs:
        results = []
        for i, p in enumerate(sets):
            r = ideal_parity(p, steps)
            results.append(r)
            err = "n/a" if r.max_error_rel_isi is None else f"{r.max_error_rel_isi:.2e}"
            print(f"#{i:3d} t_ref={p.neuron.t_ref:.2e} spikes {r.n_model}/{r.n_spice} err {err} "
                  f"max_step {r.max_step:.2e} wall {r.spice_wall_s:.2f} s {'ok' if r.passed else 'FAIL'}",
                  flush=True)
        summary(label, results)


if __name__ == "__main__":
    main()
