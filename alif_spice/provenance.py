"""Provenance: what every output folder records about how it was made, in one place.

``compare`` (manifest.json), ``sweep`` (manifest.json) and ``fit`` (fit.json) all carry
:func:`record`: the tool and its version, the command line as a user would type it again,
the versions of what did the work, and when.
"""

from __future__ import annotations

import os
import platform
import shlex
import sys
import time
from collections.abc import Sequence


def versions(ngspice: bool = True) -> dict[str, str]:
    """alif-spice, PySpice, numpy, numba, Python and (unless ``ngspice=False``, which
    does not start ngspice to ask it) ngspice."""
    import numba
    import numpy
    import PySpice

    from .version import __version__

    out = {"alif-spice": __version__, "PySpice": PySpice.__version__, "numpy": numpy.__version__,
           "numba": numba.__version__, "python": platform.python_version()}
    if ngspice:
        from .spice import ngspice_version

        out["ngspice"] = ngspice_version()
    return out


def portable_command(argv: Sequence[str] | None = None) -> str:
    """The command line to run it again: the program as ``alif-spice`` (not the path of
    the environment it was installed in, nor ``python -m alif_spice``), the arguments as
    given, quoted for a POSIX shell. ``argv`` None: this process's; empty: no command
    (called from Python), recorded as ""."""
    args = list(sys.argv if argv is None else argv)
    if not args:
        return ""
    head = os.path.basename(args[0])
    rest = args[1:]
    if head in ("alif-spice", "__main__.py", "cli.py") or head.startswith("alif-spice"):
        return shlex.join(["alif-spice", *rest])
    return shlex.join(args)


def record(argv: Sequence[str] | str | None = None, ngspice: bool = True) -> dict:
    """The provenance keys every output's manifest starts with; ``argv`` as for
    :func:`portable_command`, or the command line already made portable (a string)."""
    from .version import __version__

    command = argv if isinstance(argv, str) else portable_command(argv)
    return {"tool": "alif-spice", "tool_version": __version__, "command": command,
            "versions": versions(ngspice), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
