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

# the rest is imported on first use: the command line checks its input and output paths
# before it loads the compiled solver, pandas or matplotlib
_LAZY = {
    "render": "netlist", "solve_batch": "ode", "solve_iv": "ode", "solve_ode": "ode",
    "Params": "params", "load_params": "params", "run_circuit": "spice", "SquareWave": "stimulus",
    "Trace": "trace", "read_trace": "trace", "__version__": "version",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AlifError", "ParamError", "SimulationError", "Params", "load_params", "solve_ode",
    "solve_batch", "solve_iv", "render", "run_circuit", "SquareWave", "Trace", "read_trace",
    "__version__",
]
