"""Write tests/data/invariants.json: what a refactoring must not change.

- the SHA-256 of every shipped circuit's netlist, rendered from the paper preset, from the
  step case's preset and with a generalised MMS device (the package version in the header
  is blanked, so a release does not count as a change);
- the RK4 spike times of the paper preset and of the generalised MMS device, bit for bit
  (as float.hex), and a hash of their traces.

Run it only on purpose, when a change is meant to alter these; tests/test_invariants.py
compares against the file.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "invariants.json"

#: parameter variants: name -> (preset, --set items)
VARIANTS = {
    "paper": ("paper", []),
    "gmms": ("paper", ["memristor.model=gmms", "memristor.phi=0.6", "memristor.alpha_f=1e-6", "memristor.beta_f=4",
                       "memristor.alpha_r=2e-6", "memristor.beta_r=3"]),
    "step": ("paper", ["stimulus.frequency=100", "simulation.t_stop=5m"]),  # the step case
}


def netlist_hashes() -> dict[str, str]:
    from alif_spice import load_params, render
    from alif_spice.circuits import names
    from alif_spice.version import __version__

    out = {}
    for name, (preset, sets) in VARIANTS.items():
        p = load_params(preset, sets=sets)
        for circuit in names():
            text = render(p, circuit).text.replace(f"alif-spice {__version__}", "alif-spice VERSION", 1)
            out[f"{name}/{circuit}"] = hashlib.sha256(text.encode()).hexdigest()
    return out


def rk4(name: str) -> dict:
    import numpy as np

    from alif_spice import load_params, solve_ode

    preset, sets = VARIANTS[name]
    tr = solve_ode(load_params(preset, sets=sets))
    cols = np.ascontiguousarray(np.c_[tr.time, tr["v_c"], tr["x"]])
    return {"spikes": [float(s).hex() for s in tr.spikes], "trace_sha256": hashlib.sha256(cols.tobytes()).hexdigest()}


def collect() -> dict:
    return {"netlists": netlist_hashes(), "rk4": {n: rk4(n) for n in ("paper", "gmms")}}


if __name__ == "__main__":
    OUT.write_text(json.dumps(collect(), indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}", file=sys.stderr)
