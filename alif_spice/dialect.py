"""Netlists in LTspice's dialect, translated from the rendered ngspice netlists.

The circuits are written once (``netlists/*.cir.j2`` and ``spice_models/``, in ngspice's
dialect); :func:`to_ltspice` rewrites the few constructs the two simulators spell
differently, so the LTspice file is the same circuit with the same values:

* ``.model NAME sw vt=.. vh=..`` -> ``.model NAME SW(Vt=.. Vh=..)`` (LTspice's switch card);
* ``.subckt NAME nodes k=v`` -> ``.subckt NAME nodes params: k=v``;
* a lossless line's ``Z0=`` -> ``Zo=``;
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


def _line(line: str) -> str:
    if line.startswith("*") or not line.strip():
        return line
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
    if "?" in line:  # the libraries are written without conditionals, which the two spell differently
        raise ValueError(f"a conditional expression LTspice does not read: {line!r}")
    return line


def header(circuit: str) -> list[str]:
    lines = ["* LTspice dialect (written by alif-spice netlist --dialect ltspice). To run it: open this",
             "* file in LTspice (File > Open, files of type Netlists), then Simulate > Run. The signals:"]
    lines += [f"*   {column}: {where}" for column, where in SIGNALS.get(circuit, {}).items()]
    lines += ["* To compare a run with the model: File > Export data as text, or the .raw file LTspice",
              "* writes beside this one, then: alif-spice compare --raw FILE --probe v_c=V(c) ...",
              "*"]
    return lines


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
        body.append(_line(line))
    text = "\n".join(body) + "\n"
    top = [lines[0].replace("(ngspice 39 to 46; run with ngspice -b)", "(LTspice dialect)"),
           *header(netlist.circuit), *lines[1:at], mark + hashlib.sha256(text.encode("utf-8")).hexdigest()]
    return "\n".join(top) + "\n" + text
