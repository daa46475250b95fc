"""Overhead of the PySpice runner over plain ngspice (issue: SPICE side).

The same rendered netlist, run side by side: `ngspice -b FILE` as a subprocess (stdout
to /dev/null) and alif_spice.spice.run_netlist (load, transient, read vectors, clean up,
in the runner's ngspice child process, vectors sent back to this one). Prints medians of
several runs and their ratio (target <= 1.2).
Run: .venv/bin/python benchmarks/bench_spice.py [--repeats N]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

from alif_spice import load_params
from alif_spice.netlist import render
from alif_spice.spice import run_circuit, run_netlist

from _timing import median_time




def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    ngspice = shutil.which("ngspice")
    if ngspice is None:
        raise SystemExit("ngspice binary not found")
    p = load_params("paper")
    print(f"{'circuit':14s} {'ngspice -b (s)':>15s} {'runner (s)':>11s} {'runner+trace (s)':>17s} {'ratio':>6s}")
    with tempfile.TemporaryDirectory() as tmp:
        for circuit in ("ideal", "hardware", "memristor-iv"):
            netlist = render(p, circuit)
            path = Path(tmp) / f"{circuit}.cir"
            path.write_text(netlist.text)
            run_netlist(netlist.text, netlist.t_stop)  # load the library once, outside the timing

            def batch(path=path):
                subprocess.run([ngspice, "-b", str(path)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, check=True)

            t_b, _ = median_time(batch, args.repeats)
            t_r, _ = median_time(lambda n=netlist: run_netlist(n.text, n.t_stop), args.repeats)
            t_t, _ = median_time(lambda c=circuit: run_circuit(p, c), args.repeats)
            print(f"{circuit:14s} {t_b:15.3f} {t_r:11.3f} {t_t:17.3f} {t_r / t_b:6.2f}")
    print("ratio = runner / ngspice -b (medians); target <= 1.2")


if __name__ == "__main__":
    main()
