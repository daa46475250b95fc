"""SPICE raw files: write a run's recorded quantities, read any simulator's transient.

Written files use the SPICE3 raw format that ngspice writes (a text header, then every
time point as float64 values: ``binary``, or as text with 17 significant digits:
``ascii``): waveform viewers and LTspice open it, and the values are the run's own, bit
for bit. Reading goes through spicelib's ``RawRead`` (LTspice, ngspice, QSPICE and Xyce
raw files, binary and ASCII); a CSV export (a header row, time in the first column) is read
too.

A *probe* names what to take from a file: ``V(node)``, ``V(a,b)`` (the difference of two
node voltages) or ``I(source)``, matched without regard to case and to the simulators'
spellings (LTspice ``V(c)``, ``I(Vsense)``; ngspice ``v(c)``, ``i(vsense)``,
``vsense#branch``).
"""

from __future__ import annotations

import os
import time as _time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ParamError
from .files import atomic_path, check_output_file

#: the formats :func:`write_raw` writes
RAW_FORMATS = ("binary", "ascii")
#: file names read as a table export rather than a raw file
TABLE_SUFFIXES = (".csv", ".tsv", ".txt")
#: what the title line of a raw file alif-spice wrote ends with (a ``Command:`` line would
#: be run as a command by ngspice's ``load``)
MARK = "(written by alif-spice)"


def write_raw(path: str | os.PathLike[str], time: np.ndarray, vectors: dict[str, np.ndarray], *,
              title: str = "alif-spice", binary: bool = True) -> Path:
    """Write a transient to ``path`` in the SPICE3 raw format, atomically: ``time`` (s) and
    each of ``vectors`` by its name (``V(node)`` a voltage, ``I(source)`` a current)."""
    t = np.asarray(time, dtype=float)
    names = list(vectors)
    data = np.empty((t.size, 1 + len(names)))
    data[:, 0] = t
    for k, name in enumerate(names, start=1):
        data[:, k] = np.asarray(vectors[name], dtype=float)
    kinds = ["time"] + ["current" if n.upper().startswith("I(") else "voltage" for n in names]
    header = [f"Title: {title} {MARK}", f"Date: {_time.strftime('%a %b %d %H:%M:%S %Y')}",
              "Plotname: Transient Analysis", "Flags: real", f"No. Variables: {data.shape[1]}",
              f"No. Points: {t.size}", "Variables:"]
    header += [f"\t{k}\t{n}\t{kind}" for k, (n, kind) in enumerate(zip(["time", *names], kinds))]
    out = Path(path)
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        f.write(("\n".join(header) + "\n").encode())
        if binary:
            f.write(b"Binary:\n")
            f.write(np.ascontiguousarray(data, dtype="<f8").tobytes())
        else:
            f.write(b"Values:\n")
            for k, row in enumerate(data):
                f.write((f" {k}\t{row[0]:.17g}\n" + "".join(f"\t{v:.17g}\n" for v in row[1:]) + "\n").encode())
    return out


@dataclass(frozen=True)
class Waveforms:
    """A transient read from a file: the time axis (s) and every trace by its name as the
    file spells it."""

    path: Path
    time: np.ndarray
    traces: dict[str, np.ndarray]

    def names(self) -> list[str]:
        return list(self.traces)

    def probe(self, expression: str, option: str | None = None) -> np.ndarray:
        """The values of a probe (module docstring); ParamError naming the traces the file
        has when one is missing (its message starts with ``option``, default ``--probe
        EXPRESSION``)."""
        kind, nodes = parse_probe(expression)
        where = option or f"--probe {expression}"
        if kind == "I":
            return self._find(where, f"I({nodes[0]})", _current_spellings(nodes[0]))
        values = self._find(where, f"V({nodes[0]})", _voltage_spellings(nodes[0]))
        if len(nodes) == 2:
            values = values - self._find(where, f"V({nodes[1]})", _voltage_spellings(nodes[1]))
        return values

    def _find(self, where: str, shown: str, spellings: list[str]) -> np.ndarray:
        if spellings[0] in ("v(0)", "v(gnd)"):  # the ground node
            return np.zeros(self.time.size)
        by_lower = {n.lower(): n for n in self.traces}
        for s in spellings:
            if s in by_lower:
                return self.traces[by_lower[s]]
        raise ParamError(f"{where}: {self.path.name} has no trace {shown} "
                         f"(its traces: {', '.join(self.traces)})")


def parse_probe(expression: str) -> tuple[str, tuple[str, ...]]:
    """``V(a)``, ``V(a,b)`` or ``I(source)`` as ("V", (a,)), ("V", (a, b)) or ("I", (source,)),
    names in lower case; ParamError otherwise."""
    text = expression.strip()
    kind, _, rest = text.partition("(")
    kind = kind.strip().upper()
    inside = rest[:-1] if rest.endswith(")") else None
    nodes = tuple(n.strip().lower() for n in inside.split(",")) if inside is not None else ()
    if kind in ("V", "I") and nodes and all(nodes) and (len(nodes) == 1 or (kind == "V" and len(nodes) == 2)):
        return kind, nodes
    raise ParamError(f"cannot read the probe {expression!r}: give V(node), V(node,node) or I(source)")


def _voltage_spellings(node: str) -> list[str]:
    return [f"v({node})", node]


