"""Speed of the ideal circuit per simulated millisecond: this version against a netlist file.

Runs the paper preset's ideal circuit (10 ms) as rendered now and, optionally, an older
rendered netlist of the same parameters (e.g. from `git show OLD:netlists/...` rendered
with that version), alternating, and prints median wall times per simulated ms.
Run: .venv/bin/python benchmarks/bench_ideal_speed.py [--old OLD.cir] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from alif_spice import load_params
from alif_spice.netlist import render
from alif_spice.spice import run_netlist


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", type=Path, default=None)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    p = load_params("paper")
    texts = {"now": render(p, "ideal").text}
    if args.old:
        texts["old"] = args.old.read_text()
    t_ms = p.simulation.t_stop * 1e3
    times: dict[str, list[float]] = {k: [] for k in texts}
    run_netlist(texts["now"], p.simulation.t_stop)  # load the library once, outside the timing
    for _ in range(args.repeats):
        for name, text in texts.items():
            t0 = time.perf_counter()
            run_netlist(text, p.simulation.t_stop)
            times[name].append(time.perf_counter() - t0)
    for name, ts in times.items():
        print(f"{name:4s}: median {statistics.median(ts):.3f} s for {t_ms:g} ms -> "
              f"{statistics.median(ts) / t_ms * 1e3:.1f} ms wall per simulated ms (runs: "
              + ", ".join(f"{v:.2f}" for v in ts) + ")")


if __name__ == "__main__":
    main()
