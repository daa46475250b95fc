"""Memristor device models as a registry: ``[memristor] model`` selects one.

A device model is one :class:`DeviceModel` entry here and its physics:

- ``params``: the ``[memristor]`` keys it reads (their units, meanings and validation
  are in the schema, :class:`alif_spice.params.MemristorParams`), and ``check``, the
  rules that tie them together for this model;
- ``kernel``: its arm of the RK4 kernel's switch (:mod:`alif_spice.ode`), which calls the
  numba functions of :mod:`alif_spice.memristor`; ``branch`` is the same branch solve for
  arrays, from Python;
- ``subckt`` in ``library`` (``spice_models/<library>.lib``): its plain SPICE subcircuit,
  with ports ``p n x`` and the instance parameters ``instance`` (one tuple per netlist line);
- ``fit``: its fit space (names, bounds, how a fit vector becomes ``[memristor]`` values),
  or None where the model cannot be fitted yet.

The renderer, the RK4 solver, the I-V bench and the fit read these entries. This module
imports nothing heavy (the command line validates ``model`` with it); the physics is
imported when first used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import ParamError


@dataclass(frozen=True)
class FitSpace:
    """What a fit of this model searches: every name is searched on a log scale."""

    #: fitted quantities, always searched
    names: tuple[str, ...]
    #: (lower, upper) bound of every quantity, SI; optional ones (e.g. temperature) too
    bounds: dict[str, tuple[float, float]]
    #: (fit vector, [memristor] of the base) -> the [memristor] values it stands for
    values: Callable[[dict[str, float], Any], dict[str, float]]
    #: fitted quantity -> the name it is reported under (a ratio shown as the value it sets)
    shown: dict[str, str] = field(default_factory=dict)
    #: [memristor] keys the fit holds at the base's values, reported beside the fitted ones
    held: tuple[str, ...] = ()


@dataclass(frozen=True)
class DeviceModel:
    name: str
    label: str
    description: str
    #: [memristor] keys the model reads (besides ``model``)
    params: tuple[str, ...]
    #: index of its arm in the RK4 kernel's switch (alif_spice.ode)
    kernel: int
    subckt: str
    library: str
    #: instance parameters of the subcircuit, one tuple per netlist line
    instance: tuple[tuple[str, ...], ...]
    #: (delta V, x, [memristor], r_s Ω) -> (v_mem V, i_m A) of memristor + r_s across delta
    branch: Callable[[Any, Any, Any, float], tuple[Any, Any]]
    #: the branch is the linear divider of G(x) = x/r_on + (1-x)/r_off (closed forms apply)
    linear: bool = False
    #: rules that tie its [memristor] keys together: (key, [memristor] -> ok, rule text)
    rules: tuple[tuple[str, Callable[[Any], bool], str], ...] = ()
    #: Params -> the largest stable RK4 step (s), where the model has a closed-form one
    rk4_step_limit: Callable[[Any], float] | None = None
    rk4_step_rule: str = ""  # the limit as a formula, for the error message
    fit: FitSpace | None = None
    #: (v, x, [memristor]) -> the device's current (A) at voltage v and state x: the hardware
    #: design's chord conductance i(v_th, x) / v_th (None: G(x) v, G = x/r_on + (1-x)/r_off)
    current: Callable[[float, float, Any], float] | None = None
    #: [memristor] values (over the paper preset) where the model differs from the others:
    #: the example of the docs and of the SPICE-against-Python parity test
    example: dict[str, float] = field(default_factory=dict)


_REGISTRY: dict[str, DeviceModel] = {}


def register(model: DeviceModel) -> DeviceModel:
    if model.name in _REGISTRY:
        raise ValueError(f"device model {model.name!r} is already registered")
    kernels = {m.kernel: m.name for m in _REGISTRY.values()}
    if model.kernel in kernels:
        raise ValueError(f"device model {model.name!r}: kernel arm {model.kernel} is {kernels[model.kernel]!r}'s")
    _REGISTRY[model.name] = model
    return model


def keys_read(m: Any) -> tuple[str, ...]:
    """The ``[memristor]`` keys that matter for ``m`` (a :class:`alif_spice.params.MemristorParams`):
    ``model``, the keys its device model reads, and ``state`` where the state is frozen."""
    return ("model", *get(m.model).params, *(("state",) if m.state == "frozen" else ()))


def names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def get(name: str) -> DeviceModel:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ParamError(f"memristor.model: unknown device model {name!r} "
                         f"(known: {', '.join(_REGISTRY)})") from None


# --------------------------------------------------------------------------- MMS and gMMS


def _mms_branch(delta, x, m, r_s):
    from .memristor import mms_branch

    return mms_branch(delta, x, m.r_on, m.r_off, r_s)


def _gmms_branch(delta, x, m, r_s):
    from .memristor import gmms_branch

    return gmms_branch(delta, x, m, r_s)


def _gmms_current(v: float, x: float, m) -> float:
    from .memristor import gmms_current

    return float(gmms_current(v, x, m.r_on, m.r_off, m.phi, m.alpha_f, m.beta_f, m.alpha_r, m.beta_r))


def _mms_step_limit(p) -> float:
    """2.5 (r_on + r_s) c: RK4's stability limit on the fastest RC time constant."""
    return 2.5 * (p.memristor.r_on + p.neuron.r_s) * p.neuron.c


