"""Outputs never destroy what alif-spice did not write; every failure is honest.

Each rule of the output contract, as a user meets it through the real command line:
folders holding user files, existing files, devices (a FIFO), symbolic links, ``-o .``,
an input's own folder, read-only and full file systems, ``--force``; sweep folder locks
and foreign rows; the resource preflight; process clean-up after kills."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alif_spice import cli
from alif_spice.files import FolderLock
from conftest import cli_argv, descendants, ngspice_children, run_cli, survivors
from conftest import synthetic, write_csv

FAST = ["--set", "simulation.t_stop=1m"]
SWEEP = ["sweep", *FAST, "--grid", "stimulus.amplitude=0.5m:1m:3"]


def _snapshot(folder: Path) -> dict:
    """Every file under ``folder`` with its bytes (what the user had)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _user_folder(tmp_path: Path) -> Path:
    d = tmp_path / "thesis"
    (d / "figures").mkdir(parents=True)
    (d / "thesis.txt").write_text("three years of work\n")
    (d / "figures" / "fig1.png").write_bytes(b"\x89PNG user figure")
    (d / "manifest.json").write_text('{"mine": true}\n')
    return d


def _fit_args(tmp_path: Path, out) -> list:
    data = tmp_path / "data" / "m.csv"
    data.parent.mkdir(exist_ok=True)
    if not data.exists():
        t, vs, vr = synthetic(100.0)
        write_csv(data, t, vs, vr)
    return ["fit", "--data", str(data), "--columns", "time,source_voltage,resistor_voltage",
            "--series-resistor", "5110", "-o", str(out)]


# ------------------------------------------------------------------- folder outputs


@pytest.mark.parametrize("command", ["compare", "fit", "sweep"])
def test_folder_with_user_files_is_refused_and_kept(tmp_path, command):
    d = _user_folder(tmp_path)
    before = _snapshot(d)
    args = {"compare": ["compare", *FAST, "-o", d], "fit": _fit_args(tmp_path, d), "sweep": [*SWEEP, "-o", d]}
    t0 = time.monotonic()
    r = run_cli(*args[command])
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and "alif-spice did not write" in r.stderr
    assert time.monotonic() - t0 < 30  # refused before computing
    assert _snapshot(d) == before and sorted(os.listdir(d)) == ["figures", "manifest.json", "thesis.txt"]


@pytest.mark.parametrize("command", ["compare", "fit", "sweep"])
def test_existing_file_as_folder_output_is_refused(tmp_path, command):
    f = tmp_path / "results.txt"
    f.write_text("my results\n")
    args = {"compare": ["compare", *FAST, "-o", f], "fit": _fit_args(tmp_path, f), "sweep": [*SWEEP, "-o", f]}
    r = run_cli(*args[command])
    assert r.returncode == 2 and "is a file" in r.stderr, r.stderr
    assert f.read_text() == "my results\n"


