"""``alif-spice`` command line: a thin shell over the Python API."""

from __future__ import annotations

import signal
import sys

_EARLY_INTERRUPT = False


def _early_interrupt(signum, frame) -> None:  # Ctrl-C while the command starts up
    global _EARLY_INTERRUPT
    _EARLY_INTERRUPT = True


# the console script: from its first line on, Ctrl-C ends it with 130 and one line, even
# while Python is still importing (a library import of this module changes nothing)
if sys.argv and sys.argv[0].endswith("alif-spice") and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    signal.signal(signal.SIGINT, _early_interrupt)

import argparse  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402

from .errors import AlifError  # noqa: E402

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


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if not 1 <= value <= 10**9:
        raise argparse.ArgumentTypeError(f"expected an integer from 1 to 1e9, got {text!r}")
    return value


def _int_between(least: int, most: int):
    """An argparse type: an integer from ``least`` to ``most``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not least <= value <= most:
            raise argparse.ArgumentTypeError(f"expected an integer from {least} to {most}, got {text!r}")
        return value

    return parse


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"expected an integer from 0 to 2^32 - 1, got {text!r}")
    return value


def _add_batch_options(p: argparse.ArgumentParser, command: str, seed_help: str) -> None:
    """--seed, --workers, -o and --force of the commands that run many neurons on the batch kernel."""
    p.add_argument("--seed", type=_seed, default=0, help=seed_help)
    p.add_argument("--workers", type=_positive_int, default=None, metavar="N", help="threads (default: all cores)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder (new or empty)")
    _add_force(p, f"an earlier {command} output in DIR")


def _add_force(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--force", action="store_true",
                   help=f"replace {what} (never anything else: other files are refused)")


def _add_force_file(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--force", action="store_true",
                   help=f"replace an existing output file even when it is not {what} (which is replaced "
                        "without it); never a folder, a link or a device")


class _VersionAction(argparse.Action):
    """``--version``: the package's version and the ngspice in use (library path, version)."""

    def __init__(self, option_strings, version, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)
        self.version = version

    def __call__(self, parser, namespace, values, option_string=None):
        from .spice import find_libngspice, ngspice_version

        try:
            library = find_libngspice()
            spice = f"ngspice {ngspice_version()} ({library})"
        except AlifError as exc:
            spice = f"ngspice: not usable ({exc})"
        print(f"{self.version}\n{spice}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="alif-spice", description=__doc__,
                     epilog="exit status: 0 success, 1 a comparison missed its tolerances, a fit explains "
                            "too little or a design missed its targets, 2 invalid input or output path, "
                            "3 simulation or output write failed, "
                            "70 internal error, 130 interrupted")
    from .version import __version__

    parser.add_argument("--version", action=_VersionAction, version=f"alif-spice {__version__}",
                        help="show alif-spice's version and the ngspice library it uses, and exit")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an internal error")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    ode = sub.add_parser("ode", help="RK4 reference solution of the neuron",
                         description="Solve the ALIF neuron with the fixed-step RK4 reference solver.")
    _add_param_options(ode)
    ode.add_argument("-o", "--output", required=True, metavar="TRACE.{csv,parquet}",
                     help="trace file; exact spike times go to <stem>.spikes.csv beside it")
    ode.add_argument("--save-every", type=_positive_int, default=1, metavar="N",
                     help="write every N-th time step only (long runs; spike times stay exact)")
    _add_force_file(ode, "an earlier alif-spice trace")
    ode.set_defaults(func=_cmd_ode)

    from .circuits import engines as circuit_engines
    from .circuits import names as circuit_names

    net = sub.add_parser("netlist", help="write a self-contained netlist (ngspice or LTspice)",
                         description="Render a circuit as a netlist that `ngspice -b FILE` runs as written, "
                                     "or (--dialect ltspice) that LTspice opens.")
    _add_param_options(net)
    net.add_argument("--circuit", required=True, choices=circuit_names())
    net.add_argument("--dialect", choices=("ngspice", "ltspice"), default="ngspice",
                     help="ngspice (default) or LTspice's dialect: the same circuit, for LTspice "
                          "(File > Open, then Simulate > Run); the header names the nodes of each signal")
    net.add_argument("-o", "--output", metavar="FILE.cir", help="netlist file (stdout if omitted)")
    _add_force_file(net, "an earlier alif-spice netlist")
    net.set_defaults(func=_cmd_netlist)

    run = sub.add_parser("run", help="render a circuit and run its transient in ngspice",
                         description="Render a circuit, run it through PySpice/ngspice, write the trace.")
    _add_param_options(run)
    run.add_argument("--circuit", required=True, choices=circuit_names())
    run.add_argument("-o", "--output", required=True, metavar="TRACE.{csv,parquet}",
                     help="trace file; spike times go to <stem>.spikes.csv beside it")
    run.add_argument("--raw", metavar="FILE.raw",
                     help="also write the recorded quantities (V(node), I(source)) as a SPICE raw file, "
                          "for waveform viewers and LTspice, and for compare --raw")
    run.add_argument("--raw-format", choices=("binary", "ascii"), default="binary",
                     help="the raw file's values: binary float64 (default) or text with 17 digits")
    _add_force_file(run, "an earlier alif-spice trace or raw file")
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
    cmp_.add_argument("--zoom", metavar="START:STOP",
                      help="time range of the zoom figure, s, SPICE suffixes allowed (e.g. 3m:3.5m; "
                           "default: the case's first input periods)")
    cmp_.add_argument("--control", action=argparse.BooleanOptionalAction, default=None,
                      help="also run the model and the circuits with the memristor frozen at x0 (a non-adaptive "
                           "neuron) and compare spikes and energy per period against it (default: the case's; "
                           "on in the paper case)")
    ext = cmp_.add_argument_group("a simulation from elsewhere (LTspice, ngspice, a CSV export) against the model")
    ext.add_argument("--raw", metavar="FILE.{raw,csv}",
                     help="compare this transient (a raw file, binary or ASCII, or a CSV export) with the RK4 "
                          "model and the given parameters, instead of running the case's circuits")
    ext.add_argument("--probe", action="append", default=[], metavar="COLUMN=PROBE",
                     help="which of the file's traces is a trace column, e.g. v_c=V(c), v_mem=V(c,m), x=V(x), "
                          "i_m=I(Vsense) (repeatable; PROBE: V(node), V(node,node) or I(source))")
    ext.add_argument("--spike", action="append", default=[], metavar="PROBE>LEVEL",
                     help="spikes are PROBE's upward crossings of LEVEL, e.g. V(co)>2.5 (default: v_mem's "
                          "crossings of neuron.v_th)")
    cmp_.add_argument("-o", "--output", required=True, metavar="DIR", help="report folder (new or empty)")
    _add_force(cmp_, "an earlier compare output in DIR")
    cmp_.set_defaults(func=_cmd_compare)

    fit = sub.add_parser("fit", help="fit memristor device models to measured I-V data",
                         description="Fit one shared parameter set of a device model (or of each of several, "
                                     "ranked) to one or more measured I-V files. "
                                     "Exit status 1 when the fit explains too little of the data (R² of the "
                                     "current or memristor voltage below 0.9): the outputs are still written, "
                                     "marked POOR.")
    _add_param_options(fit)
    fit.add_argument("--data", action="append", required=True, metavar="FILE",
                     help="delimited text file (repeatable: several frequencies/amplitudes, one device)")
    fit.add_argument("--columns", required=True, metavar="MEANINGS",
                     help="what the columns are, in order (time, source_voltage, resistor_voltage, "
                          "memristor_voltage, current, - to skip) or meaning=NAME|INDEX pairs")
    fit.add_argument("--delimiter", default=None, help="tab, comma, semicolon, space or one character "
                                                       "(default: detected)")
    fit.add_argument("--decimal-comma", action="store_true", help="numbers written 1,5 instead of 1.5")
    fit.add_argument("--series-resistor", type=_positive_number, default=None, metavar="OHM",
                     help="the measurement's series resistor (SPICE suffixes allowed: 5.11k)")
    fit.add_argument("--sample-rate", type=_positive_number, default=None, metavar="HZ",
                     help="sampling rate when the file has no time column (e.g. 10k)")
    fit.add_argument("--drive", choices=("periodic", "measured"), default="periodic",
                     help="what drives the model: the source voltage's periodic part, its noise removed "
                          "(default; played as measured where the record is not periodic), or the source "
                          "voltage as measured")
    fit.add_argument("--model", default=None, metavar="MODELS",
                     help="device models to fit and rank, comma-separated (mms, gmms, vteam, yakopcic) or all; "
                          "several are fitted in parallel and ranked by BIC, the best one's table is "
                          "memristor.toml (default: [memristor] model)")
    fit.add_argument("--free-temperature", action="store_true",
                     help="fit beta (temperature) too, for the models that have one")
    fit.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder (new or empty)")
    _add_force(fit, "an earlier fit output in DIR")
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
    sw.add_argument("--engines", default=None, metavar="LIST",
                    help=f"comma-separated, from {','.join(circuit_engines())} (default: ode)")
    sw.add_argument("--workers", type=int, default=None, metavar="N", help="local pool size (default: all cores)")
    sw.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on this Dask scheduler")
    sw.add_argument("--cluster", metavar="local:N", help="start a Dask LocalCluster of N worker processes")
    where = sw.add_mutually_exclusive_group(required=True)
    where.add_argument("-o", "--output", metavar="DIR", help="new sweep folder")
    where.add_argument("--resume", metavar="DIR", help="continue the sweep in DIR (its saved specification)")
    _add_force(sw, "an earlier sweep in DIR")
    sw.set_defaults(func=_cmd_sweep)

    des = sub.add_parser("design", help="inverse design: search circuit values for target metrics, verified in SPICE",
                         description="Search the free parameters (differential evolution on the RK4 batch kernel, "
                                     "seeded) for a neuron whose metrics meet the targets; run the best design in "
                                     "the ideal and the hardware circuit. Exit 1 when the targets are not reached "
                                     "(the closest design is still written), 3 when a verification run fails.")
    _add_param_options(des)
    des.add_argument("--target", action="append", default=[], required=True, metavar="METRIC=VALUE[,tol=P%][,weight=W]",
                     help="a neuron metric's target (repeatable; tolerance default 2%%, weight default 1), "
                          "e.g. first_period_spikes=15 or adaptation_ratio=3,tol=5%%")
    des.add_argument("--free", action="append", default=[], required=True, metavar="KEY=LOW:HIGH",
                     help="a parameter to search and its range (repeatable; SPICE suffixes allowed), "
                          "e.g. neuron.c=5n:100n")
    des.add_argument("--popsize", type=_int_between(1, 1000), default=15, metavar="K",
                     help="candidates per generation per free parameter (default 15)")
    des.add_argument("--generations", type=_int_between(1, 10000), default=60, metavar="G",
                     help="most generations (default 60; the search stops once every target is met)")
    des.add_argument("--no-hardware", action="store_true",
                     help="do not require the hardware circuit to have a design, and verify the ideal circuit only")
    des.add_argument("--no-spice", action="store_true", help="skip the ngspice verification")
    _add_batch_options(des, "design", "search seed (default 0)")
    des.set_defaults(func=_cmd_design)

    sens = sub.add_parser("sensitivity", help="Sobol' and one-at-a-time sensitivity of metrics to parameter spreads",
                          description="Which parameter spreads move a metric: Sobol' first- and total-order "
                                      "indices with confidence intervals (SALib, seeded) and a one-at-a-time "
                                      "tornado, on the RK4 batch kernel. Exit 3 when samples failed (the "
                                      "report is still written).")
    _add_param_options(sens)
    sens.add_argument("--vary", action="append", default=[], required=True, metavar="KEY=S%",
                      help="a parameter, uniform within ± S %% of its value (repeatable; at least two), "
                           "e.g. memristor.tau=20%%")
    sens.add_argument("--metric", action="append", default=[], metavar="M1,M2,..",
                      help="neuron metrics, comma-separated (repeatable; default: adaptation_ratio,"
                           "first_period_spikes,energy_per_spike_j)")
    sens.add_argument("--samples", type=_int_between(8, 10**9), default=1024, metavar="N",
                      help="Sobol' base samples: N (D + 2) neurons for D parameters (default 1024)")
    _add_batch_options(sens, "sensitivity", "sampling and bootstrap seed (default 0)")
    sens.set_defaults(func=_cmd_sensitivity)
    return parser


