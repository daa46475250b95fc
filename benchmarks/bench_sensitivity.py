"""Sensitivity speed: ten parameters at N = 1024 Sobol' base samples (N (D + 2) = 12288
neurons, plus 21 for the one-at-a-time scan) with the three default metrics, one of them the
input energy per spike (which needs the recorded v_c), on all cores; next to the same run on
one thread (the ratio is what the threads buy) and to one metric that needs no trace.
Target: under 60 s on this 2-core machine. Prints median wall times over the repeats.
Run: .venv/bin/python benchmarks/bench_sensitivity.py [--repeats N]
"""

from __future__ import annotations

import argparse

from alif_spice import load_params
from alif_spice.sensitivity import parse_spread, run_sensitivity

from _timing import median_time

VARY = ["memristor.r_on=10%", "memristor.r_off=10%", "memristor.tau=20%", "memristor.v_on=10%",
        "memristor.v_off=10%", "neuron.c=10%", "neuron.r_s=10%", "neuron.v_th=5%", "neuron.t_ref=20%",
        "stimulus.amplitude=5%"]
METRICS = ["adaptation_ratio", "first_period_spikes", "energy_per_spike_j"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--samples", type=int, default=1024)
    args = ap.parse_args()
    base = load_params("paper")
    spreads = [parse_spread(v) for v in VARY]
    run_sensitivity(base, spreads[:2], METRICS, n=8)  # compile outside the timing
    t_all, res = median_time(lambda: run_sensitivity(base, spreads, METRICS, n=args.samples), args.repeats)
    n = res.X.shape[0]
    print(f"{len(spreads)} parameters, N = {args.samples}: {n} neurons + {2 * len(spreads) + 1} one at a time")
    print(f"three metrics (energy needs v_c), all cores: median {t_all:.1f} s over {args.repeats} runs "
          f"({n / t_all:.0f} neurons/s), target < 60 s")
    t_one, _ = median_time(lambda: run_sensitivity(base, spreads, METRICS, n=args.samples, workers=1), 1)
    print(f"the same on one thread: {t_one:.1f} s (x{t_one / t_all:.2f} the all-core time)")
    t_spk, _ = median_time(lambda: run_sensitivity(base, spreads, METRICS[:2], n=args.samples), args.repeats)
    print(f"two metrics without the energy (no trace recorded), all cores: median {t_spk:.1f} s "
          f"(x{t_spk / t_all:.2f} the three-metric time)")
    for m in res.metrics:
        print(f"  {res.verdict(m)}")


if __name__ == "__main__":
    main()
