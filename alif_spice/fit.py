"""Fit a memristor device model's parameters to measured I-V data (``alif-spice fit``): the model
``[memristor] model`` selects, searched over its fit space (:mod:`alif_spice.devices`).

Readers take real lab exports (any delimiter, decimal comma, header or not, columns by
position or name, absolute/relative time or a sample rate) and what the columns mean.
The fit simulates the device *with the series resistor in the loop*, driven by the
measured source voltage from its periodic steady state (:func:`alif_spice.ode.solve_iv`'s
kernel), and minimises cost = RSS_I/TSS_I + RSS_V/TSS_V with a global start
(differential evolution) and a local least-squares polish (trust region), in log-parameter
space.
"""

from __future__ import annotations

import csv
import functools
import io
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize

from . import devices
from .errors import ParamError, SimulationError
from .ode import iv_states, solve_iv
from .params import Params, load_params

MEANINGS = ("time", "source_voltage", "resistor_voltage", "memristor_voltage", "current")
DELIMITERS = {"tab": "\t", "comma": ",", "semicolon": ";", "space": r"\s+", "whitespace": r"\s+"}
#: fitted parameters of the MMS and their bounds (SI; r_off is fitted as the ratio r_off/r_on):
#: its fit space in the device registry
BOUNDS = devices.MMS.fit.bounds if devices.MMS.fit else {}
#: R² of the current or of the memristor voltage (in any file) below which a fit explains too little
POOR_R2 = 0.9
#: a parameter within this fraction of its (log) search range from a bound is reported as near it
NEAR_BOUND = 0.02
#: a parameter whose 1-sigma spread is wider than this factor is not identifiable from the data
UNIDENTIFIABLE_FACTOR = 10.0
#: a harmonic of the drive frequency is kept in the drive when its power stands this many times
#: above the noise floor's mean power per frequency bin (a bin of noise alone passes with
#: probability e^-4, about 2 %)
DRIVE_KEEP = 4.0
#: the drive is played as measured when what cleaning removes is more than this many times
#: the noise floor's expected rms (the record is then not periodic on its estimated period)
DRIVE_NOT_NOISE = 1.5
#: the drive is played as measured when the bins next to its harmonics hold more than this
#: many times the noise floor's power (its harmonics spread: a period that is off or drifts)
DRIVE_SPREAD = 3.0
#: the drive is played as measured when cleaning would move any one sample by more than this
#: many noise rms (Gaussian noise over a thousand samples reaches about 3.5)
DRIVE_PEAK = 6.0
#: how the model is driven: "periodic" (the measured source voltage's periodic part) or "measured"
DRIVES = ("periodic", "measured")
#: members of the differential evolution's population per fitted parameter (its Sobol start
#: rounds the population up to a power of two: 64 for the MMS's five, 128 for six to ten)
POPSIZE = 12
#: most Jacobian-and-step rounds of the local least-squares polish
POLISH_STEPS = 100
#: members of the global search's final population the polish starts from (the best ones,
#: 2 % of the search range apart)
POLISH_STARTS = 3
_FAILED = 1e3  # the cost of a parameter set that cannot be simulated


@dataclass(frozen=True)
class Measurement:
    """One periodic I-V record, cut to whole steady-state periods and resampled."""

    name: str
    t: np.ndarray  # s, uniform
    v_src: np.ndarray  # V, source voltage that drives the simulation (the reader's: its periodic part)
    v_mem: np.ndarray  # V, across the memristor
    i: np.ndarray  # A
    r_series: float  # Ω (0 if the memristor voltage itself is the drive)
    frequency: float  # Hz
    periods: int
    path: str = ""  # the file it was read from
    drive: dict = field(default_factory=dict)  # how v_src was cleaned (:func:`periodic_drive`); empty: as given
    start: float = 0.0  # s, where t = 0 lies on the file's own time axis (from its first sample)


# --------------------------------------------------------------------------- reading


def _delimiter(spec: str | None, sample: str) -> str:
    if spec is None:
        try:
            return csv.Sniffer().sniff(sample, delimiters="\t,; ").delimiter
        except csv.Error:  # e.g. a stray text line: the delimiter most lines agree on
            import re
            from collections import Counter

            lines = sample.splitlines()
            best = (0, r"\s+")
            for d in ("\t", ";", ",", r"\s+"):
                width, support = Counter(len(re.split(d, line.strip()) if d == r"\s+" else line.split(d))
                                         for line in lines).most_common(1)[0]
                if width >= 2 and support > best[0]:
                    best = (support, d)
            return best[1]
    if spec in DELIMITERS:
        return DELIMITERS[spec]
    if len(spec) == 1:
        return spec
    raise ParamError(f"--delimiter: expected tab, comma, semicolon, space or one character, got {spec!r}")


def _parse_columns(spec: str, ncols: int, header: list[str] | None) -> dict[str, int]:
    """``"source_voltage,resistor_voltage,time"`` (by position; ``-`` skips a column) or
    ``"time=t_s,current=2"`` (by header name or 0-based index)."""
    out: dict[str, int] = {}
    for pos, item in enumerate(s.strip() for s in spec.split(",")):
        if not item or item in ("-", "skip"):
            continue
        meaning, eq, col = item.partition("=")
        meaning = meaning.strip()
        if meaning not in MEANINGS:
            raise ParamError(f"--columns: unknown meaning {meaning!r} (known: {', '.join(MEANINGS)})")
        if eq:
            col = col.strip()
            if col.isdigit():
                idx = int(col)
            elif header is not None and col in header:
                idx = header.index(col)
            else:
                raise ParamError(f"--columns: no column {col!r} in the file")
        else:
            idx = pos
        if idx >= ncols:
            raise ParamError(f"--columns: {meaning} is column {idx} but the file has {ncols} column(s)")
        out[meaning] = idx
    return out


def file_labels(paths: list[str | os.PathLike[str]]) -> list[str]:
    """Distinct labels of data files, keyed by path: the file's stem where that is unique,
    else as many parent folders as tell the files apart (``a/m``, ``b/m``), else the name
    with its extension. The same file given twice is refused."""
    full = [Path(os.path.abspath(p)) for p in paths]
    seen: dict[str, str] = {}
    for given, p in zip(paths, full):
        real = os.path.realpath(p)
        if real in seen:
            raise ParamError(f"--data {os.fspath(given)!r}: the same file as {seen[real]!r}, given twice")
        seen[real] = os.fspath(given)

    def label(p: Path, level: int, ext: bool) -> str:
        folders = list(p.parent.parts[1:])  # without the root
        folders = folders[len(folders) - (level - 1):] if level > 1 else []
        return "/".join([*folders, p.name if ext else p.stem])

    depth = max(len(p.parts) for p in full)
    out = []
    for i, p in enumerate(full):
        for level in range(1, depth + 1):
            mine = [label(p, level, ext) for ext in (False, True)]
            pick = next((lab for k, lab in enumerate(mine)
                         if all(label(q, level, bool(k)) != lab for j, q in enumerate(full) if j != i)), None)
            if pick is not None:
                break
        else:
            pick = os.fspath(p)
        out.append(pick)
    for i, lab in enumerate(out):  # distinct by construction; kept safe for odd names
        if out[:i].count(lab):
            out[i] = f"{lab}#{i + 1}"
    return out


def read_table(path: str | os.PathLike[str], delimiter: str | None = None,
               decimal_comma: bool = False) -> tuple[np.ndarray, list[str] | None]:
    """Numbers of a delimited text file (header detected), shape (rows, columns)."""
    values, header, _ = _read_table(path, delimiter, decimal_comma)
    return values, header


