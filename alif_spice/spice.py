"""Run netlists in ngspice's shared library through PySpice and return traces.

ngspice runs in a child process (:mod:`alif_spice._ngspice_child`, one per thread that
asks for runs): this process never loads libngspice, so an abort, exit or crash inside
the library costs one run, reported as :class:`SimulationError` (exit 3), and the next
run starts a fresh child. Each run

* finds Debian's ``libngspice.so.0`` (or ``$NGSPICE_LIBRARY_PATH``) without set-up;
* captures everything ngspice prints, and turns load errors, analysis errors and a
  transient that stops before ``t_stop`` into :class:`SimulationError` carrying
  ngspice's own words (PySpice alone reports "Command 'run' failed" or nothing);
* has a wall-clock ``timeout``: the child halts ngspice's background thread (the child
  survives); a child that does not answer ``grace`` seconds later is killed;
* destroys plots and removes the circuit afterwards: memory stays flat.
"""

from __future__ import annotations

import atexit
import ctypes.util
import glob
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import IO

import numpy as np

from .errors import SimulationError
from .netlist import Netlist, render
from .params import Params
from .trace import Trace

_HEADER = struct.Struct(">Q")
_CHILD = Path(__file__).with_name("_ngspice_child.py")


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


def _signal_name(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit status {returncode}"


class NgspiceProcess:
    """One ngspice in a child process; requests are answered one at a time.

    The child starts on first use and again after it died or was killed.
    """

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._log: IO[bytes] | None = None
        self.pid_owner = os.getpid()

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def _start(self) -> subprocess.Popen:
        library = find_libngspice()
        self.close()  # a child that died between requests: reap it, drop its log
        self._log = log = tempfile.TemporaryFile()
        # its own process group (a terminal's Ctrl-C is this process's to handle); it ends
        # itself, and what it started, when this process goes
        self._proc = subprocess.Popen([sys.executable, "-I", str(_CHILD), library, str(os.getpid())],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                      close_fds=True, start_new_session=True)
        return self._proc

    def __del__(self) -> None:  # a finished thread's runner: end and reap its child, close its files
        if getattr(self, "pid_owner", None) == os.getpid():
            self.close()

    def close(self) -> None:
        """Stop the child (EOF on its stdin ends it; it also exits by itself when this
        process goes), reap it and close the pipes and the log."""
        proc, self._proc = self._proc, None
        if proc is not None and os.getpid() == self.pid_owner:
            try:
                if proc.stdin is not None:
                    proc.stdin.close()
                proc.wait(2.0)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None

    def _stderr_tail(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        lines = [ln.strip() for ln in self._log.read().decode(errors="replace").splitlines() if ln.strip()]
        lines = [ln for ln in lines if "Unsupported Ngspice version" not in ln]
        return " | ".join(lines[-3:])

    def _died(self, what: str) -> SimulationError:
        proc = self._proc
        code = proc.wait() if proc is not None else 0
        tail = self._stderr_tail()
        self.close()
        return SimulationError(f"ngspice {what} ({_signal_name(code)}){': ' + tail if tail else ''}; "
                               "the next run starts a new ngspice process")

    def request(self, request: tuple, deadline_s: float):
        """Send ``request``; return the child's answer or raise :class:`SimulationError`."""
        proc = self._proc if self._proc is not None and self._proc.poll() is None else self._start()
        data = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        assert self._log is not None and proc.stdin is not None  # both made by _start
        self._log.seek(0)
        self._log.truncate()  # the stderr tail reported on a crash is this request's
        try:
            proc.stdin.write(_HEADER.pack(len(data)) + data)
            proc.stdin.flush()
        except OSError:
            raise self._died("process died before the run") from None
        deadline = time.monotonic() + deadline_s
        head = self._read(proc, _HEADER.size, deadline)
        status, payload = pickle.loads(self._read(proc, _HEADER.unpack(head)[0], deadline))
        if status == "fatal":  # the library is unusable: the child ends, the next run starts anew
            self.close()
            raise SimulationError(payload + "; the next run starts a new ngspice process")
        if status != "ok":
            raise SimulationError(payload)
        return payload

    def _read(self, proc: subprocess.Popen, n: int, deadline: float) -> bytes:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        chunks, got = [], 0
        while got < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                proc.kill()
                raise self._died("did not answer in time and was killed")
            chunk = os.read(fd, min(n - got, 1 << 20))
            if not chunk:
                raise self._died("process died during the run")
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)


_LOCAL = threading.local()
_ALL: weakref.WeakSet[NgspiceProcess] = weakref.WeakSet()


def ngspice_process() -> NgspiceProcess:
    """This thread's ngspice child (threads run side by side, each with its own ngspice)."""
    runner = getattr(_LOCAL, "runner", None)
    if runner is None or runner.pid_owner != os.getpid():  # new thread, or a forked process
        runner = _LOCAL.runner = NgspiceProcess()
        _ALL.add(runner)
    return runner


def kill_all() -> None:
    """Kill every ngspice process of this process at once (an interrupted sweep): runs in
    progress end with SimulationError; the next run in each thread starts a new one."""
    for runner in list(_ALL):
        proc = runner._proc
        if proc is not None and runner.pid_owner == os.getpid() and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the child and anything it started
            except OSError:
                proc.kill()


@atexit.register
def _close_all() -> None:
    for runner in list(_ALL):
        runner.close()


def ngspice_version() -> str:
    return str(ngspice_process().request(("version",), 60.0))


def run_netlist(text: str, t_stop: float, timeout: float = 600.0, grace: float | None = None
                ) -> dict[str, np.ndarray]:
    """Run a netlist's transient; return its vectors by lower-case name (``time`` first).

    Raises :class:`SimulationError` with ngspice's messages when the netlist does not
    load, the analysis fails, ``timeout`` (s) passes, the transient ends before
    ``t_stop``, or the ngspice process dies or hangs (killed ``grace`` s after the
    timeout; default 5 s + 10 % of it).
    """
    grace = 5.0 + 0.1 * timeout if grace is None else grace
    return ngspice_process().request(("run", text, float(t_stop), float(timeout)), timeout + grace)


def crossings(t: np.ndarray, y: np.ndarray, level: float) -> np.ndarray:
    """Times where ``y`` crosses ``level`` upwards, linearly interpolated between samples."""
    below = y[:-1] < level
    above = y[1:] >= level
    idx = np.nonzero(below & above)[0]
    y0, y1 = y[idx], y[idx + 1]
    frac = (level - y0) / (y1 - y0)
    return t[idx] + frac * (t[idx + 1] - t[idx])


def vector_name(probe: str) -> str:
    """ngspice's vector name of a recorded quantity: ``V(c)`` -> ``c``, ``I(vsense)`` ->
    ``vsense#branch`` (the current into the voltage source's + terminal)."""
    from .circuits import parse_probe

    kind, name = parse_probe(probe)
    return f"{name}#branch" if kind == "I" else name


def trace_from_vectors(p: Params, netlist: Netlist, vectors: dict[str, np.ndarray]) -> Trace:
    """Turn ngspice vectors into a :class:`Trace`: the circuit's probes by trace column,
    the signals it derives from them, and its spikes."""
    from .circuits import get

    t = vectors["time"]
    raw = {col: vectors[vector_name(probe)] for col, probe in netlist.probes.items()}
    circuit = get(netlist.circuit)
    signals = circuit.derive(p, t, raw) if circuit.derive else raw
    spikes = np.empty(0)
    if netlist.spike is not None:
        column, level = netlist.spike
        spikes = crossings(t, signals[column], level)
    return Trace(time=t, signals=signals, spikes=spikes, source=f"spice:{netlist.circuit}", params=p)


def run_rendered(p: Params, netlist: Netlist) -> Trace:
    """Run a netlist rendered from ``p`` (with ``p.simulation.timeout``); its trace."""
    vectors = run_netlist(netlist.text, netlist.t_stop, p.simulation.timeout)
    return trace_from_vectors(p, netlist, vectors)


def run_circuit(p: Params, circuit: str) -> Trace:
    """Render ``circuit`` for ``p``, run it in ngspice and return the trace."""
    return run_rendered(p, render(p, circuit))


def run_recorded(p: Params, circuit: str) -> tuple[Trace, dict[str, np.ndarray]]:
    """:func:`run_circuit`, and the quantities the circuit records as ngspice computed
    them, by their probe names (``V(c)``, ``I(vsense)``; time not included)."""
    netlist = render(p, circuit)
    vectors = run_netlist(netlist.text, netlist.t_stop, p.simulation.timeout)
    recorded = {probe: vectors[vector_name(probe)] for probe in netlist.probes.values()}
    return trace_from_vectors(p, netlist, vectors), recorded
