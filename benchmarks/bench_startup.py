"""Start-up of the command line: what every --help, usage error and short command pays.

Side by side, medians of several runs (each a fresh process unless said):
  (a) `python -c pass`: the interpreter alone (the floor);
  (b) `alif-spice --help`;
  (c) `alif-spice ode --set nope=1 -o x.csv`: a usage error (exit 2), parameters checked;
  (d) `python -c "import alif_spice.cli"`;
  (e) in this process: building the parser and formatting the help (no process start);
  (f) `python -c "import alif_spice.ode"`: what a command that integrates adds (numba,
      the cached kernels).
Target: (b) and (c) <= 0.3 s.
Run: .venv/bin/python benchmarks/bench_startup.py [--repeats N]
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
from contextlib import redirect_stdout
from pathlib import Path

from _timing import median_time

BIN = Path(sys.executable).parent


def run(argv: list[str], expect: int, cwd: str) -> None:
    r = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    if r.returncode != expect:
        raise SystemExit(f"{argv}: exit {r.returncode}, expected {expect}: {r.stderr[-500:]}")


def in_process_help() -> None:
    from alif_spice.cli import build_parser

    with redirect_stdout(io.StringIO()):
        try:
            build_parser().parse_args(["--help"])
        except SystemExit:
            pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    cli = str(BIN / "alif-spice")
    with tempfile.TemporaryDirectory() as tmp:
        rows = [
            ("(a) python -c pass", lambda: run([sys.executable, "-c", "pass"], 0, tmp)),
            ("(b) alif-spice --help", lambda: run([cli, "--help"], 0, tmp)),
            ("(c) usage error (exit 2)", lambda: run([cli, "ode", "--set", "nope=1", "-o", "x.csv"], 2, tmp)),
            ("(d) import alif_spice.cli", lambda: run([sys.executable, "-c", "import alif_spice.cli"], 0, tmp)),
            ("(e) parser + help in process", in_process_help),
            ("(f) import alif_spice.ode", lambda: run([sys.executable, "-c", "import alif_spice.ode"], 0, tmp)),
        ]
        results = [(name, median_time(fn, args.repeats)[0]) for name, fn in rows]
    floor = results[0][1]
    print(f"median of {args.repeats} runs each (python {sys.version.split()[0]})")
    for name, t in results:
        print(f"  {name:32s} {t * 1e3:8.1f} ms   {t / floor:6.1f} x (a)")
    worst = max(results[1][1], results[2][1])
    print(f"target: --help and a usage error <= 0.3 s: {'met' if worst <= 0.3 else 'NOT met'} "
          f"(slowest {worst * 1e3:.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
