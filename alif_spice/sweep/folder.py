"""A sweep's folder on disk: the saved specification (``sweep.json``, which also lists
every file the sweep wrote, with its SHA-256), the lock that lets one process write it at
a time, and the checks that keep a sweep from writing over anything it did not write."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ParamError
from ..params import Params, build_params
from .spec import SweepSpec
from .store import ROWS_FILE, rows_frame

SPEC_FILE, RESULTS_FILE = "sweep.json", "results.parquet"


@dataclass
class SweepResult:
    """A sweep's rows (every point on every engine, in point order) and where they are."""

    out_dir: Path
    rows: list[dict]
    spec: SweepSpec
    base: Params
    wall_s: float
    new_rows: int
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return sum(r["status"] != "ok" for r in self.rows)

    def frame(self):
        return rows_frame(self.rows, self.spec)


def _save_spec(out_dir: Path, spec: SweepSpec, base: Params) -> None:
    from ..files import output_record, write_text_atomic
    from ..version import __version__

    doc = {"alif_spice": __version__, "spec": spec.to_dict(), "base": base.to_dict(),
           "output": output_record("sweep", [SPEC_FILE, ROWS_FILE])}
    write_text_atomic(out_dir / SPEC_FILE, json.dumps(doc, indent=1))


def load_sweep(out_dir: str | os.PathLike[str]) -> tuple[SweepSpec, Params]:
    """The spec and base parameters saved in a sweep folder (for ``--resume``)."""
    path = Path(out_dir) / SPEC_FILE
    try:
        doc = json.loads(path.read_text())
        return SweepSpec.from_dict(doc["spec"]), build_params(doc["base"])
    except FileNotFoundError:
        raise ParamError(f"--resume {os.fspath(out_dir)}: no {SPEC_FILE} there (not a sweep folder)") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ParamError(f"--resume {os.fspath(out_dir)}: unreadable {SPEC_FILE}: {exc}") from None


#: The final outputs of a sweep (figures are listed when they are written).
SWEEP_OUTPUTS = (RESULTS_FILE, "summary.md", "summary.html", "manifest.json")


def check_folder(out_dir: str | os.PathLike[str], force: bool = False, inputs: Iterable = (),
                 probe_lock: bool = True):
    """Check a new sweep's folder before any work (exit 2 when refused): new or empty,
    or (with ``force``) an earlier sweep holding nothing but its own files and not being
    written by another process."""
    from ..files import FolderLock, check_output_dir

    out = Path(out_dir)
    if (out / SPEC_FILE).is_file() and not force:
        raise ParamError(f"-o {os.fspath(out)}: already holds a sweep; continue it with --resume "
                         f"{os.fspath(out)}, replace it with --force, or choose another folder")
    plan = check_output_dir(out, "sweep", force, marker=SPEC_FILE, extra_inputs=tuple(inputs))
    if plan.mode != "new" and probe_lock:
        FolderLock(out, "sweep", probe=True)
    return plan


def prepare(out_dir: str | os.PathLike[str], spec: SweepSpec, base: Params, force: bool = False):
    """Create a new sweep folder and lock it (refuses one that holds anything but an
    earlier sweep replaced with ``force``); return the held :class:`FolderLock`."""
    from ..files import FolderLock, remove_output_files

    out = Path(out_dir)
    check_folder(out, force)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ParamError(f"-o {os.fspath(out)}: cannot create the folder: {exc.strerror}") from None
    lock = FolderLock(out, "sweep")
    try:
        plan = check_folder(out, force, probe_lock=False)  # again, now that no one else can write here
        remove_output_files(plan)
        _save_spec(out, spec, base)
    except BaseException:
        lock.release()
        raise
    return lock


def _foreign(out: Path) -> list[str]:
    """Entries of a sweep folder that the sweep did not write (or that changed since)."""
    from ..files import foreign_entries, read_output_manifest

    rec = read_output_manifest(out, SPEC_FILE)
    if rec is None:
        return [SPEC_FILE + " (not a sweep's own)"]
    return foreign_entries(out, rec)


def check_resume(out_dir: str | os.PathLike[str]) -> None:
    """Before any work: ``out_dir`` is a sweep folder that no other process is writing
    and that holds nothing the sweep did not write (exit 2 otherwise)."""
    from ..files import FolderLock

    out = Path(out_dir)
    if not (out / SPEC_FILE).is_file():
        raise ParamError(f"--resume {os.fspath(out)}: no {SPEC_FILE} there (not a sweep folder)")
    FolderLock(out, "sweep", probe=True)
    load_sweep(out)
    foreign = _foreign(out)
    if foreign:
        raise ParamError(f"--resume {os.fspath(out)}: the folder holds files the sweep did not write "
                         f"(e.g. {foreign[0]!r}); move them away first")


def record_files(out_dir: Path, extra: Iterable[str] = (), pending: Iterable[str] = ()) -> None:
    """List the sweep's files in its ``sweep.json`` with the SHA-256 of each (``extra``,
    e.g. figures, are listed too), so that a later ``--force`` or ``--resume`` knows what
    it may replace. ``pending``: files about to be written (listed, not yet hashed)."""
    from ..files import output_record, write_text_atomic

    path = Path(out_dir) / SPEC_FILE
    doc = json.loads(path.read_text(encoding="utf-8"))
    old = doc.get("output") or {}
    files = [f for f in old.get("files", []) if f not in pending] + list(extra) + list(pending)
    rec = output_record("sweep", [SPEC_FILE, ROWS_FILE, *files], Path(out_dir),
                        unhashed=(SPEC_FILE, ROWS_FILE, *pending))
    doc["output"] = rec
    write_text_atomic(path, json.dumps(doc, indent=1))


def check_outputs_ours(out_dir: Path) -> None:
    """Just before the final outputs are written: nothing in the folder was put there by
    someone else meanwhile (exit 3 if so; the rows stay in rows.jsonl for --resume)."""
    from ..errors import OutputError

    foreign = _foreign(Path(out_dir))
    if foreign:
        raise OutputError(f"not written: {os.fspath(out_dir)} now holds {foreign[0]!r}, which alif-spice "
                          f"did not write; the rows are kept: move it away and run --resume {os.fspath(out_dir)}")
