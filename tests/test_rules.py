"""Every rule that relates several parameters, at its boundary: the value exactly on the
boundary is refused (or accepted where the rule is <=), and a set just inside it runs and
fires (RK4 model, and the SPICE circuit the rule protects)."""

import numpy as np
import pytest

from alif_spice import ParamError, load_params, solve_ode
from alif_spice.params import reset_v_mem_max
from alif_spice.spice import run_circuit
from conftest import run_cli

SHORT = {"simulation.t_stop": 0.3e-3}


def _runs_and_fires(values, circuits=("ideal",)):
    p = load_params("paper", values={**SHORT, **values})
    assert solve_ode(p).spikes.size >= 2
    for circuit in circuits:
        assert run_circuit(p, circuit).spikes.size >= 2, circuit
    return p


def _refused(values, key):
    with pytest.raises(ParamError, match=key.replace(".", r"\.")):
        load_params("paper", values={**SHORT, **values})


# ------------------------------------------------------------------ reset (divider-aware)


@pytest.mark.spice
def test_reset_rule_accepts_the_divider_example_and_it_matches_the_model():
    # v_mem after a reset is at most (0.25 + 0.2) * r_off / (r_off + r_s) = 0.236 V < v_th = 0.4 V
    p = load_params("paper", values={"neuron.v_rest": -0.2, "neuron.v_reset": 0.25, **SHORT})
    assert reset_v_mem_max(p) == pytest.approx(0.45 * 7510 / (7510 + 6800))
    ode, spice = solve_ode(p), run_circuit(p, "ideal")
    assert ode.spikes.size == spice.spikes.size >= 5
    assert np.max(np.abs(ode.spikes - spice.spikes)) <= 0.005 * np.diff(ode.spikes).mean()


# exact binary fractions: (0.5 - 0) * 3000 / (3000 + 1000) = 0.375 exactly
RESET_EDGE = {"neuron.v_rest": 0.0, "neuron.r_s": 1000.0, "memristor.r_off": 3000.0, "neuron.v_th": 0.375}


def test_reset_rule_equality_is_refused():
    _refused({**RESET_EDGE, "neuron.v_reset": 0.5}, "neuron.v_reset")


@pytest.mark.spice
def test_reset_rule_just_inside_runs_and_fires():
    p = _runs_and_fires({**RESET_EDGE, "neuron.v_reset": 0.5 * (1 - 1e-6)})
    assert reset_v_mem_max(p) < p.neuron.v_th


def test_reset_rule_with_no_series_resistor():
    _refused({"neuron.r_s": 0.0, "neuron.v_rest": 0.0, "neuron.v_th": 0.25, "neuron.v_reset": 0.25}, "neuron.v_reset")
    p = load_params("paper", values={"neuron.r_s": 0.0, "neuron.v_rest": 0.0, "neuron.v_th": 0.25,
                                     "neuron.v_reset": 0.2499, **SHORT})
    assert solve_ode(p).spikes.size >= 2


def test_reset_rule_generalized_mms_solves_the_branch():
    # phi < 1: extra Schottky current lowers v_mem; the rule uses the solved branch voltage
    base = {"memristor.model": "gmms", "memristor.phi": 0.5, "memristor.alpha_f": 1e-6, "memristor.beta_f": 5.0,
            "memristor.alpha_r": 1e-6, "memristor.beta_r": 5.0}
    p = load_params("paper", values={**base, "neuron.v_reset": 0.3, **SHORT})
    v = reset_v_mem_max(p)
    assert 0 < v < p.neuron.v_th
    _refused({**base, "neuron.v_reset": 0.3, "neuron.v_th": v}, "neuron.v_reset")


# ------------------------------------------------------------------ memristor.r_on < r_off


@pytest.mark.spice
def test_r_on_equal_r_off_refused_just_below_runs():
    _refused({"memristor.r_on": 7510.0}, "memristor.r_on")
    _runs_and_fires({"memristor.r_on": 7510.0 * (1 - 1e-9)})


# ------------------------------------------------------------------ stimulus edges


@pytest.mark.spice
def test_t_edge_equal_on_phase_refused_just_inside_runs():
    # pulse width duty/f - t_edge must stay > 0 (ngspice reads a zero width as "until t_stop")
    _refused({"stimulus.duty": 0.25, "stimulus.t_edge": 0.25 / 1000.0}, "stimulus.t_edge")
    _runs_and_fires({"stimulus.duty": 0.25, "stimulus.t_edge": 0.25 / 1000.0 * (1 - 1e-6)})


@pytest.mark.spice
def test_t_edge_filling_the_off_phase_is_accepted_and_runs():
    t_edge = (1 - 0.75) / 1000.0
    _runs_and_fires({"stimulus.duty": 0.75, "stimulus.t_edge": t_edge})
    _refused({"stimulus.duty": 0.75, "stimulus.t_edge": t_edge * (1 + 1e-9)}, "stimulus.t_edge")


# ------------------------------------------------------------------ hardware


@pytest.mark.spice
def test_schmitt_lower_equal_v_th_refused_just_below_runs():
    _refused({"hardware.schmitt_lower": 0.4}, "hardware.schmitt_lower")
    _runs_and_fires({"hardware.schmitt_lower": 0.4 * (1 - 1e-3)}, circuits=("hardware",))


@pytest.mark.spice
def test_comparator_levels():
    _refused({"hardware.comp_vol": 4.6}, "hardware.comp_vol")          # vol == voh
    _refused({"hardware.comp_voh": 5.0 + 1e-9}, "hardware.comp_vol")   # voh > supply
    _runs_and_fires({"hardware.comp_voh": 5.0}, circuits=("hardware",))  # voh == supply


# ------------------------------------------------------------------ simulation


def test_dt_equal_t_stop_refused_just_below_runs():
    # the solver's own rule (SPICE runs do not use dt): refused by everything that solves the ODE
    from alif_spice.ode import check_step

    with pytest.raises(ParamError, match=r"simulation\.dt: must be < simulation\.t_stop"):
        check_step(load_params("paper", values={**SHORT, "simulation.dt": 0.3e-3}))
    p = load_params("paper", values={"simulation.t_stop": 20e-6, "simulation.dt": 20e-6 * (1 - 1e-9),
                                     "stimulus.amplitude": 3e-3, "neuron.c": 5e-9})
    assert solve_ode(p).spikes.size >= 1


@pytest.mark.spice
def test_max_step_equal_t_stop_accepted():
    _refused({"simulation.max_step": 0.3e-3 * (1 + 1e-9)}, "simulation.max_step")
    p = load_params("paper", values={"simulation.t_stop": 5e-6, "simulation.max_step": 5e-6,
                                     "stimulus.amplitude": 3e-3, "neuron.c": 5e-9})
    assert run_circuit(p, "ideal").spikes.size >= 1


def test_rk4_stability_limit_equality_accepted(tmp_path):
    # dt <= 2.5 (r_on + r_s) c: a numerical rule (a margin below RK4's 2.785 limit), checked by ode
    c = 1e-9
    limit = 2.5 * ((1351 + 6800) * c)
    p = load_params("paper", values={"neuron.c": c, "simulation.dt": limit, **SHORT})
    assert solve_ode(p).spikes.size >= 2
    res = run_cli("ode", "--set", f"neuron.c={c!r}", "--set", f"simulation.dt={limit * (1 + 1e-9)!r}",
                  "--set", "simulation.t_stop=0.3m", "-o", tmp_path / "t.csv")
    assert res.returncode == 2 and "stable RK4 step" in res.stderr
