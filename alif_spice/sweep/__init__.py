"""Parameter sweeps and Monte Carlo device variability over any parameter.

Its parts, each depending only on the ones before it:

- :mod:`~alif_spice.sweep.spec`: a :class:`SweepSpec` (grid axes, Monte Carlo spreads,
  engines), read from the command line or a TOML file, and the points it expands into;
- :mod:`~alif_spice.sweep.store` and :mod:`~alif_spice.sweep.folder`: the sweep folder on
  disk, ``rows.jsonl`` (every finished row appended at once, so an interrupted sweep loses
  nothing done) and ``sweep.json`` (the spec, and every file the sweep wrote);
- :mod:`~alif_spice.sweep.report`: ``results.parquet``, figures, ``summary.html`` /
  ``summary.md`` and ``manifest.json`` of a finished sweep;
- :mod:`~alif_spice.sweep.run`: the tasks (``ode`` points through the RK4 batch kernel in
  chunks, SPICE points one per task in ngspice) on any :class:`concurrent.futures.Executor`
  (local threads, or Dask's ``Client.get_executor()``), and :func:`run_sweep`, which writes
  the report at the end.

Notebook use::

    from alif_spice import load_params
    from alif_spice.sweep import build_spec, run_sweep
    base = load_params("paper")
    spec = build_spec(base, grid=["stimulus.amplitude=0.5m:2m:4"], engines="ode,ideal")
    result = run_sweep("sweep-out", spec, base)
    result.frame()        # one row per (point, engine)
"""

from __future__ import annotations

from .folder import (RESULTS_FILE, SPEC_FILE, SWEEP_OUTPUTS, SweepResult, check_folder, check_resume,
                     load_sweep)
from .run import (ODE_CHUNK, Progress, describe, local_executor, dask_executor, make_executor, preflight,
                  run_ode_task, run_spice_task, run_sweep, run_task, tasks)
from .spec import Axis, Point, SweepSpec, Vary, build_spec, mc_values, parse_grid, parse_vary, points, read_spec_file
from .store import ROWS_FILE, read_rows, rows_frame

__all__ = [
    "Axis", "Point", "SweepSpec", "Vary", "build_spec", "mc_values", "parse_grid", "parse_vary", "points",
    "read_spec_file", "ROWS_FILE", "read_rows", "rows_frame", "RESULTS_FILE", "SPEC_FILE", "SWEEP_OUTPUTS",
    "SweepResult", "check_folder", "check_resume", "load_sweep", "ODE_CHUNK", "Progress", "describe",
    "local_executor", "dask_executor", "make_executor", "preflight", "run_ode_task", "run_spice_task",
    "run_sweep", "run_task", "tasks",
]
