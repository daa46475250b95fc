"""alif-spice: memristor-based adaptive LIF neuron in ngspice and in a reference RK4 solver.

Notebook use::

    from alif_spice import load_params, solve_ode
    params = load_params("paper", sets=["neuron.c=47n"])
    trace = solve_ode(params)
    trace.to_frame()      # time, v_c, v_mem, x, i_m, i_in
    trace.spikes          # exact spike times, s
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .errors import AlifError, ParamError, SimulationError
from .ode import solve_batch, solve_ode
from .params import Params, load_params
from .stimulus import SquareWave
from .trace import Trace, read_trace

try:
    __version__ = version("alif-spice")
except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
    __version__ = "0+unknown"

__all__ = [
    "AlifError", "ParamError", "SimulationError", "Params", "load_params", "solve_ode",
    "solve_batch", "SquareWave", "Trace", "read_trace", "__version__",
]
