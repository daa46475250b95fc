"""A sweep's specification: grid axes, Monte Carlo spreads and engines (:class:`SweepSpec`),
read from the command line or a TOML file and checked against the base parameters, and the
points it expands into (:func:`points`)."""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import tomlfile
from ..circuits import engines as circuit_engines
from ..errors import ParamError
from ..params import Params
from ..units import parse_number

DISTRIBUTIONS = ("lognormal", "normal", "uniform")
#: largest relative spread per distribution (lognormal: exp(10 z) already spans 1e-40..1e40)
MAX_SPREAD = {"lognormal": 10.0, "normal": 100.0, "uniform": 100.0}
#: grids up to this many points are validated point by point before a sweep starts
VALIDATE_ALL_UP_TO = 2000


@dataclass(frozen=True)
class Axis:
    """One grid axis: a parameter and its values; ``scale`` ("linear", "log", or "category"
    for words such as device-model names) labels the summary and the figures."""

    key: str
    values: tuple
    scale: str = "linear"


@dataclass(frozen=True)
class Vary:
    """Monte Carlo spread of one parameter around its nominal (grid or base) value:
    lognormal ``nominal*exp(spread*z)``, normal ``nominal*(1+spread*z)``, uniform
    ``nominal*(1+spread*u)`` with z ~ N(0,1), u ~ U(-1,1)."""

    key: str
    dist: str
    spread: float


@dataclass(frozen=True)
class SweepSpec:
    grid: tuple[Axis, ...] = ()
    vary: tuple[Vary, ...] = ()
    mc: int = 0
    seed: int = 0
    engines: tuple[str, ...] = ("ode",)

    def to_dict(self) -> dict:
        return {"grid": [{"key": a.key, "values": list(a.values), "scale": a.scale} for a in self.grid],
                "vary": [{"key": v.key, "dist": v.dist, "spread": v.spread} for v in self.vary],
                "mc": self.mc, "seed": self.seed, "engines": list(self.engines)}

    @classmethod
    def from_dict(cls, d: dict) -> SweepSpec:
        return cls(grid=tuple(Axis(a["key"], tuple(a["values"]), a.get("scale", "linear")) for a in d["grid"]),
                   vary=tuple(Vary(v["key"], v["dist"], float(v["spread"])) for v in d["vary"]),
                   mc=int(d["mc"]), seed=int(d["seed"]), engines=tuple(d["engines"]))

    @property
    def keys(self) -> list[str]:
        """Swept and varied parameter keys, in order, without repeats."""
        return list(dict.fromkeys([a.key for a in self.grid] + [v.key for v in self.vary]))

    @property
    def n_points(self) -> int:
        return math.prod(len(a.values) for a in self.grid) * max(self.mc, 1)


def _value(key: str, text: str) -> object:
    text = text.strip()
    try:
        return parse_number(text)
    except ValueError:
        if text.replace("_", "").replace("-", "").isalnum():
            return text  # a word such as "gmms": the parameter's own rule judges it
        raise ParamError(f"--grid {key}: {text!r} is not a number") from None


def parse_grid(item: str) -> Axis:
    """``key=start:stop:n`` (linear), ``key=start:stop:n:log`` or ``key=v1,v2,...``."""
    key, sep, rhs = item.partition("=")
    key = key.strip()
    if not sep or not key or not rhs.strip():
        raise ParamError(f"--grid {item!r}: expected KEY=START:STOP:N[:log] or KEY=V1,V2,...")
    if ":" in rhs:
        parts = rhs.split(":")
        if len(parts) not in (3, 4) or (len(parts) == 4 and parts[3].strip() not in ("lin", "log")):
            raise ParamError(f"--grid {item!r}: expected KEY=START:STOP:N[:lin|log]")
        try:
            start, stop = parse_number(parts[0]), parse_number(parts[1])
            n = int(parts[2])
        except ValueError:
            raise ParamError(f"--grid {item!r}: START and STOP must be numbers and N an integer") from None
        if n < 1 or n > 1_000_000:
            raise ParamError(f"--grid {item!r}: N must be between 1 and 1000000")
        if not (math.isfinite(start) and math.isfinite(stop)):
            raise ParamError(f"--grid {item!r}: START and STOP must be finite")
        scale = parts[3].strip() if len(parts) == 4 else "linear"
        if scale == "log":
            if start <= 0 or stop <= 0:
                raise ParamError(f"--grid {item!r}: a log grid needs START and STOP > 0")
            with np.errstate(all="ignore"):
                values = np.geomspace(start, stop, n)
        else:
            scale = "linear"
            with np.errstate(all="ignore"):
                values = np.linspace(start, stop, n)
        if not np.all(np.isfinite(values)):
            raise ParamError(f"--grid {item!r}: the grid's values are not finite numbers (range too wide)")
        return Axis(key, tuple(float(v) for v in values), "log" if scale == "log" else "linear")
    listed = tuple(_value(key, v) for v in rhs.split(","))
    numeric = all(isinstance(v, (int, float)) for v in listed)
    return Axis(key, listed, "linear" if numeric else "category")


