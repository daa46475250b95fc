"""The table "What each bad input gets" (docs/commands.md, linked from the README) is true:
each row is run as written."""

import re
import shlex
from pathlib import Path

import pytest

from alif_spice.files import FolderLock
from conftest import run_cli

COMMANDS = Path(__file__).resolve().parents[1] / "docs" / "commands.md"


def _rows():
    text = COMMANDS.read_text(encoding="utf-8")
    section = re.split(r"\n#{1,6} ", text.split("### What each bad input gets", 1)[1], maxsplit=1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[1].startswith("`alif-spice"):
            rows.append((cells[0], cells[1].strip("`"), int(cells[2]), cells[3].strip("`")))
    return rows


ROWS = _rows()


def _setup(situation: str, folder: Path):
    """Make the table's 'situation' true in ``folder``; return what must stay as it was."""
    if situation.startswith("`notes/`"):
        (folder / "notes").mkdir()
        (folder / "notes" / "mine.txt").write_text("mine")
    elif situation.startswith("`results.txt`"):
        (folder / "results.txt").write_text("mine")
    elif situation.startswith("`t.csv`"):
        (folder / "t.csv").write_text("a,b\n1,2\n")
    elif situation.startswith("`link.csv`"):
        (folder / "elsewhere.csv").write_text("mine")
        (folder / "link.csv").symlink_to(folder / "elsewhere.csv")
    elif situation.startswith("`s/`"):
        (folder / "s").mkdir()
        (folder / "s" / "sweep.json").write_text("{}")
        return FolderLock(folder / "s", "sweep")
    elif situation.startswith("`m.csv`"):
        from conftest import synthetic, write_csv

        t, vs, vr = synthetic(100.0)
        write_csv(folder / "m.csv", t, vs, vr)
    elif situation.startswith("`case.toml`"):
        (folder / "case.toml").write_text("[tolerances]\nideal = 3\n")
    elif situation:
        raise AssertionError(f"no set-up for {situation!r}")
    return None


def test_the_table_has_rows():
    assert len(ROWS) >= 25


@pytest.mark.parametrize("situation, command, status, words", ROWS, ids=[r[1][11:60] for r in ROWS])
def test_readme_bad_input_row(tmp_path, situation, command, status, words):
    lock = _setup(situation, tmp_path)
    before = {p.relative_to(tmp_path).as_posix(): (p.read_bytes() if p.is_file() and not p.is_symlink() else None)
              for p in tmp_path.rglob("*")}
    try:
        r = run_cli(*shlex.split(command)[1:], cwd=tmp_path)
    finally:
        if lock is not None:
            lock.release()
    assert r.returncode == status, r.stderr
    assert words in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    after = {p.relative_to(tmp_path).as_posix(): (p.read_bytes() if p.is_file() and not p.is_symlink() else None)
             for p in tmp_path.rglob("*") if not p.name.startswith(".alif-spice.lock")}
    assert after == {k: v for k, v in before.items() if not k.endswith(".alif-spice.lock")}  # nothing written
