"""Run netlists in ngspice's shared library through PySpice and return traces.

* finds Debian's ``libngspice.so.0`` (or ``$NGSPICE_LIBRARY_PATH``) without set-up;
* captures everything ngspice prints, and turns load errors, analysis errors and a
  transient that stops before ``t_stop`` into :class:`SimulationError` carrying
  ngspice's own words (PySpice alone reports "Command 'run' failed" or nothing);
* runs the analysis in ngspice's background thread so a wall-clock ``timeout`` can
  halt it;
* destroys plots and removes the circuit after every run: memory stays flat.

ngspice's shared library is not re-entrant: one run at a time per process (parallel
runs belong in separate processes).
"""

from __future__ import annotations

import ctypes.util
import glob
import logging
import os
import re
import threading
from pathlib import Path

import numpy as np

from .errors import SimulationError
from .netlist import Netlist, render
from .params import Params
from .stimulus import SquareWave
from .trace import Trace

_LOCK = threading.Lock()
_INSTANCE = None


def find_libngspice() -> str:
    """Path of the ngspice shared library: $NGSPICE_LIBRARY_PATH, then the system's."""
    env = os.environ.get("NGSPICE_LIBRARY_PATH")
    if env:
        return env
    candidates = []
    for pattern in ("/usr/lib/*/libngspice.so*", "/usr/lib/libngspice.so*", "/usr/local/lib/libngspice.so*",
                    "/usr/lib64/libngspice.so*", "/opt/homebrew/lib/libngspice*.dylib"):
        candidates += sorted(glob.glob(pattern))
    found = ctypes.util.find_library("ngspice")
    if found:
        candidates.append(found)
    for path in candidates:
        if Path(path).exists() or "/" not in path:
            return path
    raise SimulationError("ngspice shared library not found: install libngspice0 (Debian/Ubuntu: "
                          "apt-get install ngspice libngspice0) or set NGSPICE_LIBRARY_PATH")


def _shared():
    """The process's one ngspice instance (created on first use)."""
    global _INSTANCE
    if _INSTANCE is not None:
        return _INSTANCE
    logging.getLogger("PySpice").setLevel(logging.CRITICAL)  # we report ngspice's words ourselves
    from PySpice.Spice.NgSpice.Shared import NgSpiceShared

    class _Capturing(NgSpiceShared):
        """Keeps every line ngspice prints (PySpice drops load-time output)."""

        def __init__(self, *args, **kwargs):
            self.lines: list[str] = []
            self.finished = threading.Event()  # set when ngspice's background run ends
            super().__init__(*args, **kwargs)

        def send_char(self, message, ngspice_id):
            self.lines.append(message)
            return 0

        def send_stat(self, message, ngspice_id):
            return 0

        @staticmethod
        def _background_thread_running(is_running, ngspice_id, user_data):
            # PySpice's own callback returns None, which cffi reports on every bg_run
            from PySpice.Spice.NgSpice.Shared import ffi

            # ngspice calls this with false when its background thread starts and true when
            # it ends (the flag means "no background thread"; PySpice names it the other way)
            self = ffi.from_handle(user_data)
            self._is_running = not is_running
            if is_running:
                self.finished.set()
            return 0

    NgSpiceShared.LIBRARY_PATH = find_libngspice()
    try:
        _INSTANCE = _Capturing.new_instance()
    except OSError as exc:
        raise SimulationError(f"cannot load ngspice from {NgSpiceShared.LIBRARY_PATH}: {exc}") from None
    return _INSTANCE


def ngspice_version() -> str:
    return str(_shared().ngspice_version)


_ERROR_WORDS = re.compile(r"error|abort|too small|singular|fail|could not|cannot|unknown|not found|"
                          r"no such|invalid|out of range|not parsed|undefined", re.IGNORECASE)


def _errors(lines: list[str]) -> list[str]:
    """ngspice's error lines (stderr lines that say so; gmin-stepping notes are not errors)."""
    out: list[str] = []
    for line in lines:
        stream, _, content = line.partition(" ")
        content = content.strip()
        if stream != "stderr" or not content or content.lower().startswith("warning"):
            continue
        if _ERROR_WORDS.search(content) or out:  # an error and the lines that follow it
            out.append(content)
    return out


def _command(ng, command: str) -> None:
    try:
        ng.exec_command(command)
    except Exception:  # PySpice raises a vague error on any stderr line: we read the lines
        pass


