"""Parameter schema: loading, overlays, suffixes and every validation rule."""

from dataclasses import fields

import pytest

from alif_spice import cli
from alif_spice.errors import ParamError
from alif_spice.params import (NONNEG, OPEN_UNIT, POSITIVE, TABLES, UNIT, Params, load_params)
from conftest import run_cli


def test_paper_preset_matches_the_fitted_device_and_paper_stimulus(paper):
    m = paper.memristor
    assert (m.r_on, m.r_off, m.v_on, m.v_off, m.tau, m.x0) == (1351, 7510, 0.3408, 0.0941, 2.53e-4, 0)
    assert paper.beta == pytest.approx(1 / 0.026, rel=1e-5)
    s = paper.stimulus
    assert (s.amplitude, s.frequency, s.duty, s.low) == (1e-3, 1000, 0.5, 0)
    assert paper.simulation.t_stop * s.frequency >= 10


def test_params_are_immutable(paper):
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        paper.neuron.c = 1.0  # type: ignore[misc]


def test_partial_file_then_set_then_values(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text('[neuron]\nc = "47n"\nr_s = 3300\n[stimulus]\namplitude = 0.5e-3\n')
    p = load_params("paper", files=[f], sets=["neuron.r_s=3.2k", "memristor.tau=1meg"])
    assert p.neuron.c == pytest.approx(47e-9)
    assert p.neuron.r_s == pytest.approx(3200)
    assert p.memristor.tau == 1e6
    assert p.stimulus.amplitude == 0.5e-3
    assert p.memristor.r_on == 1351  # untouched keys keep the preset
    q = p.with_values({"neuron.c": "10n"})
    assert q.neuron.c == pytest.approx(10e-9) and p.neuron.c == pytest.approx(47e-9)


def test_to_toml_round_trips(tmp_path, paper):
    f = tmp_path / "all.toml"
    f.write_text(paper.to_toml())
    assert load_params("paper", files=[f]) == paper


# ----------------------------------------------------------------- every rule


def _violations():
    """(set item, key that must be named, words of the rule) for every rule of the schema."""
    cases = []
    for table, cls in TABLES.items():
        for f in fields(cls):
            key = f"{table}.{f.name}"
            rule = f.metadata["rule"]
            if f.metadata["kind"] is str:
                cases.append((f"{key}=bogus", key, "must be one of"))
                continue
            bad = {POSITIVE: "0", NONNEG: "-1", UNIT: "1.5", OPEN_UNIT: "1"}.get(rule)
            if bad is not None:
                cases.append((f"{key}={bad}", key, rule.text))
            elif rule.text == "must be <= 0":
                cases.append((f"{key}=1", key, rule.text))
            cases.append((f"{key}=inf", key, "must be finite"))
            cases.append((f"{key}=abc", key, "expected a number"))
    cases += [
        ("memristor.r_on=8k", "memristor.r_on", "must be < memristor.r_off"),
        ("neuron.v_reset=0.9", "neuron.v_reset", "must leave v_mem below neuron.v_th right after a reset"),
        ("stimulus.t_edge=0.6m", "stimulus.t_edge", "must be < duty / frequency"),
        ("simulation.dt=20m", "simulation.dt", "must be < simulation.t_stop"),
        ("simulation.max_step=1", "simulation.max_step", "must be <= simulation.t_stop"),
        ("simulation.dt=0.5m", "simulation.dt", "stable RK4 step"),
        ("neuron.bogus=1", "neuron.bogus", "unknown key"),
        ("nosuch.key=1", "nosuch.key", "unknown parameter"),
        ("neuron.c", "neuron.c", "expected table.key=value"),
    ]
    return cases


@pytest.mark.parametrize("item,key,rule", _violations(), ids=lambda v: v if isinstance(v, str) else None)
def test_every_rule_one_line_exit_2_no_output(tmp_path, capsys, item, key, rule):
    out = tmp_path / "trace.csv"
    status = cli.main(["ode", "--set", item, "-o", str(out)])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("alif-spice: error:")
    assert key in err and rule in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content,words", [
    ('[neuron]\nc = nan\n', "neuron.c: must be finite"),
    ('[neuron]\nc = inf\n', "neuron.c: must be finite"),
    ('[neuron]\nc = true\n', "neuron.c: expected a number"),
    ('[neuron]\nc = [1, 2]\n', "neuron.c: expected a number"),
    ('[memristor]\nmodel = 3\n', "memristor.model: expected a string"),
    ('[neuron]\ncc = 1\n', "neuron.cc: unknown key"),
    ('[synapse]\nw = 1\n', "unknown table [synapse]"),
    ('neuron = 3\n', "neuron must be a table"),
    ('[neuron\nc = 1\n', "not valid TOML"),
    ('[stimulus]\nduty = 0\n', "stimulus.duty: must be in (0, 1)"),
    ('[neuron]\nc = -1e-9\n', "neuron.c: must be > 0"),
])
def test_bad_params_file(tmp_path, capsys, content, words):
    f = tmp_path / "bad.toml"
    f.write_text(content)
    out = tmp_path / "o" / "trace.parquet"
    assert cli.main(["ode", "--params", str(f), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1
    assert not out.parent.exists()


def test_unknown_preset_and_missing_file(tmp_path, capsys):
    assert cli.main(["ode", "--preset", "nope", "-o", str(tmp_path / "t.csv")]) == 2
    assert "unknown preset 'nope'" in capsys.readouterr().err
    assert cli.main(["ode", "--params", str(tmp_path / "missing.toml"), "-o", str(tmp_path / "t.csv")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_invalid_input_from_a_real_process_has_no_traceback(tmp_path):
    res = run_cli("ode", "--set", "memristor.r_on=9k", "-o", tmp_path / "t.csv")
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [res.stderr.strip()]
    assert "Traceback" not in res.stderr and "memristor.r_on" in res.stderr
    assert list(tmp_path.iterdir()) == []


def test_api_raises_param_error():
    with pytest.raises(ParamError, match="memristor.x0: must be in"):
        load_params(values={"memristor.x0": 2})
    assert isinstance(load_params(), Params)


def test_auto_only_for_designed_hardware_values(tmp_path):
    p = load_params("paper", sets=["hardware.r_discharge=100", "hardware.r_discharge=auto"])
    assert p.hardware.r_discharge is None  # "auto": left to the design
    assert load_params("paper", sets=["hardware.r_discharge=100"]).hardware.r_discharge == 100.0
    with pytest.raises(ParamError, match="neuron.c"):
        load_params("paper", sets=["neuron.c=auto"])
    f = tmp_path / "all.toml"
    f.write_text(p.to_toml())
    assert 'r_discharge = "auto"' in f.read_text() and load_params("paper", files=[f]) == p
