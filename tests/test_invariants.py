"""What a refactoring must not change: rendered netlists byte for byte, RK4 spike times and
traces bit for bit (recorded in tests/data/invariants.json by tools/invariants.py before
the change), and numba's on-disk cache still hit by a second process."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import invariants  # noqa: E402

RECORDED = json.loads((ROOT / "tests" / "data" / "invariants.json").read_text())


def test_every_netlist_is_byte_identical_to_the_recorded_one():
    now = invariants.netlist_hashes()
    assert set(now) == set(RECORDED["netlists"])
    changed = sorted(k for k in now if now[k] != RECORDED["netlists"][k])
    assert not changed, f"rendered netlists changed: {changed}"


@pytest.mark.parametrize("variant", sorted(RECORDED["rk4"]))
def test_rk4_spike_times_and_traces_are_bit_identical(variant):
    now = invariants.rk4(variant)
    want = RECORDED["rk4"][variant]
    assert len(now["spikes"]) == len(want["spikes"])
    first = next((k for k, (a, b) in enumerate(zip(now["spikes"], want["spikes"])) if a != b), None)
    assert first is None, (f"spike {first}: {float.fromhex(now['spikes'][first])!r} s, "
                           f"recorded {float.fromhex(want['spikes'][first])!r} s")
    assert now["trace_sha256"] == want["trace_sha256"]


@pytest.mark.slow
def test_a_second_process_loads_the_kernels_from_numba_cache(tmp_path):
    probe = (
        "from alif_spice import load_params, solve_ode, solve_iv\n"
        "from alif_spice import ode\n"
        "p = load_params('paper', sets=['simulation.t_stop=0.2m'])\n"
        "solve_ode(p); solve_iv(p)\n"
        "print(sum(ode._integrate.stats.cache_hits.values()), sum(ode._integrate.stats.cache_misses.values()),\n"
        "      sum(ode._iv_kernel.stats.cache_hits.values()))\n")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    runs = [subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=600)
            for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr
    first, second = ([int(v) for v in r.stdout.split()] for r in runs)
    assert first[0] == 0 and first[1] >= 1  # compiled in the first process
    assert second[0] >= 1 and second[1] == 0 and second[2] >= 1, (first, second)  # loaded in the second
    assert any((tmp_path / "cache").rglob("*.nbi"))


@pytest.mark.slow
def test_editing_an_inlined_module_alone_recompiles_the_kernels_that_use_it(tmp_path):
    # the ODE kernel inlines the memristor's equations: change only memristor.py (the
    # Boltzmann constant) and a second process must compute with the new one, not load the
    # kernel compiled from the old file
    import shutil

    import alif_spice

    pkg = tmp_path / "alif_spice"
    shutil.copytree(Path(alif_spice.__file__).parent, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    probe = ("from alif_spice import load_params, solve_ode\n"
             "print(solve_ode(load_params('paper', sets=['simulation.t_stop=0.3m'])).spikes[0].hex())\n")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["PYTHONPATH"] = str(tmp_path)

    def first_spike():
        r = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=600,
                           cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    before = first_spike()
    assert first_spike() == before and any((pkg / "__pycache__").glob("ode._integrate*.nbi"))  # cached
    source = (pkg / "memristor.py").read_text()
    assert source.count("K_B = 1.380649e-23") == 1
    (pkg / "memristor.py").write_text(source.replace("K_B = 1.380649e-23", "K_B = 1.39e-23"))
    assert first_spike() != before


@pytest.mark.slow
def test_the_first_compile_is_announced_on_a_terminal_and_a_cached_run_is_silent(tmp_path):
    import pty

    from alif_spice._jit import COMPILE_NOTICE

    probe = ("from alif_spice import load_params, solve_ode\n"
             "solve_ode(load_params('paper', sets=['simulation.t_stop=0.1m']))\n")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))

    def stderr_on_a_terminal() -> str:
        main, sub = pty.openpty()
        try:
            r = subprocess.run([sys.executable, "-c", probe], env=env, stderr=sub, stdout=subprocess.DEVNULL,
                               timeout=600)
            os.close(sub)
            sub = -1
            chunks = []
            while True:
                try:
                    data = os.read(main, 4096)
                except OSError:  # the terminal's other end is closed: all read
                    break
                if not data:
                    break
                chunks.append(data)
        finally:
            os.close(main)
            if sub >= 0:
                os.close(sub)
        assert r.returncode == 0
        return b"".join(chunks).decode(errors="replace")

    first = stderr_on_a_terminal()
    assert first.count(COMPILE_NOTICE) == 1, first
    assert COMPILE_NOTICE not in stderr_on_a_terminal()  # loaded from the cache
    # not on a pipe (logs, the tests' own captured output)
    r = subprocess.run([sys.executable, "-c", probe], env=dict(env, NUMBA_CACHE_DIR=str(tmp_path / "c2")),
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and COMPILE_NOTICE not in r.stderr


def test_the_compile_notice_is_for_a_person_watching(monkeypatch):
    # a terminal or a notebook's kernel (Jupyter shows stderr under the cell); not a pipe
    import io
    import types

    from alif_spice import _jit

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    assert not _jit._someone_watching()
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    assert _jit._someone_watching()
    monkeypatch.setattr(sys, "stderr", None)
    assert not _jit._someone_watching()


def _read_only_mounts() -> bool:
    """Whether this process may mount a folder read-only in a private mount namespace."""
    import shutil

    return bool(shutil.which("unshare")) and subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount --bind / / && mount -o remount,bind,ro / /"],
        capture_output=True, timeout=30).returncode == 0


@pytest.mark.slow
def test_a_read_only_install_caches_the_kernels_in_the_users_cache_folder(tmp_path):
    # an install the user cannot write to (a system-wide one, a read-only image): the
    # kernels are compiled once into the user's own cache folder, and the next process
    # loads them from there. The package folder is really read-only: bind-mounted so in a
    # private mount namespace of the probe's process
    import shutil

    import alif_spice

    if not _read_only_mounts():
        pytest.skip("cannot mount a folder read-only here (needs a private mount namespace)")
    pkg = tmp_path / "site" / "alif_spice"
    shutil.copytree(Path(alif_spice.__file__).parent, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    cache = tmp_path / "user-cache"
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR",)}
    env.update(PYTHONPATH=str(pkg.parent), XDG_CACHE_HOME=str(cache))
    probe = ("import os, alif_spice\n"
             "assert alif_spice.__file__.startswith(os.environ['PYTHONPATH'])\n"
             "from alif_spice import load_params, solve_ode\n"
             "print(solve_ode(load_params('paper', sets=['simulation.t_stop=0.3m'])).spikes[0].hex())\n")
    script = (f'mount --bind "{pkg}" "{pkg}" && mount -o remount,bind,ro "{pkg}" "{pkg}" && '
              f'! touch "{pkg}/written" 2>/dev/null && exec "$0" -c "$1"')

    def read_only_run():
        r = subprocess.run(["unshare", "-m", "sh", "-c", script, sys.executable, probe], env=env,
                           capture_output=True, text=True, timeout=600, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    first = read_only_run()
    assert not (pkg / "__pycache__").exists() and not (pkg / "written").exists()
    index = list(cache.rglob("*.nbi"))
    assert any(p.name.startswith("ode.") for p in index), "no kernel cached in the user's cache folder"
    stamps = {p: p.stat().st_mtime_ns for p in cache.rglob("*.nbc")}
    assert read_only_run() == first
    # loaded, not compiled again: no cached kernel was rewritten
    assert {p: p.stat().st_mtime_ns for p in cache.rglob("*.nbc")} == stamps