def parse_vary(item: str) -> Vary:
    """``key=lognormal:0.1`` (also ``normal:``, ``uniform:``; the spread is relative)."""
    key, sep, rhs = item.partition("=")
    dist, _, spread = rhs.partition(":")
    dist = dist.strip()
    if not sep or not key.strip() or dist not in DISTRIBUTIONS:
        raise ParamError(f"--vary {item!r}: expected KEY=DIST:SPREAD with DIST one of {', '.join(DISTRIBUTIONS)}")
    try:
        s = parse_number(spread)
    except ValueError:
        raise ParamError(f"--vary {item!r}: SPREAD must be a number") from None
    limit = MAX_SPREAD[dist]
    if not (0 <= s <= limit):
        raise ParamError(f"--vary {item!r}: SPREAD must be a number between 0 and {limit:g} for {dist}")
    return Vary(key.strip(), dist, s)


def read_spec_file(path: str | os.PathLike[str]) -> dict:
    """A sweep TOML file -> keyword arguments of :func:`build_spec`.

    ``[sweep]`` engines, mc, seed; ``[grid]`` key = "start:stop:n[:log]" or a list;
    ``[vary]`` key = "lognormal:0.1"."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ParamError(f"--spec: cannot read {os.fspath(path)!r}: {exc.strerror}") from None
    raw = tomlfile.parse(data, f"--spec {os.fspath(path)}")
    unknown = set(raw) - {"sweep", "grid", "vary"}
    if unknown:
        raise ParamError(f"--spec: unknown table [{sorted(unknown)[0]}] (known: sweep, grid, vary)")
    for table in ("sweep", "grid", "vary"):
        if table in raw and not isinstance(raw[table], dict):
            raise ParamError(f"--spec: [{table}] must be a table (got {type(raw[table]).__name__} {raw[table]!r})")
    head = raw.get("sweep", {})
    if set(head) - {"engines", "mc", "seed"}:
        raise ParamError(f"--spec: unknown key sweep.{sorted(set(head) - {'engines', 'mc', 'seed'})[0]}")
    grid = []
    for key, value in raw.get("grid", {}).items():
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        if not isinstance(value, str):
            raise ParamError(f"--spec: grid.{key}: expected \"START:STOP:N\" or a list")
        grid.append(f"{key}={value}")
    vary = []
    for key, value in raw.get("vary", {}).items():
        if not isinstance(value, str):
            raise ParamError(f"--spec: vary.{key}: expected \"DIST:SPREAD\"")
        vary.append(f"{key}={value}")
    out: dict = {"grid": grid, "vary": vary}
    for key in ("engines", "mc", "seed"):
        if key in head:
            out[key] = head[key]
    return out


def build_spec(base: Params, grid: Iterable[str] = (), vary: Iterable[str] = (), mc: int = 0,
               seed: int = 0, engines: str | Sequence[str] = ("ode",)) -> SweepSpec:
    """Validate command-line style items against ``base`` and return the spec."""
    if isinstance(engines, str):
        engines = [e.strip() for e in engines.split(",") if e.strip()]
    if not isinstance(engines, (list, tuple)) or not all(isinstance(e, str) for e in engines):
        raise ParamError(f"--engines: expected names such as {','.join(circuit_engines())} (got {engines!r})")
    engines = tuple(dict.fromkeys(engines))
    engine_names = circuit_engines()
    if not engines or any(e not in engine_names for e in engines):
        raise ParamError(f"--engines: choose from {', '.join(engine_names)} "
                         f"(got {','.join(engines) or 'nothing'})")
    if isinstance(mc, bool) or not isinstance(mc, int) or mc < 0:
        raise ParamError(f"--mc: expected an integer >= 0 (got {mc!r})")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParamError(f"--seed: expected an integer >= 0 (got {seed!r})")
    axes = tuple(parse_grid(g) for g in grid)
    spreads = tuple(parse_vary(v) for v in vary)
    known = base.flat()
    for key in [a.key for a in axes] + [v.key for v in spreads]:
        if key not in known:
            raise ParamError(f"sweep: unknown parameter {key!r} (keys look like stimulus.amplitude)")
    if len({a.key for a in axes}) != len(axes):
        raise ParamError("--grid: a parameter appears on two grid axes")
    if len({v.key for v in spreads}) != len(spreads):
        raise ParamError("--vary: a parameter is varied twice")
    for v in spreads:
        if known[v.key] is None:
            raise ParamError(f'--vary {v.key}: the value is "auto" (designed); set one (--set {v.key}=...) '
                             "to vary it around")
        if not isinstance(known[v.key], (int, float)):
            raise ParamError(f"--vary {v.key}: only numeric parameters can vary")
    if spreads and mc == 0:
        raise ParamError("--vary needs --mc N (the number of Monte Carlo samples)")
    if mc and not spreads:
        raise ParamError("--mc needs at least one --vary KEY=DIST:SPREAD")
    spec = SweepSpec(grid=axes, vary=spreads, mc=mc, seed=seed, engines=engines)
    if spec.n_points > 10_000_000:
        raise ParamError(f"sweep: {spec.n_points} points is more than 10,000,000")
    _check_grid_values(spec, base)
    return spec


def _check_grid_values(spec: SweepSpec, base: Params) -> None:
    """Grid values that break a parameter rule are refused before the sweep (exit 2):
    every value against its own rule, and every grid point against every rule when the
    grid is small enough (larger grids: a point breaking a rule that relates several
    values becomes a failed row naming the rule; so does a Monte Carlo draw)."""
    from ..params import check_value

    for axis in spec.grid:
        for value in axis.values:
            try:
                check_value(axis.key, value)
            except ParamError as exc:
                raise ParamError(f"--grid {axis.key}={value!r}: {exc}") from None
    n_grid = math.prod(len(a.values) for a in spec.grid)
    if spec.grid and n_grid <= VALIDATE_ALL_UP_TO:
        keys = [a.key for a in spec.grid]
        for combo in itertools.product(*(a.values for a in spec.grid)):
            try:
                base.with_values(dict(zip(keys, combo)))
            except ParamError as exc:
                shown = ", ".join(f"{k}={v!r}" for k, v in zip(keys, combo))
                raise ParamError(f"--grid point ({shown}): {exc}") from None


# ------------------------------------------------------------------------------ points


@dataclass(frozen=True)
class Point:
    index: int
    grid_index: int
    sample: int  # Monte Carlo sample number, -1 without Monte Carlo
    values: dict = field(hash=False)


def mc_values(spec: SweepSpec, sample: int, nominal: dict[str, float]) -> dict[str, float]:
    """Monte Carlo sample ``sample``: its own generator seeded with (seed, sample), so a
    sample's draws do not depend on the grid or on which points ran before."""
    rng = np.random.default_rng([spec.seed, sample])
    out = {}
    for v in spec.vary:
        x = float(nominal[v.key])
        if v.dist == "lognormal":
            out[v.key] = x * math.exp(min(v.spread * rng.standard_normal(), 700.0))
        elif v.dist == "normal":
            out[v.key] = x * (1.0 + v.spread * rng.standard_normal())
        else:
            out[v.key] = x * (1.0 + v.spread * rng.uniform(-1.0, 1.0))
    return out


def points(spec: SweepSpec, base: Params) -> list[Point]:
    """Every point of the sweep, in a fixed order (grid outer, Monte Carlo inner)."""
    keys = [a.key for a in spec.grid]
    out: list[Point] = []
    combos = itertools.product(*(a.values for a in spec.grid)) if spec.grid else [()]
    for g, combo in enumerate(combos):
        values = dict(zip(keys, combo))
        if not spec.mc:
            out.append(Point(len(out), g, -1, values))
            continue
        nominal = {v.key: values.get(v.key, base.get(v.key)) for v in spec.vary}
        for s in range(spec.mc):
            out.append(Point(len(out), g, s, {**values, **mc_values(spec, s, nominal)}))
    return out


def point_params(base: Params, point: Point) -> Params:
    """The parameters of one point: ``base`` with the point's values."""
    return base.with_values(point.values) if point.values else base
