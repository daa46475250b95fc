"""Random, valid parameter sets over wide physical ranges, for parity checks of the circuits.

:func:`draw_set` draws one neuron over the ranges below (log-uniform where a value spans a
decade or more), with three input periods of simulated time; :func:`draw_sets` draws many
from one seed, the first of every three with ``t_ref = 0`` exactly. Only sets that pass
validation are returned (``v_reset`` is redrawn until the reset rule holds).

=============  ==============================================
memristor      r_on 0.5-5 kΩ, r_off 2-20 x r_on, v_on 0.1-0.6 V, v_off 0.02-0.3 V,
               tau 20 µs-2 ms, temperature 280-330 K
neuron         c 5-100 nF, r_s 0.5-20 kΩ, v_rest -0.3-0 V, v_th 0.1-0.8 V,
               v_reset 0-v_th, t_ref 0-10 µs
stimulus       amplitude 0.2-3 mA, frequency 0.2-5 kHz, duty 0.2-0.8
=============  ==============================================
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .errors import ParamError
from .params import Params, load_params

#: input periods simulated per set
PERIODS = 3


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def draw_set(rng: np.random.Generator, zero_t_ref: bool = False, base: Params | None = None) -> Params:
    """One valid random parameter set (over ``base``, default the ``paper`` preset)."""
    base = base if base is not None else load_params("paper")
    while True:
        r_on = _log_uniform(rng, 500.0, 5e3)
        f = _log_uniform(rng, 200.0, 5e3)
        v_th = float(rng.uniform(0.1, 0.8))
        values = {
            "memristor.r_on": r_on,
            "memristor.r_off": r_on * _log_uniform(rng, 2.0, 20.0),
            "memristor.v_on": float(rng.uniform(0.1, 0.6)),
            "memristor.v_off": float(rng.uniform(0.02, 0.3)),
            "memristor.tau": _log_uniform(rng, 20e-6, 2e-3),
            "memristor.temperature": float(rng.uniform(280.0, 330.0)),
            "neuron.c": _log_uniform(rng, 5e-9, 100e-9),
            "neuron.r_s": _log_uniform(rng, 500.0, 20e3),
            "neuron.v_rest": float(rng.uniform(-0.3, 0.0)),
            "neuron.v_th": v_th,
            "neuron.t_ref": 0.0 if zero_t_ref else float(rng.uniform(0.0, 10e-6)),
            "stimulus.amplitude": _log_uniform(rng, 0.2e-3, 3e-3),
            "stimulus.frequency": f,
            "stimulus.duty": float(rng.uniform(0.2, 0.8)),
            "simulation.t_stop": PERIODS / f,
        }
        for _ in range(100):
            values["neuron.v_reset"] = float(rng.uniform(0.0, v_th))
            try:
                return base.with_values(values)
            except ParamError as exc:
                if "neuron.v_reset" not in str(exc):
                    break  # another rule failed: draw everything again


def draw_sets(seed: int, n: int, base: Params | None = None) -> list[Params]:
    """``n`` sets from ``seed``; sets 0, 3, 6, ... have ``t_ref = 0`` exactly."""
    rng = np.random.default_rng(seed)
    base = base if base is not None else load_params("paper")
    return [draw_set(rng, zero_t_ref=(i % 3 == 0), base=base) for i in range(n)]


@dataclass(frozen=True)
class Parity:
    """The ideal circuit against the RK4 model on one parameter set."""

    n_model: int
    n_spice: int
    #: max |spike time difference| / mean model ISI (None: counts differ or < 2 spikes)
    max_error_rel_isi: float | None
    #: holds of the latch (s): every one, and the hold asked for
    holds: np.ndarray
    hold: float
    #: largest |latch| (V) between spikes, away from the set and clear edges
    latch_off_max: float
    spice_wall_s: float
    max_step: float

    @property
    def passed(self) -> bool:
        """Equal spike counts and max |Δt| <= 0.5 % of the mean ISI (trivially with < 2 spikes)."""
        if self.n_model != self.n_spice:
            return False
        return self.max_error_rel_isi is None or self.max_error_rel_isi <= 0.005


def ideal_parity(p: Params, steps_per_isi: float | None = 200.0) -> Parity:
    """Run the model (with the circuit's effective hold) and the ideal circuit on ``p``.

    With ``steps_per_isi`` the SPICE maximum step is at most the model's mean ISI divided by
    it (fast-firing sets need finer steps than the preset's ``max_step``); None keeps ``p``'s.
    """
    from .netlist import ideal_hold, model_params
    from .ode import solve_ode
    from .spice import crossings, run_circuit

    model = solve_ode(model_params(p, "ideal"))
    isi = np.diff(model.spikes)
    if steps_per_isi and isi.size:
        p = p.with_values({"simulation.max_step": min(p.simulation.max_step, float(isi.mean()) / steps_per_isi)})
    t0 = time.perf_counter()
    spice = run_circuit(p, "ideal")
    wall = time.perf_counter() - t0
    err = None
    if spice.spikes.size == model.spikes.size and isi.size:
        err = float(np.max(np.abs(spice.spikes - model.spikes)) / isi.mean())
    t, q = spice.time, spice["latch"]
    up, down = crossings(t, q, 0.5), crossings(t, -q, -0.5)
    n = min(up.size, down.size)
    off = np.ones(t.size, dtype=bool)
    for a, b in zip(up[:n], down[:n]):
        off &= ~((t > a - 1e-9) & (t < b + 1e-9))
    if up.size > n:  # a hold still running at the end
        off &= t < up[-1] - 1e-9
    return Parity(n_model=int(model.spikes.size), n_spice=int(spice.spikes.size), max_error_rel_isi=err,
                  holds=down[:n] - up[:n], hold=ideal_hold(p), latch_off_max=float(np.abs(q[off]).max()),
                  spice_wall_s=wall, max_step=p.simulation.max_step)
