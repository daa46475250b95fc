"""A real distributed sweep: a `dask scheduler` and two `dask worker` processes started
with Dask's own command line on 127.0.0.1; one worker is killed mid-sweep."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import cli_argv, descendants, survivors

pytestmark = [pytest.mark.dask, pytest.mark.spice]

DASK = Path(sys.executable).with_name("dask")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def cluster(tmp_path):
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = open(tmp_path / "dask.log", "w")
    procs = [subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], stdout=logs, stderr=logs)]
    time.sleep(1.0)
    for _ in range(2):  # no nanny: a killed worker stays dead
        procs.append(subprocess.Popen([str(DASK), "worker", address, "--nthreads", "1", "--no-nanny",
                                       "--no-dashboard", "--host", "127.0.0.1"], stdout=logs, stderr=logs))
    yield address, procs[1:]
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(30)
    logs.close()


@pytest.mark.slow
def test_sweep_on_a_dask_cluster_survives_a_killed_worker(tmp_path, cluster):
    address, workers = cluster
    out = tmp_path / "s"
    n = 8
    args = ["sweep", "--set", "simulation.t_stop=4m", "--grid", f"stimulus.amplitude=0.5m:2m:{n}",
            "--engines", "ideal", "--scheduler", address, "-o", out]
    proc = subprocess.Popen(cli_argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while len(_rows(out / "rows.jsonl")) < 1:  # the sweep runs on the cluster
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    victim = workers[0]
    gone = descendants(victim.pid)
    victim.send_signal(signal.SIGKILL)
    victim.wait(30)
    assert survivors(gone) == []  # the worker's ngspice processes went with it
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr
    rows = _rows(out / "rows.jsonl")
    assert sorted(r["point"] for r in rows) == list(range(n))  # every row exactly once
    assert all(r["status"] == "ok" and r["n_spikes"] > 0 for r in rows)
    import pandas as pd

    assert len(pd.read_parquet(out / "results.parquet")) == n


def test_ctrl_c_on_a_dask_sweep_is_one_line_and_130(tmp_path):
    out = tmp_path / "s"
    args = ["sweep", "--set", "simulation.t_stop=10m", "--grid", "stimulus.amplitude=0.5m:2m:6",
            "--engines", "ideal", "--cluster", "local:2", "-o", out]
    proc = subprocess.Popen(cli_argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not any("_ngspice_child" in Path(f"/proc/{p}/cmdline").read_text(errors="replace")
                  for p in descendants(proc.pid) if Path(f"/proc/{p}").exists()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    procs = descendants(proc.pid)
    os.kill(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert "Traceback" not in stderr
    assert lines[-1] == "alif-spice: interrupted" and len(lines) <= 3, lines
    assert survivors(procs, within=5.0) == []
