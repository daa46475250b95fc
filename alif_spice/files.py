"""Outputs that never destroy what alif-spice did not write, and never look finished
when they are not.

The rule, for every command:

* a **file** output (trace, spike times, netlist) may replace only a regular file that
  alif-spice wrote earlier (recognised by its content), or any regular file with
  ``force``; a folder, a device, a FIFO or a symbolic link is refused;
* a **folder** output (``compare``, ``fit``, ``sweep``) goes into a new or an empty
  folder; it replaces an earlier output of the *same command* (recognised by its
  manifest, which lists the files written) only with ``force``, and even then only when
  the folder holds nothing but those files;
* everything is checked before any computation (:func:`check_output_file`,
  :func:`check_output_dir`: :class:`ParamError`, exit 2), including that the place is
  writable; a write that fails later raises :class:`OutputError` (exit 3);
* files are written under a temporary name and renamed when complete, so an interrupted
  command leaves at most a hidden ``*.part`` entry.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .errors import OutputError, ParamError

MANIFEST = "manifest.json"
LOCK_FILE = ".alif-spice.lock"  # a folder's writer lock (see :class:`FolderLock`)
_STAGE_PREFIX = ".alif-spice."


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _nearest_existing(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _probe_writable(folder: Path, option: str, shown: str) -> None:
    """Create and remove a folder in ``folder`` (or its nearest existing ancestor)."""
    base = _nearest_existing(folder)
    if not base.is_dir():
        raise ParamError(f"{option} {shown!r}: {os.fspath(base)!r} is not a folder")
    try:
        probe = tempfile.mkdtemp(prefix=_STAGE_PREFIX, suffix=".probe", dir=base)
        os.rmdir(probe)
    except OSError as exc:
        raise ParamError(f"{option} {shown!r}: cannot write in {os.fspath(base)!r} "
                         f"({exc.strerror or exc})") from None


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


# ------------------------------------------------------------------------ file outputs


def check_output_file(path: str | os.PathLike[str], force: bool = False,
                      ours: Callable[[Path], bool] | None = None, option: str = "-o") -> Path:
    """Refuse (exit 2) an output file that would destroy something: a folder, a device,
    a FIFO, a symbolic link, or an existing file that ``ours`` does not recognise as an
    earlier alif-spice output (unless ``force``); check that its folder is writable."""
    p = Path(path)
    shown = os.fspath(path)
    if p.is_symlink():
        raise ParamError(f"{option} {shown!r}: is a symbolic link (to {os.readlink(p)!r}); "
                         "give the real path")
    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise ParamError(f"{option} {shown!r}: {exc.strerror}") from None
    if mode is not None:
        if not stat.S_ISREG(mode):
            raise ParamError(f"{option} {shown!r}: is {_kind(mode)}, not a file alif-spice may write")
        if not force and ours is not None and not _safe(ours, p):
            raise ParamError(f"{option} {shown!r}: exists and was not written by alif-spice "
                             "(use --force to replace it)")
    _probe_writable(p.parent if str(p.parent) else Path("."), option, shown)
    return p


def _safe(test: Callable[[Path], bool], p: Path) -> bool:
    try:
        return bool(test(p))
    except Exception:  # unreadable or not what we expect: not ours
        return False


def first_line_starts(prefix: str) -> Callable[[Path], bool]:
    """Recogniser of a text output by its first line."""
    def test(p: Path) -> bool:
        with open(p, "rb") as fh:
            return fh.readline(4096).decode("utf-8", "replace").startswith(prefix)
    return test


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only on success.

    A failure to write raises :class:`OutputError` (exit 3); the temporary file goes.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        os.close(fd)
    except OSError as exc:
        raise OutputError(f"cannot write {os.fspath(path)!r}: {exc.strerror or exc}") from None
    tmp_path = Path(tmp)
    try:
        tmp_path.chmod(0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual mode
        yield tmp_path
        os.replace(tmp_path, target)
    except OSError as exc:
        raise OutputError(f"cannot write {os.fspath(path)!r}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(OSError):
            tmp_path.unlink()


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


# ---------------------------------------------------------------------- folder outputs


@dataclass(frozen=True)
class OutputDir:
    """A checked folder output: where it goes and what of ours it replaces.

    ``mode``: ``"new"`` (the folder does not exist), ``"empty"`` (it exists, empty) or
    ``"replace"`` (it holds an earlier output of ``command`` and nothing else; ``force``).
    """

    path: Path
    command: str
    mode: str
    old_files: tuple[str, ...] = field(default=())
    force: bool = False


def _walk(folder: Path) -> list[str]:
    """Every entry under ``folder`` as a relative POSIX path (files, links, empty folders)."""
    out = []
    for root, dirs, files in os.walk(folder):
        rel = Path(root).relative_to(folder)
        for name in files:
            out.append((rel / name).as_posix())
        for name in list(dirs):
            full = Path(root) / name
            if full.is_symlink():
                out.append((rel / name).as_posix())
                dirs.remove(name)
            else:
                try:
                    empty = not any(full.iterdir())
                except FileNotFoundError:  # gone while we looked (e.g. another run's temporary folder)
                    dirs.remove(name)
                    continue
                if empty:
                    out.append((rel / name).as_posix() + "/")
    return sorted(out)


def read_output_manifest(folder: Path, marker: str = MANIFEST) -> dict | None:
    """The ``output`` record (command, files) of an alif-spice output folder, or None."""
    try:
        doc = json.loads((folder / marker).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    rec = doc.get("output") if isinstance(doc, dict) else None
    if (isinstance(rec, dict) and rec.get("tool") == "alif-spice" and isinstance(rec.get("command"), str)
            and isinstance(rec.get("files"), list) and all(isinstance(f, str) for f in rec["files"])):
        return rec
    return None


def check_output_dir(path: str | os.PathLike[str], command: str, force: bool = False,
                     marker: str = MANIFEST, option: str = "-o", extra_inputs: tuple = ()) -> OutputDir:
    """Check a folder output before any work (exit 2 with the reason when refused).

    ``marker``: the file holding the ``output`` record of an earlier run (see
    :func:`output_record`); ``extra_inputs``: paths the command reads (a folder output
    may not be an input's own folder, which is not empty anyway).
    """
    shown = os.fspath(path)
    if not shown.strip():
        raise ParamError(f"{option}: empty folder name")
    target = Path(os.path.abspath(path))
    if Path(path).is_symlink() and not target.is_dir():
        raise ParamError(f"{option} {shown!r}: is a symbolic link that does not lead to a folder")
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        _probe_writable(target.parent, option, shown)
        return OutputDir(target, command, "new", force=force)
    except OSError as exc:
        raise ParamError(f"{option} {shown!r}: {exc.strerror}") from None
    if not stat.S_ISDIR(mode):
        raise ParamError(f"{option} {shown!r}: is {_kind(mode) if not stat.S_ISREG(mode) else 'a file'}; "
                         "a folder output needs a new or empty folder")
    try:
        entries = [e for e in _walk(target) if not _ours_in_progress(e.split("/")[0])]
    except OSError as exc:
        raise ParamError(f"{option} {shown!r}: cannot read the folder ({exc.strerror})") from None
    real = target.resolve()
    for inp in extra_inputs:
        where = Path(inp).resolve()
        if where.parent == real or where.is_relative_to(real):
            raise ParamError(f"{option} {shown!r}: is the folder of the input {os.fspath(inp)!r}; "
                             "choose a new or empty folder for the outputs")
    if not entries:
        _probe_writable(target, option, shown)
        return OutputDir(target, command, "empty", force=force)
    rec = read_output_manifest(target, marker)
    if rec is None:
        raise ParamError(f"{option} {shown!r}: the folder holds files alif-spice did not write "
                         f"(e.g. {entries[0]!r}); choose a new or empty folder")
    if rec["command"] != command:
        raise ParamError(f"{option} {shown!r}: holds the output of 'alif-spice {rec['command']}', "
                         f"not of '{command}'; choose a new or empty folder")
    foreign = foreign_entries(target, rec)
    if foreign:
        raise ParamError(f"{option} {shown!r}: holds an earlier '{command}' output and also files "
                         f"alif-spice did not write (e.g. {foreign[0]!r}); choose a new or empty folder")
    if not force:
        raise ParamError(f"{option} {shown!r}: holds an earlier '{command}' output; "
                         "use --force to replace it, or choose a new or empty folder")
    _probe_writable(target, option, shown)
    return OutputDir(target, command, "replace", tuple(e for e in entries if not e.endswith("/")), force)


def _ours_in_progress(name: str) -> bool:
    """A hidden staging entry of an alif-spice write (``.NAME.*.part``)."""
    return (name.startswith(_STAGE_PREFIX)  # our lock, staging folders and writability probes
            or (name.startswith(".") and (name.endswith(".part") or name.endswith(".part/"))))


def file_sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def output_record(command: str, files: list[str], root: Path | None = None,
                  unhashed: tuple[str, ...] = ()) -> dict:
    """The ``output`` record a manifest carries so that a later run knows what it wrote:
    the files, and (with ``root``) the SHA-256 of each one that exists, except
    ``unhashed`` (files this tool keeps changing, e.g. the manifest itself)."""
    names = sorted(set(files))
    hashes: dict[str, str] = {}
    if root is not None:
        for f in names:
            if f not in unhashed and (root / f).is_file():
                hashes[f] = file_sha256(root / f)
    return {"tool": "alif-spice", "command": command, "files": names, "sha256": hashes}


def foreign_entries(folder: Path, rec: dict) -> list[str]:
    """Entries of ``folder`` that the ``output`` record does not account for: not listed,
    or changed since they were written (their SHA-256 differs)."""
    owned = set(rec["files"])
    given = rec.get("sha256")
    hashes: dict = given if isinstance(given, dict) else {}
    out = []
    for e in _walk(folder):
        if _ours_in_progress(e.split("/")[0]):
            continue
        if e.endswith("/"):
            continue  # an empty folder holds nothing to lose, and we never remove it
        if e not in owned:
            out.append(e)
        elif e in hashes and file_sha256(folder / e) != hashes[e]:
            out.append(e + " (changed since alif-spice wrote it)")
    return out


def _stamp_manifest(staged: Path, command: str, marker: str) -> None:
    """Add the ``output`` record (every file in ``staged``) to its manifest, or create it."""
    path = staged / marker
    doc: dict = {}
    if path.exists():
        loaded = json.loads(path.read_text(encoding="utf-8"))
        doc = loaded if isinstance(loaded, dict) else {"content": loaded}
    files = [f for f in _walk(staged) if not f.endswith("/")]
    if marker not in files:
        files.append(marker)
    doc["output"] = output_record(command, files, staged, unhashed=(marker,))
    path.write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def _remove_files(folder: Path, files: tuple[str, ...]) -> None:
    for rel in files:  # any order: a folder goes with the last of our files in it
        p = folder / rel
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
        parent = p.parent
        while parent != folder:
            try:
                parent.rmdir()  # only folders emptied of our files
            except OSError:
                break
            parent = parent.parent


@contextlib.contextmanager
def atomic_dir(plan: OutputDir | str | os.PathLike[str], command: str | None = None,
               marker: str = MANIFEST) -> Iterator[Path]:
    """Yield a staging folder; on success its content becomes the output folder.

    ``plan`` comes from :func:`check_output_dir` (a bare path is checked here, without
    ``force``). The manifest (``marker``) gets an ``output`` record listing every file, so
    a later ``--force`` run knows what it may replace. A new folder appears whole (one
    rename); into an existing empty folder, or over an earlier output, the old manifest
    goes first and the new one comes last, so the folder never looks complete while
    it is not. A failure leaves the target as it was (or without its old manifest)
    and raises :class:`OutputError` (exit 3) for a write error.
    """
    if not isinstance(plan, OutputDir):
        plan = check_output_dir(plan, command or "output")
    target = plan.path
    try:
        if plan.mode == "new":
            target.parent.mkdir(parents=True, exist_ok=True)
            stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
        else:
            stage = Path(tempfile.mkdtemp(prefix=_STAGE_PREFIX, suffix=".part", dir=target))
        stage.chmod(0o777 & ~_umask())
    except OSError as exc:
        raise OutputError(f"cannot write the folder {os.fspath(target)!r}: {exc.strerror or exc}") from None
    try:
        yield stage
        _stamp_manifest(stage, plan.command, marker)
        if plan.mode == "new":
            if target.exists():  # someone made it while we computed: check it again
                again = check_output_dir(target, plan.command, plan.force, marker)
                _commit_into(stage, again, marker)
            else:
                os.rename(stage, target)
        else:
            again = check_output_dir(target, plan.command, plan.force, marker)
            _commit_into(stage, again, marker)
    except ParamError as exc:
        raise OutputError(f"not written: {exc}") from None
    except OSError as exc:
        raise OutputError(f"cannot write the folder {os.fspath(target)!r}: {exc.strerror or exc}") from None
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)


def _commit_into(stage: Path, plan: OutputDir, marker: str = MANIFEST) -> None:
    """Move the staged files into an existing (empty, or our earlier output) folder."""
    target = plan.path
    if plan.mode == "replace":
        with contextlib.suppress(FileNotFoundError):
            (target / marker).unlink()
        _remove_files(target, plan.old_files)
    names = sorted(os.listdir(stage), key=lambda n: n == marker)  # the manifest last
    for name in names:
        os.replace(stage / name, target / name)
    os.rmdir(stage)




@contextlib.contextmanager
def staged_files(folder: Path) -> Iterator[Path]:
    """Yield a staging folder; on success each of its files replaces the file of the same
    name in ``folder`` (one rename each); other files in ``folder`` are left alone."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".part", dir=folder.parent))
    except OSError as exc:
        raise OutputError(f"cannot write the folder {os.fspath(folder)!r}: {exc.strerror or exc}") from None
    try:
        yield stage
        for name in sorted(os.listdir(stage)):
            os.replace(stage / name, folder / name)
    except OSError as exc:
        raise OutputError(f"cannot write the folder {os.fspath(folder)!r}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def remove_output_files(plan: OutputDir) -> None:
    """Remove the files of the earlier output that ``plan`` replaces (``mode == "replace"``)."""
    if plan.mode == "replace":
        _remove_files(plan.path, plan.old_files)


class FolderLock:
    """One writer per folder: an exclusive ``flock`` on ``LOCK_FILE`` holding the pid.

    A live lock (another process holds it) raises :class:`ParamError` (exit 2). A lock
    file whose holder is gone is stale: it is taken over, and :attr:`stale_pid` says
    whose it was. The lock ends with the process, however it ends.
    """

    def __init__(self, folder: str | os.PathLike[str], what: str = "folder", probe: bool = False) -> None:
        """Take the lock; with ``probe``, only check that no one holds it (and let go)."""
        import fcntl

        self.path = Path(folder) / LOCK_FILE
        self.stale_pid: str | None = None
        self._fd: int | None = None
        if probe and not self.path.exists():
            return  # never locked: nothing to create in someone's folder for a look
        try:
            fd = os.open(self.path, os.O_RDWR | (0 if probe else os.O_CREAT), 0o644)
        except OSError as exc:
            raise ParamError(f"{os.fspath(folder)!r}: cannot create its lock file ({exc.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise ParamError(f"{os.fspath(folder)!r}: another alif-spice process (pid {holder}) is writing "
                             f"this {what}; wait for it to end or stop it") from None
        if probe:
            os.close(fd)
            self._fd = None
            return
        previous = os.pread(fd, 64, 0).decode(errors="replace").strip()
        if previous and previous != str(os.getpid()):
            self.stale_pid = previous
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Clear the pid (a clean end leaves no stale lock) and unlock."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)

    def __enter__(self) -> FolderLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()
