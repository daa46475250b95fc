"""Model selection speed: the four device models fitted to one file (5 periods x 200 samples),
in parallel across models, next to the single-model (MMS) fit of the same file
(target: the four-model fit under a minute on this 2-core machine).

Synthetic 100 Hz MMS data (the preset device, series resistor in the loop, 1 % noise).
Prints the median wall time of each, their ratio, each model's own fit time and cost, and
the model the selection picks.
Run: .venv/bin/python benchmarks/bench_fit_models.py [--repeats N]
"""

from __future__ import annotations

import argparse


from alif_spice import load_params
from alif_spice.fit import fit, model_names, select_model

from _timing import median_time, synthetic_measurement


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    m = synthetic_measurement()
    base = load_params("paper")
    models = model_names("all")
    fit([m], base, maxiter=2)  # compile outside the timing
    t_one, _ = median_time(lambda: fit([m], base), args.repeats)
    t_all, sel = median_time(lambda: select_model([m], base, models), args.repeats)
    print(f"data: {m.periods} periods x {m.t.size // m.periods} samples at {m.frequency:.4g} Hz")
    print(f"single model (MMS): median {t_one:.1f} s over {args.repeats} runs")
    print(f"{len(models)} models ({', '.join(models)}), in parallel: median {t_all:.1f} s over {args.repeats} runs "
          f"(x{t_all / t_one:.2f} the single fit), target < 60 s")
    for row in sel.table():
        print(f"  {row['model']:<9} k={row['free_parameters']:<2} {row['seconds']:6.1f} s  cost {row['cost']:.4g}  "
              f"dBIC {row['delta_bic']:.1f}")
    print(f"selected: {sel.best}")


if __name__ == "__main__":
    main()