def _read_table(path, delimiter, decimal_comma):
    """:func:`read_table` plus the file's line number (1-based) of every row."""
    import re

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ParamError(f"--data: cannot read {os.fspath(path)!r}: {exc.strerror}") from None
    numbered = [(k, line) for k, line in enumerate(text.splitlines(), start=1)
                if line.strip() and not line.lstrip().startswith("#")]
    if not numbered:
        raise ParamError(f"--data {p.name}: the file is empty")
    sep = _delimiter(delimiter, "\n".join(line for _, line in numbered[:20]))
    if decimal_comma and sep == ",":
        raise ParamError(f"--data {p.name}: a decimal comma needs another delimiter (tab, semicolon)")

    def fields(line: str) -> list[str]:
        return re.split(sep, line.strip()) if sep == r"\s+" else line.split(sep)

    def number(f: str) -> float:
        return float(f.strip().replace(",", ".") if decimal_comma else f.strip())

    def numeric(f: str) -> bool:
        try:
            number(f)
            return True
        except ValueError:
            return False

    first = fields(numbered[0][1])
    header = None if all(numeric(f) for f in first) else [f.strip().strip('"') for f in first]
    body = numbered[1:] if header else numbered
    if not body:
        raise ParamError(f"--data {p.name}: need at least two columns and two rows (got no data rows)")
    lines = np.array([k for k, _ in body])

    def first_bad_row() -> str | None:
        """Where the data go wrong, as ``line N: ...`` (pandas does not say)."""
        if header:
            width = len(header)
        else:  # the width most rows agree on, so that a ragged first row is the one named
            from collections import Counter

            width = Counter(len(fields(line)) for _, line in body).most_common(1)[0][0]
        for k, line in body:
            row = fields(line)
            bad = next((f for f in row if not numeric(f)), None)
            shown = line.strip() if len(line.strip()) <= 60 else line.strip()[:57] + "..."
            if bad is not None:
                what = f"{bad.strip()!r} is not a number" if bad.strip() else "an empty value"
                return f"line {k}: {what} (in {shown!r})"
            if len(row) != width:
                return f"line {k}: {len(row)} value(s) where the file has {width} column(s) (in {shown!r})"
            if not all(math.isfinite(number(f)) for f in row):
                return f"line {k}: a non-finite value (in {shown!r})"
        return None

    try:
        frame = pd.read_csv(io.StringIO("\n".join(line for _, line in body)), sep=sep, header=None,
                            decimal="," if decimal_comma else ".", engine="python" if sep == r"\s+" else "c",
                            dtype=float)
    except (ValueError, pd.errors.ParserError) as exc:
        where = first_bad_row() or f"non-numeric or ragged data ({str(exc).splitlines()[0]})"
        raise ParamError(f"--data {p.name}: {where}") from None
    values = frame.to_numpy(dtype=float)
    if values.shape[0] < 2 or values.shape[1] < 2:
        raise ParamError(f"--data {p.name}: need at least two columns and two rows "
                         f"(got {values.shape[1]} column(s), {values.shape[0]} row(s))")
    if not np.all(np.isfinite(values)):
        where = first_bad_row() or "non-numeric or missing values"
        raise ParamError(f"--data {p.name}: {where}")
    return values, header, lines


def read_measurement(path: str | os.PathLike[str], columns: str, *, delimiter: str | None = None,
                     decimal_comma: bool = False, series_resistor: float | None = None,
                     sample_rate: float | None = None, max_periods: int = 5,
                     points_per_period: int = 200, name: str | None = None,
                     drive: str = "periodic") -> Measurement:
    """Read one file, derive source/memristor voltage and current, keep the last
    ``max_periods`` whole periods (the first period is dropped as start-up) and resample
    each to ``points_per_period`` samples. ``name`` labels the file in results (default:
    its stem; see :func:`file_labels` for several files). ``drive``: "periodic" plays the
    model with the source voltage's periodic part (:func:`periodic_drive`), "measured"
    with the source voltage as recorded, noise included."""
    if drive not in DRIVES:
        raise ParamError(f"--drive: must be one of {', '.join(DRIVES)}, got {drive!r}")
    label = name or Path(path).stem
    shown = Path(path).name
    if series_resistor is not None and not (math.isfinite(series_resistor) and series_resistor >= 0):
        raise ParamError(f"--series-resistor: must be a finite number >= 0, got {series_resistor!r}")
    if sample_rate is not None and not (math.isfinite(sample_rate) and sample_rate > 0):
        raise ParamError(f"--sample-rate: must be a finite number > 0, got {sample_rate!r}")
    values, header, lines = _read_table(path, delimiter, decimal_comma)
    cols = _parse_columns(columns, values.shape[1], header)
    get = {k: values[:, v] for k, v in cols.items()}
    if "time" in get:
        t = get["time"] - get["time"][0]
    elif sample_rate:
        t = np.arange(values.shape[0]) / sample_rate
    else:
        raise ParamError("--columns/--sample-rate: the data needs a time column or a sample rate")
    back = np.flatnonzero(np.diff(t) <= 0)
    if back.size:
        k = int(back[0]) + 1
        raise ParamError(f"--data {shown}: line {lines[k]}: time must increase strictly "
                         f"({get['time'][k]:.6g} s after {get['time'][k - 1]:.6g} s)")
    r = series_resistor
    if "source_voltage" in get and "resistor_voltage" in get:
        if not r:
            raise ParamError("--series-resistor: needed to turn the resistor voltage into a current")
        i = get["resistor_voltage"] / r
        v_src, v_mem = get["source_voltage"], get["source_voltage"] - get["resistor_voltage"]
    elif "source_voltage" in get and "current" in get:
        if not r:
            raise ParamError("--series-resistor: needed to get the memristor voltage from the source's")
        i, v_src = get["current"], get["source_voltage"]
        v_mem = v_src - i * r
    elif "memristor_voltage" in get and "current" in get:
        i, v_mem = get["current"], get["memristor_voltage"]
        r = r or 0.0
        v_src = v_mem + i * r
    else:
        raise ParamError("--columns: give source_voltage + resistor_voltage, source_voltage + current, "
                         "or memristor_voltage + current")
    with np.errstate(all="ignore"):
        finite = all(np.all(np.isfinite(a)) for a in (i, v_src, v_mem))
    if not finite:
        raise ParamError(f"--data {shown}: the current or a voltage derived from it is not finite "
                         f"(check --series-resistor)")
    # whole periods from upward zero crossings of the (mean-free) drive
    crossings = _upward_crossings(t, v_src)
    if crossings.size < 3:
        raise ParamError(f"--data {shown}: too few periods (need at least 2 whole periods after the first)")
    period = float(np.median(np.diff(crossings)))
    n_avail = int(math.floor((t[-1] - crossings[1]) / period + 0.02))  # skip the first period
    if n_avail < 2:
        raise ParamError(f"--data {shown}: too few periods (need at least 2 whole periods after the first)")
    n = min(max_periods, n_avail)
    # the latest upward crossing from which n whole periods still fit: the most settled data
    fits = crossings[(crossings >= crossings[1]) & (crossings + n * period <= t[-1] + 0.02 * period)]
    start = float(fits[-1])
    recorded = float(np.sum((t >= start) & (t < start + n * period))) / n  # samples per period as recorded
    period = _drive_period(t, v_src, start, n, period, points_per_period, recorded)
    grid = start + np.arange(n * points_per_period + 1) * (period / points_per_period)
    resample = lambda y: np.interp(grid, t, y)  # noqa: E731
    meas = Measurement(name=label, t=grid - grid[0], v_src=resample(v_src), v_mem=resample(v_mem),
                       i=resample(i), r_series=float(r), frequency=1.0 / period, periods=n,
                       path=os.fspath(path), start=start)
    for what, y in (("current", meas.i), ("memristor voltage", meas.v_mem)):
        tss = float(np.sum((y - y.mean()) ** 2))
        if not (math.isfinite(tss) and tss > 0):
            raise ParamError(f"--data {shown}: the {what} does not vary, there is nothing to fit")
    if drive == "periodic":
        v_clean, note = periodic_drive(meas.v_src, n, recorded)
        meas = replace(meas, v_src=v_clean, drive=note)
    else:
        meas = replace(meas, drive={"kind": "measured", "why": "asked for (--drive measured)"})
    return meas