def _cmd_design(args: argparse.Namespace) -> int:
    from .batch import check_memory
    from .budget import check_spice
    from .design import check_design, generation_size, parse_free, parse_target, run_design, write_outputs
    from .files import check_output_dir

    base = _load(args)
    targets = [parse_target(t) for t in args.target]
    free = [parse_free(f) for f in args.free]
    check_design(base, targets, free, args.popsize, args.generations)
    check_memory(base, [t.metric for t in targets], args.workers)
    if not args.no_spice:
        check_spice(base, 1 if args.no_hardware else 2)
    plan = check_output_dir(args.output, "design", args.force, extra_inputs=tuple(args.params))
    print(f"design: {len(free)} free parameters, {len(targets)} targets, "
          f"{generation_size(args.popsize, len(free))} candidates per generation", file=sys.stderr, flush=True)

    def say(generation: int, cost: float) -> None:
        print(f"generation {generation}: best cost {cost:.4g}", file=sys.stderr, flush=True)

    result = run_design(base, targets, free, popsize=args.popsize, generations=args.generations, seed=args.seed,
                        workers=args.workers, hardware_rule=not args.no_hardware, spice=not args.no_spice,
                        progress=say)
    report = write_outputs(result, plan)
    print(result.summary())
    engines = ["model", *result.verification]
    width = max(len(f"{t.metric} = {t.value:.5g}") for t in result.targets) + 2
    print(f"{'target':{width}s}" + "".join(f"{e:>16s}" for e in engines))
    for t in result.targets:
        cells = []
        for e in engines:
            got = result.best.achieved if e == "model" else result.verification[e]
            v = got.get(t.metric)
            cells.append(f"{('n/a' if v is None else f'{v:.5g}'):>12s} {'ok' if t.met(v) else 'NO':>3s}")
        print(f"{t.metric + ' = ' + format(t.value, '.5g'):{width}s}" + "".join(cells))
    for k, v in result.best.values.items():
        print(f"  {k} = {v:.6g}")
    print(f"report: {report}  (search {result.search_s:.1f} s, verification {result.verify_s:.1f} s)")
    failed = {c: v["error"] for c, v in result.verification.items() if "error" in v}
    if failed:
        for c, e in failed.items():
            print(f"alif-spice: the {c} circuit failed on the best design: {e}", file=sys.stderr)
        return EXIT_SIMULATION
    if not result.reached:
        print(f"alif-spice: {result.summary()}", file=sys.stderr)
        return EXIT_TOLERANCE
    return EXIT_OK


