"""The same netlists on two ngspice libraries, side by side: time points, seconds, spikes.

Each library runs in its own process (NGSPICE_LIBRARY_PATH), alternately, so that load
on the machine hits both alike. For the paper preset's ideal, hardware and memristor-iv
circuits and a bare RC transient (200k points) it prints the median seconds of the
runner (load, transient, vectors back), the number of time points, and, for the neuron
circuits, the spike count and the largest spike-time difference to the RK4 model.

Run: .venv/bin/python benchmarks/bench_ngspice_versions.py OTHER_LIBNGSPICE [--repeats N]
(e.g. .ngspice-next/lib/libngspice.so.0 after `make test-ngspice-next`, or
`bash tools/ngspice-next.sh DIR`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

RC = """* bare RC
I1 0 a PULSE(0 1m 0 1u 1u 0.5m 1m)
R1 a 0 10k
C1 a 0 47n
.options reltol=1e-4
.tran 50n 10m 0 50n
.end
"""

ONE_RUN = r"""
import json, sys, time
import numpy as np
from alif_spice import load_params, solve_ode
from alif_spice.netlist import render
from alif_spice.spice import ngspice_version, run_netlist, trace_from_vectors
case, rc = sys.argv[1], sys.argv[2]
p = load_params("paper")
if case == "rc":
    text, t_stop, netlist = rc, 10e-3, None
else:
    netlist = render(p, case)
    text, t_stop = netlist.text, netlist.t_stop
run_netlist(text, t_stop)  # start the library outside the timing
t0 = time.perf_counter()
vectors = run_netlist(text, t_stop)
seconds = time.perf_counter() - t0
out = {"version": ngspice_version(), "seconds": seconds, "points": int(vectors["time"].size)}
if case in ("ideal", "hardware"):
    spikes = trace_from_vectors(p, netlist, vectors).spikes
    ref = solve_ode(p).spikes
    out["spikes"] = int(spikes.size)
    out["ode_spikes"] = int(ref.size)
    if spikes.size == ref.size:
        out["max_spike_error_s"] = float(np.max(np.abs(spikes - ref)))
print(json.dumps(out))
"""


def one(case: str, library: str | None) -> dict:
    env = dict(os.environ)
    if library:
        env["NGSPICE_LIBRARY_PATH"] = library
    else:
        env.pop("NGSPICE_LIBRARY_PATH", None)
    res = subprocess.run([sys.executable, "-c", ONE_RUN, case, RC], env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("other", help="path of the other libngspice.so.0")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"{'circuit':13s} {'ngspice':>7s} {'points':>8s} {'median s':>9s} {'spikes':>7s} "
          f"{'max |spike - RK4| (s)':>22s} {'ratio':>6s}")
    for case in ("rc", "ideal", "hardware", "memristor-iv"):
        runs: dict[str | None, list[dict]] = {None: [], args.other: []}
        for _ in range(args.repeats):
            for lib in runs:  # alternate, so that load hits both alike
                runs[lib].append(one(case, lib))
        base = None
        for rs in runs.values():
            med = statistics.median(r["seconds"] for r in rs)
            base = base or med
            last = rs[-1]
            spikes = f"{last['spikes']}/{last['ode_spikes']}" if "spikes" in last else ""
            err = f"{last['max_spike_error_s']:.3g}" if "max_spike_error_s" in last else ""
            print(f"{case:13s} {last['version']:>7s} {last['points']:8d} {med:9.3f} {spikes:>7s} {err:>22s} "
                  f"{med / base:6.2f}")
    print("ratio: median seconds / the system library's (first row of each circuit)")


if __name__ == "__main__":
    main()
