"""Fit speed: one file of 5 periods x 200 samples (target: under a minute on this machine).

Synthetic 100 Hz data from the model (series resistor in the loop, 1 % noise); prints the
median wall time of several fits, the number of simulations, and the recovered errors.
Run: .venv/bin/python benchmarks/bench_fit.py [--repeats N]
"""

from __future__ import annotations

import argparse


from alif_spice.fit import fit

from _timing import median_time, synthetic_measurement

TRUTH = dict(r_on=1351.0, r_off=7510.0, v_on=0.3408, v_off=0.0941, tau=2.53e-4)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    m = synthetic_measurement()
    fit([m], maxiter=2)  # compile outside the timing
    t_fit, result = median_time(lambda: fit([m]), args.repeats)
    print(f"data: {m.periods} periods x {m.t.size // m.periods} samples at {m.frequency:.4g} Hz")
    print(f"fit: median {t_fit:.2f} s over {args.repeats} runs "
          f"({result.evaluations} simulations), target < 60 s; cost {result.cost:.3g}")
    print("relative errors: " + ", ".join(f"{k} {(result.params[k] - v) / v:+.3f}" for k, v in TRUTH.items()))


if __name__ == "__main__":
    main()