def _metric_list(items: Sequence[str], default: Sequence[str]) -> list[str]:
    """--metric items (comma-separated lists) as names; ``default`` when none is given."""
    from .errors import ParamError

    if not items:
        return list(default)
    names = [n.strip() for item in items for n in item.split(",")]
    if not all(names):
        raise ParamError(f"--metric: an empty metric name in {','.join(items)!r}")
    return names


def _cmd_sensitivity(args: argparse.Namespace) -> int:
    from .batch import check_memory, check_metrics
    from .files import check_output_dir
    from .sensitivity import check_sensitivity, neurons, parse_spread, run_sensitivity, write_outputs
    from .sweep.run import Progress

    base = _load(args)
    spreads = [parse_spread(v) for v in args.vary]
    metrics = check_metrics(_metric_list(args.metric, ("adaptation_ratio", "first_period_spikes",
                                                       "energy_per_spike_j")), "--metric")
    check_sensitivity(base, spreads, metrics, args.samples)
    check_memory(base, metrics, args.workers)
    plan = check_output_dir(args.output, "sensitivity", args.force, extra_inputs=tuple(args.params))
    n = neurons(args.samples, len(spreads))
    bar = Progress(n, label="sensitivity", unit="neurons")
    print(f"sensitivity: {len(spreads)} parameters, {args.samples} base samples: {n} neurons", file=sys.stderr)
    if args.samples & (args.samples - 1):
        print(f"note: Sobol' points balance best when N is a power of 2 (N = {args.samples}; e.g. "
              f"{1 << args.samples.bit_length()})", file=sys.stderr)
    result = run_sensitivity(base, spreads, metrics, n=args.samples, seed=args.seed, workers=args.workers,
                             progress=bar.advance)
    report = write_outputs(result, plan)
    for m in result.metrics:
        print(result.verdict(m))
    failed = int((~result.evaluation.ok).sum())
    print(f"report: {report}  ({result.wall_s:.1f} s)")
    if failed:
        first = next(e for e in result.evaluation.errors if e)
        print(f"alif-spice: {failed} of {result.X.shape[0]} samples failed (e.g. {first}); "
              "their metrics have no indices", file=sys.stderr)
        return EXIT_SIMULATION
    return EXIT_OK


