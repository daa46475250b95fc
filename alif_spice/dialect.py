"""Netlists in LTspice's dialect, translated from the rendered ngspice netlists.

The circuits are written once (``netlists/*.cir.j2`` and ``spice_models/``, in ngspice's
dialect); :func:`to_ltspice` rewrites the few constructs the two simulators spell
differently, so the LTspice file is the same circuit with the same values:

* ``.model NAME sw vt=.. vh=..`` -> ``.model NAME SW(Vt=.. Vh=..)`` (LTspice's switch card);
* ``.subckt NAME nodes k=v`` -> ``.subckt NAME nodes params: k=v``;
* a lossless line's ``Z0=`` -> ``Zo=``;
* ngspice's repeating ``PWL(...) r=0`` (the triangle I-V source) -> every period written
  out up to the run's end (LTspice's repeat is spelled ``REPEAT FOREVER``, which ngspice
  does not read);
* ``.print tran ...`` -> ``.save ...`` (LTspice has no ``.print``), and
  ``.options plotwinsize=0 numdgt=15``: LTspice otherwise compresses the saved waveforms
  and stores them in single precision, which moves spike times;
* a header that says how to run the file in LTspice and which nodes carry the signals.

Expressions are written without conditionals (ngspice's ``a ? b : c`` is LTspice's
``if(a, b, c)``, and ngspice's LTspice emulation does not read ``if`` inside a ``.func``):
the libraries use ``min``, ``max`` and the unit step ``u()``, which both read alike. No
``.control`` block is written in either dialect. What differs between real LTspice and
the LTspice emulation of ngspice (``ngbehavior=lt``, where the translation is tested) is
listed in docs/circuits.md.
"""

from __future__ import annotations

import re

from .netlist import Netlist

#: the dialects ``alif-spice netlist --dialect`` writes
DIALECTS = ("ngspice", "ltspice")

_PWL_REPEAT = re.compile(r"PWL\(([^()]*)\)\s+r=0\b", re.IGNORECASE)
_SWITCH = re.compile(r"^(\.model\s+\S+\s+)sw\s+(?!\()(.*)$", re.IGNORECASE)
_SUBCKT = re.compile(r"^(\.subckt\s+\S+(?:\s+[^\s=]+)*?)(\s+[A-Za-z_]\w*\s*=.*)$", re.IGNORECASE)

#: where each circuit's signals are, for the header (trace column: LTspice expression)
SIGNALS = {
    "ideal": {"v_c": "V(c)", "v_mem": "V(c,m) = V(c)-V(m)", "x": "V(x)", "i_m": "I(Vsense)",
              "spike output (latch, on above 0.5 V)": "V(q)"},
    "hardware": {"v_c": "V(c)", "v_mem": "V(c,m) = V(c)-V(m)", "x": "V(x)", "i_m": "I(Vsense)",
                 "spike output (comparator)": "V(co)", "difference amplifier": "V(da)"},
    "memristor-iv": {"v_src": "V(src)", "v_mem": "V(a)", "x": "V(x)", "i_m": "I(Vsense)"},
}


_ASCII = {"Ω": "Ohm", "µ": "u", "π": "pi", "≤": "<=", "≥": ">=", "−": "-", "–": "-", "×": "x", "·": "*"}


def _ascii(comment: str) -> str:
    """A comment in ASCII (LTspice reads netlists in its own code page)."""
    for a, b in _ASCII.items():
        comment = comment.replace(a, b)
    return comment.encode("ascii", "replace").decode()


def _repeated_pwl(match: re.Match, t_stop: float) -> str:
    """A PWL of one period, repeating from its start (ngspice's ``r=0``), written out for
    every period up to ``t_stop``."""
    from .units import format_spice_number, parse_number

    values = [parse_number(v) for v in match.group(1).split()]
    points = list(zip(values[0::2], values[1::2]))
    period = points[-1][0]
    out = list(points)
    k = 1
    while out[-1][0] < t_stop:
        out += [(t + k * period, v) for t, v in points[1:]]
        k += 1
    return "PWL(" + " ".join(f"{format_spice_number(t)} {format_spice_number(v)}" for t, v in out) + ")"


def _line(line: str, t_stop: float) -> str:
    if line.startswith("*") or not line.strip():
        return _ascii(line)
    m = _SWITCH.match(line)
    if m:
        return f"{m.group(1)}SW({m.group(2).strip()})"
    m = _SUBCKT.match(line)
    if m and " params:" not in line.lower():
        return f"{m.group(1)} params:{m.group(2)}"
    if line.lower().startswith(".print tran "):
        return ".save " + line[len(".print tran "):]
    if line[:1] in "Tt" and "Z0=" in line:
        line = line.replace("Z0=", "Zo=")
    line = _PWL_REPEAT.sub(lambda m: _repeated_pwl(m, t_stop), line)
    if "?" in line:  # the libraries are written without conditionals, which the two spell differently
        raise ValueError(f"a conditional expression LTspice does not read: {line!r}")
    return line


def header(netlist: Netlist) -> list[str]:
    lines = ["* Written by alif-spice netlist --dialect ltspice. To run it: open this file in LTspice",
             "* (File > Open, files of type Netlists), then Simulate > Run. The signals:"]
    lines += [f"*   {column}: {where}" for column, where in SIGNALS.get(netlist.circuit, {}).items()]
    if netlist.spike is not None:
        column, level = netlist.spike
        output = {"latch": "V(q)", "v_cmp": "V(co)"}.get(column, column)
        lines += [f"* Spikes are the upward crossings of {output} at {level:.6g} V. To compare a run with the",
                  "* model: keep the .raw file LTspice writes beside this one (or File > Export data as",
                  "* text), then: alif-spice compare --raw FILE --probe v_c=V(c) --probe v_mem=V(c,m)",
                  f"*   --probe x=V(x) --spike '{output}>{level:.6g}' (with this netlist's parameters)"]
    return lines + ["*"]


def to_ltspice(netlist: Netlist) -> str:
    """The rendered ngspice netlist ``netlist`` in LTspice's dialect (module docstring)."""
    import hashlib

    mark = "* sha256 of the netlist below: "
    lines = netlist.text.splitlines()
    at = next(k for k, line in enumerate(lines) if line.startswith(mark))
    body = []
    for line in lines[at + 1:]:
        if line.lower().startswith(".tran"):
            body.append(".options plotwinsize=0 numdgt=15")
        body.append(_line(line, netlist.t_stop))
    text = "\n".join(body) + "\n"
    top = [lines[0].replace("(ngspice 39 to 46; run with ngspice -b)", "(LTspice dialect)"),
           *header(netlist), *(_ascii(line) for line in lines[1:at]),
           mark + hashlib.sha256(text.encode("utf-8")).hexdigest()]
    return "\n".join(top) + "\n" + text