def _current_spellings(source: str) -> list[str]:
    return [f"i({source})", f"{source}#branch", f"i({source}#branch)"]


def read_waveforms(path: str | os.PathLike[str]) -> Waveforms:
    """A transient from a raw file (any dialect spicelib reads, binary or ASCII) or a table
    export (``.csv``, ``.tsv``, ``.txt``: a header row of names, time in the first column).
    ParamError (exit 2) for a file that cannot be read as either."""
    p = Path(path)
    shown = os.fspath(path)
    if p.exists() and not p.is_file():
        raise ParamError(f"--raw {shown!r}: is not a file")
    try:
        if p.suffix.lower() in TABLE_SUFFIXES:
            return _read_csv(p)
        return _read_raw(p)
    except OSError as exc:
        raise ParamError(f"--raw: cannot read {shown!r}: {exc.strerror or exc}") from None


def _read_raw(p: Path) -> Waveforms:
    import logging

    from spicelib import RawRead
    from spicelib.raw.raw_classes import SpiceReadException

    if not p.is_file():
        raise OSError(2, "No such file or directory")
    quiet = logging.getLogger("spicelib")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # spicelib logs its dialect guesses as warnings
    unreadable = (SpiceReadException, UnicodeError, ValueError, IndexError, KeyError, EOFError, AssertionError)
    try:
        try:
            raw = RawRead(p, verbose=False)
        except SpiceReadException as exc:
            if "dialect" not in str(exc):
                raise
            raw = RawRead(p, verbose=False, dialect="ngspice")  # SPICE3 files without a Command line
        plots = list(getattr(raw, "plots", None) or [raw])
        names = [str(plot.get_plot_name()) for plot in plots]
        if not any(names) or len(plots[0].get_trace_names()) < 2:
            raise ParamError(f"--raw: {p.name} is not a raw file spicelib can read (no plot, or no traces)")
        transient = [plot for plot, name in zip(plots, names) if "tran" in name.lower()]
        if not transient:
            raise ParamError(f"--raw: {p.name} holds no transient analysis (its plots: {', '.join(names)})")
        plot = transient[0]  # ngspice writes an operating point first where the netlist has one
        traces_of = plot.get_trace_names()
        # the first variable is the time axis; LTspice marks compressed points with a negative time
        time = np.abs(np.asarray(plot.get_trace(traces_of[0]).get_wave(0), dtype=float))
        traces = {name: np.asarray(plot.get_trace(name).get_wave(0), dtype=float) for name in traces_of[1:]}
    except ParamError:
        raise
    except unreadable as exc:  # the values are read lazily: a file cut short fails here
        raise ParamError(f"--raw: {p.name} is not a raw file spicelib can read ({exc})") from None
    finally:
        quiet.setLevel(level)
    return _checked(p, time, traces)


def _read_csv(p: Path) -> Waveforms:
    """A table export: a header row of trace names, then numbers; separated by commas,
    semicolons, tabs (LTspice's "Export data as text") or spaces."""
    import csv

    import pandas as pd

    with open(p, encoding="utf-8-sig", errors="replace") as fh:
        sample = fh.read(65536)
    try:
        sep = csv.Sniffer().sniff(sample.splitlines()[0] if sample.strip() else "", delimiters=",;\t ").delimiter
    except csv.Error:
        sep = ","
    try:
        frame = pd.read_csv(p, sep=r"\s+" if sep == " " else sep, engine="python", encoding="utf-8-sig")
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeError, csv.Error) as exc:
        raise ParamError(f"--raw: {p.name} is not a table of numbers ({exc})") from None
    columns = [str(c).strip() for c in frame.columns]

    def number(text: str) -> bool:
        try:
            float(text)
            return True
        except ValueError:
            return False

    if any(number(c) for c in columns):
        raise ParamError(f"--raw: {p.name}: its first row must name the traces (time first), not hold numbers")
    if frame.shape[1] < 2 or not all(pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns):
        raise ParamError(f"--raw: {p.name}: expected a header row and numeric columns, time first (a decimal "
                         "comma? write the numbers with a decimal point)")
    values = frame.to_numpy(dtype=float)
    return _checked(p, values[:, 0], {c: values[:, k] for k, c in enumerate(columns) if k})


def _checked(p: Path, time: np.ndarray, traces: dict[str, np.ndarray]) -> Waveforms:
    if time.size < 2 or not np.all(np.isfinite(time)) or np.any(np.diff(time) < 0):
        raise ParamError(f"--raw: {p.name}: its time axis is not increasing ({time.size} points)")
    return Waveforms(p, time, traces)


def _is_ours(p: Path) -> bool:
    with open(p, "rb") as fh:
        first = fh.readline(4096)
    return first.startswith(b"Title: ") and first.rstrip().endswith(MARK.encode())


def check_raw_path(path: str | os.PathLike[str], force: bool = False) -> Path:
    """Refuse, before any work, a raw output we cannot or may not write: a name not ending
    in .raw (what viewers look for), a folder, a link, or an existing file alif-spice did
    not write (unless ``force``)."""
    if Path(path).suffix.lower() != ".raw":
        raise ParamError(f"--raw {os.fspath(path)!r}: a raw file's name must end in .raw")
    return check_output_file(path, force, ours=_is_ours, option="--raw")