def _load(args: argparse.Namespace):
    from .params import load_params

    return load_params(args.preset, files=args.params, sets=args.sets)


def _cmd_ode(args: argparse.Namespace) -> int:
    from .budget import check_ode
    from .trace import check_trace_path

    params = _load(args)
    check_trace_path(args.output, args.force)
    check_ode(params, args.save_every)
    from .compare import adaptation_ratio, spikes_per_period
    from .ode import solve_ode
    from .stimulus import SquareWave
    start = time.perf_counter()
    trace = solve_ode(params, every=args.save_every)
    elapsed = time.perf_counter() - start
    trace_path, spikes_path = trace.write(args.output, args.force)
    per = spikes_per_period(trace.spikes, SquareWave.from_params(params), params.simulation.t_stop)
    print(f"ode: {trace.spikes.size} spikes in {params.simulation.t_stop:g} s "
          f"({elapsed:.2f} s wall); spikes per input period: {per}; "
          f"adaptation ratio {_fmt(adaptation_ratio(per))}")
    print(f"trace:  {trace_path}")
    print(f"spikes: {spikes_path}")
    return EXIT_OK


def _cmd_netlist(args: argparse.Namespace) -> int:
    from .files import check_output_file, write_text_atomic
    from .netlist import is_rendered_netlist, render

    params = _load(args)
    if args.output:
        check_output_file(args.output, args.force, ours=is_rendered_netlist)
    netlist = render(params, args.circuit)
    text = netlist.text
    if args.dialect == "ltspice":
        from .dialect import to_ltspice

        text = to_ltspice(netlist)
    if args.output:
        write_text_atomic(args.output, text)
        print(f"netlist ({args.circuit}, {args.dialect}): {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    from .circuits import get as get_circuit
    from .compare import spikes_per_period
    from .spice import run_recorded
    from .stimulus import SquareWave
    from .trace import check_trace_path

    from .budget import check_spice

    params = _load(args)
    check_trace_path(args.output, args.force)
    if args.raw:
        from .raw import check_raw_path

        check_raw_path(args.raw, args.force)
    check_spice(params)
    start = time.perf_counter()
    trace, recorded = run_recorded(params, args.circuit)
    elapsed = time.perf_counter() - start
    trace_path, spikes_path = trace.write(args.output, args.force)
    if args.raw:
        from .raw import write_raw

        write_raw(args.raw, trace.time, recorded, title=f"alif-spice {args.circuit} circuit",
                  binary=args.raw_format == "binary")
    summary = f"{args.circuit}: {trace.time.size} time points ({elapsed:.2f} s wall)"
    neuron = get_circuit(args.circuit).kind == "neuron"
    if neuron:
        per = spikes_per_period(trace.spikes, SquareWave.from_params(params), params.simulation.t_stop)
        summary += f"; {trace.spikes.size} spikes, per input period: {per}"
    print(summary)
    print(f"trace:  {trace_path}")
    print(f"spikes: {spikes_path}")
    if args.raw:
        print(f"raw:    {args.raw} ({args.raw_format}; {', '.join(recorded)})")
    if neuron:
        from .stuck import check_stuck

        stuck = check_stuck(trace, params, args.circuit)
        if stuck.stuck:
            print(f"alif-spice: error: {stuck.message(args.circuit)}", file=sys.stderr)
            return EXIT_SIMULATION
    return EXIT_OK


def _cmd_compare(args: argparse.Namespace) -> int:
    from .cases import case_params, load_case, run_case
    from .files import check_output_dir
    from .report import write_report

    case = load_case(args.case)
    params = case_params(case, args.params, args.sets, args.preset)
    if args.raw or args.probe or args.spike:
        if args.control:
            from .errors import ParamError

            raise ParamError("--control: runs the case's circuits again with the memristor frozen; a "
                             "simulation from elsewhere (--raw) has no such run")
        return _compare_external(args, params)
    zoom = _zoom(args.zoom, params.simulation.t_stop) if args.zoom else None
    plan = check_output_dir(args.output, "compare", args.force,
                            extra_inputs=((args.case,) if args.case.endswith(".toml") else ()) + tuple(args.params))
    from .budget import check_ode, check_spice

    check_ode(params)
    with_control = case.control if args.control is None else args.control
    check_spice(params, len(case.circuits) * (2 if with_control else 1))
    start = time.perf_counter()
    result = run_case(case, params, progress=lambda msg: print(msg, file=sys.stderr, flush=True),
                      control=with_control)
    print("writing report ...", file=sys.stderr, flush=True)
    report = write_report(result, plan, time.perf_counter() - start, zoom=zoom)
    wall = time.perf_counter() - start
    print(f"\ncase {case.name}: {case.description}")
    print(f"{'circuit':9s} {'spikes ode/spice':>17s} {'max |dt| (s)':>13s} {'x rmse':>8s} "
          f"{'adapt. ode/spice':>17s}  ({case.adaptation_metric})")
    for circuit, m in result.metrics.items():
        err = m["spike_time_max_abs_error_s"]
        ad = m[case.adaptation_metric]
        print(f"{circuit:9s} {m['n_spikes']['ode']:>8d}/{m['n_spikes']['spice']:<8d} "
              f"{_fmt(err):>13s} {_fmt(m['x_rmse']):>8s} "
              f"{_fmt(ad['ode']):>8s}/{_fmt(ad['spice']):<8s}")
    for c in result.checks:
        value = "n/a" if c.value is None else f"{c.value:.4g}"
        print(f"  {'PASS' if c.passed else 'FAIL'}  {c.circuit}.{c.name} = {value} "
              f"({'<=' if c.kind == 'max' else '>='} {c.limit:g})")
    for note in result.notes:
        print(f"note: {note}")
    if result.control is not None:
        print(f"control (memristor frozen at x0): {result.control['verdict']}")
    print(f"report: {report}  ({wall:.1f} s)")
    if not result.passed:
        print("alif-spice: tolerances not met: " + ", ".join(
            f"{c.circuit}.{c.name}" for c in result.checks if not c.passed), file=sys.stderr)
        return EXIT_TOLERANCE
    return EXIT_OK


def _compare_external(args: argparse.Namespace, params) -> int:
    """compare --raw: a transient simulated elsewhere against the RK4 model."""
    from .cases import parse_spike_rule, run_external
    from .errors import ParamError
    from .files import check_output_dir
    from .raw import parse_probe, read_waveforms
    from .report import write_report

    if not args.raw:
        raise ParamError("--probe and --spike read a file: give it with --raw FILE")
    probes: dict[str, str] = {}
    for item in args.probe:
        column, sep, expr = item.partition("=")
        column = column.strip().lower()  # trace columns are lower case
        if not sep or not column.isidentifier():
            raise ParamError(f"--probe {item!r}: give COLUMN=PROBE, e.g. v_c=V(c)")
        if column in ("time", "source"):
            raise ParamError(f"--probe {item!r}: {column} is not a signal (the time axis is the file's own)")
        if column in probes:
            raise ParamError(f"--probe {item!r}: {column} is probed twice")
        parse_probe(expr)
        probes[column] = expr.strip()
    if len(args.spike) > 1:
        raise ParamError(f"--spike given {len(args.spike)} times: give one rule")
    spike = parse_spike_rule(args.spike[0]) if args.spike else None
    zoom = _zoom(args.zoom, params.simulation.t_stop) if args.zoom else None
    plan = check_output_dir(args.output, "compare", args.force, extra_inputs=(args.raw, *args.params))
    from .budget import check_ode

    check_ode(params)
    waveforms = read_waveforms(args.raw)
    start = time.perf_counter()
    result = run_external(params, waveforms, probes, spike, progress=lambda msg: print(msg, file=sys.stderr))
    print("writing report ...", file=sys.stderr, flush=True)
    report = write_report(result, plan, time.perf_counter() - start, zoom=zoom)
    m = result.metrics["external"]
    print(f"\n{waveforms.path.name} against the RK4 model: spikes {m['n_spikes']['ode']} (model) / "
          f"{m['n_spikes']['spice']} (file); max |dt| {_fmt(m['spike_time_max_abs_error_s'])} s; "
          f"x rmse {_fmt(m['x_rmse'])}")
    for note in result.notes:
        print(f"note: {note}")
    print(f"report: {report}  ({time.perf_counter() - start:.1f} s)")
    return EXIT_OK


def _positive_number(text: str) -> float:
    """argparse type of the fit's numeric options: a finite number > 0, SPICE suffixes allowed."""
    from .units import parse_number

    try:
        value = parse_number(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return value


def _cmd_fit(args: argparse.Namespace) -> int:
    from .files import check_output_dir
    from . import devices
    from .fit import (SELECTION_RULE, drive_line, file_labels, fits_temperature, model_base, model_names,
                      read_measurement, select_model, write_outputs)
    from .fit import fit as run_fit

    base = _load(args)
    models = model_names(args.model) if args.model is not None else [base.memristor.model]
    plan = check_output_dir(args.output, "fit", args.force, extra_inputs=(*args.data, *args.params))
    labels = file_labels(args.data)
    measurements = [read_measurement(f, args.columns, delimiter=args.delimiter, decimal_comma=args.decimal_comma,
                                     series_resistor=args.series_resistor, sample_rate=args.sample_rate,
                                     name=label, drive=args.drive)
                    for f, label in zip(args.data, labels)]
    for m in measurements:
        print(f"{m.name}: {m.periods} periods at {m.frequency:.4g} Hz, {m.t.size} points; {drive_line(m)}",
              file=sys.stderr)
    start = time.perf_counter()
    selection = None
    if len(models) > 1:
        print(f"fitting {len(models)} device models ({', '.join(models)}) in parallel ...", file=sys.stderr)
        selection = select_model(measurements, base, models, free_temperature=args.free_temperature,
                                 progress=lambda s: print("  " + s, file=sys.stderr))
        result = selection.results[selection.best]
    else:
        base = model_base(base, models[0])
        result = run_fit(measurements, base, free_temperature=args.free_temperature)
    fit_seconds = selection.seconds[result.model] if selection else time.perf_counter() - start
    base = model_base(base, result.model)
    cross = None
    if len(measurements) > 1:  # each file alone, predicting the others
        from .fit import cross_predict

        print(f"joint fit done ({time.perf_counter() - start:.1f} s); fitting each file alone"
              + (f" with the best model ({result.model})" if selection else ""), file=sys.stderr)
        cross = cross_predict(measurements, base, result, progress=lambda s: print(s, file=sys.stderr),
                              free_temperature=args.free_temperature and fits_temperature(base))
    out = write_outputs(result, measurements, base, plan, cross=cross, selection=selection)
    if selection is not None:
        rows = selection.table()
        n = int(selection.criteria[selection.best]["samples"])
        print(f"model selection ({SELECTION_RULE} is best; {n} residuals):")
        print(f"  {'model':<16} {'k':>2} {'cost':>10} {'rank':>4} {'R² current':>11} {'R² voltage':>11} {'AIC':>11} "
              f"{'dAIC':>9} {'BIC':>11} {'dBIC':>9} {'time':>7}  verdict")
        for r in rows:
            print(f"  {r['label']:<16} {r['free_parameters']:>2} {r['cost']:>10.4g} {r['cost_rank']:>4} "
                  f"{r['r2_current']:>11.5f} {r['r2_voltage']:>11.5f} {r['aic']:>11.1f} {r['delta_aic']:>9.1f} "
                  f"{r['bic']:>11.1f} {r['delta_bic']:>9.1f} {r['seconds']:>6.1f}s  {r['verdict']}")
        print(f"best: {devices.get(selection.best).label} ({selection.best}); every model's table in "
              f"{out / 'models'}, overlay {out / 'model_overlay.png'}")
    p = result.params
    print(f"fit of the {devices.get(result.model).label} ({fit_seconds:.1f} s, "
          f"{result.evaluations} simulations): cost {result.cost:.4g}, "
          f"R² current {result.r2_current:.5f}" + ("   POOR FIT" if result.poor else ""))
    print("  " + "  ".join(f"{k}={v:.4g}" for k, v in p.items()))
    for name, v in result.per_file.items():
        print(f"  {name}: cost {v['cost']:.4g}, R² current {v['r2_current']:.5f}, "
              f"R² voltage {v['r2_voltage']:.5f}")
    for b in result.at_bounds:
        print(f"  {b['parameter']} = {b['value']:.4g} is {'at' if b['at'] else 'near'} its {b['bound']} "
              f"search bound ({b['limit']:g})")
    spreads = [f"{k} {'not identifiable' if v is None else f'{100 * v:.3g} %'}"
               for k, v in result.relative_std.items()]
    print("  relative spread (1 sigma): " + ", ".join(spreads))
    for pair, c in result.correlations.items():
        print(f"  correlation {pair.replace('~', ' ~ ')}: {c:+.4f}")
    if result.poorly_determined:
        print("  poorly determined: " + ", ".join(result.poorly_determined))
    if args.free_temperature:
        print(f"  free temperature: the result is {result.start}")
    if cross is not None:
        names = list(cross.cost)
        width = max(len(n) for n in names + ["joint fit"])
        print("cross-prediction: cost of each file (column) under the parameters fitted on (row); "
              "x: over the file's own fit")
        print("  " + " " * width + "".join(f"  {n:>20}" for n in names))
        for a in names + ["joint fit"]:
            cells = [(cross.cost[a][b], cross.ratio(a, b)) if a != "joint fit" else
                     (cross.joint[b], cross.joint_ratio(b)) for b in names]
            print(f"  {a:>{width}}" + "".join(f"  {c:>10.4g} (x{r:>6.3g})" for c, r in cells))
    print(f"[memristor] table: {out / 'memristor.toml'}   summary: {out / 'fit.json'}"
          + ("   (marked POOR)" if result.poor else ""))
    if result.poor:
        print("alif-spice: fit explains too little: " + "; ".join(result.reasons)
              + "; check the columns, their units and --series-resistor", file=sys.stderr)
        return EXIT_TOLERANCE
    return EXIT_OK


def _cmd_sweep(args: argparse.Namespace) -> int:
    from .errors import ParamError
    from .provenance import portable_command
    from .sweep import (build_spec, check_folder, check_resume, describe, make_executor, preflight, read_spec_file,
                        run_sweep)

    spec = base = None
    if args.resume:
        given = [o for o, v in (("--spec", args.spec), ("--grid", args.grid), ("--vary", args.vary),
                                ("--mc", args.mc), ("--seed", args.seed), ("--engines", args.engines),
                                ("--params", args.params), ("--set", args.sets)) if v]
        if given or args.preset != "paper" or args.force:
            raise ParamError(f"--resume continues the saved sweep: {', '.join(given) or '--preset/--force'} "
                             "cannot change it")
        check_resume(args.resume)
    else:
        base = _load(args)
        opts = read_spec_file(args.spec) if args.spec else {"grid": [], "vary": []}
        opts["grid"] = opts["grid"] + args.grid
        opts["vary"] = opts["vary"] + args.vary
        for key in ("mc", "seed", "engines"):
            if getattr(args, key) is not None:
                opts[key] = getattr(args, key)
        spec = build_spec(base, **opts)
        check_folder(args.output, args.force, inputs=(*args.params, *([args.spec] if args.spec else [])))
        preflight(spec, base, args.workers)
    with make_executor(args.scheduler, args.cluster, args.workers) as executor:
        kind, workers = describe(executor)
        print(f"sweep on {kind} executor, {workers} workers" + (f" ({args.scheduler})" if args.scheduler else ""),
              file=sys.stderr, flush=True)
        result = run_sweep(args.resume or args.output, spec, base, resume=bool(args.resume), executor=executor,
                           command=portable_command(), force=args.force)
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


def _zoom(text: str, t_stop: float) -> tuple[float, float]:
    """``--zoom START:STOP`` (s, SPICE suffixes) inside the run: 0 <= START < STOP <= t_stop."""
    from .errors import ParamError
    from .units import parse_number

    start, sep, stop = text.partition(":")
    try:
        lo, hi = parse_number(start), parse_number(stop)
    except ValueError:
        lo = hi = float("nan")
    if not sep or not (0.0 <= lo < hi <= t_stop):
        raise ParamError(f"--zoom {text!r}: expected START:STOP with 0 <= START < STOP <= simulation.t_stop "
                         f"({t_stop:g} s), e.g. 3m:3.5m")
    return lo, hi


def _fmt(v) -> str:
    """A metric for the console: None or NaN (undefined) as "n/a", inf as "inf"."""
    return "n/a" if v is None or v != v else f"{v:.3g}"


_INTERRUPTED_LATE = False


def _late_interrupt(signum, frame) -> None:  # Ctrl-C after the command's work is done
    global _INTERRUPTED_LATE
    _INTERRUPTED_LATE = True


def _in_compiler_callback(frame) -> bool:
    """Whether ``frame`` runs inside numba's compiler (llvmlite) or in anything it calls:
    the signal can land in a ctypes helper called from llvmlite's object-cache callback."""
    while frame is not None:
        if "llvmlite" in frame.f_code.co_filename:
            return True
        frame = frame.f_back
    return False


def _first_interrupt(signum, frame) -> None:
    """Ctrl-C: stop the work (KeyboardInterrupt); a second one while cleaning up is
    only noted, so the clean-up (ending ngspice, removing partial files) completes."""
    if _in_compiler_callback(frame):
        # inside the compiler's ctypes callback, where Python would print the exception,
        # drop it and leave LLVM in a state that can crash the process: ask again in a
        # moment, outside the callback
        import threading

        retry = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT))
        retry.daemon = True
        retry.start()
        return
    signal.signal(signal.SIGINT, _late_interrupt)
    raise KeyboardInterrupt


