"""No parameter value can put anything into a netlist but a formatted number (issue 7 §1).

Property test: arbitrary strings and floats for every parameter either are rejected with
ParamError, or render netlists whose lines, with numbers masked, all belong to the
template's own line set (computed from the structural variants: r_s = 0, phi < 1,
triangle source).
"""

import re
from dataclasses import fields

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alif_spice import load_params
from alif_spice.errors import ParamError
from alif_spice.circuits import names
from alif_spice.netlist import render
from alif_spice.params import TABLES
from alif_spice.units import format_spice_number

CIRCUITS = names()

NUMBER = re.compile(r"(?<![A-Za-z_])[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?", re.IGNORECASE)
KEYS = [f"{t}.{f.name}" for t, cls in TABLES.items() for f in fields(cls)]


def _mask(text: str) -> set[str]:
    body = text.split("* sha256 of the netlist below:", 1)[1].split("\n", 1)[1]
    return {NUMBER.sub("N", line) for line in body.splitlines()}


@pytest.fixture(scope="module")
def allowed():
    base = load_params()
    variants = [base, base.with_values({"neuron.r_s": 0}),
                base.with_values({"memristor.model": "gmms",
                                  "memristor.phi": 0.5, "memristor.alpha_f": 1e-9, "memristor.beta_f": 5,
                                  "memristor.alpha_r": 1e-9, "memristor.beta_r": 5}),
                base.with_values({"iv.waveform": "triangle"})]
    return {c: set().union(*(_mask(render(v, c).text) for v in variants)) for c in CIRCUITS}


hostile = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["1\n.control\nshell rm -rf /\n.endc", "1 ; shell ls", "{1}", "1k\n.include /etc/passwd",
                     "sine\n.end", "mms\nB1 0 1 V=1", "1e3 .control", "\u00b5", "1meg\r\nR1 a b 1"]),
    st.floats(allow_nan=True, allow_infinity=True),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(KEYS), value=hostile)
def test_any_value_is_rejected_or_renders_only_template_lines(allowed, key, value):
    try:
        p = load_params(values={key: value})
    except ParamError:
        return
    for circuit in CIRCUITS:
        try:
            text = render(p, circuit).text
        except ParamError:
            continue
        code = "\n".join(ln for ln in text.lower().splitlines() if not ln.startswith("*"))
        assert ".control" not in code and "shell" not in code and ".include" not in code
        extra = _mask(text) - allowed[circuit]
        assert not extra, (key, value, sorted(extra)[:3])
        header = text.split("* sha256 of the netlist below:", 1)[0]
        assert all(line.startswith("*") for line in header.splitlines())


@given(st.text(min_size=1, max_size=30))
@settings(max_examples=200, deadline=None)
def test_set_strings_reach_the_netlist_only_as_the_canonical_number(text):
    try:
        p = load_params(sets=[f"neuron.c={text}"])
    except ParamError:
        return
    # accepted: it parsed as a number, and the capacitor line carries its canonical form
    line = next(ln for ln in render(p, "ideal").text.splitlines() if ln.startswith("C1 "))
    assert line == f"C1 c 0 {format_spice_number(p.neuron.c)} IC={format_spice_number(p.neuron.v_reset)}"


def test_the_line_check_catches_an_injected_line(allowed):
    text = render(load_params(), "ideal").text
    assert _mask(text) <= allowed["ideal"]
    injected = text.replace(".end\n", "B9 0 c I=1\n.end\n")
    assert _mask(injected) - allowed["ideal"] == {"B9 N c I=N"}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(KEYS), text=st.one_of(st.text(max_size=40), hostile.filter(lambda v: isinstance(v, str))))
def test_sweep_grid_strings_are_rejected_or_render_only_template_lines(allowed, key, text):
    # the sweep's own parser (grid lists, words) in front of the same validation
    from alif_spice.sweep import build_spec, points

    base = load_params()
    try:
        spec = build_spec(base, grid=[f"{key}={text}"])
        params = [base.with_values(pt.values) for pt in points(spec, base)]
    except ParamError:
        return
    for p in params:
        for circuit in CIRCUITS:
            try:
                text_ = render(p, circuit).text
            except ParamError:
                continue
            assert not _mask(text_) - allowed[circuit]
