"""The output rule, function by function, in-process (fast).

The command-level behaviour (every command, kills, Ctrl-C) is in test_outputs.py; here
each building block of alif_spice.files is held to its documented contract, with the
boundaries that matter: hidden staging entries, empty sub-folders, a changed file,
the folder of an input at any depth, a lock held by another open file.
"""

import json
import os
import stat

import pytest

from alif_spice import files as F
from alif_spice.errors import OutputError, ParamError


@pytest.fixture(autouse=True)
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def earlier_output(folder, command="compare", names=("a.txt", "sub/b.txt")):
    """A folder holding an earlier alif-spice output of ``command``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(f"content of {name}\n")
    rec = F.output_record(command, [*names, F.MANIFEST], folder, unhashed=(F.MANIFEST,))
    (folder / F.MANIFEST).write_text(json.dumps({"output": rec}))
    return folder


def hidden_entries(folder):
    return sorted(n for n in os.listdir(folder) if n.startswith("."))


# ------------------------------------------------------------------------ file outputs


def test_new_file_in_a_writable_folder_is_accepted(tmp_path):
    assert F.check_output_file(tmp_path / "t.csv") == tmp_path / "t.csv"
    assert os.listdir(tmp_path) == []  # the writability probe leaves nothing


def test_new_file_in_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert F.check_output_file("t.csv") == F.Path("t.csv")


@pytest.mark.parametrize("make, kind", [
    (lambda p: p.mkdir(), "is a folder"),
    (lambda p: os.mkfifo(p), "is a FIFO"),
])
def test_non_regular_file_outputs_are_refused(tmp_path, make, kind):
    target = tmp_path / "out"
    make(target)
    with pytest.raises(ParamError, match=f"--trace '{target}': {kind}, not a file"):
        F.check_output_file(target, force=True, option="--trace")


def test_a_device_is_refused():
    with pytest.raises(ParamError, match="'/dev/null': is a device"):
        F.check_output_file("/dev/null", force=True)


def test_a_symbolic_link_is_refused_even_with_force(tmp_path):
    (tmp_path / "real.csv").write_text("x")
    (tmp_path / "link.csv").symlink_to(tmp_path / "real.csv")
    with pytest.raises(ParamError, match="symbolic link .*real.csv"):
        F.check_output_file(tmp_path / "link.csv", force=True)
    assert (tmp_path / "real.csv").read_text() == "x"


def test_existing_file_is_replaced_only_when_ours_or_forced(tmp_path):
    f = tmp_path / "t.csv"
    f.write_text("mine\n")
    never, always = (lambda p: False), (lambda p: True)
    with pytest.raises(ParamError, match="exists and was not written by alif-spice .*--force"):
        F.check_output_file(f, ours=never)
    assert F.check_output_file(f, ours=always) == f
    assert F.check_output_file(f, ours=never, force=True) == f
    assert F.check_output_file(f) == f  # no recogniser: a plain file may be replaced

    def broken(p):
        raise ValueError("cannot parse")
    with pytest.raises(ParamError, match="not written by alif-spice"):
        F.check_output_file(f, ours=broken)


def test_output_below_a_file_is_refused(tmp_path):
    (tmp_path / "plain").write_text("x")
    with pytest.raises(ParamError, match="Not a directory"):
        F.check_output_file(tmp_path / "plain" / "t.csv")
    with pytest.raises(ParamError, match="Not a directory"):
        F.check_output_file(tmp_path / "plain" / "deeper" / "t.csv")
    # the probe itself, when the nearest existing ancestor is not a folder
    with pytest.raises(ParamError, match=r"-o 'x': '.*plain' is not a folder"):
        F._probe_writable(tmp_path / "plain" / "deeper", "-o", "x")


def test_probe_of_a_missing_folder_uses_the_nearest_existing_one(tmp_path):
    assert F.check_output_file(tmp_path / "a" / "b" / "t.csv") == tmp_path / "a" / "b" / "t.csv"
    assert not (tmp_path / "a").exists()  # nothing created by the check


def test_probe_reports_an_unwritable_place(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o555)
    try:
        if os.access(ro, os.W_OK) and os.geteuid() == 0:
            # root writes anywhere: use a read-only file system instead
            target = "/proc/alif-spice-test/t.csv"
        else:
            target = ro / "t.csv"
        with pytest.raises(ParamError, match="cannot write in|is not a folder"):
            F.check_output_file(target)
    finally:
        os.chmod(ro, 0o755)


def test_first_line_recogniser(tmp_path):
    f = tmp_path / "n.cir"
    f.write_text("* alif-spice netlist\nR1 a b 1\n")
    assert F.first_line_starts("* alif-spice")(f) is True
    assert F.first_line_starts("R1")(f) is False
    assert F._safe(F.first_line_starts("*"), tmp_path / "missing") is False


def test_atomic_path_writes_whole_files_with_the_usual_mode(tmp_path):
    target = tmp_path / "deep" / "t.csv"
    with F.atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.name.startswith(".t.csv.") and tmp.name.endswith(".part")
        tmp.write_text("123")
        assert not target.exists()  # nothing under the final name while writing
    assert target.read_text() == "123"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert os.listdir(target.parent) == ["t.csv"]


def test_atomic_path_failure_keeps_the_old_file_and_leaves_nothing(tmp_path):
    target = tmp_path / "t.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with F.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["t.csv"]


def test_atomic_path_write_errors_are_output_errors(tmp_path):
    (tmp_path / "plain").write_text("x")
    with pytest.raises(OutputError, match="cannot write .*plain/t.csv"):
        with F.atomic_path(tmp_path / "plain" / "t.csv"):
            pass
    with pytest.raises(OutputError, match="cannot write"):
        with F.atomic_path(tmp_path / "t.csv") as tmp:
            os.mkdir(tmp.with_suffix(".x"))
            os.unlink(tmp)
            tmp.mkdir()  # a folder cannot be renamed over ...
            (tmp / "f").write_text("x")  # ... and a non-empty one cannot be removed
            (tmp_path / "t.csv").mkdir()
            (tmp_path / "t.csv" / "keep").write_text("x")
    assert (tmp_path / "t.csv" / "keep").read_text() == "x"


def test_write_text_atomic_is_utf8(tmp_path):
    F.write_text_atomic(tmp_path / "t.txt", "µs Ω\n")
    assert (tmp_path / "t.txt").read_bytes() == "µs Ω\n".encode()


# ---------------------------------------------------------------------- folder outputs


def test_walk_lists_files_empty_folders_and_links_without_following(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f.txt").write_text("x")
    (tmp_path / "empty").mkdir()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "g").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "a", target_is_directory=True)
    assert F._walk(tmp_path) == ["a/f.txt", "empty/", "full/g", "link"]


@pytest.mark.parametrize("doc", [
    "not json",
    json.dumps([1, 2]),
    json.dumps({"output": {"tool": "other", "command": "compare", "files": []}}),
    json.dumps({"output": {"tool": "alif-spice", "command": 3, "files": []}}),
    json.dumps({"output": {"tool": "alif-spice", "command": "compare", "files": "a"}}),
    json.dumps({"output": {"tool": "alif-spice", "command": "compare", "files": [1]}}),
    json.dumps({"output": "compare"}),
])
def test_manifest_that_is_not_our_record_is_none(tmp_path, doc):
    (tmp_path / F.MANIFEST).write_text(doc)
    assert F.read_output_manifest(tmp_path) is None


def test_manifest_record_is_read(tmp_path):
    rec = {"tool": "alif-spice", "command": "fit", "files": ["a"]}
    (tmp_path / "sweep.json").write_text(json.dumps({"output": rec}))
    assert F.read_output_manifest(tmp_path, "sweep.json") == rec
    assert F.read_output_manifest(tmp_path) is None


def test_new_and_empty_folders(tmp_path):
    plan = F.check_output_dir(tmp_path / "new", "compare", force=True)
    assert (plan.path, plan.command, plan.mode, plan.old_files, plan.force) == \
        (tmp_path / "new", "compare", "new", (), True)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".x.1234.part").write_text("ours, in progress")
    (tmp_path / "empty" / F.LOCK_FILE).write_text("")
    (tmp_path / "empty" / ".alif-spice.abc.probe").mkdir()
    plan = F.check_output_dir(tmp_path / "empty", "compare")
    assert plan.mode == "empty" and not plan.force
    assert os.path.isabs(F.check_output_dir("relative-name", "fit").path)


def test_symlink_to_an_empty_folder_is_a_folder(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    assert F.check_output_dir(tmp_path / "link", "fit").mode == "empty"
    (tmp_path / "file").write_text("x")
    (tmp_path / "flink").symlink_to(tmp_path / "file")
    with pytest.raises(ParamError, match="symbolic link that does not lead to a folder"):
        F.check_output_dir(tmp_path / "flink", "fit")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(ParamError, match="symbolic link that does not lead to a folder"):
        F.check_output_dir(tmp_path / "dangling", "fit")


def test_refusals_name_the_reason(tmp_path):
    with pytest.raises(ParamError, match="-o: empty folder name"):
        F.check_output_dir("  ", "fit")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ParamError, match="'.*file': is a file; a folder output needs a new or empty folder"):
        F.check_output_dir(tmp_path / "file", "fit", option="--out")
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(ParamError, match="is a FIFO"):
        F.check_output_dir(tmp_path / "fifo", "fit")
    (tmp_path / "plain").write_text("x")
    with pytest.raises(ParamError, match="Not a directory"):
        F.check_output_dir(tmp_path / "plain" / "out", "fit")


def test_a_folder_with_user_files_is_refused_even_with_force(tmp_path):
    d = tmp_path / "d"
    (d / "deep" / "er").mkdir(parents=True)
    (d / "deep" / "er" / "thesis.tex").write_text("x")
    with pytest.raises(ParamError, match=r"files alif-spice did not write \(e.g. 'deep/er/thesis.tex'\)"):
        F.check_output_dir(d, "fit", force=True)
    (d / "deep" / "er" / "thesis.tex").unlink()
    with pytest.raises(ParamError, match=r"e.g. 'deep/er/'"):  # an empty sub-folder is the user's too
        F.check_output_dir(d, "fit", force=True)


@pytest.mark.parametrize("where", ["data.csv", "sub/data.csv", "sub/deeper/data.csv"])
def test_the_folder_of_an_input_is_refused(tmp_path, where):
    d = tmp_path / "d"
    (d / where).parent.mkdir(parents=True, exist_ok=True)
    (d / where).write_text("x")
    with pytest.raises(ParamError, match=f"is the folder of the input '{d / where}'"):
        F.check_output_dir(d, "fit", force=True, extra_inputs=(d / where,))


def test_an_input_beside_the_folder_is_fine(tmp_path):
    (tmp_path / "data.csv").write_text("x")
    plan = F.check_output_dir(tmp_path / "out", "fit", extra_inputs=(tmp_path / "data.csv",))
    assert plan.mode == "new"


def test_an_input_in_an_empty_output_folder_that_will_be_created(tmp_path):
    # the input's folder is the output's parent: fine (the output is a new sub-folder)
    (tmp_path / "data.csv").write_text("x")
    (tmp_path / "out").mkdir()
    assert F.check_output_dir(tmp_path / "out", "fit", extra_inputs=(tmp_path / "data.csv",)).mode == "empty"


def test_earlier_output_needs_force_and_is_listed_for_replacement(tmp_path):
    d = earlier_output(tmp_path / "d")
    (d / "emptied").mkdir()
    with pytest.raises(ParamError, match="holds an earlier 'compare' output; use --force"):
        F.check_output_dir(d, "compare")
    plan = F.check_output_dir(d, "compare", force=True)
    assert plan.mode == "replace" and plan.force
    assert plan.old_files == ("a.txt", F.MANIFEST, "sub/b.txt")


def test_earlier_output_of_another_command_is_refused(tmp_path):
    d = earlier_output(tmp_path / "d", command="fit")
    with pytest.raises(ParamError, match="holds the output of 'alif-spice fit', not of 'compare'"):
        F.check_output_dir(d, "compare", force=True)


def test_earlier_output_with_a_user_file_or_a_changed_file_is_refused(tmp_path):
    d = earlier_output(tmp_path / "d")
    (d / "notes.txt").write_text("mine")
    with pytest.raises(ParamError, match=r"also files alif-spice did not write \(e.g. 'notes.txt'\)"):
        F.check_output_dir(d, "compare", force=True)
    (d / "notes.txt").unlink()
    (d / "sub" / "b.txt").write_text("edited by the user")
    with pytest.raises(ParamError, match=r"'sub/b.txt \(changed since alif-spice wrote it\)'"):
        F.check_output_dir(d, "compare", force=True)


def test_output_record_lists_and_hashes(tmp_path):
    (tmp_path / "a").write_bytes(b"abc")
    rec = F.output_record("sweep", ["b", "a", "a", "m"], tmp_path, unhashed=("m",))
    assert rec == {"tool": "alif-spice", "command": "sweep", "files": ["a", "b", "m"],
                   "sha256": {"a": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}}
    assert F.output_record("sweep", ["a"])["sha256"] == {}


def test_foreign_entries(tmp_path):
    d = earlier_output(tmp_path / "d")
    assert F.foreign_entries(d, F.read_output_manifest(d)) == []
    (d / ".stage.123.part").mkdir()
    (d / "empty").mkdir()
    (d / "extra").write_text("x")
    (d / "a.txt").write_text("changed")
    rec = F.read_output_manifest(d)
    assert F.foreign_entries(d, rec) == ["a.txt (changed since alif-spice wrote it)", "extra"]
    rec["sha256"] = "not a table"
    assert F.foreign_entries(d, rec) == ["extra"]  # without hashes, only unlisted entries


def test_ours_in_progress():
    assert F._ours_in_progress(".report.html.x1y2.part")
    assert F._ours_in_progress(".stage.part/")
    assert F._ours_in_progress(".alif-spice.lock")
    assert not F._ours_in_progress("report.part")
    assert not F._ours_in_progress(".hidden")
    assert not F._ours_in_progress("x.alif-spice.lock")


def test_atomic_dir_new_folder_appears_whole(tmp_path):
    target = tmp_path / "out"
    plan = F.check_output_dir(target, "compare")
    with F.atomic_dir(plan) as stage:
        assert not target.exists()
        (stage / "report.html").write_text("r")
        (stage / "figs").mkdir()
        (stage / "figs" / "a.png").write_bytes(b"png")
    assert sorted(F._walk(target)) == ["figs/a.png", F.MANIFEST, "report.html"]
    rec = F.read_output_manifest(target)
    assert rec["files"] == ["figs/a.png", F.MANIFEST, "report.html"]
    assert set(rec["sha256"]) == {"figs/a.png", "report.html"}
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    assert os.listdir(tmp_path) == ["out"]


def test_atomic_dir_keeps_an_existing_manifest_content(tmp_path):
    with F.atomic_dir(tmp_path / "out", "fit") as stage:
        (stage / F.MANIFEST).write_text(json.dumps({"version": "1"}))
    doc = json.loads((tmp_path / "out" / F.MANIFEST).read_text())
    assert doc["version"] == "1" and doc["output"]["command"] == "fit"
    with F.atomic_dir(tmp_path / "out2", "fit") as stage:
        (stage / F.MANIFEST).write_text(json.dumps([1, 2]))
    doc = json.loads((tmp_path / "out2" / F.MANIFEST).read_text())
    assert doc["content"] == [1, 2] and doc["output"]["files"] == [F.MANIFEST]


def test_atomic_dir_into_an_empty_folder_keeps_the_folder(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    inode = d.stat().st_ino
    with F.atomic_dir(F.check_output_dir(d, "fit")) as stage:
        assert stage.parent == d and stage.name.startswith(F._STAGE_PREFIX)
        (stage / "fit.toml").write_text("x")
    assert d.stat().st_ino == inode
    assert sorted(os.listdir(d)) == ["fit.toml", F.MANIFEST]


def test_atomic_dir_replaces_only_our_earlier_output(tmp_path):
    d = earlier_output(tmp_path / "d")
    plan = F.check_output_dir(d, "compare", force=True)
    with F.atomic_dir(plan) as stage:
        (stage / "new.txt").write_text("n")
        assert (d / "a.txt").exists()  # the old output stays until the new one is complete
    assert sorted(F._walk(d)) == [F.MANIFEST, "new.txt"]


def test_atomic_dir_failure_leaves_the_target_as_it_was(tmp_path):
    d = earlier_output(tmp_path / "d")
    before = {e: (d / e).read_bytes() for e in F._walk(d)}
    with pytest.raises(RuntimeError):
        with F.atomic_dir(F.check_output_dir(d, "compare", force=True)) as stage:
            (stage / "new.txt").write_text("n")
            raise RuntimeError("killed")
    assert {e: (d / e).read_bytes() for e in F._walk(d)} == before
    with pytest.raises(RuntimeError):
        with F.atomic_dir(tmp_path / "new", "compare"):
            raise RuntimeError("killed")
    assert sorted(os.listdir(tmp_path)) == ["d"]


def test_atomic_dir_rechecks_a_folder_someone_made_meanwhile(tmp_path):
    target = tmp_path / "out"
    plan = F.check_output_dir(target, "compare")
    with F.atomic_dir(plan) as stage:
        (stage / "r.txt").write_text("r")
        target.mkdir()  # made while we computed, still empty: we write into it
    assert sorted(os.listdir(target)) == [F.MANIFEST, "r.txt"]
    other = tmp_path / "other"
    plan = F.check_output_dir(other, "compare")
    with pytest.raises(OutputError, match="not written: .*did not write"):
        with F.atomic_dir(plan) as stage:
            (stage / "r.txt").write_text("r")
            other.mkdir()
            (other / "user.txt").write_text("u")
    assert os.listdir(other) == ["user.txt"]
    assert sorted(os.listdir(tmp_path)) == ["other", "out"]


def test_atomic_dir_rechecks_an_empty_folder_at_commit(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    with pytest.raises(OutputError, match="not written"):
        with F.atomic_dir(F.check_output_dir(d, "fit")) as stage:
            (stage / "fit.toml").write_text("x")
            (d / "user.txt").write_text("u")
    assert sorted(os.listdir(d)) == ["user.txt"]


def test_atomic_dir_with_a_bare_path_checks_it(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "user.txt").write_text("u")
    with pytest.raises(ParamError):
        with F.atomic_dir(tmp_path / "d", "fit"):
            pass


def test_atomic_dir_write_error_is_an_output_error(tmp_path):
    (tmp_path / "plain").write_text("x")
    plan = F.OutputDir(tmp_path / "plain" / "out", "fit", "new")
    with pytest.raises(OutputError, match="cannot write the folder"):
        with F.atomic_dir(plan):
            pass


def test_remove_files_removes_emptied_folders_only(tmp_path):
    d = tmp_path / "d"
    (d / "a" / "b").mkdir(parents=True)
    (d / "a" / "b" / "f").write_text("x")
    (d / "a" / "keep").write_text("x")
    (d / "c").mkdir()
    (d / "c" / "g").write_text("x")
    F._remove_files(d, ("a/b/f", "c/g", "gone"))
    assert F._walk(d) == ["a/keep"]
    assert d.is_dir()


def test_remove_output_files_only_when_replacing(tmp_path):
    d = earlier_output(tmp_path / "d")
    F.remove_output_files(F.OutputDir(d, "compare", "empty", ("a.txt",)))
    assert (d / "a.txt").exists()
    F.remove_output_files(F.OutputDir(d, "compare", "replace", ("a.txt",)))
    assert not (d / "a.txt").exists()


def test_staged_files_replace_by_name_and_leave_the_rest(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "a").write_text("old")
    (d / "b").write_text("other")
    with F.staged_files(d) as stage:
        (stage / "a").write_text("new")
        assert (d / "a").read_text() == "old"
    assert (d / "a").read_text() == "new" and (d / "b").read_text() == "other"
    with pytest.raises(RuntimeError):
        with F.staged_files(d) as stage:
            (stage / "a").write_text("newer")
            raise RuntimeError
    assert (d / "a").read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == ["d"]
    (tmp_path / "plain").write_text("x")
    with pytest.raises(OutputError, match="cannot write the folder"):
        with F.staged_files(tmp_path / "plain"):
            pass


def test_folder_lock(tmp_path):
    with F.FolderLock(tmp_path, "sweep") as lock:
        assert lock.stale_pid is None
        assert (tmp_path / F.LOCK_FILE).read_text() == f"{os.getpid()}\n"
        with pytest.raises(ParamError, match=rf"another alif-spice process \(pid {os.getpid()}\) is writing "
                                             r"this sweep; wait for it"):
            F.FolderLock(tmp_path, "sweep")
        with pytest.raises(ParamError, match="another alif-spice process"):
            F.FolderLock(tmp_path, probe=True)
    assert (tmp_path / F.LOCK_FILE).read_text() == ""  # a clean end leaves no pid
    F.FolderLock(tmp_path, probe=True)  # free: a look succeeds ...
    assert (tmp_path / F.LOCK_FILE).read_text() == ""  # ... and writes nothing
    again = F.FolderLock(tmp_path)
    again.release()
    again.release()  # twice is harmless


def test_probe_creates_nothing_in_a_folder_never_locked(tmp_path):
    F.FolderLock(tmp_path, probe=True)
    assert os.listdir(tmp_path) == []


def test_stale_lock_is_taken_over_and_named(tmp_path):
    (tmp_path / F.LOCK_FILE).write_text("4000000\n")
    lock = F.FolderLock(tmp_path)
    assert lock.stale_pid == "4000000"
    assert (tmp_path / F.LOCK_FILE).read_text() == f"{os.getpid()}\n"
    lock.release()


def test_lock_in_a_missing_folder_is_a_param_error(tmp_path):
    with pytest.raises(ParamError, match="cannot create its lock file"):
        F.FolderLock(tmp_path / "missing")


# ------------------------------------------------------- details found by mutation testing


def test_a_socket_is_named_as_such(tmp_path):
    import socket
    path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
        with pytest.raises(ParamError, match="is a socket, not a file"):
            F.check_output_file(path, force=True)


def test_outputs_create_missing_parent_folders(tmp_path):
    with F.atomic_path(tmp_path / "a" / "b" / "t.csv") as tmp:
        tmp.write_text("x")
    assert (tmp_path / "a" / "b" / "t.csv").read_text() == "x"
    with F.atomic_dir(F.check_output_dir(tmp_path / "c" / "d" / "out", "fit")) as stage:
        (stage / "f").write_text("x")
    assert (tmp_path / "c" / "d" / "out" / "f").exists()
    with F.staged_files(tmp_path / "e" / "f") as stage:
        (stage / "g").write_text("x")
    assert (tmp_path / "e" / "f" / "g").exists()


def test_output_dir_is_an_immutable_value(tmp_path):
    import dataclasses
    plan = F.OutputDir(tmp_path, "fit", "new")
    assert plan.force is False and plan.old_files == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.mode = "replace"


def test_the_manifest_is_committed_last(tmp_path, monkeypatch):
    # into an existing folder the files go one by one: the manifest (which says the
    # output is complete) must come after every other file
    d = tmp_path / "d"
    d.mkdir()
    moved = []
    real = os.replace
    monkeypatch.setattr(F.os, "replace", lambda a, b: (moved.append(os.path.basename(b)), real(a, b)))
    with F.atomic_dir(F.check_output_dir(d, "compare")) as stage:
        for name in ("a.txt", "z.txt", "report.html"):
            (stage / name).write_text(name)
    assert moved[-1] == F.MANIFEST and sorted(moved) == sorted(["a.txt", "z.txt", "report.html", F.MANIFEST])


def test_a_manifest_never_holds_invalid_json(tmp_path):
    with pytest.raises(ValueError):
        with F.atomic_dir(tmp_path / "out", "fit") as stage:
            (stage / F.MANIFEST).write_text('{"x": NaN}')
    assert os.listdir(tmp_path) == []


def test_write_errors_say_what_the_system_said(tmp_path):
    (tmp_path / "plain").write_text("x")
    with pytest.raises(OutputError, match=r"cannot write '.*plain/t.csv': File exists$"):
        with F.atomic_path(tmp_path / "plain" / "t.csv"):
            pass
    with pytest.raises(OutputError, match=r"cannot write '.*/t.csv': Is a directory$"):
        with F.atomic_path(tmp_path / "t.csv") as tmp:
            tmp.write_text("x")
            (tmp_path / "t.csv").mkdir()
            (tmp_path / "t.csv" / "keep").write_text("x")
    with pytest.raises(OutputError, match=r"cannot write the folder '.*plain/out': File exists$"):
        with F.atomic_dir(F.OutputDir(tmp_path / "plain" / "out", "fit", "new")):
            pass
    with pytest.raises(OutputError, match=r"cannot write the folder '.*plain/x': Not a directory$"):
        with F.staged_files(tmp_path / "plain" / "x"):
            pass
    d = tmp_path / "d"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "keep").write_text("x")
    with pytest.raises(OutputError, match=r"cannot write the folder '.*/d': Is a directory$"):
        with F.staged_files(d) as stage:
            (stage / "sub").write_text("a file over a folder")
    assert (d / "sub" / "keep").exists()


def test_probe_failure_says_what_the_system_said(tmp_path):
    try:
        os.mkdir("/proc/alif-spice-probe")
    except OSError as exc:
        said = exc.strerror
    else:  # pragma: no cover - /proc refuses new folders
        os.rmdir("/proc/alif-spice-probe")
        pytest.skip("/proc accepted a folder")
    with pytest.raises(ParamError, match=rf"cannot write in '/proc' \({said}\)$"):
        F._probe_writable(F.Path("/proc/x"), "-o", "x")


def test_a_vanished_stage_is_an_output_error(tmp_path):
    import shutil
    with pytest.raises(OutputError, match="cannot write the folder"):
        with F.staged_files(tmp_path / "d") as stage:
            shutil.rmtree(stage)


def test_refusals_name_the_first_entry(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    for name in ("a.txt", "m.txt", "z.txt"):
        (d / name).write_text("x")
    with pytest.raises(ParamError, match=r"\(e.g. 'a.txt'\)"):
        F.check_output_dir(d, "fit")
    e = earlier_output(tmp_path / "e")
    for name in ("b-notes.txt", "y-notes.txt"):
        (e / name).write_text("x")
    with pytest.raises(ParamError, match=r"\(e.g. 'b-notes.txt'\)"):
        F.check_output_dir(e, "compare", force=True)


def test_lock_file_mode(tmp_path):
    with F.FolderLock(tmp_path):
        assert stat.S_IMODE((tmp_path / F.LOCK_FILE).stat().st_mode) == 0o644


@pytest.mark.parametrize("argv,expected", [
    (["/home/u/venv/bin/alif-spice", "compare", "--case", "paper", "-o", "my results"],
     "alif-spice compare --case paper -o 'my results'"),
    (["/usr/lib/python3/site-packages/alif_spice/__main__.py", "ode", "-o", "t.csv"], "alif-spice ode -o t.csv"),
    (["alif-spice"], "alif-spice"),
    ([], ""),  # called from Python: no command to type
    (["my_script.py", "--x"], "my_script.py --x"),  # a script of the user's own: as given
])
def test_the_recorded_command_is_the_one_to_type_again(argv, expected):
    from alif_spice.provenance import portable_command, record
    assert portable_command(argv) == expected
    rec = record(argv, ngspice=False)
    assert rec["command"] == expected and rec["tool"] == "alif-spice" and "ngspice" not in rec["versions"]
    assert {"alif-spice", "PySpice", "numpy", "numba", "python"} <= set(rec["versions"])
    assert rec["created"].endswith("Z") and len(rec["created"]) == 20
