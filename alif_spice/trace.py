"""The trace: what every simulator (ODE or SPICE) produces and everything else consumes."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .errors import ParamError
from .files import atomic_path

if TYPE_CHECKING:
    from .params import Params

#: Column order of trace files (SPEC §5); a circuit writes those it defines.
COLUMNS = ("time", "v_c", "v_mem", "x", "i_m", "i_in")
FORMATS = (".csv", ".parquet")


@dataclass(frozen=True)
class Trace:
    """Sampled signals of one simulation plus its exact spike times.

    ``time`` (s) is increasing; ``signals`` maps a column name to an array of
    the same length; ``spikes`` holds interpolated spike times (s), not grid
    samples; ``source`` says where it came from (``"ode"``, ``"spice:ideal"``...).
    """

    time: np.ndarray
    signals: dict[str, np.ndarray]
    spikes: np.ndarray
    source: str
    params: Params | None = field(default=None, repr=False, compare=False)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.time if name == "time" else self.signals[name]

    def to_frame(self) -> pd.DataFrame:
        """All columns as a DataFrame, SPEC column order first."""
        cols = {"time": self.time}
        cols.update({k: self.signals[k] for k in COLUMNS[1:] if k in self.signals})
        cols.update({k: v for k, v in self.signals.items() if k not in cols})
        return pd.DataFrame(cols)

    def spikes_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"t_spike": np.asarray(self.spikes, dtype=float)})

    def write(self, path: str | os.PathLike[str]) -> tuple[Path, Path]:
        """Write the trace (``.csv`` or ``.parquet``) and ``<stem>.spikes.csv`` atomically."""
        target = Path(path)
        check_trace_path(target)
        spikes_path = spikes_path_for(target)
        frame = self.to_frame()
        # the trace is renamed into place last: its presence means both files are complete
        with atomic_path(target) as tmp_trace:
            if target.suffix.lower() == ".csv":
                frame.to_csv(tmp_trace, index=False, float_format="%.12g")
            else:
                frame.to_parquet(tmp_trace, index=False)
            with atomic_path(spikes_path) as tmp:
                self.spikes_frame().to_csv(tmp, index=False, float_format="%.17g")
        return target, spikes_path


def check_trace_path(path: str | os.PathLike[str]) -> None:
    """Reject an output name whose format we cannot write (before any work is done)."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ParamError(f"-o {os.fspath(path)!r}: trace file must end in .csv or .parquet")
    if Path(path).is_dir():
        raise ParamError(f"-o {os.fspath(path)!r}: is a directory")


def spikes_path_for(path: str | os.PathLike[str]) -> Path:
    """``<stem>.spikes.csv`` beside a trace file."""
    p = Path(path)
    return p.with_name(p.stem + ".spikes.csv")


def read_trace(path: str | os.PathLike[str], source: str = "file") -> Trace:
    """Read a trace written by :meth:`Trace.write` (and its spikes file when present)."""
    p = Path(path)
    frame = pd.read_csv(p) if p.suffix == ".csv" else pd.read_parquet(p)
    spikes_path = spikes_path_for(p)
    spikes = (pd.read_csv(spikes_path)["t_spike"].to_numpy(dtype=float)
              if spikes_path.exists() else np.empty(0))
    signals = {c: frame[c].to_numpy(dtype=float) for c in frame.columns if c != "time"}
    return Trace(time=frame["time"].to_numpy(dtype=float), signals=signals, spikes=spikes,
                 source=source)
