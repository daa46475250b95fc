"""The sweep's row store: one JSON line per finished (point, engine) in ``rows.jsonl``.

Rows are appended and fsynced as they finish, so a killed sweep loses nothing it did;
a resumed sweep trusts only rows that are provably its own (same fingerprint, same
point values, metrics of the types a sweep writes) and reruns every other point.
Points are any objects with ``index``, ``grid_index``, ``sample`` and ``values``
(:class:`alif_spice.sweep.Point`). :func:`rows_frame` makes the rows a table.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..compare import json_ready
from ..metrics import METRICS as _REGISTRY
from ..metrics import row_metrics

ROWS_FILE = "rows.jsonl"
ROW_STATUSES = ("ok", "failed", "stuck")
#: the metric columns of the first row format: a row without one of them is not ours (metrics
#: registered since are filled in as None when an older sweep is resumed)
FIRST_COLUMNS = ("n_spikes", "spikes_per_period", "adaptation_ratio", "rate_hz", "energy_j", "energy_per_spike_j")


def make_row(point: Any, engine: str, status: str = "ok", error: str = "", wall: float = 0.0,
             metrics: dict | None = None) -> dict:
    """One row: the point's identity and values, the status, the error text, the metrics, the wall time (s)."""
    row = {"point": point.index, "engine": engine, "grid_index": point.grid_index, "sample": point.sample,
           **{k: v for k, v in point.values.items()}, "status": status, "error": error}
    m = metrics or {}
    for k in row_metrics():  # None where undefined or failed
        row[k] = m.get(k)
    row["wall_s"] = wall
    return json_ready(row)


def remaining(engines: Sequence[str], pts: Sequence[Any], done: set[tuple[int, str]],
              ode_chunk: int) -> list[tuple[str, list[Any]]]:
    """(engine, points) work items for the rows not in ``done``; SPICE first (they are the
    long ones), one point per SPICE task, ``ode_chunk`` points per ODE task."""
    out: list[tuple[str, list[Any]]] = []
    for engine in sorted(engines, key=lambda e: e == "ode"):
        todo = [pt for pt in pts if (pt.index, engine) not in done]
        size = ode_chunk if engine == "ode" else 1
        out += [(engine, todo[i:i + size]) for i in range(0, len(todo), size)]
    return out


def sweep_id(spec: Any, base: Any) -> str:
    """A short fingerprint of a sweep (its specification and base parameters): every row
    it writes carries it, so rows of another sweep are recognised."""
    text = json.dumps({"spec": spec.to_dict(), "base": base.to_dict()}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _number_or_none(v: object, minimum: float = -math.inf) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                         and v >= minimum)


def _int(v: object, minimum: float) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= minimum


def _metric_valid(name: str, v: object, ok: bool) -> bool:
    """A metric's value has the type and range its registry entry gives (counts and lists
    are always there in an ok row, unless the metric says when it is undefined; anything
    may be None in a failed one)."""
    m = _REGISTRY[name]
    if v is None:
        return not (ok and m.kind in ("int", "ints") and m.why_undefined is None)
    if m.kind == "int":
        return _int(v, m.minimum)
    if m.kind == "ints":
        return isinstance(v, list) and all(_int(c, m.minimum) for c in v)
    if m.kind == "floats":
        return isinstance(v, list) and all(_number_or_none(c, m.minimum) for c in v)
    return _number_or_none(v, m.minimum)


def _metrics_valid(row: dict) -> bool:
    """The row's status and metrics have the types and ranges a sweep writes."""
    status = row.get("status")
    if status not in ROW_STATUSES or not isinstance(row.get("error"), str):
        return False
    return (all(_metric_valid(k, row.get(k), status == "ok") for k in row_metrics())
            and _number_or_none(row.get("wall_s"), 0.0))


def row_fits(row: object, pts: Sequence[Any] | None, engines: Sequence[str] | None,
              ident: str | None = None) -> bool:
    """A row of this sweep: its fingerprint is the sweep's, its point exists, its engine
    is one of the sweep's, its grid position, sample and parameter values are the point's
    own, and its metrics have the types a sweep writes."""
    if not isinstance(row, dict):
        return False
    point, engine = row.get("point"), row.get("engine")
    if isinstance(point, bool) or not isinstance(point, int) or not isinstance(engine, str):
        return False
    if ident is not None and row.get("sweep") != ident:
        return False
    # the columns every sweep has written; a metric added since is absent from older rows
    if not all(k in row for k in FIRST_COLUMNS) or not _metrics_valid(row):
        return False
    if engines is not None and engine not in engines:
        return False
    if pts is None:
        return True
    if not 0 <= point < len(pts):
        return False
    pt = pts[point]
    if row.get("grid_index") != pt.grid_index or row.get("sample") != pt.sample:
        return False
    for key, value in pt.values.items():
        got = row.get(key)
        if isinstance(value, float):
            if not isinstance(got, (int, float)) or isinstance(got, bool) or not math.isclose(
                    got, value, rel_tol=1e-12, abs_tol=0.0):
                return False
        elif got != value:
            return False
    return True


def read_rows(out_dir: Path, pts: Sequence[Any] | None = None, engines: Sequence[str] | None = None,
              skipped: list[int] | None = None, ident: str | None = None) -> list[dict]:
    """Rows in ``rows.jsonl``; a line cut short by a kill is dropped (and cut from the file
    so appends continue on a clean line); a repeated (point, engine) keeps the first.

    With ``pts``/``engines``, a line that is not valid JSON or not a row of this sweep
    (damaged, or written by another sweep) is skipped and its line number appended to
    ``skipped``: such rows are never trusted (their points run again)."""
    path = Path(out_dir) / ROWS_FILE
    if not path.exists():
        return []
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with open(path, "r+b") as fh:
            fh.truncate(end)
    rows, seen = [], set()
    for number, line in enumerate(data[:end].splitlines(), start=1):
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):  # damaged, or nested beyond reason
            row = None
        if not row_fits(row, pts, engines, ident):
            if skipped is not None and line.strip():
                skipped.append(number)
            continue
        key = (row["point"], row["engine"])
        if key not in seen:
            seen.add(key)
            for k in row_metrics():  # written before the metric existed: not computed
                row.setdefault(k, None)
            rows.append(row)
    return rows


class RowWriter:
    """Appends rows to ``rows.jsonl``, each batch flushed and fsynced before returning."""

    def __init__(self, out_dir: Path, ident: str | None = None) -> None:
        self._fh = open(Path(out_dir) / ROWS_FILE, "ab")
        self._ident = ident

    def write(self, rows: Iterable[dict]) -> None:
        stamp = {} if self._ident is None else {"sweep": self._ident}
        data = b"".join(json.dumps({**r, **stamp}, allow_nan=False).encode() + b"\n" for r in rows)
        self._fh.write(data)
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()


def rows_frame(rows: list[dict], spec: Any):
    """The rows as a pandas DataFrame: one row per (point, engine), columns in a fixed
    order (identity, the swept keys of ``spec``, status, metrics, wall time)."""
    import pandas as pd

    metrics = row_metrics()
    cols = ["point", "engine", "grid_index", "sample", *spec.keys, "status", "error", *metrics, "wall_s"]
    df = pd.DataFrame(rows, columns=cols)
    for c in [m for m in metrics if _REGISTRY[m].kind == "float"] + ["wall_s"]:
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    for c in [m for m in metrics if _REGISTRY[m].kind == "int"]:
        df[c] = pd.to_numeric(df[c], errors="coerce").astype("Int64")
    df["error"] = df["error"].fillna("").astype(str)
    return df
