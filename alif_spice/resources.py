"""Files shipped inside the wheel (netlist templates, SPICE libraries, comparison cases).

They live at the top of the source tree (``netlists/``, ``spice_models/``,
``compare/``) and are packed into ``alif_spice/_data/`` when the wheel is built,
so they are always found through :mod:`importlib.resources`.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

KINDS = ("netlists", "spice_models", "compare")


def data_dir(kind: str) -> Traversable:
    """The shipped folder ``kind`` (one of :data:`KINDS`)."""
    if kind not in KINDS:
        raise ValueError(f"unknown data folder {kind!r}")
    return resources.files("alif_spice").joinpath("_data", kind)
