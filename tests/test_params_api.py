"""The parameter schema in-process (fast): every single-value rule at its boundary, the
loader's edge cases, and the small API (get, flat, with_values, TOML out)."""

import math
import os
from dataclasses import fields

import numpy as np
import pytest

from alif_spice.errors import ParamError
from alif_spice.params import (NONNEG, OPEN_UNIT, POSITIVE, TABLES, UNIT, Params, available_presets, check_value,
                               dumps_toml, load_params, parse_set, read_params_file)

TINY = 1e-300


def _cases():
    """(key, accepted values, refused values) at the boundary of each field's own rule."""
    out = []
    for table, cls in TABLES.items():
        for f in fields(cls):
            key, rule = f"{table}.{f.name}", f.metadata["rule"]
            if f.metadata["kind"] is str:
                continue
            if rule is POSITIVE:
                out.append((key, [TINY, 1.0], [0.0, -TINY]))
            elif rule is NONNEG:
                out.append((key, [0.0, TINY], [-TINY]))
            elif rule is UNIT:
                out.append((key, [0.0, 1.0, 0.5], [-1e-12, 1 + 1e-12]))
            elif rule is OPEN_UNIT:
                out.append((key, [1e-12, 1 - 1e-12], [0.0, 1.0]))
    out += [
        ("memristor.temperature", [1.0, 1e4], [1 - 1e-9, 1e4 * (1 + 1e-12)]),
        ("simulation.timeout", [1e6, TINY], [0.0, 1e6 * (1 + 1e-12)]),
        ("iv.points_per_period", [50.0, 51.0, 1e6], [49.0, 50.5, 49.999]),
        ("hardware.v_neg", [0.0, -5.0], [TINY]),
        ("neuron.v_rest", [-1e300, 0.0, 1e300], []),
    ]
    return out


@pytest.mark.parametrize("key, good, bad", _cases(), ids=lambda v: v if isinstance(v, str) else "")
def test_each_rule_at_its_boundary(key, good, bad):
    for value in good:
        assert check_value(key, value) == value
    for value in bad:
        with pytest.raises(ParamError, match=f"^{key}: must .* \\(got "):
            check_value(key, value)


@pytest.mark.parametrize("key, value", [("memristor.model", "mms"), ("stimulus.kind", "square"),
                                        ("iv.waveform", "triangle"), ("iv.waveform", "sine")])
def test_choices(key, value):
    assert check_value(key, value) == value
    with pytest.raises(ParamError, match="must be one of"):
        check_value(key, value.upper())


@pytest.mark.parametrize("value, words", [(True, "expected a number, got bool"), ("12 kF", "expected a number such as"),
                                          (math.inf, "must be finite"), (-math.nan, "must be finite"),
                                          ([1], "expected a number, got list")])
def test_conversion_errors(value, words):
    with pytest.raises(ParamError, match=words):
        check_value("neuron.c", value)


def test_numbers_as_text_take_suffixes():
    assert check_value("neuron.c", "22n") == pytest.approx(22e-9)
    assert check_value("neuron.c", 3) == 3.0 and isinstance(check_value("neuron.c", 3), float)
    with pytest.raises(ParamError, match="expected a string, got int"):
        check_value("memristor.model", 3)


def test_cross_rule_boundaries(paper):
    # the input must start before the run ends: delay == t_stop is refused
    with pytest.raises(ParamError, match="stimulus.delay: must be < simulation.t_stop"):
        paper.with_values({"stimulus.delay": paper.simulation.t_stop})
    assert paper.with_values({"stimulus.delay": paper.simulation.t_stop * (1 - 1e-12)})
    # comparator levels: vol < voh <= supply
    hw = paper.hardware
    with pytest.raises(ParamError, match="hardware.comp_vol: must be < hardware.comp_voh <= hardware.comp_supply"):
        paper.with_values({"hardware.comp_voh": hw.comp_supply * (1 + 1e-9)})
    assert paper.with_values({"hardware.comp_voh": hw.comp_supply}).hardware.comp_voh == hw.comp_supply


def test_get_flat_beta_and_with_values(paper):
    assert paper.get("neuron.c") == paper.neuron.c
    flat = paper.flat()
    assert flat["memristor.r_on"] == paper.memristor.r_on and len(flat) == sum(len(fields(c)) for c in TABLES.values())
    assert list(paper.to_dict()) == list(TABLES)
    assert paper.beta == pytest.approx(1.602176634e-19 / (1.380649e-23 * paper.memristor.temperature))
    q = paper.with_values({"neuron.c": 33e-9, "memristor.x0": 0.25})
    assert (q.neuron.c, q.memristor.x0, q.neuron.r_s) == (33e-9, 0.25, paper.neuron.r_s)
    assert paper.neuron.c != 33e-9  # the original is unchanged
    with pytest.raises(ParamError, match="unknown key"):
        paper.with_values({"neuron.cap": 1.0})