def _vectors(ng) -> dict[str, np.ndarray]:
    from PySpice.Spice.NgSpice.Shared import ffi

    lib = ng._ngspice_shared
    plot = ffi.string(lib.ngSpice_CurPlot()).decode()
    if not plot.startswith("tran"):
        return {}
    names = ng._convert_string_array(lib.ngSpice_AllVecs(plot.encode()))
    out = {}
    for name in names:
        info = lib.ngGet_Vec_Info(f"{plot}.{name}".encode())
        if info == ffi.NULL or info.v_realdata == ffi.NULL:
            continue
        out[name.lower()] = np.frombuffer(ffi.buffer(info.v_realdata, info.v_length * 8),
                                          dtype=np.float64).copy()
    return out


def run_netlist(text: str, t_stop: float, timeout: float = 600.0) -> dict[str, np.ndarray]:
    """Run a netlist's transient; return its vectors by lower-case name (``time`` first).

    Raises :class:`SimulationError` with ngspice's messages when the netlist does not
    load, the analysis fails, ``timeout`` (s) passes, or the transient ends before
    ``t_stop``.
    """
    with _LOCK:
        ng = _shared()
        ng.lines.clear()
        try:
            try:
                ng.load_circuit(text)
            except Exception:
                pass
            errors = _errors(ng.lines)
            if errors:
                raise SimulationError("ngspice could not load the netlist: " + " | ".join(errors[-6:]))
            ng.lines.clear()
            ng.finished.clear()
            _command(ng, "bg_run")
            # wait for ngspice's own "background thread ended" callback: polling
            # ngSpice_running() races with the thread's start under load
            if not ng.finished.wait(timeout):
                _command(ng, "bg_halt")
                ng.finished.wait(10.0)
                raise SimulationError(f"ngspice did not finish within the {timeout:g} s timeout "
                                      "(simulation.timeout); run halted")
            errors = _errors(ng.lines)
            vectors = _vectors(ng)
            if errors:
                raise SimulationError("ngspice: " + " | ".join(errors[-6:]))
            t = vectors.get("time")
            if t is None or t.size == 0:
                raise SimulationError("ngspice produced no transient results: "
                                      + " | ".join(l.partition(" ")[2] for l in ng.lines[-6:]))
            if t[-1] < t_stop * (1 - 1e-9):
                raise SimulationError(f"transient ended early at t={t[-1]:.6g} s of {t_stop:.6g} s")
            return vectors
        finally:
            _command(ng, "destroy all")
            _command(ng, "remcirc")


def crossings(t: np.ndarray, y: np.ndarray, level: float) -> np.ndarray:
    """Times where ``y`` crosses ``level`` upwards, linearly interpolated between samples."""
    below = y[:-1] < level
    above = y[1:] >= level
    idx = np.nonzero(below & above)[0]
    y0, y1 = y[idx], y[idx + 1]
    frac = (level - y0) / (y1 - y0)
    return t[idx] + frac * (t[idx + 1] - t[idx])


def trace_from_vectors(p: Params, netlist: Netlist, vectors: dict[str, np.ndarray]) -> Trace:
    """Turn ngspice vectors into a :class:`Trace` with the SPEC column names."""
    t = vectors["time"]
    raw = {col: vectors[name] for col, name in netlist.vectors.items()}
    signals: dict[str, np.ndarray] = {}
    if netlist.circuit == "memristor-iv":
        signals = {"v_src": raw["v_src"], "v_mem": raw["v_mem"], "x": raw["x"], "i_m": raw["i_m"]}
    else:
        signals = {"v_c": raw["v_c"], "v_mem": raw["v_c"] - raw["v_m"], "x": raw["x"],
                   "i_m": raw["i_m"], "i_in": SquareWave.from_params(p)(t)}
        signals.update({k: v for k, v in raw.items() if k not in ("v_c", "v_m", "x", "i_m")})
    spikes = np.empty(0)
    if netlist.spike is not None:
        column, level = netlist.spike
        spikes = crossings(t, signals[column], level)
    return Trace(time=t, signals=signals, spikes=spikes, source=f"spice:{netlist.circuit}", params=p)


def run_circuit(p: Params, circuit: str) -> Trace:
    """Render ``circuit`` for ``p``, run it in ngspice and return the trace."""
    netlist = render(p, circuit)
    vectors = run_netlist(netlist.text, netlist.t_stop, p.simulation.timeout)
    return trace_from_vectors(p, netlist, vectors)