def periodic_drive(v_src: np.ndarray, periods: int, recorded_per_period: float | None = None
                   ) -> tuple[np.ndarray, dict]:
    """The periodic part of a drive sampled on ``periods`` whole periods (``v_src[-1]`` is the
    next period's first sample), and a note of what was done.

    A periodic drive lives at the record's harmonic frequency bins (every ``periods``-th
    bin); the other bins hold only noise, and their median power gives the noise floor
    (white noise: exponentially distributed power, mean = median / ln 2). Kept: the mean
    and every harmonic whose power exceeds :data:`DRIVE_KEEP` times the floor; the rest is
    noise. Playing the model with the noisy drive would feed that noise through the
    device's nonlinear rates (a systematic bias, not only scatter); cleaned, the drive's
    noise is left only in the measured outputs, where least squares expects it.
    Where the removed part is larger than noise (:data:`DRIVE_NOT_NOISE`) or the record is
    too short to tell, the drive is returned unchanged, and the note says why.
    ``recorded_per_period``: the samples per period of the record before it was resampled
    (None: as here). A record resampled more finely has no noise above its own Nyquist
    frequency, so the floor is taken from the bins below it.
    """
    y = np.asarray(v_src[:-1], dtype=float)
    n = y.size
    spec = np.fft.rfft(y)
    harmonic = np.zeros(spec.size, dtype=bool)
    harmonic[::periods] = True
    below = np.arange(spec.size) <= (periods * recorded_per_period / 2.0 if recorded_per_period else spec.size)
    noise_bins = np.abs(spec[~harmonic & below]) ** 2
    if periods < 2 or noise_bins.size < 8:
        return v_src, {"kind": "measured", "why": "too few periods or samples to tell the drive from its noise"}
    floor = float(np.median(noise_bins)) / math.log(2.0)  # mean noise power per bin
    limit = int(periods * recorded_per_period / 2.0) if recorded_per_period else None
    spread = _sideband_power(spec, periods, limit) / floor if floor > 0 else math.inf
    if spread > DRIVE_SPREAD:
        return v_src, {"kind": "measured", "sideband_over_floor": spread,
                       "why": f"the drive's harmonics spread into the neighbouring frequencies ({spread:.3g} times "
                              f"the noise floor there): its period is not steady over the record"}
    keep = harmonic & (np.abs(spec) ** 2 > DRIVE_KEEP * floor)
    keep[0] = True
    clean = np.fft.irfft(np.where(keep, spec, 0.0), n)
    removed = float(np.sqrt(np.mean((y - clean) ** 2)))
    # white noise: E|Y_k|^2 = n sigma^2 in each bin that holds it (those below the Nyquist
    # frequency of the record as sampled)
    noise_rms = math.sqrt(floor / n * np.sum(below) / spec.size)
    expected = math.sqrt(floor / n * np.sum(below & ~keep) / spec.size)  # in the bins removed
    note = {"harmonics_kept": int(keep[1:].sum()), "noise_rms_v": noise_rms, "removed_rms_v": removed}
    peak = float(np.max(np.abs(y - clean)))
    if expected > 0 and peak > DRIVE_PEAK * noise_rms:
        return v_src, {"kind": "measured", **note,
                       "why": f"cleaning would move the drive by {peak:.3g} V at one sample, {peak / noise_rms:.3g} "
                              f"times the noise rms: more than noise (a sharp edge whose period is not found "
                              f"finely enough?)"}
    if removed > max(DRIVE_NOT_NOISE * expected, 1e-9 * float(np.sqrt(np.mean(y ** 2)))):
        return v_src, {"kind": "measured", **note,
                       "why": f"what cleaning would remove ({removed:.3g} V rms) is more than noise "
                              f"({expected:.3g} V rms from the noise floor): the drive is not periodic on its "
                              f"period, or has no noise to remove"}
    return np.append(clean, clean[0]), {"kind": "periodic", **note}


def drive_line(m: Measurement) -> str:
    """One line on how the model is driven for ``m`` (the console's)."""
    d = m.drive
    if d.get("kind") == "periodic":
        return (f"drive: periodic part ({d['harmonics_kept']} harmonics kept, "
                f"{1e3 * d['removed_rms_v']:.3g} mV rms of noise removed)")
    if d.get("kind") == "measured":
        return f"drive: as measured ({d['why']})"
    return "drive: as given"


def _sideband_power(spec: np.ndarray, periods: int, limit: int | None = None) -> float:
    """Mean power in the bins next to the harmonic bins (below bin ``limit``): where a drive
    whose period is off, or drifts, spreads its harmonics. Noise alone gives the floor there."""
    h = np.arange(periods, spec.size if limit is None else min(limit, spec.size), periods)
    sb = np.concatenate([h - 1, h + 1])
    sb = sb[(sb > 0) & (sb < spec.size) & (sb % periods != 0)]
    return float(np.mean(np.abs(spec[sb]) ** 2)) if sb.size else 0.0


#: harmonics the least-squares period fits; a drive with more than SHARP of its power
#: beyond them (a square wave) keeps the crossings' period
PERIOD_HARMONICS = 20
SHARP = 1e-3


def _drive_period(t: np.ndarray, v: np.ndarray, start: float, periods: int, period: float,
                  points_per_period: int, recorded_per_period: float) -> float:
    """The drive's period (s): the least-squares refinement (:func:`_refine_period`) of the
    crossings' estimate ``period``, unless the drive is sharp (more than :data:`SHARP` of
    its power beyond the harmonics that fit fits, as a square wave's): its crossings are
    then sharp too, and the unfitted harmonics would bias the least squares. Noise moves
    the crossings of a smooth drive, and a period 0.1 % off shifts the last of a few
    periods by a noticeable phase."""
    steps = np.arange(periods * points_per_period + 1) / points_per_period
    spec = np.abs(np.fft.rfft(np.interp(start + steps * period, t, v)[:-1])) ** 2
    harmonic = spec[periods::periods]
    if harmonic[PERIOD_HARMONICS:].sum() > SHARP * harmonic.sum():
        return period
    return _refine_period(t, v, start, periods, period, points_per_period, recorded_per_period)


def _refine_period(t: np.ndarray, v: np.ndarray, start: float, periods: int, period: float,
                   points_per_period: int, recorded_per_period: float) -> float:
    """The drive's period by least squares, from the crossings' estimate ``period`` (s): the
    one at which the mean and the first :data:`PERIOD_HARMONICS` harmonics (fewer where the
    sampling cannot hold them) fit the record's ``periods`` periods from ``start`` best.
    Harmonics beyond those (a square wave's) bias it: :func:`_drive_period` decides.

    Noise moves each crossing, and a period off by 0.1 % shifts the last of a few periods
    by a noticeable phase and smears the drive's harmonics into the bins its cleaning takes
    for noise; the whole record pins the period better. Searched within half a spectral
    line (1/record length) on either side of the estimate, or 2 %; never below the
    estimate by this measure. Long records are thinned to at most 20000 samples for the search.
    """
    window = (t >= start) & (t <= start + periods * period)
    tw, vw = t[window], v[window]
    stride = max(1, int(math.ceil(tw.size / 20000)))
    tw, vw = tw[::stride] - start, vw[::stride] - float(np.mean(vw[::stride]))
    harmonics = int(max(1, min(PERIOD_HARMONICS, points_per_period // 2,
                               recorded_per_period / stride / 2.0 - 1)))
    f0 = 1.0 / period
    half = min(0.02 * f0, 0.5 / (periods * period))

    ks = list(range(1, harmonics + 1))

    def rss(f: float) -> float:  # least squares of the mean and those harmonics at f
        w = 2.0 * np.pi * f * tw
        a = np.column_stack([np.ones_like(tw)] + [g(k * w) for k in ks for g in (np.cos, np.sin)])
        coef, *_ = np.linalg.lstsq(a, vw, rcond=None)
        return float(np.sum((vw - a @ coef) ** 2))

    grid = np.linspace(f0 - half, f0 + half, 41)
    values = [rss(f) for f in grid]
    k = int(np.argmin(values))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, grid.size - 1)]
    best = optimize.minimize_scalar(rss, bounds=(lo, hi), method="bounded", options={"xatol": 1e-9 * f0})
    f = float(best.x) if best.success and best.fun <= values[k] else float(grid[k])
    return 1.0 / f if rss(f) <= rss(f0) else period