def _lowest_delta(p) -> float:
    """The lowest voltage (V) the input can drive across the memristor branch: the lowest of
    0, v_reset - v_rest and the most negative input current through r_s + r_off."""
    m, n, s = p.memristor, p.neuron, p.stimulus
    return min(0.0, n.v_reset - n.v_rest, min(s.amplitude, s.low, 0.0) * (n.r_s + m.r_off))


def _gmms_step_limit(p) -> float:
    """2.5 c (r_s + 1/g_max): RK4's stability limit on the fastest time constant of the
    branch, with g_max the memristor's largest slope di/dv (fully ON) over the voltages it
    sees: from the lowest the input can drive it to (the branch at x = 0 across the lowest of
    0, v_reset - v_rest and the most negative input current through r_s + r_off) up to v_th,
    where a spike resets it. The slope is convex in v, so its largest value is at an end.
    With phi = 1 this is the MMS's limit."""
    from .memristor import gmms_slope

    m, n = p.memristor, p.neuron
    lowest = _lowest_delta(p)
    v_lo = float(_gmms_branch(lowest, 0.0, m, n.r_s)[0]) if lowest < 0 else 0.0
    g_max = max(float(gmms_slope(v, 1.0, m.r_on, m.r_off, m.phi, m.alpha_f, m.beta_f, m.alpha_r, m.beta_r))
                for v in (v_lo, n.v_th))
    return 2.5 * n.c * (n.r_s + 1.0 / g_max)


def _unused_by_mms(key: str) -> tuple[str, Callable[[Any], bool], str]:
    """The rule that a diode value the plain MMS would ignore is 0 (a value set there would
    change nothing: it belongs to the generalized MMS)."""
    return (f"memristor.{key}", lambda m: getattr(m, key) == 0.0,
            'must be 0 for the plain MMS (the diode terms belong to the generalized MMS: memristor.model = "gmms")')


def _mms_fit_values(theta: dict[str, float], m) -> dict[str, float]:
    return {"model": "mms", "r_on": theta["r_on"], "r_off": theta["r_on"] * theta["ratio"],
            "v_on": theta["v_on"], "v_off": theta["v_off"], "tau": theta["tau"],
            "temperature": theta.get("temperature", m.temperature), "x0": 0.0, "phi": 1.0}


_MMS_BOUNDS = {"r_on": (10.0, 1e6), "ratio": (1.05, 1e3), "v_on": (0.005, 3.0), "v_off": (0.001, 3.0),
               "tau": (1e-8, 10.0), "temperature": (50.0, 2000.0)}
_MMS_KEYS = ("r_on", "r_off", "v_on", "v_off", "tau", "temperature", "x0")
_DIODE_KEYS = ("phi", "alpha_f", "beta_f", "alpha_r", "beta_r")

MMS = register(DeviceModel(
    name="mms", label="MMS",
    description="mean metastable switch (Molter & Nugent), Knowm sign convention",
    params=_MMS_KEYS, kernel=0, subckt="mms_memristor", library="mms_memristor",
    instance=(("r_on", "r_off", "v_on", "v_off"), ("tau", "temperature", "x0")),
    branch=_mms_branch, linear=True,
    rules=(("memristor.phi", lambda m: m.phi == 1.0,
            'must be 1 for the plain MMS (phi < 1 is the generalized MMS: memristor.model = "gmms")'),
           *(_unused_by_mms(k) for k in ("alpha_f", "beta_f", "alpha_r", "beta_r"))),
    rk4_step_limit=_mms_step_limit,
    rk4_step_rule="2.5*(r_on + r_s)*c",
    fit=FitSpace(
        names=("r_on", "ratio", "v_on", "v_off", "tau"),
        bounds=_MMS_BOUNDS,
        values=_mms_fit_values, shown={"ratio": "r_off"}, held=("temperature",))))

#: the diode fraction a generalized-MMS fit holds where the base is a plain MMS (phi = 1)
GMMS_FIT_PHI = 0.5


