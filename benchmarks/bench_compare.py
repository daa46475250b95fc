"""Whole paper case vs its two ngspice transients alone (issue: comparison and report).

Side by side, medians of several runs:
  (a) `ngspice -b` on the case's ideal and hardware netlists, one after the other;
  (b) the same two transients through the runner (its ngspice child process), one after
      the other;
  (c) `alif-spice compare --case paper -o DIR` as a user runs it (process start included);
  (d) run_case + write_report called from this process (what the command spends after
      start-up).
Target: (c) <= 1.5 x (a).
Run: .venv/bin/python benchmarks/bench_compare.py [--repeats N]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from alif_spice.cases import load_case, run_case
from alif_spice.netlist import render
from alif_spice.params import load_params
from alif_spice.report import write_report
from alif_spice.spice import run_netlist

from _timing import median_time




def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    ngspice = shutil.which("ngspice")
    script = Path(sys.executable).with_name("alif-spice")
    p = load_params("paper")
    case = load_case("paper")
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for circuit in case.circuits:
            f = Path(tmp) / f"{circuit}.cir"
            f.write_text(render(p, circuit).text)
            files.append(f)
        netlists = [render(p, c) for c in case.circuits]
        run_netlist(netlists[0].text, netlists[0].t_stop)

        def batch():
            for f in files:
                subprocess.run([ngspice, "-b", str(f)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               check=True)

        def runner():
            for n in netlists:
                run_netlist(n.text, n.t_stop)

        def command():
            res = subprocess.run([str(script), "compare", "--case", "paper", "-o", str(Path(tmp) / "cli")],
                                 capture_output=True, text=True)
            if res.returncode != 0:
                raise SystemExit(f"alif-spice compare exited {res.returncode}:\n{res.stdout}\n{res.stderr}")

        def in_process():
            t0 = time.perf_counter()
            result = run_case(case)
            write_report(result, Path(tmp) / "api", time.perf_counter() - t0)

        t_a, _ = median_time(batch, args.repeats)
        t_b, _ = median_time(runner, args.repeats)
        t_c, _ = median_time(command, args.repeats)
        t_d, _ = median_time(in_process, args.repeats)
    print(f"(a) ngspice -b, both transients        {t_a:7.2f} s")
    print(f"(b) runner, both transients            {t_b:7.2f} s  ({t_b / t_a:.2f} x a)")
    print(f"(c) alif-spice compare --case paper     {t_c:7.2f} s  ({t_c / t_a:.2f} x a; target <= 1.5)")
    print(f"(d) run_case + write_report from Python {t_d:7.2f} s  ({t_d / t_a:.2f} x a)")


if __name__ == "__main__":
    main()
