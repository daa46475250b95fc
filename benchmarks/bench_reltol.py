"""Time versus accuracy of the ideal circuit over ngspice's reltol.

For each reltol: the paper preset (10 ms) and a few random sets (alif_spice.randomsets,
SPICE max step <= mean ISI / 200): wall time of the transient and max |spike-time
difference| / mean ISI against the RK4 model (equal spike counts required).
Run: .venv/bin/python benchmarks/bench_reltol.py [--sets 6] [--seed 5]
"""

from __future__ import annotations

import argparse

from alif_spice import load_params
from alif_spice.randomsets import draw_sets, ideal_parity


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", type=int, default=6)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    cases = [("paper", load_params("paper"))] + [(f"random #{i}", p)
                                                 for i, p in enumerate(draw_sets(args.seed, args.sets))]
    print(f"{'set':11s} {'reltol':>7s} {'spikes':>11s} {'max|dt|/ISI':>12s} {'wall (s)':>9s}")
    for name, p in cases:
        for reltol in (1e-7, 1e-6, 1e-5, 1e-4):
            r = ideal_parity(p.with_values({"simulation.reltol": reltol}), None if name == "paper" else 200.0)
            err = "n/a" if r.max_error_rel_isi is None else f"{r.max_error_rel_isi:.2e}"
            print(f"{name:11s} {reltol:7.0e} {r.n_model:>5d}/{r.n_spice:<5d} {err:>12s} {r.spice_wall_s:9.2f}",
                  flush=True)


if __name__ == "__main__":
    main()
