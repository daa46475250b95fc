"""The trace: what every simulator (ODE or SPICE) produces and everything else consumes."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import OutputError, ParamError
from .files import atomic_path, check_output_file, first_line_starts

if TYPE_CHECKING:
    import pandas as pd

    from .params import Params

#: Column order of trace files; a circuit writes those it defines.
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
        """All columns as a DataFrame, the trace column order first."""
        import pandas as pd

        cols = {"time": self.time}
        cols.update({k: self.signals[k] for k in COLUMNS[1:] if k in self.signals})
        cols.update({k: v for k, v in self.signals.items() if k not in cols})
        return pd.DataFrame(cols)

    def spikes_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame({"t_spike": np.asarray(self.spikes, dtype=float)})

    def write(self, path: str | os.PathLike[str], force: bool = False) -> tuple[Path, Path]:
        """Write the trace (``.csv`` or ``.parquet``) and ``<stem>.spikes.csv`` atomically.

        Existing files are replaced only when they are earlier alif-spice traces (or with
        ``force``); see :func:`check_trace_path`."""
        target = Path(path)
        try:
            check_trace_path(target, force)
        except ParamError as exc:  # the place changed while we computed
            raise OutputError(f"not written: {exc}") from None
        spikes_path = spikes_path_for(target)
        frame = self.to_frame()
        # the trace is renamed into place last: its presence means both files are complete
        with atomic_path(target) as tmp_trace:
            if target.suffix.lower() == ".csv":
                frame.to_csv(tmp_trace, index=False, float_format="%.12g")
            else:
                import pyarrow as pa
                import pyarrow.parquet as pq

                table = pa.Table.from_pandas(frame, preserve_index=False)
                meta = {**(table.schema.metadata or {}), PARQUET_MARK: b"trace"}
                pq.write_table(table.replace_schema_metadata(meta), tmp_trace)
            with atomic_path(spikes_path) as tmp:
                self.spikes_frame().to_csv(tmp, index=False, float_format="%.17g")
        return target, spikes_path


#: the column sets a trace starts with: a neuron (ODE or circuit) or the memristor I-V circuit
_TRACE_HEADS = (COLUMNS, ("time", "v_src", "v_mem", "x", "i_m"))
#: key of the parquet metadata that marks an alif-spice trace
PARQUET_MARK = b"alif-spice"


def _is_trace(path: Path) -> bool:
    """An earlier alif-spice trace: a parquet file carrying our metadata mark, or a CSV
    file whose header starts with our columns and whose spike-time file lies beside it
    (a lab export with a ``time`` column is not one of ours)."""
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        meta = pq.read_schema(path).metadata or {}
        return meta.get(PARQUET_MARK) == b"trace"
    with open(path, "rb") as fh:
        head = tuple(fh.readline(4096).decode("utf-8", "replace").strip().split(","))
    spikes = spikes_path_for(path)
    return (any(head[:len(h)] == h for h in _TRACE_HEADS) and spikes.is_file()
            and first_line_starts("t_spike")(spikes))


def check_trace_path(path: str | os.PathLike[str], force: bool = False) -> None:
    """Refuse, before any work, an output name we cannot or may not write: a format
    other than .csv/.parquet, a folder, a device, a FIFO, a symbolic link, or an
    existing file that is not an earlier alif-spice trace (unless ``force``); the same
    for the ``<stem>.spikes.csv`` beside it."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ParamError(f"-o {os.fspath(path)!r}: trace file must end in .csv or .parquet")
    check_output_file(path, force, ours=_is_trace)
    check_output_file(spikes_path_for(path), force, ours=first_line_starts("t_spike"),
                      option=f"-o {os.fspath(path)!r}: its spike file")


def spikes_path_for(path: str | os.PathLike[str]) -> Path:
    """``<stem>.spikes.csv`` beside a trace file."""
    p = Path(path)
    return p.with_name(p.stem + ".spikes.csv")


def read_trace(path: str | os.PathLike[str], source: str = "file") -> Trace:
    """Read a trace written by :meth:`Trace.write` (and its spikes file when present)."""
    import pandas as pd

    p = Path(path)
    frame = pd.read_csv(p) if p.suffix == ".csv" else pd.read_parquet(p)
    spikes_path = spikes_path_for(p)
    spikes = (pd.read_csv(spikes_path)["t_spike"].to_numpy(dtype=float)
              if spikes_path.exists() else np.empty(0))
    signals = {c: frame[c].to_numpy(dtype=float) for c in frame.columns if c != "time"}
    return Trace(time=frame["time"].to_numpy(dtype=float), signals=signals, spikes=spikes,
                 source=source)


def decimate_index(y: np.ndarray, n: int) -> np.ndarray:
    """The samples of ``y`` that a line thinned to at most ~n points keeps: in each of n/2
    equal buckets its smallest and largest sample (so narrow spikes stay visible), and the
    first and last sample; sorted indices (all of them when ``y`` has at most n)."""
    if y.size <= n:
        return np.arange(y.size)
    size = -(-y.size // (n // 2))  # buckets of equal size covering every sample
    k = -(-y.size // size)
    # the last bucket padded with the last value (a padded index means the last sample)
    yb = np.concatenate([y, np.full(k * size - y.size, y[-1])]).reshape(k, size)
    base = np.arange(k) * size
    keep = [base + yb.argmin(axis=1), base + yb.argmax(axis=1), [0, y.size - 1]]
    return np.unique(np.minimum(np.concatenate(keep), y.size - 1))


def decimate(t: np.ndarray, y: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A line (t, y) thinned to at most ~n points by :func:`decimate_index`."""
    idx = decimate_index(y, n)
    return t[idx], y[idx]