def _exit_if_interrupted_late() -> None:
    # the interpreter restores the default SIGINT action once this has run: a Ctrl-C
    # from here on would end the process by the signal instead of with its status
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if _INTERRUPTED_LATE:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(130)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit status (0, 1, 2, 3, 70 or 130)."""
    try:
        return _main(argv)
    except KeyboardInterrupt:  # pressed while an error was being reported
        return _interrupted(argv)


def _main(argv: Sequence[str] | None) -> int:
    import atexit

    console = argv is None and signal.getsignal(signal.SIGINT) in (signal.default_int_handler, _early_interrupt)
    if console:  # a console run: a Ctrl-C while shutting down still means 130
        atexit.register(_exit_if_interrupted_late)  # registered first, so it runs last
        signal.signal(signal.SIGINT, _first_interrupt)
        if _EARLY_INTERRUPT:
            signal.signal(signal.SIGINT, _late_interrupt)
            return _interrupted(argv)
    args = None
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except AlifError as exc:
        print(f"alif-spice: error: {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        return _interrupted(argv)
    except MemoryError:
        print("alif-spice: error: out of memory (reduce simulation.t_stop, raise simulation.dt, "
              "or use --save-every)", file=sys.stderr)
        return 70
    except Exception as exc:  # a bug: one line, the traceback on request
        if _caused_by_interrupt(exc):  # Python wraps a Ctrl-C during class creation (an import)
            return _interrupted(argv)
        if getattr(args, "debug", False):
            import traceback

            traceback.print_exc()
        text = " ".join(str(exc).split())[:300]
        print(f"alif-spice: internal error: {type(exc).__name__}: {text} "
              "(run with --debug for the traceback)", file=sys.stderr)
        return 70
    finally:
        if console:
            signal.signal(signal.SIGINT, _late_interrupt)


def _caused_by_interrupt(exc: BaseException) -> bool:
    """A KeyboardInterrupt in ``exc``'s chain of causes (e.g. the RuntimeError Python 3.11
    raises when Ctrl-C lands in a ``__set_name__`` while a library is imported)."""
    seen = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        if isinstance(link, KeyboardInterrupt):
            return True
        seen.add(id(link))
        link = link.__cause__ or link.__context__
    return False


def _interrupted(argv) -> int:
    print("alif-spice: interrupted", file=sys.stderr)
    return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