def _upward_crossings(t: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Upward crossings of the drive's mid-level, with hysteresis (half the amplitude) so
    that measurement noise near the crossing does not count as extra periods."""
    mid = 0.5 * (v.max() + v.min())
    half = 0.25 * (v.max() - v.min())
    armed, out = False, []
    for k in range(v.size):  # a first sample below the lower level arms too
        if v[k] < mid - half:
            armed = True
        elif armed and v[k] > mid + half:
            armed = False
            j = k
            while j > 0 and v[j - 1] >= mid:  # walk back to the last crossing of mid
                j -= 1
            if j > 0:
                a, b = v[j - 1] - mid, v[j] - mid
                out.append(t[j - 1] + (t[j] - t[j - 1]) * (-a) / (b - a))
    return np.array(out)


# --------------------------------------------------------------------------- model


def space(base: Params) -> devices.FitSpace:
    """The fit space of the device model ``base`` selects (``memristor.model``)."""
    model = devices.get(base.memristor.model)
    if base.memristor.state == "frozen":
        raise ParamError("memristor.state: a fit needs the state free (a frozen memristor has no hysteresis "
                         "to fit); remove memristor.state = \"frozen\"")
    if model.fit is None:
        fittable = [n for n in devices.names() if devices.get(n).fit is not None]
        raise ParamError(f"memristor.model: the {model.label} ({model.name!r}) cannot be fitted yet "
                         f"(fittable: {', '.join(fittable)})")
    return model.fit


def _device(theta: dict[str, float], base: Params) -> Params:
    """``base`` with the memristor of the fit vector ``theta`` (its model's fit space)."""
    values = space(base).values(theta, base.memristor)
    return base.with_values({f"memristor.{k}": v for k, v in values.items()})


#: the model is in its periodic steady state when the state x at the start of the data is
#: within this of the fixed point of the period map (x is in [0, 1])
SETTLED = 1e-10


def simulate(theta: dict[str, float], base: Params, meas: Measurement, warmup_periods: int = 2,
             substeps: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Model current and memristor voltage on ``meas.t``, sample k driven by
    ``meas.v_src[k]``, from the periodic steady state.

    The data's first period is played ``warmup_periods`` (at least 2) times before them.
    Where the state at the end of the warm-up may still be more than :data:`SETTLED` from
    the periodic steady state (its distance estimated from the last two periods'
    contraction), the steady state is the fixed point of the period map x -> x(one period
    later): first the warm-up's extrapolation (Aitken's), kept where one period played from
    it confirms it, else bracketed in [0, 1] (the map is monotone) and found by Brent's method.
    The data are then played from that state (the bench's only state is x).
    """
    per = (meas.t.size - 1) // meas.periods
    device, warm = _device(theta, base), max(int(warmup_periods), 2)
    period = meas.t[per]
    t = np.append(np.concatenate([meas.t[:per] + k * period for k in range(warm)]), warm * period)
    v = np.append(np.tile(meas.v_src[:per], warm), meas.v_src[0])
    x = iv_states(device, t, v, substeps=substeps, r_series=meas.r_series)(device.memristor.x0)
    a, b, c = (float(x[per * k]) for k in (warm - 2, warm - 1, warm))
    x0 = c if math.isfinite(c) and _settled(a, b, c) else _steady_state(device, meas, per, a, b, c, substeps)
    tr = solve_iv(device, meas.t, meas.v_src, substeps=substeps, r_series=meas.r_series, x0=x0)
    return tr["i_m"], tr["v_mem"]


def _steady_state(device: Params, meas: Measurement, per: int, a: float, b: float, c: float,
                  substeps: int) -> float:
    """The fixed point of the period map (see :func:`simulate`); a, b, c: the state at the
    end of the last three warm-up periods."""
    from scipy.optimize import brentq

    one_t = np.append(meas.t[:per], meas.t[per])  # one period of the warm-up drive
    one_v = np.append(meas.v_src[:per], meas.v_src[0])
    period = iv_states(device, one_t, one_v, substeps=substeps, r_series=meas.r_series)

    def gap(x: float) -> float:
        return float(period(x)[-1]) - x

    step, before = c - b, b - a
    if all(map(math.isfinite, (a, b, c))) and before != 0.0 and 0.0 < step / before < 1.0:
        lam = step / before  # a contraction, seen: extrapolate, then check with one period
        guess = min(max(c + step * lam / (1.0 - lam), 0.0), 1.0)
        if abs(gap(guess)) / (1.0 - lam) <= SETTLED:
            return guess
    lo, hi = gap(0.0), gap(1.0)
    if lo <= 0.0:
        return 0.0
    if hi >= 0.0:
        return 1.0
    return brentq(gap, 0.0, 1.0, xtol=SETTLED, rtol=4 * np.finfo(float).eps)


def _settled(a: float, b: float, c: float) -> bool:
    """Is the state whose last three period-end values are a, b, c within SETTLED of the
    fixed point? For a contraction by lam per period the distance is |c - b| lam / (1 - lam)."""
    step = abs(c - b)
    if step == 0.0:
        return True
    before = abs(b - a)
    if before == 0.0 or step >= before:  # no contraction seen: cannot tell
        return False
    lam = step / before
    return step * lam / (1.0 - lam) <= SETTLED


def _tss(y: np.ndarray) -> float:
    return float(np.sum((y - y.mean()) ** 2))


def _residuals(theta: dict[str, float], base: Params, meas: Measurement):
    """Normalised residuals (current, memristor voltage) whose squares sum to RSS_I/TSS_I
    and RSS_V/TSS_V; None where the model cannot be simulated."""
    try:
        i, v = simulate(theta, base, meas)
    except (ParamError, SimulationError):
        return None
    if not (np.all(np.isfinite(i)) and np.all(np.isfinite(v))):
        return None
    return (i - meas.i) / math.sqrt(_tss(meas.i)), (v - meas.v_mem) / math.sqrt(_tss(meas.v_mem))


def cost_terms(theta: dict[str, float], base: Params, meas: Measurement) -> tuple[float, float]:
    """(RSS_I/TSS_I, RSS_V/TSS_V): the part of the current and of the memristor voltage
    that the model leaves unexplained (1 - R² each)."""
    r = _residuals(theta, base, meas)
    if r is None:
        return _FAILED / 2, _FAILED / 2
    return float(np.sum(r[0] ** 2)), float(np.sum(r[1] ** 2))


def cost(theta: dict[str, float], base: Params, meas: Measurement) -> float:
    """RSS_I/TSS_I + RSS_V/TSS_V (0 = perfect; 1e3 where the model cannot be simulated)."""
    return sum(cost_terms(theta, base, meas))


@dataclass
class FitResult:
    params: dict[str, float]  # the fitted [memristor] values (r_off for the ratio) and the held ones
    cost: float
    per_file: dict[str, dict[str, float]]  # label -> cost, cost_current, cost_voltage, r2_current, r2_voltage
    poorly_determined: list[str]
    relative_std: dict[str, float | None]  # 1-sigma relative spread; None: not identifiable
    correlations: dict[str, float] = field(default_factory=dict)  # |c| > 0.95, each in [-1, 1]
    evaluations: int = 0
    theta: dict[str, float] = field(default_factory=dict)  # the fit vector (r_off as ratio)
    r2_current: float = float("nan")  # over all files together
    r2_voltage: float = float("nan")  # of the memristor voltage, over all files together
    verdict: str = "good"  # "poor": the model explains too little of the data
    reasons: list[str] = field(default_factory=list)  # why the verdict is poor
    at_bounds: list[dict] = field(default_factory=list)  # parameters at or near a search bound
    not_identifiable: list[str] = field(default_factory=list)
    start: str = "the global search"  # where the reported optimum came from
    model: str = "mms"  # the device model fitted

    @property
    def poor(self) -> bool:
        return self.verdict == "poor"

    def memristor_table(self, base: Params) -> Params:
        return _device(self.theta, base)


def fit(measurements: list[Measurement], base: Params | None = None, free_temperature: bool = False,
        seed: int = 1, maxiter: int = 60, bounds: dict[str, tuple[float, float]] | None = None) -> FitResult:
    """One shared parameter set of the device model ``base`` selects (``memristor.model``;
    its fit space in :mod:`alif_spice.devices`) for all ``measurements`` (distinct names).

    ``bounds`` overrides entries of :data:`BOUNDS`. With ``free_temperature`` the
    fixed-temperature fit runs first and the free search starts from its optimum, so the
    result is never worse than it.
    """
    base = base or load_params("paper")
    space(base)  # a model that can be fitted
    if not measurements:
        raise ParamError("--data: no measurement to fit")
    labels = [m.name for m in measurements]
    twice = sorted({n for n in labels if labels.count(n) > 1})
    if twice:
        raise ParamError(f"two measurements are both called {twice[0]!r}: give them distinct names "
                         "(file_labels makes them from the paths)")
    fitted = space(base)
    box = dict(fitted.bounds, **(bounds or {}))
    if free_temperature and not fits_temperature(base):
        raise ParamError(f"--free-temperature: the {devices.get(base.memristor.model).label} model has no "
                         "temperature to fit")
    t_fixed = base.memristor.temperature
    if free_temperature:  # the fixed temperature must lie inside the search
        box["temperature"] = (min(box["temperature"][0], t_fixed), max(box["temperature"][1], t_fixed))
    evals = 0

    def total_theta(th: dict[str, float]) -> float:
        nonlocal evals
        evals += 1
        return sum(cost(th, base, m) for m in measurements) / len(measurements)

    def search(names: list[str], x0=None) -> dict[str, float]:
        lo = np.log([box[n][0] for n in names])
        hi = np.log([box[n][1] for n in names])

        def total(z):
            return total_theta(dict(zip(names, np.exp(np.clip(z, lo, hi)))))

        de = optimize.differential_evolution(total, list(zip(lo, hi)), seed=seed, maxiter=maxiter, popsize=POPSIZE,
                                             tol=1e-8, polish=False, init="sobol",
                                             x0=None if x0 is None else np.clip(x0, lo, hi))
        # the polish from the best few members of the final population, not the best alone:
        # a threshold model's cost has narrow valleys the best member may not be in
        starts = [(de.x, de.fun)]
        for k in np.argsort(de.population_energies):
            if len(starts) >= POLISH_STARTS:
                break
            member = de.population[k] * (hi - lo) + lo  # scipy keeps the population scaled to [0, 1]
            if all(np.max(np.abs(member - z) / (hi - lo)) > 0.02 for z, _ in starts):
                starts.append((member, float(de.population_energies[k])))
        polished = [_polish(names, z, f, lo, hi) for z, f in starts]
        z = min(polished, key=lambda zf: zf[1])[0]
        return dict(zip(names, np.exp(np.clip(z, lo, hi))))

    def _polish(names, z0, f0, lo, hi):
        """The local search from the global one's best: trust-region least squares on the
        residuals themselves (their sum of squares is the cost), Jacobian by differences."""
        size = sum(2 * m.t.size for m in measurements)

        def stacked(z):
            nonlocal evals
            evals += 1
            th = dict(zip(names, np.exp(np.clip(z, lo, hi))))
            parts = []
            for m in measurements:
                r = _residuals(th, base, m)
                if r is None:
                    return np.full(size, math.sqrt(_FAILED / size))
                parts += list(r)
            return np.concatenate(parts) / math.sqrt(len(measurements))

        inside = np.clip(z0, lo + 1e-9 * (hi - lo), hi - 1e-9 * (hi - lo))
        loc = optimize.least_squares(stacked, inside, bounds=(lo, hi), method="trf", x_scale=1.0,
                                     diff_step=1e-4, xtol=1e-10, ftol=1e-12, gtol=1e-12, max_nfev=POLISH_STEPS)
        return (loc.x, 2.0 * loc.cost) if 2.0 * loc.cost <= f0 else (z0, f0)

    names = list(fitted.names)
    th = search(names)
    start = "the global search"
    if free_temperature:
        fixed = {**th, "temperature": t_fixed}  # exactly the fixed-temperature fit
        names = names + ["temperature"]
        free = search(names, x0=np.log([fixed[n] for n in names]))
        if total_theta(free) < total_theta(fixed):
            th, start = free, "the free-temperature search started from the fixed-temperature optimum"
        else:
            th, start = fixed, "the fixed-temperature optimum (the free search found nothing better)"
    return _summarise(th, names, measurements, base, box, evals, start)


#: how the model selection ranks the fitted models: the lowest Bayesian information criterion
SELECTION_RULE = "lowest BIC"


def information_criteria(result: FitResult, measurements: list[Measurement]) -> dict[str, float]:
    """AIC and BIC of a fit from its residual sums, for Gaussian residuals of unknown spread:
    with n residuals (current and memristor voltage of every sample, each normalised by its
    file's spread), RSS their sum of squares and k free parameters,
    AIC = n ln(RSS/n) + 2k and BIC = n ln(RSS/n) + k ln(n)."""
    n = sum(2 * m.t.size for m in measurements)
    rss = sum(v["cost"] for v in result.per_file.values())
    k = len(result.theta)
    fit_term = n * math.log(rss / n)
    return {"samples": n, "rss": rss, "free_parameters": k, "aic": fit_term + 2 * k, "bic": fit_term + k * math.log(n)}


@dataclass
class ModelSelection:
    """Several device models fitted to the same data, ranked by :data:`SELECTION_RULE`."""

    results: dict[str, FitResult]  # model name -> its fit
    criteria: dict[str, dict[str, float]]  # model name -> information_criteria
    seconds: dict[str, float]  # model name -> wall time of its fit

    @property
    def ranked(self) -> list[str]:
        return sorted(self.results, key=lambda n: (self.criteria[n]["bic"], self.results[n].cost))

    @property
    def best(self) -> str:
        return self.ranked[0]

    def table(self) -> list[dict]:
        """One row per model, best first: k, cost, R², AIC, BIC and their differences to the best."""
        best_aic = min(c["aic"] for c in self.criteria.values())
        best_bic = min(c["bic"] for c in self.criteria.values())
        by_cost = sorted(self.results, key=lambda n: self.results[n].cost)
        return [{"model": n, "label": devices.get(n).label, "free_parameters": self.criteria[n]["free_parameters"],
                 "cost": self.results[n].cost, "cost_rank": by_cost.index(n) + 1,
                 "r2_current": self.results[n].r2_current, "r2_voltage": self.results[n].r2_voltage,
                 "aic": self.criteria[n]["aic"], "delta_aic": self.criteria[n]["aic"] - best_aic,
                 "bic": self.criteria[n]["bic"], "delta_bic": self.criteria[n]["bic"] - best_bic,
                 "verdict": self.results[n].verdict, "seconds": self.seconds[n]} for n in self.ranked]


def model_names(spec: str) -> list[str]:
    """``"mms,vteam"`` or ``"all"`` -> the fittable device models named (in that order)."""
    fittable = [n for n in devices.names() if devices.get(n).fit is not None]
    if spec.strip() == "all":
        return fittable
    out: list[str] = []
    for name in (s.strip() for s in spec.split(",")):
        if not name:
            continue
        if name == "all":
            raise ParamError("--model: all stands alone (every fittable model); or name the models: "
                             + ",".join(fittable))
        if name not in devices.names():
            raise ParamError(f"--model: unknown device model {name!r} (known: {', '.join(fittable)}, or all)")
        if name not in fittable:
            raise ParamError(f"--model: the {devices.get(name).label} model ({name!r}) cannot be fitted yet "
                             f"(fittable: {', '.join(fittable)})")
        if name not in out:
            out.append(name)
    if not out:
        raise ParamError("--model: no device model named (e.g. mms,vteam or all)")
    return out


def model_base(base: Params, name: str) -> Params:
    """``base`` with the device model ``name`` selected, the [memristor] keys that model
    does not read reset to the preset's (another model's values there, e.g. a diode
    fraction phi < 1, would break the rules of the plain MMS)."""
    import dataclasses

    if base.memristor.model == name:
        return base
    preset = _preset_memristor()
    read = set(devices.get(name).params)
    return base.with_values({"memristor.model": name, **{
        f"memristor.{f.name}": getattr(preset, f.name) for f in dataclasses.fields(preset)
        if f.name not in read and f.name not in ("model", "state")}})


@functools.lru_cache(maxsize=1)
def _preset_memristor():
    return load_params("paper").memristor


def fits_temperature(base: Params) -> bool:
    """Whether the fit space of the device model ``base`` selects has a temperature
    (``--free-temperature`` fits it too)."""
    return "temperature" in space(base).bounds


def _worker_start(parent: int) -> None:
    """A model-fit worker: it ignores Ctrl-C (the command ends it) and dies with the command,
    however that ends (SIGKILL included)."""
    import signal

    from .processes import die_with_parent

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for sig in (signal.SIGTERM, signal.SIGHUP):  # not the command's handlers, inherited by fork
        signal.signal(sig, signal.SIG_DFL)
    die_with_parent(parent)


def _fit_model(name: str, measurements: list[Measurement], base: Params, free_temperature: bool,
               options: dict) -> tuple[str, FitResult, float]:
    import time

    start = time.perf_counter()
    own = model_base(base, name)
    free = free_temperature and fits_temperature(own)
    result = fit(measurements, own, free_temperature=free, **options)
    return name, result, time.perf_counter() - start


def select_model(measurements: list[Measurement], base: Params, models: list[str], free_temperature: bool = False,
                 workers: int | None = None, progress: Callable[[str], None] | None = None,
                 **fit_options) -> ModelSelection:
    """Fit each of ``models`` to ``measurements`` (``free_temperature`` for the models that
    have a temperature), in parallel across models (``workers`` processes, default: one per
    core), and rank them (:class:`ModelSelection`)."""
    import multiprocessing

    if free_temperature and not any(fits_temperature(model_base(base, n)) for n in models):
        raise ParamError(f"--free-temperature: none of the models ({', '.join(models)}) has a temperature to fit")
    # the largest fit spaces first: they take longest
    order = sorted(models, key=lambda n: -len(space(model_base(base, n)).names))
    workers = max(1, min(workers or os.cpu_count() or 1, len(order)))
    done: dict[str, tuple[FitResult, float]] = {}

    def record(name: str, result: FitResult, seconds: float) -> None:
        done[name] = (result, seconds)
        if progress:
            progress(f"{name}: cost {result.cost:.4g} ({seconds:.1f} s, {len(done)}/{len(order)} models)")

    if workers == 1:
        for name in order:
            record(*_fit_model(name, measurements, base, free_temperature, fit_options))
    else:
        # fork where the platform has it: a spawned worker would import the caller's main
        # script again (a script without a __main__ guard would fit in a loop)
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        pool = multiprocessing.get_context(method).Pool(workers, initializer=_worker_start,
                                                        initargs=(os.getpid(),))
        try:
            pending = [pool.apply_async(_fit_model, (n, measurements, base, free_temperature, fit_options))
                       for n in order]
            while pending:  # in the order they finish (progress), without blocking Ctrl-C
                ready = [r for r in pending if r.ready()]
                for r in ready:
                    record(*r.get())
                    pending.remove(r)
                if not ready:
                    pending[0].wait(0.05)
            pool.close()
        finally:
            pool.terminate()  # at once where the fits did not all finish (an error, Ctrl-C)
            pool.join()
    results = {n: done[n][0] for n in models}
    return ModelSelection(results=results, criteria={n: information_criteria(r, measurements)
                                                     for n, r in results.items()},
                          seconds={n: done[n][1] for n in models})


def model_overlay_figure(selection: ModelSelection, measurements: list[Measurement], base: Params,
                         curves: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] | None = None):
    """Every fitted model's I-V loop over the measured one, one panel per file, best model
    first in the legend (with its BIC difference to the best). ``curves[(model, file)]``:
    loops already simulated (current, voltage), the others are simulated here. Returns the
    matplotlib Figure."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5 * len(measurements), 4.6))
    axes = np.atleast_1d(fig.subplots(1, len(measurements)))
    rows = {r["model"]: r for r in selection.table()}
    for ax, m in zip(axes, measurements):
        ax.plot(m.v_mem, m.i * 1e3, ".", ms=2, color="0.6", label="measured")
        for k, name in enumerate(selection.ranked):
            r = selection.results[name]
            i, v = (curves or {}).get((name, m.name)) or simulate(r.theta, model_base(base, name), m)
            ax.plot(v, i * 1e3, "-", lw=1.6 if k == 0 else 1.0, color=f"C{k}",
                    label=f"{devices.get(name).label}: cost {r.cost:.3g}, ΔBIC {rows[name]['delta_bic']:.4g}")
        ax.set_xlabel("memristor voltage (V)")
        ax.set_ylabel("current (mA)")
        ax.set_title(f"{m.name} ({m.frequency:.4g} Hz)".replace("$", r"\$"))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


@dataclass
class CrossPrediction:
    """Each file fitted alone, and how its parameters predict every file: ``cost[a][b]`` is
    file b's cost under the parameters fitted on file a alone (the diagonal: each file's own
    fit, the baseline), ``joint[b]`` its cost under the joint fit of all files."""

    own: dict[str, FitResult]
    cost: dict[str, dict[str, float]]
    joint: dict[str, float]

    def ratio(self, fitted_on: str, predicted: str) -> float:
        """``cost[fitted_on][predicted]`` over ``predicted``'s own-fit cost (1 = as good)."""
        return self.cost[fitted_on][predicted] / self.cost[predicted][predicted]

    def joint_ratio(self, predicted: str) -> float:
        return self.joint[predicted] / self.cost[predicted][predicted]


def cross_predict(measurements: list[Measurement], base: Params, joint: FitResult,
                  progress: Callable[[str], None] | None = None, **fit_options) -> CrossPrediction:
    """Fit each of ``measurements`` alone (with ``fit_options``, as the joint fit), then
    predict every file with each file's parameters; ``joint`` is the fit of all of them."""
    own = {}
    for m in measurements:
        if progress:
            progress(f"cross-prediction: fitting {m.name} alone")
        own[m.name] = fit([m], base, **fit_options)
    costs = {a: {m.name: (r.per_file[m.name]["cost"] if m.name == a else cost(r.theta, base, m))
                 for m in measurements} for a, r in own.items()}
    return CrossPrediction(own=own, cost=costs, joint={m.name: joint.per_file[m.name]["cost"] for m in measurements})


def cross_prediction_figure(cross: CrossPrediction):
    """Heat map of the cross-prediction: log10 of each cost over the predicted file's own-fit
    cost (0 on the diagonal), rows the file fitted on and the joint fit, columns the file
    predicted, each cell labelled with its cost. Returns the matplotlib Figure."""
    from matplotlib.figure import Figure

    names = list(cross.cost)
    rows = names + ["joint fit"]
    ratio = np.array([[cross.ratio(a, b) for b in names] for a in names] + [[cross.joint_ratio(b) for b in names]])
    fig = Figure(figsize=(2.2 + 1.3 * len(names), 1.6 + 0.6 * len(rows)))
    ax = fig.subplots()
    shown = np.log10(np.maximum(ratio, 1e-3))
    image = ax.imshow(shown, cmap="viridis", vmin=0.0, vmax=max(1.0, float(shown.max())), aspect="auto")
    for i, a in enumerate(rows):
        for j, b in enumerate(names):
            c = cross.cost[a][b] if a != "joint fit" else cross.joint[b]
            ax.text(j, i, f"{c:.3g}\n×{ratio[i, j]:.3g}", ha="center", va="center", fontsize=8,
                    color="white" if shown[i, j] < 0.6 * max(1.0, float(shown.max())) else "black")
    ax.set_xticks(range(len(names)), [n.replace("$", r"\$") for n in names], rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), [n.replace("$", r"\$") for n in rows])
    ax.set_xlabel("file predicted")
    ax.set_ylabel("parameters fitted on")
    ax.set_title("cost, and × its own fit's cost")
    fig.colorbar(image, ax=ax, label="log10(cost / own-fit cost)")
    fig.tight_layout()
    return fig


def passive_violation(m: Measurement) -> str | None:
    """Why ``m`` cannot be a passive device in series with a resistor (its voltage more than
    20 % above the drive's peak), or None. A sign the data were read wrongly."""
    v_mem, v_src = float(np.max(np.abs(m.v_mem))), float(np.max(np.abs(m.v_src)))
    if m.r_series > 0 and v_mem > 1.2 * v_src:
        return (f"{m.name}'s memristor voltage reaches {v_mem:.3g} V with a {v_src:.3g} V drive, "
                "which a passive device cannot do")
    return None


def near_bounds(th: dict[str, float], names: list[str], box: dict[str, tuple[float, float]]) -> list[dict]:
    """The fitted parameters within :data:`NEAR_BOUND` of their log search range from a
    bound (inclusive), each with the bound; ``at`` where it lies on the bound (1e-6)."""
    out = []
    for n in names:
        lo, hi = box[n]
        for side, limit in (("lower", lo), ("upper", hi)):
            distance = abs(math.log(th[n] / limit))
            if distance <= NEAR_BOUND * math.log(hi / lo):
                out.append({"parameter": "r_off/r_on" if n == "ratio" else n, "value": float(th[n]),
                            "bound": side, "limit": float(limit), "at": distance <= 1e-6})
    return out


def _summarise(th, names, measurements, base, box, evals, start) -> FitResult:
    per_file, rss, tss = {}, [0.0, 0.0], [0.0, 0.0]
    for m in measurements:
        ci, cv = cost_terms(th, base, m)
        if ci + cv >= _FAILED:
            raise SimulationError(f"the fitted model cannot be simulated for {m.name}")
        per_file[m.name] = {"cost": ci + cv, "cost_current": ci, "cost_voltage": cv,
                            "r2_current": 1.0 - ci, "r2_voltage": 1.0 - cv}
        for k, (c, y) in enumerate(((ci, m.i), (cv, m.v_mem))):
            rss[k] += c * _tss(y)
            tss[k] += _tss(y)
    r2_all = [1.0 - a / b for a, b in zip(rss, tss)]
    # each file below the limit (all files together cannot be below it unless one file is)
    reasons = [f"R² of the {what} is {v[key]:.3g} for {name} (below {POOR_R2:g})"
               for what, key in (("current", "r2_current"), ("memristor voltage", "r2_voltage"))
               for name, v in per_file.items() if not v[key] >= POOR_R2]
    reasons += [r for r in map(passive_violation, measurements if reasons else []) if r]

    at_bounds = near_bounds(th, names, box)

    def residuals(z):
        parts = []
        for m in measurements:
            r = _residuals(dict(zip(names, np.exp(z))), base, m)
            if r is None:
                return None
            parts += list(r)
        return np.concatenate(parts) / math.sqrt(len(measurements))

    layout = [m.t.size for m in measurements]  # per file: current, then voltage residuals
    rel, corr, poorly, unknown = _identifiability(residuals, np.log([th[n] for n in names]), names,
                                                  samples=layout)
    fitted = space(base)
    values = fitted.values(th, base.memristor)
    reported = [fitted.shown.get(n, n) for n in fitted.names]
    params = {k: values[k] for k in reported + [n for n in names if n not in fitted.names] + list(fitted.held)
              if k in values}
    return FitResult(params={k: float(v) for k, v in params.items()}, cost=float(np.mean(
                         [v["cost"] for v in per_file.values()])), per_file=per_file,
                     poorly_determined=poorly, relative_std=rel, correlations=corr, evaluations=evals,
                     theta={k: float(v) for k, v in th.items()}, r2_current=float(r2_all[0]),
                     r2_voltage=float(r2_all[1]),
                     verdict="poor" if reasons else "good", reasons=reasons, at_bounds=at_bounds,
                     not_identifiable=unknown, start=start, model=base.memristor.model)


def _bartlett_lags(score: np.ndarray) -> int:
    """The lag window of the Bartlett kernel from the data (Andrews, Econometrica 1991):
    each score column taken as AR(1), rho from its lag-1 correlation, L = 1.1447 (alpha n)^(1/3)
    with alpha = sum 4 rho^2 s^4 / ((1 - rho)^6 (1 + rho)^2) / sum s^4 / (1 - rho)^4
    (s^2: the innovation's variance). At least Newey and West's 4 (n/100)^(2/9), at most n/4."""
    n = score.shape[0]
    floor = int(4.0 * (n / 100.0) ** (2.0 / 9.0))
    x, y = score[1:], score[:-1]
    den = np.sum(y * y, axis=0)
    ok = den > 0
    if not ok.any():
        return floor
    rho = np.clip(np.sum(x * y, axis=0)[ok] / den[ok], -0.97, 0.97)
    s2 = np.mean((x[:, ok] - rho * y[:, ok]) ** 2, axis=0)
    num = np.sum(4.0 * rho ** 2 * s2 ** 2 / ((1 - rho) ** 6 * (1 + rho) ** 2))
    dnm = np.sum(s2 ** 2 / (1 - rho) ** 4)
    alpha = num / dnm if dnm > 0 else 0.0
    return int(min(max(floor, math.ceil(1.1447 * (alpha * n) ** (1.0 / 3.0))), n // 4))


def _scores_covariance(jac: np.ndarray, r: np.ndarray, samples: list[int]) -> np.ndarray:
    """The "meat" of the sandwich covariance: the long-run covariance of the per-instant
    score J_k^T r_k (Newey-West, Bartlett weights).

    ``samples``: per file, the number of instants; its residuals are that many of the
    current, then as many of the voltage (one instant's two residuals share noise: the
    resistor's voltage enters both). Neighbouring instants share noise too (resampling,
    an instrument's bandwidth), and a systematic misfit is correlated over many; Gauss-
    Newton's J^T J sigma^2 assumes none of this and understates the spreads.
    """
    p = jac.shape[1]
    meat = np.zeros((p, p))
    start = 0
    for n in samples:
        rows = np.arange(start, start + n)
        score = jac[rows] * r[rows, None] + jac[rows + n] * r[rows + n, None]  # (n, p)
        start += 2 * n
        lags = _bartlett_lags(score)
        meat += score.T @ score
        for lag in range(1, min(lags, n - 1) + 1):
            g = score[lag:].T @ score[:-lag]
            meat += (1.0 - lag / (lags + 1.0)) * (g + g.T)
    if start != r.size:
        raise ValueError(f"residual layout {samples} does not match {r.size} residuals")
    return meat


def _identifiability(residuals, z, names, h=1e-3, samples: list[int] | None = None):
    """Spreads and correlations of the parameters in log space, from the curvature of the
    cost (J^T J of the normalised residuals, positive semi-definite, so every correlation
    lies in [-1, 1]).

    Without ``samples`` the residuals are taken as independent with one variance
    (Gauss-Newton: cov = (J^T J)^-1 sigma^2). With ``samples`` (per file, its instants;
    see :func:`_scores_covariance`) the covariance is the sandwich
    (J^T J)^-1 M (J^T J)^-1, M the scores' long-run covariance: robust to residuals of
    different size in current and voltage, correlated between them and over neighbouring
    instants.

    Returns ``(relative_std, correlations, poorly_determined, not_identifiable)`` keyed by
    the reported names (r_off, not the fitted ratio). A parameter is *not identifiable*
    when the data leave a direction of the cost flat that moves it, or when its 1-sigma
    spread exceeds a factor of :data:`UNIDENTIFIABLE_FACTOR`; its spread is then None.
    A parameter with a relative spread above 20 %, or more than 95 % correlated with
    another, is poorly determined (below threshold only tau*exp(beta v_on) is identifiable).
    """
    n = len(z)
    z = np.asarray(z, dtype=float)
    r0 = residuals(z)
    jac = np.zeros((r0.size, n))
    for a in range(n):
        dz = np.zeros(n)
        dz[a] = h
        up, down = residuals(z + dz), residuals(z - dz)
        if up is not None and down is not None:
            jac[:, a] = (up - down) / (2 * h)
        elif up is not None or down is not None:  # a model limit on one side: one-sided difference
            jac[:, a] = (up - r0) / h if up is not None else (r0 - down) / h
    sigma2 = float(np.sum(r0 ** 2)) / max(r0.size - n, 1)
    gram = jac.T @ jac
    scale = np.sqrt(np.diag(gram))
    live = scale > 1e-12 * max(float(scale.max()), 1e-300)
    cov = np.zeros((n, n))
    flat = [np.eye(n)[k] for k in np.flatnonzero(~live)]  # no effect at all on the residuals
    if live.any():
        idx = np.flatnonzero(live)
        g = gram[np.ix_(idx, idx)] / np.outer(scale[idx], scale[idx])
        lam, vec = np.linalg.eigh((g + g.T) / 2)
        keep = lam > 1e-10 * lam.max()
        inv = (vec[:, keep] / lam[keep]) @ vec[:, keep].T
        if samples is None:
            inner = inv * sigma2
        else:
            meat = _scores_covariance(jac[:, idx] / scale[idx], r0, samples)
            inner = inv @ meat @ inv * (r0.size / max(r0.size - n, 1))
        cov[np.ix_(idx, idx)] = inner / np.outer(scale[idx], scale[idx])
        for k in np.flatnonzero(~keep):
            u = np.zeros(n)
            u[idx] = vec[:, k] / scale[idx]
            flat.append(u)
    # report r_off (log r_off = log r_on + log ratio) rather than the fitted ratio
    to_shown = np.eye(n)
    if "ratio" in names:
        to_shown[names.index("ratio"), names.index("r_on")] = 1.0
    cov = to_shown @ cov @ to_shown.T
    shown = ["r_off" if nm == "ratio" else nm for nm in names]
    unknown: set[str] = set()
    for u in flat:
        w = to_shown @ u
        w = w / np.linalg.norm(w) if np.linalg.norm(w) > 0 else w
        unknown.update(shown[i] for i in np.flatnonzero(np.abs(w) > 0.05))
    std = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    unknown.update(nm for nm, s in zip(shown, std) if not s <= math.log(UNIDENTIFIABLE_FACTOR))
    rel = {nm: None if nm in unknown else float(math.expm1(s)) for nm, s in zip(shown, std)}
    corr, poorly = {}, set(unknown)
    for i in range(n):
        for j in range(i + 1, n):
            if shown[i] in unknown or shown[j] in unknown or std[i] == 0 or std[j] == 0:
                continue
            c = float(np.clip(cov[i, j] / (std[i] * std[j]), -1.0, 1.0))
            if abs(c) > 0.95:
                corr[f"{shown[i]}~{shown[j]}"] = c
                poorly.update({shown[i], shown[j]})
    poorly.update(nm for nm, r in rel.items() if r is not None and r > 0.2)
    return rel, corr, sorted(poorly), sorted(unknown)


# --------------------------------------------------------------------------- output


def plot_names(measurements: list[Measurement]) -> dict[str, str]:
    """A distinct, file-system-safe plot file name per measurement label."""
    import re

    out: dict[str, str] = {}
    for m in measurements:
        stem = "fit_" + (re.sub(r"[^A-Za-z0-9._-]+", "_", m.name.replace("/", "__")).strip("._") or "data")
        name, k = f"{stem}.png", 2
        while name in out.values():
            name, k = f"{stem}_{k}.png", k + 1
        out[m.name] = name
    return out


def cross_summary(cross: CrossPrediction | None) -> dict | None:
    """``fit.json``'s cross-prediction: the cost matrix (rows: the file fitted on; columns:
    the file predicted; the diagonal is each file's own fit), the joint fit's row, each cost
    over the predicted file's own-fit cost, and each file's own-fit parameters."""
    if cross is None:
        return None
    names = list(cross.cost)
    return {"fitted_on": names, "predicted": names,
            "cost": [[cross.cost[a][b] for b in names] for a in names],
            "cost_over_own_fit": [[cross.ratio(a, b) for b in names] for a in names],
            "joint_fit_cost": [cross.joint[b] for b in names],
            "joint_fit_cost_over_own_fit": [cross.joint_ratio(b) for b in names],
            "own_fit_parameters": {a: r.params for a, r in cross.own.items()},
            "own_fit_verdict": {a: r.verdict for a, r in cross.own.items()}}


def selection_summary(selection: ModelSelection | None) -> dict | None:
    """``fit.json``'s model selection: the rule, the best model, the ranked table and what
    each model's fit found."""
    if selection is None:
        return None
    return {"rule": SELECTION_RULE, "best": selection.best, "table": selection.table(),
            "criteria": "AIC = n ln(RSS/n) + 2k, BIC = n ln(RSS/n) + k ln(n); n residuals (current and memristor "
                        "voltage of every sample, each normalised by its file's spread), k free parameters",
            "models": {n: {"parameters": r.params, "verdict": r.verdict, "at_bounds": r.at_bounds,
                           "relative_std": {k: "not identifiable" if v is None else v
                                            for k, v in r.relative_std.items()},
                           "not_identifiable": r.not_identifiable, "poorly_determined": r.poorly_determined,
                           "correlations": r.correlations,
                           "per_file": r.per_file, "evaluations": r.evaluations, "table": f"models/{n}.toml"}
                       for n, r in selection.results.items()}}


def summary(result: FitResult, measurements: list[Measurement], command: str,
            cross: CrossPrediction | None = None, selection: ModelSelection | None = None) -> dict:
    """What ``fit.json`` holds (plain JSON types; spreads not identifiable are said so)."""
    from .compare import json_ready

    plots = plot_names(measurements)
    return json_ready({
        "model": result.model, "verdict": result.verdict, "verdict_reasons": result.reasons,
        "poor_fit_rule": f"R² of the current or of the memristor voltage below {POOR_R2:g} in any file",
        "cost": result.cost, "r2_current": min(f["r2_current"] for f in result.per_file.values()),
        "r2_current_overall": result.r2_current, "r2_voltage_overall": result.r2_voltage,
        "parameters": result.params, "at_bounds": result.at_bounds, "per_file": result.per_file,
        "cross_prediction": cross_summary(cross), "model_selection": selection_summary(selection),
        "poorly_determined": result.poorly_determined, "not_identifiable": result.not_identifiable,
        "relative_std": {k: "not identifiable" if v is None else v for k, v in result.relative_std.items()},
        "correlations": result.correlations, "evaluations": result.evaluations, "start": result.start,
        "files": {m.name: {"path": m.path, "frequency_hz": m.frequency, "periods": m.periods,
                           "r_series_ohm": m.r_series, "points": int(m.t.size), "plot": plots[m.name],
                           "drive": m.drive or {"kind": "as given"}, "window_start_s": m.start}
                  for m in measurements},
        "command": command})


def fit_figure(result: FitResult, m: Measurement, i: np.ndarray, v: np.ndarray):
    """The measured and the fitted I-V loop (left) and current over time (right) of one
    file; ``i`` (A) and ``v`` (V) are the model's current and memristor voltage on ``m.t``.
    Returns the matplotlib Figure (not saved, not shown)."""
    from matplotlib.figure import Figure

    def text(s: str) -> str:  # a label as plain text, never matplotlib mathtext
        return s.replace("$", r"\$")

    fig = Figure(figsize=(11, 4))
    a1, a2 = fig.subplots(1, 2)
    a1.plot(m.v_mem, m.i * 1e3, ".", ms=2, color="0.5", label="measured")
    label = f"fitted {devices.get(result.model).label}"
    a1.plot(v, i * 1e3, "-", lw=1, color="tab:red", label=label)
    a1.set_xlabel("memristor voltage (V)")
    a1.set_ylabel("current (mA)")
    a1.set_title(text(f"{m.name}: I-V loop ({m.frequency:.4g} Hz)"))
    a1.legend()
    a1.grid(alpha=0.3)
    a2.plot(m.t * 1e3, m.i * 1e3, ".", ms=2, color="0.5", label="measured")
    a2.plot(m.t * 1e3, i * 1e3, "-", lw=1, color="tab:red", label=label)
    a2.set_xlabel("time (ms)")
    a2.set_ylabel("current (mA)")
    a2.set_title(("POOR FIT: " if result.poor else "")
                 + f"cost {result.per_file[m.name]['cost']:.3g}, "
                 f"R² {result.per_file[m.name]['r2_current']:.4f}",
                 color="tab:red" if result.poor else "black")
    a2.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def write_outputs(result: FitResult, measurements: list[Measurement], base: Params, out_dir,
                  command: list[str] | None = None, cross: CrossPrediction | None = None,
                  selection: ModelSelection | None = None) -> Path:
    """``memristor.toml`` (loadable with --params), ``fit.json``, ``fit_<file>.png``; with
    ``cross``, ``cross_prediction.png``; with ``selection`` (``result`` is then its best
    model's fit), ``models/<model>.toml`` for every model and ``model_overlay.png``. Atomic.
    A poor fit is written too, marked as such."""
    import json

    from .files import atomic_dir
    from .provenance import record

    base = model_base(base, result.model)
    fitted = result.memristor_table(base)
    plots = plot_names(measurements)
    header = "# fitted by alif-spice fit; load with --params memristor.toml\n"
    if selection is not None:
        header += (f"# the best of {len(selection.results)} device models by {SELECTION_RULE} "
                   f"({', '.join(selection.ranked)}; fit.json, model_selection)\n")
    if result.poor:
        header = ("# POOR FIT: the model explains too little of the data; do not use these values\n"
                  + "".join(f"#   {r}\n" for r in result.reasons)
                  + "#   check the data: columns, units (A vs mA), series resistor\n") + header
    with atomic_dir(out_dir, "fit") as tmp:
        (tmp / "memristor.toml").write_text(header + fitted.to_toml(["memristor"]))
        prov = record(command, ngspice=False)
        info = {**prov, **summary(result, measurements, prov["command"], cross, selection)}
        (tmp / "fit.json").write_text(json.dumps(info, indent=2, allow_nan=False) + "\n")
        if cross is not None:
            cross_prediction_figure(cross).savefig(tmp / "cross_prediction.png", dpi=110)
        if selection is not None:
            (tmp / "models").mkdir()
            for name, r in selection.results.items():
                table = r.memristor_table(model_base(base, name)).to_toml(["memristor"])
                poor = "# POOR FIT: the model explains too little of the data\n" if r.poor else ""
                (tmp / "models" / f"{name}.toml").write_text(
                    poor + f"# {devices.get(name).label} fitted by alif-spice fit (cost {r.cost:.4g}); "
                    f"load with --params\n" + table)
        loops = {m.name: simulate(result.theta, base, m) for m in measurements}
        if selection is not None:
            model_overlay_figure(selection, measurements, base,
                                 {(result.model, n): iv for n, iv in loops.items()}
                                 ).savefig(tmp / "model_overlay.png", dpi=110)
        for m in measurements:
            fit_figure(result, m, *loops[m.name]).savefig(tmp / plots[m.name], dpi=110)
    return out_dir.path if hasattr(out_dir, "path") else Path(out_dir)
