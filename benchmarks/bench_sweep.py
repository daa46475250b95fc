"""Sweep throughput (issue: sweeps), each comparison run side by side in this process.

1. 32 SPICE points (ideal circuit, paper preset, stimulus.amplitude 0.5-2 mA) on the local
   pool with 1 worker vs 2 workers (target: speed-up >= 1.7 on 2 cores).
2. The same 32 points on a real Dask LocalCluster (2 single-threaded worker processes) vs
   the local threads with 2 workers (target: overhead < 15 %); cluster start-up is timed
   separately and quoted both ways.
3. 10,000 ODE points (1 ms each, stimulus.amplitude 0.5-2 mA) through the sweep's batch
   path (chunks of 32 neurons per kernel call) vs one kernel call per point.

Rows are written to a temporary folder exactly as `alif-spice sweep` writes them (reports
off, so the timing is the execution). Run: .venv/bin/python benchmarks/bench_sweep.py
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from alif_spice import load_params
import contextlib

from alif_spice.sweep import build_spec, dask_executor, local_executor, points, run_ode_task, run_sweep

from _timing import median_time


def _sweep(spec, base, pool, folder: Path) -> float:
    t0 = time.perf_counter()
    res = run_sweep(folder, spec, base, executor=pool, progress=False, report=False)
    wall = time.perf_counter() - t0
    assert len(res.rows) == spec.n_points * len(spec.engines) and res.failed == 0, "failed rows in the benchmark"
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="repeats of each SPICE timing (median)")
    ap.add_argument("--spice-points", type=int, default=32)
    ap.add_argument("--ode-points", type=int, default=10_000)
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores")
    base = load_params("paper")
    spec = build_spec(base, grid=[f"stimulus.amplitude=0.5m:2m:{args.spice_points}"], engines="ideal")
    with tempfile.TemporaryDirectory() as tmp:
        n = 0

        def folder() -> Path:
            nonlocal n
            n += 1
            return Path(tmp) / f"s{n}"

        stack = contextlib.ExitStack()
        pools = {1: stack.enter_context(local_executor(1)), 2: stack.enter_context(local_executor(2))}
        for pool in pools.values():  # start each pool's ngspice processes outside the timing
            run_sweep(folder(), build_spec(base.with_values({"simulation.t_stop": 1e-4}),
                                           grid=["stimulus.amplitude=1m,2m"], engines="ideal"),
                      base.with_values({"simulation.t_stop": 1e-4}), executor=pool, progress=False, report=False)
        t0 = time.perf_counter()
        dask = stack.enter_context(dask_executor(local_workers=2))
        startup = time.perf_counter() - t0
        run_sweep(folder(), build_spec(base.with_values({"simulation.t_stop": 1e-4}),
                                       grid=["stimulus.amplitude=1m,2m"], engines="ideal"),
                  base.with_values({"simulation.t_stop": 1e-4}), executor=dask, progress=False, report=False)
        times: dict[str, list[float]] = {"local1": [], "local2": [], "dask2": []}
        for _ in range(args.repeats):  # interleaved, so drifts of a noisy machine hit all alike
            times["local1"].append(_sweep(spec, base, pools[1], folder()))
            times["local2"].append(_sweep(spec, base, pools[2], folder()))
            times["dask2"].append(_sweep(spec, base, dask, folder()))
        stack.close()
    med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    print(f"\n{args.spice_points} SPICE points (ideal, {base.simulation.t_stop * 1e3:g} ms each), "
          f"medians of {args.repeats}:")
    print(f"  local threads, 1 worker : {med['local1']:7.2f} s")
    print(f"  local threads, 2 workers: {med['local2']:7.2f} s   speed-up {med['local1'] / med['local2']:.2f}x "
          f"(target >= 1.7)")
    print(f"  Dask LocalCluster, 2 : {med['dask2']:7.2f} s   overhead vs local threads "
          f"{100 * (med['dask2'] / med['local2'] - 1):+.1f} % (target < 15 %); "
          f"with the cluster's start-up ({startup:.2f} s) "
          f"{100 * ((med['dask2'] + startup) / med['local2'] - 1):+.1f} %")

    ode_base = base.with_values({"simulation.t_stop": 1e-3})
    ode_spec = build_spec(ode_base, grid=[f"stimulus.amplitude=0.5m:2m:{args.ode_points}"])
    pts = points(ode_spec, ode_base)
    run_ode_task(ode_base, pts[:2])  # compile / load the kernel outside the timing
    t_batch, rows_b = median_time(lambda: [r for i in range(0, len(pts), 32)
                                           for r in run_ode_task(ode_base, pts[i:i + 32])], 1)
    t_loop, rows_l = median_time(lambda: [r for p in pts for r in run_ode_task(ode_base, [p])], 1)
    same = [r["n_spikes"] for r in rows_b] == [r["n_spikes"] for r in rows_l]
    steps = len(pts) * round(ode_base.simulation.t_stop / ode_base.simulation.dt)
    print(f"\n{len(pts)} ODE points (1 ms each, dt {ode_base.simulation.dt:g} s, traces recorded for the energy):")
    print(f"  batched (32 per kernel call): {t_batch:7.2f} s  ({steps / t_batch:.3g} neuron-steps/s)")
    print(f"  looped (1 per kernel call)  : {t_loop:7.2f} s  ({steps / t_loop:.3g} neuron-steps/s)")
    print(f"  batched is {t_loop / t_batch:.2f}x faster; identical spike counts: {same}")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        with local_executor() as pool:
            run_sweep(Path(tmp) / "ode", ode_spec, ode_base, executor=pool, progress=False, report=False)
    print(f"  whole sweep on the local threads ({os.cpu_count()} threads, rows written): "
          f"{time.perf_counter() - t0:7.2f} s")


if __name__ == "__main__":
    main()
