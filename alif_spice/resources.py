"""Files shipped with the package (netlist templates, SPICE libraries, comparison cases).

They live at the top of the source tree (``netlists/``, ``spice_models/``,
``compare/``) and are packed into ``alif_spice/_data/`` when the wheel is built. An
installed wheel finds them there (through :mod:`importlib.resources`); a source
checkout or an editable install (``pip install -e .``) finds them beside the package.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

KINDS = ("netlists", "spice_models", "compare")


def data_dir(kind: str) -> Traversable:
    """The shipped folder ``kind`` (one of :data:`KINDS`)."""
    if kind not in KINDS:
        raise ValueError(f"unknown data folder {kind!r}")
    packed = resources.files("alif_spice").joinpath("_data").joinpath(kind)
    if packed.is_dir():
        return packed
    beside = Path(__file__).resolve().parent.parent / kind  # source tree / editable install
    return beside if beside.is_dir() else packed
