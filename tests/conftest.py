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