def gmms_fit_phi(m) -> float:
    """The phi a generalized-MMS fit holds: the base's where it is a diode fraction (< 1),
    else :data:`GMMS_FIT_PHI`.

    phi is redundant in any measurement: the current is phi G(x) v + (1 - phi) i_d(v) and
    the state's rate reads the voltage only, so phi/r_on, phi/r_off, (1 - phi) alpha_f and
    (1 - phi) alpha_r are all that the data (and the neuron) see. Every phi in (0, 1) gives
    the same curves with the others rescaled; holding it leaves nothing out of reach.
    """
    return float(m.phi) if 0.0 < m.phi < 1.0 else GMMS_FIT_PHI


def _gmms_fit_values(theta: dict[str, float], m) -> dict[str, float]:
    return {"model": "gmms", "r_on": theta["r_on"], "r_off": theta["r_on"] * theta["ratio"],
            "v_on": theta["v_on"], "v_off": theta["v_off"], "tau": theta["tau"],
            "temperature": theta.get("temperature", m.temperature), "x0": 0.0, "phi": gmms_fit_phi(m),
            **{k: theta[k] for k in ("alpha_f", "beta_f", "alpha_r", "beta_r")}}


GMMS = register(DeviceModel(
    name="gmms", label="generalized MMS",
    description="MMS with a fraction 1 - phi of the current through Schottky-like diode terms",
    params=_MMS_KEYS + _DIODE_KEYS, kernel=1, subckt="gmms_memristor", library="mms_memristor",
    instance=(("r_on", "r_off", "v_on", "v_off"), ("tau", "temperature", "x0", "phi"),
              ("alpha_f", "beta_f", "alpha_r", "beta_r")),
    branch=_gmms_branch, current=_gmms_current, rk4_step_limit=_gmms_step_limit, rk4_step_rule="2.5*c*(r_s + 1/g_max)",
    fit=FitSpace(
        names=("r_on", "ratio", "v_on", "v_off", "tau", "alpha_f", "beta_f", "alpha_r", "beta_r"),
        bounds={**_MMS_BOUNDS, "alpha_f": (1e-12, 0.1), "beta_f": (0.1, 30.0),
                "alpha_r": (1e-12, 0.1), "beta_r": (0.1, 30.0)},
        values=_gmms_fit_values, shown={"ratio": "r_off"}, held=("temperature", "phi")),
    example={"phi": 0.6, "alpha_f": 1e-4, "beta_f": 3.0, "alpha_r": 3e-5, "beta_r": 4.0}))


# --------------------------------------------------------------------------- VTEAM


def _vteam_branch(delta, x, m, r_s):
    from .memristor import vteam_branch

    return vteam_branch(delta, x, m, r_s)


def _vteam_current(v: float, x: float, m) -> float:
    from .memristor import vteam_resistance

    return v / float(vteam_resistance(x, m.r_on, m.r_off))


def _vteam_step_limit(p) -> float:
    """The smaller of RK4's stability limits on the branch's fastest RC time constant,
    2.5 (r_on + r_s) c, and on the state equation, 2.5 / lambda with lambda = 2p times the
    largest switching rate over the voltages the memristor sees (up to v_th, where a spike
    resets it; down to the lowest the input can drive it to): the window's slope at its
    bound is 2p."""
    from .memristor import vteam_dxdt

    m, n = p.memristor, p.neuron
    v_lo = float(_vteam_branch(_lowest_delta(p), 0.0, m, n.r_s)[0])
    args = (m.v_on, m.v_off, m.k_on, m.k_off, m.alpha_on, m.alpha_off, m.p_window)
    # the rates where the window is 1: switching on from x = 0, off from x = 1
    rate = max(vteam_dxdt(n.v_th, 0.0, *args), -vteam_dxdt(v_lo, 1.0, *args))
    rc = 2.5 * (m.r_on + n.r_s) * n.c
    return rc if rate == 0.0 else min(rc, 2.5 / (2.0 * m.p_window * rate))


def _vteam_fit_values(theta: dict[str, float], m) -> dict[str, float]:
    return {"model": "vteam", "r_on": theta["r_on"], "r_off": theta["r_on"] * theta["ratio"],
            "v_on": theta["v_on"], "v_off": theta["v_off"], "k_on": theta["k_on"], "k_off": theta["k_off"],
            "alpha_on": m.alpha_on, "alpha_off": m.alpha_off, "p_window": m.p_window, "x0": 0.0}


