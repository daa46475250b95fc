"""Helper processes that end with the process that started them.

Stdlib only: the ngspice child process loads this file by path, without the package.
"""

from __future__ import annotations

import os
import signal
import threading
import time


def die_with_parent(parent: int, group: bool = False) -> None:
    """End this process as soon as ``parent`` is gone, however it went (SIGKILL
    included): the kernel's parent-death signal where there is one, and a watchdog
    thread in any case (it polls every 0.1 s). ``group``: also kill this process's own
    process group (what it started, e.g. a netlist's ``shell`` command)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.1)
        try:
            if group:
                os.killpg(0, signal.SIGKILL)
        finally:
            os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()
