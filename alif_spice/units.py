"""Numbers as circuit people write them: SPICE engineering suffixes.

``parse_number("47n") == 47e-9``; ``format_spice_number(47e-9) == "4.7e-08"``.
Suffixes are case-insensitive like SPICE's: f p n u (µ) m k meg g t.
Unlike SPICE, trailing unit letters are *rejected* (``"47nF"``; and ``"1F"`` is
femto, as in SPICE), so a value means exactly what it looks like.
"""

from __future__ import annotations

import math
import re

SUFFIXES: dict[str, float] = {
    "t": 1e12,
    "g": 1e9,
    "meg": 1e6,
    "k": 1e3,
    "m": 1e-3,
    "u": 1e-6,
    "µ": 1e-6,
    "μ": 1e-6,
    "n": 1e-9,
    "p": 1e-12,
    "f": 1e-15,
}

_NUMBER = re.compile(
    r"^\s*(?P<mant>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*(?P<suffix>meg|[tgkmuµμnpf])?\s*$",
    re.IGNORECASE,
)


def parse_number(text: str) -> float:
    """Parse ``"3.2k"``, ``"1meg"``, ``"250u"``, ``"1e-3"`` to a float.

    Raises ``ValueError`` with a short reason for anything else (including
    ``inf``/``nan`` and trailing unit letters).
    """
    if text.strip().lower().lstrip("+-") in ("inf", "infinity", "nan"):
        raise ValueError(f"must be finite, got {text!r}")
    match = _NUMBER.match(text)
    if match is None:
        raise ValueError(f"expected a number such as 1351, 3.2k, 47n or 1e-3, got {text!r}")
    value = float(match.group("mant"))
    suffix = match.group("suffix")
    if suffix:
        value *= SUFFIXES[suffix.lower()]
    if not math.isfinite(value):
        raise ValueError(f"must be finite, got {text!r}")
    return value


def format_spice_number(value: float) -> str:
    """Format a finite float for a netlist: round-trips exactly, no suffix, no spaces."""
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"cannot write a non-finite number to a netlist: {value!r}")
    text = repr(value)
    return "0" if text in ("0.0", "-0.0") else text


_PREFIXES = ((1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"),
             (1e-12, "p"), (1e-15, "f"))


def format_quantity(value: float | None, unit: str = "", digits: int = 4) -> str:
    """A value for people to read: ``format_quantity(1.27e-7, "s") == "127 ns"``; without a
    unit just ``digits`` significant digits; None and NaN (undefined) as "n/a"."""
    if value is None:
        return "n/a"
    value = float(value)
    if math.isnan(value):
        return "n/a"
    if not unit or not math.isfinite(value) or value == 0:
        return f"{value:.{digits}g}" + (f" {unit}" if unit else "")
    # the largest prefix the value reaches once rounded to ``digits`` (else the smallest)
    scale, prefix = next((sp for sp in _PREFIXES if abs(value) >= sp[0] * (1 - 0.5 * 10.0 ** (1 - digits))),
                         _PREFIXES[-1])
    text = f"{value / scale:.{digits}g}"
    if "e" in text:  # beyond the prefixes
        return f"{value:.{digits}g} {unit}"
    return f"{text} {prefix}{unit}"
