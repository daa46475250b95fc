"""alif-spice: memristor-based adaptive LIF neuron in ngspice and in a reference RK4 solver.

Notebook use::

    from alif_spice import load_params, solve_ode, run_circuit
    params = load_params("paper", sets=["neuron.c=47n"])
    trace = solve_ode(params)
    trace.to_frame()      # time, v_c, v_mem, x, i_m, i_in
    trace.spikes          # exact spike times, s
    spice = run_circuit(params, "ideal")   # the same neuron in ngspice
"""

from __future__ import annotations

from .errors import AlifError, ParamError, SimulationError
from .netlist import render
from .ode import solve_batch, solve_iv, solve_ode
from .params import Params, load_params
from .spice import run_circuit
from .stimulus import SquareWave
from .trace import Trace, read_trace
from .version import __version__

__all__ = [
    "AlifError", "ParamError", "SimulationError", "Params", "load_params", "solve_ode",
    "solve_batch", "solve_iv", "render", "run_circuit", "SquareWave", "Trace", "read_trace",
    "__version__",
]