def test_fifo_symlink_and_file_outputs(tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    for args in (["ode", *FAST, "-o", fifo], ["netlist", "--circuit", "ideal", "-o", fifo],
                 ["fit", *_fit_args(tmp_path, fifo)[1:]], [*SWEEP, "-o", fifo]):
        r = run_cli(*args, timeout=60)
        assert r.returncode == 2 and "FIFO" in r.stderr, (args, r.stderr)
        assert fifo.exists() and not fifo.is_file()
    target = tmp_path / "elsewhere.csv"
    target.write_text("time,v\n1,2\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    r = run_cli("ode", *FAST, "-o", link)
    assert r.returncode == 2 and "symbolic link" in r.stderr
    assert link.is_symlink() and target.read_text() == "time,v\n1,2\n"
    # a file that is not an earlier trace: kept unless --force; an earlier trace: replaced
    user = tmp_path / "user.csv"
    user.write_text("a,b\n1,2\n")
    r = run_cli("ode", *FAST, "-o", user)
    assert r.returncode == 2 and "--force" in r.stderr and user.read_text() == "a,b\n1,2\n"
    assert run_cli("ode", *FAST, "-o", user, "--force").returncode == 0
    assert run_cli("ode", *FAST, "-o", user).returncode == 0  # now it is ours
    net = tmp_path / "n.cir"
    net.write_text("* my own netlist\n")
    assert run_cli("netlist", "--circuit", "ideal", "-o", net).returncode == 2
    assert net.read_text() == "* my own netlist\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to reach a device node")
def test_dev_null_is_left_a_device():
    r = run_cli("netlist", "--circuit", "ideal", "-o", "/dev/null")
    assert r.returncode == 2 and "device" in r.stderr
    assert Path("/dev/null").is_char_device()


@pytest.mark.slow
def test_dot_and_force_and_input_folder(tmp_path):
    # '-o .' in an empty folder: written there (the folder itself kept, our cwd intact)
    work = tmp_path / "w"
    work.mkdir()
    r = run_cli(*SWEEP, "-o", ".", cwd=work)
    assert r.returncode == 0, r.stderr
    assert {"results.parquet", "sweep.json", "manifest.json"} <= set(os.listdir(work))
    # again: refused, with the way out; --force replaces our own files only
    r = run_cli(*SWEEP, "-o", ".", cwd=work)
    assert r.returncode == 2 and "--force" in r.stderr
    (work / "notes.txt").write_text("mine")
    r = run_cli(*SWEEP, "-o", ".", "--force", cwd=work)
    assert r.returncode == 2 and "notes.txt" in r.stderr
    (work / "notes.txt").unlink()
    first = (work / "rows.jsonl").read_bytes()
    r = run_cli(*SWEEP, "-o", ".", "--force", cwd=work)
    assert r.returncode == 0, r.stderr
    assert (work / "rows.jsonl").read_bytes().count(b"\n") == first.count(b"\n")
    # a non-empty current folder: refused, with one line
    r = run_cli("compare", *FAST, "-o", ".", cwd=work)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    # the data file's own folder
    args = _fit_args(tmp_path, tmp_path / "data")
    before = _snapshot(tmp_path / "data")
    r = run_cli(*args)
    assert r.returncode == 2 and "folder of the input" in r.stderr
    assert _snapshot(tmp_path / "data") == before


@pytest.mark.spice
@pytest.mark.slow
def test_compare_force_replaces_only_its_own_output(tmp_path):
    out = tmp_path / "rep"
    out.mkdir()  # empty: fine
    assert run_cli("compare", *FAST, "-o", out).returncode in (0, 1)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["output"]["command"] == "compare" and "report.html" in manifest["output"]["files"]
    r = run_cli("compare", *FAST, "-o", out)
    assert r.returncode == 2 and "--force" in r.stderr
    (out / "figures" / "my_notes.txt").write_text("mine")
    r = run_cli("compare", *FAST, "-o", out, "--force")
    assert r.returncode == 2 and "figures/my_notes.txt" in r.stderr
    (out / "figures" / "my_notes.txt").unlink()
    stamp = (out / "manifest.json").stat().st_mtime_ns
    assert run_cli("compare", *FAST, "-o", out, "--force").returncode in (0, 1)
    assert (out / "manifest.json").stat().st_mtime_ns != stamp
    # a fit folder is not a compare folder
    r = run_cli(*_fit_args(tmp_path, out)[:-1], out, "--force")
    assert r.returncode == 2 and "alif-spice compare" in r.stderr


def _mount_tmpfs(path: Path, options: str) -> bool:
    path.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    return r.returncode == 0


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_read_only_folder_is_refused_up_front(tmp_path):
    ro = tmp_path / "ro"
    if not _mount_tmpfs(ro, "ro,size=1m"):
        pytest.skip("cannot mount a tmpfs here")
    try:
        t0 = time.monotonic()
        for args in (["ode", *FAST, "-o", ro / "t.csv"], ["compare", *FAST, "-o", ro / "rep"], [*SWEEP, "-o", ro]):
            r = run_cli(*args)
            assert r.returncode == 2 and "cannot write" in r.stderr, (args, r.stderr)
        assert time.monotonic() - t0 < 20  # nothing computed
    finally:
        _umount(ro)


def test_full_file_system_fails_with_exit_3_and_leaves_nothing(tmp_path):
    full = tmp_path / "full"
    if not _mount_tmpfs(full, "size=256k"):
        pytest.skip("cannot mount a tmpfs here")
    try:
        (full / "user.bin").write_bytes(b"u" * 1000)
        fd = os.open(full / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        before = _snapshot(full)
        r = run_cli("ode", *FAST, "-o", full / "t.parquet")
        assert r.returncode in (2, 3), r.stderr
        assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
        r = run_cli("compare", *FAST, "-o", full / "rep")
        assert r.returncode in (2, 3), r.stderr
        assert "Traceback" not in r.stderr and r.stderr.strip().splitlines()[-1].startswith("alif-spice: error")
        assert _snapshot(full) == before  # only what was there, nothing half-written
        assert sorted(os.listdir(full)) == ["filler", "user.bin"]
    finally:
        _umount(full)


# -------------------------------------------------------------------- sweep folders


def test_one_writer_per_sweep_folder(tmp_path):
    out = tmp_path / "s"
    assert run_cli(*SWEEP, "-o", out).returncode == 0
    with FolderLock(out, "sweep"):  # this process "is running" the sweep
        r = run_cli("sweep", "--resume", out)
        assert r.returncode == 2 and f"pid {os.getpid()}" in r.stderr, r.stderr
        r = run_cli(*SWEEP, "-o", tmp_path / "s", "--force")
        assert r.returncode == 2 and "another alif-spice process" in r.stderr
    # a lock left by a process that is gone: taken over, and said so
    (out / ".alif-spice.lock").write_text("999999\n")
    r = run_cli("sweep", "--resume", out)
    assert r.returncode == 0 and "took over the lock left by pid 999999" in r.stderr


@pytest.mark.spice
def test_two_sweeps_started_at_once_exactly_one_runs(tmp_path):
    out = tmp_path / "s"
    args = ["sweep", "--set", "simulation.t_stop=2m", "--grid", "stimulus.amplitude=0.5m:2m:6",
            "--engines", "ideal", "--workers", "1", "-o", str(out)]
    procs = [subprocess.Popen(cli_argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 2], results
    loser = results[[p.returncode for p in procs].index(2)][1]
    assert "another alif-spice process" in loser or "already holds a sweep" in loser
    rows = [json.loads(line) for line in (out / "rows.jsonl").read_text().splitlines()]
    assert sorted(r["point"] for r in rows) == list(range(6))


def test_resume_skips_foreign_and_damaged_rows(tmp_path):
    out = tmp_path / "s"
    args = ["sweep", *FAST, "--grid", "stimulus.amplitude=0.2m:2m:10", "-o", out]
    assert run_cli(*args).returncode == 0
    rows_file = out / "rows.jsonl"
    good = rows_file.read_text().splitlines()
    keep = [line for i, line in enumerate(good) if i not in (3, 4, 6)]  # holes in the middle
    foreign = dict(json.loads(good[3]), **{"stimulus.amplitude": 0.123, "n_spikes": 999})
    rows_file.write_text("\n".join(keep + [json.dumps(foreign), '{"point": "x"}', "not json"]) + "\n")
    r = run_cli("sweep", "--resume", out)
    assert r.returncode == 0, r.stderr
    assert "skipped 3 line(s)" in r.stderr
    import pandas as pd

    df = pd.read_parquet(out / "results.parquet")
    assert sorted(df.point) == list(range(10)) and 999 not in set(df.n_spikes)
    original = {json.loads(line)["point"]: json.loads(line)["n_spikes"] for line in good}
    assert dict(zip(df.point, df.n_spikes)) == original


# ---------------------------------------------------------------------- preflight


@pytest.mark.parametrize("args, words", [
    (["ode", "--set", "simulation.t_stop=10", "--set", "simulation.dt=1e-9", "-o", "t.parquet"], "--save-every"),
    (["sweep", "--grid", "stimulus.amplitude=0.1m:2m:10000", "--grid", "stimulus.frequency=100:1k:1000",
      "-o", "s"], "10,000,000 points"),
])
def test_preflight_refuses_what_cannot_fit_at_once(tmp_path, capsys, monkeypatch, args, words):
    monkeypatch.chdir(tmp_path)
    t0 = time.perf_counter()
    status = cli.main(args)
    took = time.perf_counter() - t0
    err = capsys.readouterr().err
    assert status == 2 and "GiB of memory" in err and words in err, err
    assert took < 1.0, took
    assert list(tmp_path.iterdir()) == []
    r = run_cli(*args, cwd=tmp_path)  # the installed command, start-up included
    assert r.returncode == 2 and list(tmp_path.iterdir()) == []


def test_save_every_keeps_spike_times_exact(tmp_path):
    from alif_spice import load_params, solve_ode

    p = load_params(values={"simulation.t_stop": 2e-3})
    full, thin = solve_ode(p), solve_ode(p, every=7)
    assert (full.spikes == thin.spikes).all()
    assert thin.time.size == -(-full.time.size // 7) + (1 if (full.time.size - 1) % 7 else 0)
    assert thin.time[-1] == full.time[-1] and (thin["v_c"][:-1] == full["v_c"][::7][: thin.time.size - 1]).all()


# --------------------------------------------------------------- processes and kills


def _wait_ngspice(pid, n=1, timeout=60):
    deadline = time.monotonic() + timeout
    while len(ngspice_children(pid)) < n:
        assert time.monotonic() < deadline, "no ngspice child"
        time.sleep(0.02)


def _double_sigint(pid):
    os.kill(pid, signal.SIGINT)
    time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        pass


def _default_hangup() -> None:
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


KILLS = {"SIGTERM": lambda pid: os.kill(pid, signal.SIGTERM), "SIGKILL": lambda pid: os.kill(pid, signal.SIGKILL),
         "SIGHUP": lambda pid: os.kill(pid, signal.SIGHUP), "double-SIGINT": _double_sigint}


@pytest.mark.spice
@pytest.mark.parametrize("kill", list(KILLS))
@pytest.mark.parametrize("command", ["run", "compare", "sweep"])
def test_no_ngspice_child_survives_its_parent(tmp_path, command, kill):
    args = {"run": ["run", "--circuit", "ideal", "--set", "simulation.t_stop=50m", "-o", "t.csv"],
            "compare": ["compare", "--set", "simulation.t_stop=50m", "-o", "rep"],
            "sweep": ["sweep", "--set", "simulation.t_stop=50m", "--grid", "stimulus.amplitude=0.5m:1m:4",
                      "--engines", "ideal", "--workers", "2", "-o", "s"]}[command]
    # a hangup as a terminal delivers it (a suite started under nohup ignores SIGHUP, and so
    # would the command, rightly: it then finishes its work)
    proc = subprocess.Popen(cli_argv(*args), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=_default_hangup)
    _wait_ngspice(proc.pid, 1 if command == "run" else 2)
    time.sleep(0.3)
    procs = descendants(proc.pid)
    KILLS[kill](proc.pid)
    t0 = time.monotonic()
    proc.wait(30)
    took = time.monotonic() - t0
    proc.stderr.close()
    left = survivors(procs, within=2.0)
    assert left == [], f"{command} {kill}: {left} alive 2 s after"
    if kill == "double-SIGINT":
        # the clean-up ends ngspice and exits: seconds on a loaded machine (2.02 s was seen
        # in CI), where finishing the 50 ms run would take far longer
        assert proc.returncode == 130 and took < 6.0, took
    assert not (tmp_path / "t.csv").exists() and not (tmp_path / "rep").exists()


@pytest.mark.spice
@pytest.mark.slow
def test_signal_tests_pass_with_sigint_ignored(tmp_path):
    # `make test &` from a script starts the suite with SIGINT ignored; the commands it
    # starts must still see Ctrl-C
    here = Path(__file__).parent
    code = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
            "os.execv(sys.executable, [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', "
            "'test_robustness.py::test_interrupted_run_leaves_no_trace_file', "
            "'test_outputs.py::test_no_ngspice_child_survives_its_parent[run-double-SIGINT]'])")
    r = subprocess.run([sys.executable, "-c", code], cwd=here, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:]
    assert "3 passed" in r.stdout


def test_internal_error_is_one_line_exit_70(tmp_path, capsys, monkeypatch):
    import alif_spice.ode as ode

    def broken(*a, **k):
        raise RuntimeError("a bug\nover two lines")

    monkeypatch.setattr(ode, "solve_ode", broken)
    status = cli.main(["ode", *FAST, "-o", str(tmp_path / "t.csv")])
    err = capsys.readouterr().err
    assert status == 70 and err.count("\n") == 1
    assert err.startswith("alif-spice: internal error: RuntimeError: a bug over two lines") and "--debug" in err
    status = cli.main(["--debug", "ode", *FAST, "-o", str(tmp_path / "t.csv")])
    assert status == 70 and "Traceback" in capsys.readouterr().err


@pytest.mark.parametrize("delay", [0.3, 0.5, 0.7, 0.9, 1.1, 1.3, 1.6, 2.0])
def test_ctrl_c_at_any_moment_is_0_or_130_never_a_traceback(tmp_path, delay):
    # Ctrl-C pressed again and again from `delay` on, through start-up, the work, the
    # writing and the interpreter's shut-down: the command ends with 0 (it had finished)
    # or 130, one line at most, never a traceback or death by the signal
    proc = subprocess.Popen(cli_argv("ode", "--set", "simulation.t_stop=2m", "-o", "t.csv"), cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    while proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGINT)
        except ProcessLookupError:
            break
        time.sleep(0.02)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode in (0, 130), (proc.returncode, err)
    assert "Traceback" not in err and "Exception ignored" not in err, err
    if proc.returncode == 130:
        assert err.strip().splitlines()[-1] == "alif-spice: interrupted"
        files = sorted(os.listdir(tmp_path))
        assert files in ([], ["t.csv", "t.spikes.csv"]), files  # finished files, or none


def test_a_write_in_progress_is_never_visible_under_its_name(tmp_path):
    # a second process writes through atomic_path, slowly; this one watches the final
    # name: it must not exist until it is complete, nor ever after the writer is killed
    target = tmp_path / "out.bin"
    chunk, n = 65536, 20
    code = (f"import sys, time; from alif_spice.files import atomic_path\n"
            f"with atomic_path({str(target)!r}) as tmp:\n"
            f"    with open(tmp, 'wb') as fh:\n"
            f"        for k in range({n}):\n"
            f"            fh.write(bytes([k]) * {chunk}); fh.flush(); print(k, flush=True); time.sleep(0.03)\n")
    writer = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    sizes = set()
    while writer.poll() is None:
        if target.exists():
            sizes.add(target.stat().st_size)
        time.sleep(0.002)
    assert writer.returncode == 0
    writer.stdout.close()
    assert sizes <= {chunk * n} and target.stat().st_size == chunk * n
    target.unlink()
    writer = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    for _ in range(n // 2):
        writer.stdout.readline()  # half written
    assert not target.exists()
    writer.kill()
    writer.wait()
    writer.stdout.close()
    assert not target.exists()


# --------------------------------------------- what an earlier output of ours looks like


def test_lab_exports_with_a_time_column_are_not_taken_for_traces(tmp_path):
    import pandas as pd

    scope = tmp_path / "scope.csv"
    scope.write_text("time,voltage,current\n0,1,2\n")
    lab = tmp_path / "lab.parquet"
    pd.DataFrame({"time": [0.0, 1.0], "temp_c": [20.5, 21.0]}).to_parquet(lab)
    before = _snapshot(tmp_path)
    for target in (scope, lab):
        r = run_cli("ode", *FAST, "-o", target)
        assert r.returncode == 2 and "not written by alif-spice" in r.stderr, r.stderr
    assert _snapshot(tmp_path) == before
    # our own traces (and only they) are replaced without --force
    for name in ("t.csv", "t.parquet"):
        assert run_cli("ode", *FAST, "-o", tmp_path / name).returncode == 0
        assert run_cli("ode", *FAST, "-o", tmp_path / name).returncode == 0


def test_an_edited_netlist_is_not_ours_any_more(tmp_path):
    net = tmp_path / "mine.cir"
    assert run_cli("netlist", "--circuit", "ideal", "-o", net).returncode == 0
    assert run_cli("netlist", "--circuit", "ideal", "-o", net).returncode == 0  # untouched: ours
    with open(net, "a") as fh:
        fh.write("* my important edit\n")
    edited = net.read_text()
    r = run_cli("netlist", "--circuit", "ideal", "-o", net)
    assert r.returncode == 2 and "--force" in r.stderr
    assert net.read_text() == edited


@pytest.mark.spice
def test_user_files_put_into_a_running_sweep_are_kept(tmp_path):
    out = tmp_path / "sw"
    args = ["sweep", "--set", "simulation.t_stop=2m", "--grid", "stimulus.amplitude=0.5m:2m:4",
            "--engines", "ideal", "--workers", "1", "-o", str(out)]
    proc = subprocess.Popen(cli_argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (out / "rows.jsonl").exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    (out / "figures").mkdir(exist_ok=True)
    (out / "summary.md").write_text("my summary")
    (out / "figures" / "rate_vs_stimulus.amplitude.png").write_bytes(b"my figure")
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 3 and "did not write" in err and "--resume" in err, err
    assert (out / "summary.md").read_text() == "my summary"
    assert (out / "figures" / "rate_vs_stimulus.amplitude.png").read_bytes() == b"my figure"
    assert len((out / "rows.jsonl").read_text().splitlines()) == 4  # the work is kept
    # --resume refuses while they are there, before any work
    r = run_cli("sweep", "--resume", out)
    assert r.returncode == 2 and "did not write" in r.stderr and r.stderr.count("\n") == 1
    assert (out / "summary.md").read_text() == "my summary"
    (out / "summary.md").unlink()
    (out / "figures" / "rate_vs_stimulus.amplitude.png").unlink()
    r = run_cli("sweep", "--resume", out)
    assert r.returncode == 0, r.stderr
    # a file of the sweep edited afterwards is the user's now: --resume leaves it alone
    (out / "summary.md").write_text("edited by hand")
    r = run_cli("sweep", "--resume", out)
    assert r.returncode == 2 and "changed since alif-spice wrote it" in r.stderr
    assert (out / "summary.md").read_text() == "edited by hand"


@pytest.mark.parametrize("edit", [
    {"n_spikes": "lots"}, {"n_spikes": None, "rate_hz": None}, {"energy_j": "1e-6"}, {"status": "weird"},
    {"spikes_per_period": 5}, {"spikes_per_period": [[1], [2]]}, {"n_spikes": -1e30}, {"sweep": "0" * 16},
])
def test_resume_never_trusts_a_tampered_row(tmp_path, edit):
    out = tmp_path / "s"
    assert run_cli(*SWEEP, "-o", out).returncode == 0
    rows_file = out / "rows.jsonl"
    lines = rows_file.read_text().splitlines()
    original = json.loads(lines[1])
    lines[1] = json.dumps({**original, **edit})
    rows_file.write_text("\n".join(lines + ['{"a":' * 100000]) + "\n")
    (out / "results.parquet").unlink()
    r = run_cli("sweep", "--resume", out)
    assert r.returncode == 0, r.stderr
    assert "skipped 2 line(s)" in r.stderr
    import pandas as pd

    df = pd.read_parquet(out / "results.parquet")
    assert sorted(df.point) == [0, 1, 2] and int(df.set_index("point").n_spikes[1]) == original["n_spikes"]


def test_rows_of_another_sweep_with_the_same_grid_run_again(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert run_cli(*SWEEP, "--set", "neuron.c=47n", "-o", a).returncode == 0
    assert run_cli(*SWEEP, "-o", b).returncode == 0
    own = {json.loads(x)["point"]: json.loads(x)["n_spikes"] for x in (b / "rows.jsonl").read_text().splitlines()}
    other = (a / "rows.jsonl").read_text().splitlines()
    (b / "rows.jsonl").write_text("\n".join(other[:2]) + "\n")  # the other sweep's rows 0 and 1
    (b / "results.parquet").unlink()
    r = run_cli("sweep", "--resume", b)
    assert r.returncode == 0 and "skipped 2 line(s)" in r.stderr, r.stderr
    import pandas as pd

    df = pd.read_parquet(b / "results.parquet")
    assert dict(zip(df.point, df.n_spikes)) == own


@pytest.mark.slow
def test_small_refusals_are_one_line_before_any_work(tmp_path):
    r = run_cli("ode", *FAST, "--save-every", "100000000000000000000", "-o", tmp_path / "d.csv")
    assert r.returncode == 2 and "--save-every" in r.stderr and r.stderr.count("\n") == 1
    u = tmp_path / "u"
    u.mkdir()
    (u / "sweep.json").write_text('{"mine": 1}')
    r = run_cli("sweep", "--resume", u)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert sorted(os.listdir(u)) == ["sweep.json"]  # no lock file left in the user's folder
    r = run_cli("sweep", "--engines", "ideal", "--set", "simulation.t_stop=10", "--grid",
                "stimulus.amplitude=1m,2m", "-o", tmp_path / "s")
    assert r.returncode == 2 and "simulation.max_step" in r.stderr and r.stderr.count("\n") == 1
    out1 = tmp_path / "out1"
    assert run_cli(*_fit_args(tmp_path, out1)).returncode in (0, 1)
    r = run_cli(*_fit_args(tmp_path, out1), "--params", out1 / "memristor.toml", "--force")
    assert r.returncode == 2 and "folder of the input" in r.stderr


def test_a_ctrl_c_wrapped_by_python_during_an_import_is_an_interruption(tmp_path, capsys, monkeypatch):
    # Python 3.11 turns a KeyboardInterrupt raised in __set_name__ (a dataclass being created
    # while pandas is imported) into a RuntimeError caused by it
    import alif_spice.ode as ode

    def wrapped(*a, **k):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise RuntimeError("Error calling __set_name__ on 'Field' instance") from exc

    monkeypatch.setattr(ode, "solve_ode", wrapped)
    status = cli.main(["ode", *FAST, "-o", str(tmp_path / "t.csv")])
    assert status == 130 and capsys.readouterr().err == "alif-spice: interrupted\n"


def test_a_folder_that_vanishes_while_an_output_is_checked_is_not_an_error(tmp_path, monkeypatch):
    # two runs started at once: the loser looked into the winner's temporary folder as the
    # winner renamed it, and failed with "cannot read the folder (No such file or directory)"
    from pathlib import Path

    from alif_spice.files import _walk

    (tmp_path / "gone").mkdir()
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "f").write_text("x")
    real = Path.iterdir

    def vanishing(self):
        if self.name == "gone":
            raise FileNotFoundError(2, "No such file or directory")
        return real(self)

    monkeypatch.setattr(Path, "iterdir", vanishing)
    assert _walk(tmp_path) == ["kept/f"]
