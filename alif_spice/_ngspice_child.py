"""The process that hosts ngspice's shared library (run as a script by :mod:`alif_spice.spice`).

Self-contained on purpose (stdlib, numpy, PySpice): it does not import the
``alif_spice`` package, so it starts in a fraction of a second. It reads requests from
stdin and answers on the original stdout (length-prefixed pickles); stdout itself is
pointed at stderr so nothing libngspice prints can corrupt the protocol. If the library
aborts or exits, only this process goes; the parent reports it and starts a new one.

Requests: ``("run", netlist_text, t_stop, timeout)`` -> ``("ok", {name: array})``,
``("error", message)``, or ``("fatal", message)`` after which this process exits;
``("version",)`` -> ``("ok", "39")``. EOF on stdin: exit.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import signal
import struct
import sys
import threading

import numpy as np

_HEADER = struct.Struct(">Q")


class RunFailed(Exception):
    """A simulation failure to report to the parent (becomes SimulationError there).

    ``fatal``: the library is unusable afterwards, so this process ends after answering.
    """

    def __init__(self, message: str, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal


def _shared(library_path: str):
    logging.getLogger("PySpice").setLevel(logging.CRITICAL)  # the parent reports ngspice's words
    from PySpice.Spice.NgSpice.Shared import NgSpiceShared

    class _Capturing(NgSpiceShared):
        """Keeps every line ngspice prints (PySpice drops load-time output)."""

        def __init__(self, *args, **kwargs):
            self.lines: list[str] = []
            self.finished = threading.Event()  # set when ngspice's background run ends
            self.exited: tuple[int, bool] | None = None  # ngspice called its exit callback
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

        @staticmethod
        def _exit(exit_status, immediate_unloading, quit_exit, ngspice_id, user_data):
            # ngspice "exited" (a `quit`, or a fatal error): the library is left in a state
            # where the next command segfaults, so this process must not serve another run
            from PySpice.Spice.NgSpice.Shared import ffi

            self = ffi.from_handle(user_data)
            self.exited = (int(exit_status), bool(quit_exit))
            self.finished.set()
            return exit_status

    NgSpiceShared.LIBRARY_PATH = library_path
    try:
        return _Capturing.new_instance()
    except OSError as exc:
        raise RunFailed(f"cannot load ngspice from {library_path}: {exc}") from None


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


#: where ngspice names a netlist line, best first (46's "netlist line no." is one too high;
#: its "internal line no." is right)
_LINE_REFS = (re.compile(r"internal line no\.\s*(\d+)", re.IGNORECASE),
              re.compile(r"(?:error on line|at line|netlist line no\.)\s+(\d+)", re.IGNORECASE))
#: what ngspice adds when it gives up inside the library: not what the user must fix
_GAVE_UP = re.compile(r"^(in|from file\b.*|Error: ngspice\.dll cannot recover.*)$")


def _with_source_line(errors: list[str], text: str) -> list[str]:
    """The error lines, led by the netlist line they name as the user wrote it (ngspice
    39 echoes it lower-cased and respaced after its own words, 46 only says "parsing
    stopped at line N"). ngspice counts only the lines that are not blank."""
    for pattern in _LINE_REFS:
        for e in errors:
            m = pattern.search(e)
            if m:
                n = int(m.group(1))
                numbered = [(k, line) for k, line in enumerate(text.splitlines(), start=1) if line.strip()]
                if 1 <= n <= len(numbered):
                    k, src = numbered[n - 1]
                    return [f"line {k}: {src.strip()}", *errors]
                return errors
    return errors


def _check_exit(ng, text: str = "") -> None:
    if ng.exited is not None:
        status, quit_exit = ng.exited
        how = "a quit command" if quit_exit else "a fatal error"
        errors = _errors(ng.lines)
        said = _with_source_line([e for e in errors if not _GAVE_UP.match(e)], text)
        raise RunFailed(" | ".join(said or ["no message"])
                        + f" (ngspice then exited inside the library: {how}, status {status})", fatal=True)


def run(ng, text: str, t_stop: float, timeout: float) -> dict[str, np.ndarray]:
    """Load ``text``, run its transient in ngspice's background thread, return the vectors."""
    ng.lines.clear()
    try:
        try:
            ng.load_circuit(text)
        except Exception:
            pass
        _check_exit(ng, text)
        errors = _errors(ng.lines)
        if errors:
            raise RunFailed("ngspice could not load the netlist: "
                            + " | ".join(_with_source_line(errors[-6:], text)))
        ng.lines.clear()
        ng.finished.clear()
        _command(ng, "bg_run")
        # wait for ngspice's own "background thread ended" callback: polling
        # ngSpice_running() races with the thread's start under load
        if not ng.finished.wait(timeout):
            _command(ng, "bg_halt")
            ng.finished.wait(10.0)
            raise RunFailed(f"ngspice did not finish within the {timeout:g} s timeout "
                            "(simulation.timeout); run halted")
        _check_exit(ng, text)
        errors = _errors(ng.lines)
        vectors = _vectors(ng)
        if errors:
            raise RunFailed("ngspice: " + " | ".join(errors[-6:]))
        t = vectors.get("time")
        if t is None or t.size == 0:
            raise RunFailed("ngspice produced no transient results: "
                            + " | ".join(line.partition(" ")[2] for line in ng.lines[-6:]))
        if t[-1] < t_stop * (1 - 1e-9):
            raise RunFailed(f"transient ended early at t={t[-1]:.6g} s of {t_stop:.6g} s")
        return vectors
    finally:
        if ng.exited is None:
            _command(ng, "destroy all")
            _command(ng, "remcirc")


def _read_exact(stream, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _die_with_parent(parent: int) -> None:
    """This process, and what it starts, ends when the parent goes (see processes.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "_alif_processes", os.path.join(os.path.dirname(os.path.abspath(__file__)), "processes.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.die_with_parent(parent, group=True)


def main() -> None:
    library_path = sys.argv[1]
    if len(sys.argv) > 2:
        _die_with_parent(int(sys.argv[2]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's business
    answers = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    requests = sys.stdin.buffer
    ng = None
    while True:
        head = _read_exact(requests, _HEADER.size)
        if head is None:
            return
        body = _read_exact(requests, _HEADER.unpack(head)[0])
        if body is None:
            return
        request = pickle.loads(body)
        answer: tuple[str, object]
        try:
            if ng is None:
                ng = _shared(library_path)
            if request[0] == "run":
                answer = ("ok", run(ng, *request[1:]))
            elif request[0] == "version":
                answer = ("ok", str(ng.ngspice_version))
            else:
                answer = ("error", f"unknown request {request[0]!r}")
        except RunFailed as exc:
            answer = ("fatal" if exc.fatal else "error", str(exc))
            fatal = exc.fatal
        else:
            fatal = False
        data = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(_HEADER.pack(len(data)) + data)
        while view:
            view = view[answers.write(view):]
        if fatal:
            os._exit(70)


if __name__ == "__main__":
    main()