VTEAM = register(DeviceModel(
    name="vteam", label="VTEAM",
    description="threshold model (Kvatinsky et al. 2015): power-law rates beyond v_on and -v_off, "
                "Biolek window, linear R(x)",
    params=("r_on", "r_off", "v_on", "v_off", "x0", "k_on", "k_off", "alpha_on", "alpha_off", "p_window"),
    kernel=2, subckt="vteam_memristor", library="vteam_memristor",
    instance=(("r_on", "r_off", "v_on", "v_off", "x0"), ("k_on", "k_off", "alpha_on", "alpha_off", "p_window")),
    branch=_vteam_branch, current=_vteam_current,
    rk4_step_limit=_vteam_step_limit,
    rk4_step_rule="min(2.5*(r_on + r_s)*c, 2.5/(2*p_window*rate)), rate the largest switching rate",
    fit=FitSpace(
        names=("r_on", "ratio", "v_on", "v_off", "k_on", "k_off"),
        bounds={"r_on": (10.0, 1e6), "ratio": (1.05, 1e3), "v_on": (0.005, 3.0), "v_off": (0.005, 3.0),
                "k_on": (1.0, 1e9), "k_off": (1.0, 1e9)},
        values=_vteam_fit_values, shown={"ratio": "r_off"}, held=("alpha_on", "alpha_off", "p_window")),
    example={"k_on": 5e3, "k_off": 2e3, "alpha_on": 2.0, "alpha_off": 1.5, "p_window": 1.0,
             "v_on": 0.3, "v_off": 0.2}))


# --------------------------------------------------------------------------- Yakopcic


def _yakopcic_branch(delta, x, m, r_s):
    from .memristor import yakopcic_branch

    return yakopcic_branch(delta, x, m, r_s)


def _yakopcic_current(v: float, x: float, m) -> float:
    from .memristor import yakopcic_current

    return float(yakopcic_current(v, x, m.a1, m.a2, m.b))


def _yakopcic_step_limit(p) -> float:
    """The smaller of RK4's stability limits on the branch, 2.5 c (r_s + 1/g_max) with g_max
    the device's largest slope a x b cosh(b v) (fully ON, x = 1) over the voltages it sees (up
    to v_th; down to the lowest the input can drive it to, where x = 0 leaves it open), and on
    the state equation, 2.5 / lambda with lambda = the largest switching rate times the
    window's steepest slope, alpha + 1/(1 - x_w)."""
    import math

    from .memristor import exp_linear_slope, yakopcic_dxdt

    m, n = p.memristor, p.neuron
    v_lo = _lowest_delta(p)
    g_max = max(0.5 * a * m.b * float(exp_linear_slope(m.b * v) + exp_linear_slope(-m.b * v))
                for a, v in ((m.a1, n.v_th), (m.a2, v_lo)))
    args = (m.v_on, m.v_off, m.a_p, m.a_n, m.x_p, m.x_n, m.alpha_p, m.alpha_n)
    # the rates where the window is 1: switching on from x = 0, off from x = 1
    lam = max(yakopcic_dxdt(n.v_th, 0.0, *args) * (m.alpha_p + 1.0 / (1.0 - m.x_p)),
              -yakopcic_dxdt(v_lo, 1.0, *args) * (m.alpha_n + 1.0 / (1.0 - m.x_n)))
    branch = 2.5 * n.c * (n.r_s + 1.0 / g_max)
    return branch if lam == 0.0 or not math.isfinite(lam) else min(branch, 2.5 / lam)


def _yakopcic_fit_values(theta: dict[str, float], m) -> dict[str, float]:
    return {"model": "yakopcic", **{k: theta[k] for k in ("a1", "a2", "b", "a_p", "a_n", "v_on", "v_off")},
            **{k: getattr(m, k) for k in ("x_p", "x_n", "alpha_p", "alpha_n")}, "x0": 0.0}


YAKOPCIC = register(DeviceModel(
    name="yakopcic", label="Yakopcic",
    description="generalized model (Yakopcic et al. 2011, 2013): sinh current, exponential rates beyond "
                "v_on and -v_off, windows above x_p and below 1 - x_n",
    params=("v_on", "v_off", "x0", "a1", "a2", "b", "a_p", "a_n", "x_p", "x_n", "alpha_p", "alpha_n"),
    kernel=3, subckt="yakopcic_memristor", library="yakopcic_memristor",
    instance=(("a1", "a2", "b", "v_on", "v_off", "x0"), ("a_p", "a_n", "x_p", "x_n", "alpha_p", "alpha_n")),
    branch=_yakopcic_branch, current=_yakopcic_current,
    rk4_step_limit=_yakopcic_step_limit,
    rk4_step_rule="min(2.5*c*(r_s + 1/g_max), 2.5/lambda), lambda the largest switching rate times "
                  "the window's slope",
    fit=FitSpace(
        names=("a1", "a2", "b", "v_on", "v_off", "a_p", "a_n"),
        bounds={"a1": (1e-8, 1.0), "a2": (1e-8, 1.0), "b": (0.01, 20.0), "v_on": (0.005, 3.0),
                "v_off": (0.005, 3.0), "a_p": (1.0, 1e9), "a_n": (1.0, 1e9)},
        values=_yakopcic_fit_values, held=("x_p", "x_n", "alpha_p", "alpha_n"))))
