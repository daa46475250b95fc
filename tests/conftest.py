import os
import subprocess
import sys
from pathlib import Path

import pytest

from alif_spice import load_params

SCRIPT = Path(sys.executable).with_name("alif-spice")


@pytest.fixture(scope="session")
def paper():
    return load_params("paper")


def run_cli(*args, cwd=None, timeout=300):
    """Run the installed ``alif-spice`` console script as a user would."""
    env = dict(os.environ)
    return subprocess.run([str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env=env)


def children(pid):
    """Process ids whose parent is ``pid`` (from /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "stat").read_text().split()[3] == str(pid):
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
