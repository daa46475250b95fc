"""``alif-spice`` command line: a thin shell over the Python API."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from .errors import AlifError

EXIT_OK, EXIT_TOLERANCE, EXIT_INPUT, EXIT_SIMULATION = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad usage as one line with exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_INPUT, f"{self.prog}: error: {message} (see --help)\n")


def _add_param_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", default="paper", help="built-in parameter preset (default: paper)")
    p.add_argument("--params", action="append", default=[], metavar="FILE.toml",
                   help="partial parameter file over the preset (repeatable)")
    p.add_argument("--set", action="append", default=[], dest="sets", metavar="TABLE.KEY=VALUE",
                   help="set one parameter, applied last (repeatable); SPICE suffixes allowed: 47n, 3.2k")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="alif-spice", description=__doc__)
    from .version import __version__

    parser.add_argument("--version", action="version", version=f"alif-spice {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    ode = sub.add_parser("ode", help="RK4 reference solution of the neuron",
                         description="Solve the ALIF neuron with the fixed-step RK4 reference solver.")
    _add_param_options(ode)
    ode.add_argument("-o", "--output", required=True, metavar="TRACE.{csv,parquet}",
                     help="trace file; exact spike times go to <stem>.spikes.csv beside it")
    ode.set_defaults(func=_cmd_ode)

    from .netlist import CIRCUITS

    net = sub.add_parser("netlist", help="write a self-contained ngspice netlist",
                         description="Render a circuit as a netlist that `ngspice -b FILE` runs as written.")
    _add_param_options(net)
    net.add_argument("--circuit", required=True, choices=CIRCUITS)
    net.add_argument("-o", "--output", metavar="FILE.cir", help="netlist file (stdout if omitted)")
    net.set_defaults(func=_cmd_netlist)

    run = sub.add_parser("run", help="render a circuit and run its transient in ngspice",
                         description="Render a circuit, run it through PySpice/ngspice, write the trace.")
    _add_param_options(run)
    run.add_argument("--circuit", required=True, choices=CIRCUITS)
    run.add_argument("-o", "--output", required=True, metavar="TRACE.{csv,parquet}",
                     help="trace file; spike times go to <stem>.spikes.csv beside it")
    run.set_defaults(func=_cmd_run)

    cmp_ = sub.add_parser("compare", help="RK4 model vs SPICE circuits: metrics and report",
                          description="Run a comparison case and write its report.")
    cmp_.add_argument("--case", default="paper", metavar="NAME|FILE.toml",
                      help="shipped case name (paper, step) or a case TOML file (default: paper)")
    cmp_.add_argument("--preset", default=None, help="parameter preset (default: the case's)")
    cmp_.add_argument("--params", action="append", default=[], metavar="FILE.toml",
                      help="partial parameter file over the case (repeatable)")
    cmp_.add_argument("--set", action="append", default=[], dest="sets", metavar="TABLE.KEY=VALUE",
                      help="set one parameter, applied last (repeatable)")
    cmp_.add_argument("-o", "--output", required=True, metavar="DIR", help="report folder")
    cmp_.set_defaults(func=_cmd_compare)

    fit = sub.add_parser("fit", help="fit MMS memristor parameters to measured I-V data",
                         description="Fit one shared MMS parameter set to one or more measured I-V files.")
    _add_param_options(fit)
    fit.add_argument("--data", action="append", required=True, metavar="FILE",
                     help="delimited text file (repeatable: several frequencies/amplitudes, one device)")
    fit.add_argument("--columns", required=True, metavar="MEANINGS",
                     help="what the columns are, in order (time, source_voltage, resistor_voltage, "
                          "memristor_voltage, current, - to skip) or meaning=NAME|INDEX pairs")
    fit.add_argument("--delimiter", default=None, help="tab, comma, semicolon, space or one character "
                                                       "(default: detected)")
    fit.add_argument("--decimal-comma", action="store_true", help="numbers written 1,5 instead of 1.5")
    fit.add_argument("--series-resistor", type=float, default=None, metavar="OHM",
                     help="the measurement's series resistor")
    fit.add_argument("--sample-rate", type=float, default=None, metavar="HZ",
                     help="sampling rate when the file has no time column")
    fit.add_argument("--free-temperature", action="store_true", help="fit beta (temperature) too")
    fit.add_argument("-o", "--output", required=True, metavar="DIR")
    fit.set_defaults(func=_cmd_fit)

    sw = sub.add_parser("sweep", help="grid / Monte Carlo sweep over any parameters, ODE and/or SPICE",
                        description="Sweep parameters on a grid and/or Monte Carlo spreads; each point runs "
                                    "on each engine; rows are saved as they finish (continue with --resume).")
    _add_param_options(sw)
    sw.add_argument("--spec", metavar="SWEEP.toml", help="sweep file: [sweep] engines/mc/seed, [grid], [vary]")
    sw.add_argument("--grid", action="append", default=[], metavar="KEY=START:STOP:N[:log]|KEY=V1,V2,..",
                    help="a grid axis (repeatable; axes combine as a full grid)")
    sw.add_argument("--mc", type=int, default=None, metavar="N", help="Monte Carlo samples per grid point")
    sw.add_argument("--vary", action="append", default=[], metavar="KEY=DIST:SPREAD",
                    help="Monte Carlo spread: lognormal:0.1 (x*exp(0.1 z)), normal:0.05, uniform:0.1 (repeatable)")
    sw.add_argument("--seed", type=int, default=None, help="Monte Carlo seed (default 0)")
    sw.add_argument("--engines", default=None, metavar="LIST", help="ode,ideal,hardware (default: ode)")
    sw.add_argument("--workers", type=int, default=None, metavar="N", help="local pool size (default: all cores)")
    sw.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on this Dask scheduler")
    sw.add_argument("--cluster", metavar="local:N", help="start a Dask LocalCluster of N worker processes")
    where = sw.add_mutually_exclusive_group(required=True)
    where.add_argument("-o", "--output", metavar="DIR", help="new sweep folder")
    where.add_argument("--resume", metavar="DIR", help="continue the sweep in DIR (its saved specification)")
    sw.set_defaults(func=_cmd_sweep)
    return parser


def _load(args: argparse.Namespace):
    from .params import load_params

    return load_params(args.preset, files=args.params, sets=args.sets)


def _cmd_ode(args: argparse.Namespace) -> int:
    from .compare import adaptation_ratio, spikes_per_period
    from .ode import solve_ode
    from .stimulus import SquareWave
    from .trace import check_trace_path

    check_trace_path(args.output)
    params = _load(args)
    start = time.perf_counter()
    trace = solve_ode(params)
    elapsed = time.perf_counter() - start
    trace_path, spikes_path = trace.write(args.output)
    per = spikes_per_period(trace.spikes, SquareWave.from_params(params), params.simulation.t_stop)
    print(f"ode: {trace.spikes.size} spikes in {params.simulation.t_stop:g} s "
          f"({elapsed:.2f} s wall); spikes per input period: {per}; "
          f"adaptation ratio {adaptation_ratio(per):.3g}")
    print(f"trace:  {trace_path}")
    print(f"spikes: {spikes_path}")
    return EXIT_OK


def _cmd_netlist(args: argparse.Namespace) -> int:
    from .files import write_text_atomic
    from .netlist import render

    netlist = render(_load(args), args.circuit)
    if args.output:
        write_text_atomic(args.output, netlist.text)
        print(f"netlist ({args.circuit}, sha256 {netlist.sha256[:12]}): {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(netlist.text)
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    from .compare import spikes_per_period
    from .spice import run_circuit
    from .stimulus import SquareWave
    from .trace import check_trace_path

    check_trace_path(args.output)
    params = _load(args)
    start = time.perf_counter()
    trace = run_circuit(params, args.circuit)
    elapsed = time.perf_counter() - start
    trace_path, spikes_path = trace.write(args.output)
    summary = f"{args.circuit}: {trace.time.size} time points ({elapsed:.2f} s wall)"
    if args.circuit != "memristor-iv":
        per = spikes_per_period(trace.spikes, SquareWave.from_params(params), params.simulation.t_stop)
        summary += f"; {trace.spikes.size} spikes, per input period: {per}"
    print(summary)
    print(f"trace:  {trace_path}")
    print(f"spikes: {spikes_path}")
    if args.circuit != "memristor-iv":
        from .stuck import check_stuck

        stuck = check_stuck(trace, params, args.circuit)
        if stuck.stuck:
            print(f"alif-spice: error: {stuck.message(args.circuit)}", file=sys.stderr)
            return EXIT_SIMULATION
    return EXIT_OK


def _cmd_compare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .cases import case_params, load_case, run_case
    from .report import write_report

    if Path(args.output).exists() and not Path(args.output).is_dir():
        from .errors import ParamError

        raise ParamError(f"-o {args.output!r}: exists and is not a folder")
    case = load_case(args.case)
    params = case_params(case, args.params, args.sets, args.preset)
    start = time.perf_counter()
    result = run_case(case, params, progress=lambda msg: print(msg, file=sys.stderr, flush=True))
    print("writing report ...", file=sys.stderr, flush=True)
    report = write_report(result, args.output, time.perf_counter() - start)
    wall = time.perf_counter() - start
    print(f"\ncase {case.name}: {case.description}")
    print(f"{'circuit':9s} {'spikes ode/spice':>17s} {'max |dt| (s)':>13s} {'x rmse':>8s} "
          f"{'adapt. ode/spice':>17s}  ({case.adaptation_metric})")
    for circuit, m in result.metrics.items():
        err = m["spike_time_max_abs_error_s"]
        ad = m[case.adaptation_metric]
        print(f"{circuit:9s} {m['n_spikes']['ode']:>8d}/{m['n_spikes']['spice']:<8d} "
              f"{'n/a' if err is None else f'{err:.3g}':>13s} {m['x_rmse']:8.3g} "
              f"{_fmt(ad['ode']):>8s}/{_fmt(ad['spice']):<8s}")
    for c in result.checks:
        value = "n/a" if c.value is None else f"{c.value:.4g}"
        print(f"  {'PASS' if c.passed else 'FAIL'}  {c.circuit}.{c.name} = {value} "
              f"({'<=' if c.kind == 'max' else '>='} {c.limit:g})")
    for note in result.notes:
        print(f"note: {note}")
    print(f"report: {report}  ({wall:.1f} s)")
    if not result.passed:
        print("alif-spice: tolerances not met: " + ", ".join(
            f"{c.circuit}.{c.name}" for c in result.checks if not c.passed), file=sys.stderr)
        return EXIT_TOLERANCE
    return EXIT_OK


def _cmd_fit(args: argparse.Namespace) -> int:
    from .fit import fit as run_fit
    from .fit import read_measurement, write_outputs

    base = _load(args)
    if args.series_resistor is not None and not args.series_resistor > 0:
        from .errors import ParamError

        raise ParamError("--series-resistor: must be > 0")
    measurements = [read_measurement(f, args.columns, delimiter=args.delimiter, decimal_comma=args.decimal_comma,
                                     series_resistor=args.series_resistor, sample_rate=args.sample_rate)
                    for f in args.data]
    for m in measurements:
        print(f"{m.name}: {m.periods} periods at {m.frequency:.4g} Hz, {m.t.size} points", file=sys.stderr)
    start = time.perf_counter()
    result = run_fit(measurements, base, free_temperature=args.free_temperature)
    out = write_outputs(result, measurements, base, args.output)
    p = result.params
    print(f"fit ({time.perf_counter() - start:.1f} s, {result.evaluations} simulations): cost {result.cost:.4g}")
    print("  " + "  ".join(f"{k}={v:.4g}" for k, v in p.items()))
    for name, v in result.per_file.items():
        print(f"  {name}: cost {v['cost']:.4g}, R² current {v['r2_current']:.5f}")
    if result.poorly_determined:
        print("  poorly determined: " + ", ".join(result.poorly_determined))
    print(f"[memristor] table: {out / 'memristor.toml'}   summary: {out / 'fit.json'}")
    return EXIT_OK


def _cmd_sweep(args: argparse.Namespace) -> int:
    import shlex

    from .errors import ParamError
    from .sweep import build_spec, make_pool, read_spec_file, run_sweep

    spec = base = None
    if args.resume:
        given = [o for o, v in (("--spec", args.spec), ("--grid", args.grid), ("--vary", args.vary),
                                ("--mc", args.mc), ("--seed", args.seed), ("--engines", args.engines),
                                ("--params", args.params), ("--set", args.sets)) if v]
        if given or args.preset != "paper":
            raise ParamError(f"--resume continues the saved sweep: {', '.join(given) or '--preset'} "
                             "cannot change it")
    else:
        base = _load(args)
        opts = read_spec_file(args.spec) if args.spec else {"grid": [], "vary": []}
        opts["grid"] = opts["grid"] + args.grid
        opts["vary"] = opts["vary"] + args.vary
        for key in ("mc", "seed", "engines"):
            if getattr(args, key) is not None:
                opts[key] = getattr(args, key)
        spec = build_spec(base, **opts)
    pool = make_pool(args.scheduler, args.cluster, args.workers)
    print(f"sweep on {pool.name} executor, {pool.workers} workers"
          + (f" ({pool.address})" if getattr(pool, "address", None) else ""), file=sys.stderr, flush=True)
    try:
        result = run_sweep(args.resume or args.output, spec, base, resume=bool(args.resume), pool=pool,
                           command=shlex.join(["alif-spice", *sys.argv[1:]]))
    finally:
        pool.close()
    n, failed = len(result.rows), result.failed
    print(f"sweep: {n} rows ({result.new_rows} run now, {result.wall_s:.1f} s), {n - failed} ok, {failed} failed")
    for row in [r for r in result.rows if r["status"] != "ok"][:5]:
        print(f"  failed: point {row['point']} ({row['engine']}): {row['error']}", file=sys.stderr)
    print(f"results: {result.files['results']}")
    print(f"summary: {result.files['summary_html']}")
    if n and failed == n:
        print("alif-spice: every point failed", file=sys.stderr)
        return EXIT_SIMULATION
    return EXIT_OK


def _fmt(v) -> str:
    return "n/a" if v is None else f"{v:.3g}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except AlifError as exc:
        print(f"alif-spice: error: {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        print("alif-spice: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
