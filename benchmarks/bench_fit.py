"""Fit speed: one file of 5 periods x 200 samples (target: under a minute on this machine).

Synthetic 100 Hz data from the model (series resistor in the loop, 1 % noise); prints the
median wall time of several fits, the number of simulations, and the recovered errors.
Run: .venv/bin/python benchmarks/bench_fit.py [--repeats N]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from alif_spice import load_params
from alif_spice.fit import fit, read_measurement
from alif_spice.ode import solve_iv

from _timing import median_time

TRUTH = dict(r_on=1351.0, r_off=7510.0, v_on=0.3408, v_off=0.0941, tau=2.53e-4)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    p = load_params(values={"iv.frequency": 100.0, "iv.periods": 7, "iv.points_per_period": 200})
    tr = solve_iv(p)
    rng = np.random.default_rng(0)
    v_src, v_r = tr["v_src"], tr["v_src"] - tr["v_mem"]
    v_src = v_src + 0.01 * np.abs(v_src).max() * rng.standard_normal(v_src.size)
    v_r = v_r + 0.01 * np.abs(v_r).max() * rng.standard_normal(v_r.size)
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "m.csv"
        np.savetxt(f, np.c_[tr.time, v_src, v_r], delimiter=",")
        m = read_measurement(f, "time,source_voltage,resistor_voltage", series_resistor=5110.0, max_periods=5)
    fit([m], maxiter=2)  # compile outside the timing
    t_fit, result = median_time(lambda: fit([m]), args.repeats)
    print(f"data: {m.periods} periods x {m.t.size // m.periods} samples at {m.frequency:.4g} Hz")
    print(f"fit: median {t_fit:.2f} s over {args.repeats} runs "
          f"({result.evaluations} simulations), target < 60 s; cost {result.cost:.3g}")
    print("relative errors: " + ", ".join(f"{k} {(result.params[k] - v) / v:+.3f}" for k, v in TRUTH.items()))


if __name__ == "__main__":
    main()
