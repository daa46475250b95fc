import os
import subprocess
import sys
from pathlib import Path

import pytest

from alif_spice import load_params

SCRIPT = Path(sys.executable).with_name("alif-spice")

# a command started from a test gets the default Ctrl-C behaviour even when the suite
# itself runs with SIGINT ignored (e.g. `make test &` from a script): a disposition of
# SIG_IGN survives exec, SIG_DFL lets the command install its own handler
_DEFAULT_SIGINT = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                   "os.execv(sys.argv[1], sys.argv[1:])")


def cli_argv(*args):
    """argv that runs the installed console script with the default SIGINT disposition."""
    return [sys.executable, "-c", _DEFAULT_SIGINT, str(SCRIPT), *map(str, args)]


_GUARD = pytest.StashKey[pytest.MonkeyPatch]()
#: what an unmarked test finds instead of the ngspice library (its subprocesses inherit it)
NO_NGSPICE = "/unmarked-test/needs-pytest.mark.spice/libngspice.so.0"


def _refuse_ngspice(*args, **kwargs):
    pytest.fail("this test runs ngspice: mark it @pytest.mark.spice", pytrace=False)


def _refuse_dask(*args, **kwargs):
    pytest.fail("this test starts Dask: mark it @pytest.mark.dask", pytrace=False)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """A test runs ngspice or Dask only when its markers say so, so that ``pytest -m "not
    spice"`` is right on a machine without ngspice: in an unmarked test the runner refuses
    to start (in this process) and the library is not found (in the commands it starts).
    Set before any fixture of the test, module-scoped ones included."""
    mp = item.stash[_GUARD] = pytest.MonkeyPatch()
    if item.get_closest_marker("spice") is None:
        from alif_spice import spice

        mp.setenv("NGSPICE_LIBRARY_PATH", NO_NGSPICE)
        mp.setattr(spice.NgspiceProcess, "request", _refuse_ngspice)
    if item.get_closest_marker("dask") is None:
        import distributed

        mp.setattr(distributed.Client, "__init__", _refuse_dask)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    item.stash[_GUARD].undo()


@pytest.fixture(scope="session")
def paper():
    return load_params("paper")


def run_cli(*args, cwd=None, timeout=300):
    """Run the installed ``alif-spice`` console script as a user would."""
    env = dict(os.environ)
    return subprocess.run(cli_argv(*args), capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env=env)


def children(pid):
    """Process ids whose parent is ``pid`` (from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        try:
            # the name in /proc/PID/stat may hold spaces (Dask renames its workers with
            # setproctitle when installed): the parent's pid is the second field after it
            if entry.name.isdigit() and (entry / "stat").read_text().rsplit(")", 1)[1].split()[1] == str(pid):
                out.append(int(entry.name))
        except OSError:
            continue
    return out


def ngspice_children(pid):
    """The ngspice host processes (alif_spice/_ngspice_child.py) started by ``pid``."""
    out = []
    for child in children(pid):
        try:
            if "_ngspice_child.py" in Path(f"/proc/{child}/cmdline").read_text():
                out.append(child)
        except OSError:
            continue
    return out


def descendants(pid):
    """Every process below ``pid`` (children, their children, ...)."""
    out, todo = [], [pid]
    while todo:
        kids = children(todo.pop())
        out += kids
        todo += kids
    return out


def alive(pid):
    """Running (not a zombie) process ``pid``."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def survivors(pids, within=2.0):
    """The processes of ``pids`` still running ``within`` seconds from now."""
    import time

    deadline = time.monotonic() + within
    while True:
        left = [p for p in pids if alive(p)]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.05)


# --------------------------------------------------------------------------- measured-like data


def synthetic(frequency, periods=6, points=200, noise=0.01, seed=0, values=None):
    """Model data, series resistor in the loop, 1 % noise on both measured voltages;
    ``values``: parameters other than the preset's (``{"memristor.tau": ...}``)."""
    import numpy as np

    from alif_spice.ode import solve_iv

    p = load_params(values={"iv.frequency": frequency, "iv.periods": periods, "iv.points_per_period": points,
                            **(values or {})})
    tr = solve_iv(p)
    rng = np.random.default_rng(seed)
    v_src, v_r = tr["v_src"], tr["v_src"] - tr["v_mem"]
    v_src = v_src + noise * np.abs(v_src).max() * rng.standard_normal(v_src.size)
    v_r = v_r + noise * np.abs(v_r).max() * rng.standard_normal(v_r.size)
    return tr.time, v_src, v_r


def write_csv(path, t, v_src, v_r):
    import numpy as np

    np.savetxt(path, np.c_[t, v_src, v_r], delimiter=",", header="t_s,v_source,v_resistor", comments="",
               fmt="%.10g")