def test_toml_out_round_trips_strings_and_auto(paper, tmp_path):
    text = dumps_toml({"a": {"s": 'say "hi" \\ bye', "n": 2, "auto": None}})
    assert text == '[a]\ns = "say \\"hi\\" \\\\ bye"\nn = 2.0\nauto = "auto"\n'
    import tomllib
    assert tomllib.loads(text)["a"] == {"s": 'say "hi" \\ bye', "n": 2.0, "auto": "auto"}
    f = tmp_path / "p.toml"
    f.write_text(paper.to_toml(["neuron", "hardware"]))
    assert load_params(files=[f]) == paper


def test_parse_set():
    assert parse_set(" neuron.c = 22n ") == ("neuron.c", "22n")
    assert parse_set("iv.waveform=sine") == ("iv.waveform", "sine")
    with pytest.raises(ParamError, match="expected table.key=value"):
        parse_set("neuron.c")


def test_presets_and_loading_order(tmp_path):
    assert "paper" in available_presets()
    f = tmp_path / "p.toml"
    f.write_text("[neuron]\nc = 30e-9\nr_s = 5000.0\n")
    p = load_params(files=[f], sets=["neuron.c=40n"], values={"neuron.r_s": 4000.0},
                    overlay={"neuron": {"c": 10e-9, "v_th": 0.42}})
    assert (p.neuron.c, p.neuron.r_s, p.neuron.v_th) == (40e-9, 4000.0, 0.42)
    with pytest.raises(ParamError, match="unknown preset"):
        load_params("../paper")


def test_parameter_files_that_are_not_one(tmp_path):
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf[neuron]\nc = 30e-9\n")
    assert read_params_file(bom) == {"neuron": {"c": 30e-9}}
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b"# \xe9\n[neuron]\n")
    with pytest.raises(ParamError, match="is not UTF-8 text"):
        read_params_file(latin)
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * (1 << 20) + b"\n")
    with pytest.raises(ParamError, match="larger than 1 MiB"):
        read_params_file(big)
    exact = tmp_path / "exact.toml"
    exact.write_bytes(b"#" * ((1 << 20) - 1) + b"\n")
    assert read_params_file(exact) == {}
    with pytest.raises(ParamError, match="cannot read .*: Is a directory"):
        read_params_file(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # a writer, so opening for reading does not block
    try:
        with pytest.raises(ParamError, match="is not a regular file"):
            read_params_file(fifo)
    finally:
        os.close(fd)


def test_params_is_the_complete_schema(paper):
    assert isinstance(paper, Params)
    with pytest.raises(ParamError, match="missing"):
        from alif_spice.params import build_params
        raw = paper.to_dict()
        del raw["neuron"]["c"]
        build_params(raw)


def test_every_table_is_immutable(paper):
    import dataclasses
    for table in TABLES:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(getattr(paper, table), fields(TABLES[table])[0].name, 1.0)


def test_cross_rule_messages_name_the_value(paper):
    with pytest.raises(ParamError, match=r"^stimulus.delay: .* \(got delay=0.01\)$"):
        paper.with_values({"stimulus.delay": 0.01})


def test_reset_rule_uses_the_most_resistive_state_for_the_generalised_mms(paper):
    # the largest v_mem a reset can leave: over every state x, the one at x = 0
    from alif_spice import memristor as mm
    from alif_spice.params import reset_v_mem_max
    p = paper.with_values({"memristor.model": "gmms",
                           "memristor.phi": 0.6, "memristor.alpha_f": 1e-6, "memristor.beta_f": 4.0,
                           "memristor.alpha_r": 2e-7, "memristor.beta_r": 2.0, "neuron.v_reset": 0.3,
                           "neuron.v_rest": -0.1})
    m, n = p.memristor, p.neuron
    v = [mm.branch(np.array([n.v_reset - n.v_rest]), np.array([x]), m, n.r_s)[0][0] for x in np.linspace(0, 1, 21)]
    assert reset_v_mem_max(p) == pytest.approx(max(v), rel=1e-12) and max(v) == v[0]
    q = paper.with_values({"neuron.v_reset": 0.3, "neuron.v_rest": -0.1})
    assert reset_v_mem_max(q) == pytest.approx(0.4 * q.memristor.r_off / (q.memristor.r_off + q.neuron.r_s),
                                               rel=1e-15)


def test_a_parameter_set_is_immutable(paper):
    import dataclasses
    with pytest.raises(dataclasses.FrozenInstanceError):
        paper.neuron = paper.neuron
