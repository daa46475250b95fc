"""The ``alif-spice ode`` command as a user runs it, and the wheel's contents."""

import zipfile

import numpy as np
import pandas as pd
import pytest

from alif_spice import load_params, read_trace, solve_ode
from conftest import cli_argv, run_cli


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_ode_command_writes_trace_and_spikes(tmp_path, suffix):
    out = tmp_path / f"run{suffix}"
    res = run_cli("ode", "--set", "simulation.t_stop=3m", "--set", "neuron.c=33n", "-o", out)
    assert res.returncode == 0, res.stderr
    assert str(out) in res.stdout and "spikes per input period" in res.stdout
    frame = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert list(frame.columns) == ["time", "v_c", "v_mem", "x", "i_m", "i_in"]
    spikes = pd.read_csv(tmp_path / "run.spikes.csv")
    assert list(spikes.columns) == ["t_spike"]
    api = solve_ode(load_params("paper", sets=["simulation.t_stop=3m", "neuron.c=33n"]))
    np.testing.assert_array_equal(spikes["t_spike"].to_numpy(), api.spikes)  # exact, 17 digits
    back = read_trace(out)
    np.testing.assert_allclose(back["v_c"], api["v_c"], rtol=1e-11, atol=1e-12)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, "run.spikes.csv"])


def test_ode_rejects_unknown_output_format_before_running(tmp_path):
    res = run_cli("ode", "-o", tmp_path / "trace.txt")
    assert res.returncode == 2 and "must end in .csv or .parquet" in res.stderr
    assert list(tmp_path.iterdir()) == []


def test_usage_errors_are_one_line_exit_2(tmp_path):
    res = run_cli("ode")
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
    res = run_cli("frobnicate")
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1


def test_wheel_ships_data_folders(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(root)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("alif_spice-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "alif_spice/presets/paper.toml" in names
    for folder in ("netlists", "spice_models", "compare"):
        assert any(n.startswith(f"alif_spice/_data/{folder}/") for n in names), folder


def test_source_tree_and_editable_installs_find_the_data_folders(tmp_path):
    # a real editable install (pip install -e .) into its own prefix; Python then starts with
    # that prefix's site folder ahead of the environment's (which holds the regular install):
    # the package comes from the source tree, and the templates, libraries and cases are
    # found beside it
    import os
    import subprocess
    import sys
    import sysconfig
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    if not (root / "netlists").is_dir():
        pytest.skip("no source tree beside the tests")
    prefix = tmp_path / "prefix"
    installed = Path(sysconfig.get_paths()["purelib"]) / "alif_spice" / "__init__.py"
    before = installed.is_file()
    # --ignore-installed: without it pip first uninstalls the environment's own copy
    res = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                          "--no-index", "--ignore-installed", "--prefix", str(prefix), "-e", str(root)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert installed.is_file() == before  # the environment's install is untouched
    site_dir, = prefix.glob("lib/python*/site-packages")
    assert any(p.suffix == ".pth" for p in site_dir.iterdir())
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    head = ("import site, sys; site.addsitedir(sys.argv[1]); site.addsitedir(sys.argv[2]); import alif_spice; "
            "assert alif_spice.__file__.startswith(sys.argv[3]), alif_spice.__file__; ")
    cli = head + "from alif_spice.cli import main; sys.argv = ['alif-spice', *sys.argv[4:]]; sys.exit(main())"
    paths = [str(site_dir), sysconfig.get_paths()["purelib"], str(root / "alif_spice")]
    for circuit in ("ideal", "hardware", "memristor-iv"):
        res = subprocess.run([sys.executable, "-S", "-c", cli, *paths, "netlist", "--circuit", circuit,
                              "-o", f"{circuit}.cir"], cwd=tmp_path, capture_output=True, text=True, env=env)
        assert res.returncode == 0, res.stderr
        assert ".subckt" in (tmp_path / f"{circuit}.cir").read_text().lower()
    res = subprocess.run([sys.executable, "-S", "-c", head + "from alif_spice.cases import available_cases, "
                          "load_case; print(available_cases(), load_case('step').name)", *paths],
                         cwd=tmp_path, capture_output=True, text=True, env=env)
    assert res.returncode == 0 and "'paper'" in res.stdout and "step" in res.stdout, res.stderr


@pytest.mark.spice
def test_version_names_the_ngspice_in_use(tmp_path):
    import os
    import re
    import subprocess

    from alif_spice.spice import find_libngspice, ngspice_version

    res = run_cli("--version")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert re.fullmatch(r"alif-spice \S+", lines[0])
    assert lines[1] == f"ngspice {ngspice_version()} ({find_libngspice()})"
    env = {**os.environ, "NGSPICE_LIBRARY_PATH": str(tmp_path / "missing.so")}
    res = subprocess.run(cli_argv("--version"), capture_output=True, text=True, env=env)
    assert res.returncode == 0 and "ngspice: not usable (cannot load ngspice from" in res.stdout
