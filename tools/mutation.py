"""Mutation testing of alif-spice's core modules with cosmic-ray, within a time budget.

    python tools/mutation.py [--modules ode,files] [--workers 2] [--budget-min 240]
                             [--out results/mutation] [--resume]

For each module in ``tools/mutation.toml``, cosmic-ray plants one small bug at a time
(a mutant) and runs that module's tests against it; a mutant the tests do not fail
"survives". Mutants run in ``--workers`` copies of the source tree at once (cosmic-ray's
HTTP workers), each with the package imported from its copy, so the command-line tests
see the mutant too. Surviving mutants judged equivalent (no observable change of
behaviour) are listed, with the reason, in ``tools/mutation_equivalent.toml`` and do not
count against the score.

Writes ``OUT/<module>.sqlite`` (cosmic-ray's session: ``cr-report`` reads it) and
``OUT/report.md`` (score per module, every surviving mutant with its diff). With
``--resume`` the mutants already run are kept and only the rest run; with
``--rerun-survivors`` the surviving ones run again (after tests were added). When the budget
is spent the run stops; the mutants not run are counted as such in the report.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "tools" / "mutation.toml"
EQUIVALENT = ROOT / "tools" / "mutation_equivalent.toml"
COPIED = ("alif_spice", "tests", "netlists", "spice_models", "compare", "pyproject.toml")
DATA_KINDS = ("netlists", "spice_models", "compare")
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Module:
    name: str
    path: str
    tests: tuple[str, ...]
    numba: bool
    sample: int = 0  # run a seeded sample of this many mutants (0: all, or --sample)


def load_config() -> tuple[list[str], dict[str, Module]]:
    raw = tomllib.loads(CONFIG.read_text())
    mods = {name: Module(name, m["path"], tuple(m["tests"]), bool(m.get("numba", False)), int(m.get("sample", 0)))
            for name, m in raw["modules"].items()}
    return list(raw["operators"]["exclude"]), mods


def load_equivalent() -> list[dict]:
    if not EQUIVALENT.exists():
        return []
    return tomllib.loads(EQUIVALENT.read_text()).get("mutant", [])


def make_copy(dest: Path) -> Path:
    """A copy of the source tree whose package finds its data folders (as in the wheel)."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, dest / name)
    data = dest / "alif_spice" / "_data"
    data.mkdir()
    for kind in DATA_KINDS:
        (data / kind).symlink_to(dest / kind, target_is_directory=True)
    return dest


def test_command(mod: Module) -> str:
    """The command a worker runs in its copy: the module's tests, stopping at the first
    failure, with the package imported from the copy."""
    pytest = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *mod.tests]
    if mod.numba:
        # a fresh numba cache per mutant: the cache of a kernel does not notice a change
        # in a function it inlines from another file
        script = ('d=$(mktemp -d) && export NUMBA_CACHE_DIR="$d" PYTHONPATH="$PWD" && '
                  f'{shlex.join(pytest)}; s=$?; rm -rf "$d"; exit $s')
    else:
        script = f'export NUMBA_CACHE_DIR="$PWD/.numba-cache" PYTHONPATH="$PWD" && {shlex.join(pytest)}'
    return shlex.join(["bash", "-c", script])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_session_config(path: Path, mod: Module, exclude: list[str], timeout: float, urls: list[str]) -> None:
    q = json.dumps  # a JSON string is a valid TOML basic string
    path.write_text("\n".join([
        "[cosmic-ray]",
        f"module-path = {q(mod.path)}",
        f"timeout = {timeout:.1f}",
        "excluded-modules = []",
        f"test-command = {q(test_command(mod))}",
        "[cosmic-ray.distributor]",
        'name = "http"',
        "[cosmic-ray.distributor.http]",
        f"worker-urls = {q(urls)}",
        "[cosmic-ray.filters.operators-filter]",
        f"exclude-operators = {q(exclude)}",
        "",
    ]))


def baseline(copy: Path, mod: Module) -> float:
    """Run the module's tests on the unmutated copy: they must pass. Returns seconds."""
    t0 = time.monotonic()
    proc = subprocess.run(shlex.split(test_command(mod)), cwd=copy, capture_output=True, text=True)
    took = time.monotonic() - t0
    if proc.returncode != 0:
        sys.exit(f"{mod.name}: its tests fail without any mutant (exit {proc.returncode}):\n"
                 f"{proc.stdout[-3000:]}{proc.stderr[-2000:]}")
    return took


def run_module(mod: Module, exclude: list[str], copies: list[Path], out: Path, deadline: float,
               resume: bool, sample: int | None = None, seed: int = 0, rerun: bool = False) -> None:
    session, cfg = out / f"{mod.name}.sqlite", out / f"{mod.name}.toml"
    took = baseline(copies[0], mod)
    timeout = max(60.0, 3 * took + 30)
    ports = [free_port() for _ in copies]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    write_session_config(cfg, mod, exclude, timeout, urls)
    if (resume or rerun) and session.exists():
        forget(session, survivors=rerun, mod=mod)
    else:
        session.unlink(missing_ok=True)
        subprocess.run([BIN / "cosmic-ray", "init", cfg, session], check=True, cwd=ROOT)
        subprocess.run([BIN / "cr-filter-operators", session, cfg], check=True, cwd=ROOT,
                       stderr=subprocess.DEVNULL)
        n = mod.sample if sample is None else sample
        if n:
            keep_sample(session, n, seed)
    pending = count_pending(session)
    print(f"{mod.name}: tests pass unmutated in {took:.1f} s; {pending} mutants to run "
          f"(timeout {timeout:.0f} s each)", flush=True)
    if not pending:
        return
    proc = None
    workers = [subprocess.Popen([BIN / "cosmic-ray", "http-worker", "--port", str(p)], cwd=c,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
               for p, c in zip(ports, copies)]
    try:
        wait_listening(ports)
        proc = subprocess.Popen([BIN / "cosmic-ray", "exec", cfg, session], cwd=ROOT, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while proc.poll() is None:
            if time.monotonic() > deadline:
                print(f"{mod.name}: time budget spent, stopping", flush=True)
                break
            time.sleep(2)
    finally:
        if proc is not None and proc.poll() is None:  # first, so it records no failed mutants
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for w in workers:
            try:
                os.killpg(w.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            w.wait()
        kill_stragglers(copies)  # the tests a worker started run in their own session
        for c in copies:  # a worker stopped mid-mutant leaves the mutant in place
            restore(c, mod)


def kill_stragglers(copies: list[Path]) -> None:
    """Kill every process working in one of the copies."""
    roots = [os.fspath(c.resolve()) for c in copies]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if any(cwd == r or cwd.startswith(r + os.sep) for r in roots):
            try:
                os.kill(int(entry.name), signal.SIGKILL)
            except OSError:
                pass


def restore(copy: Path, mod: Module) -> None:
    shutil.copy2(ROOT / mod.path, copy / mod.path)


def wait_listening(ports: list[int], within: float = 30.0) -> None:
    end = time.monotonic() + within
    for port in ports:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > end:
                    sys.exit(f"cosmic-ray worker on port {port} did not start")
                time.sleep(0.3)


NOT_SAMPLED = "not in the sample"


def keep_sample(session: Path, n: int, seed: int) -> None:
    """Keep a seeded random sample of ``n`` pending mutants; mark the others skipped."""
    import random

    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    with use_db(str(session), WorkDB.Mode.open) as db:
        ids = sorted(item.job_id for item in db.pending_work_items)
        if len(ids) <= n:
            return
        keep = set(random.Random(seed).sample(ids, n))
        drop = [i for i in ids if i not in keep]
        db.set_multiple_results(drop, WorkResult(output=NOT_SAMPLED, worker_outcome=WorkerOutcome.SKIPPED))


def forget(session: Path, survivors: bool, mod: Module | None = None) -> None:
    """Make pending again the mutants whose worker failed or was stopped, and with
    ``survivors`` the surviving ones (to run them against new tests), except those judged
    equivalent (they survive any test)."""
    import sqlite3

    again = [] if not survivors else [e["job_id"] for e in _survivors(session, mod, load_equivalent())
                                      if "reason" not in e]
    with sqlite3.connect(session) as db:
        db.execute("DELETE FROM work_results WHERE worker_outcome = 'ABNORMAL'")
        db.executemany("DELETE FROM work_results WHERE job_id = ?", [(j,) for j in again])


def _survivors(session: Path, mod: Module | None, equivalent: list[dict]) -> list[dict]:
    """The surviving mutants of a session (job id, operator, line, and the reason where one
    is judged equivalent)."""
    summary = summarise(mod, session.parent, equivalent) if mod is not None else None
    return [] if summary is None else summary["survived"] + summary["equivalent"]


def count_pending(session: Path) -> int:
    from cosmic_ray.work_db import WorkDB, use_db

    with use_db(str(session), WorkDB.Mode.open) as db:
        return sum(1 for _ in db.pending_work_items)


# ------------------------------------------------------------------------------ report


def is_equivalent(entry_list: list[dict], mod: Module, operator: str, line: str, mutated: str) -> str | None:
    """The reason an entry of the list gives for this mutant (module "*": any module;
    ``mutated``, when given, must be the line as the mutant has it)."""
    for e in entry_list:
        if (e["module"] in (mod.name, "*") and e["operator"] == operator and e["line"].strip() == line.strip()
                and e.get("mutated", mutated).strip() == mutated.strip()):
            return e["reason"]
    return None


def _original_line(diff: str | None, sign: str = "-") -> str:
    """The line a mutant changed, as it was (``sign`` "+": as the mutant has it)."""
    for line in (diff or "").splitlines():
        if line.startswith(sign) and not line.startswith(sign * 3):
            return line[1:]
    return ""


def summarise(mod: Module, out: Path, equivalent: list[dict]) -> dict | None:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    session = out / f"{mod.name}.sqlite"
    if not session.exists():
        return None
    source = (ROOT / mod.path).read_text().splitlines()
    s = {"module": mod.name, "killed": 0, "survived": [], "equivalent": [], "pending": 0,
         "skipped": 0, "unsampled": 0}
    with use_db(str(session), WorkDB.Mode.open) as db:
        s["pending"] = sum(1 for _ in db.pending_work_items)
        for item, result in db.completed_work_items:
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                s["unsampled" if result.output == NOT_SAMPLED else "skipped"] += 1
                continue
            if result.worker_outcome == WorkerOutcome.NO_TEST:
                continue  # the mutated code is gone (changed since the session began)
            if result.worker_outcome != WorkerOutcome.NORMAL:
                s["pending"] += 1  # the worker failed or was stopped: not run (a resumed run runs it)
                continue
            m = item.mutations[0]
            line = _original_line(result.diff) or (source[m.start_pos[0] - 1]
                                                   if 0 < m.start_pos[0] <= len(source) else "")
            if result.test_outcome == TestOutcome.KILLED:
                s["killed"] += 1
                continue
            entry = {"line_no": m.start_pos[0], "col": m.start_pos[1], "operator": m.operator_name,
                     "line": line.strip(), "diff": result.diff or "", "job_id": item.job_id}
            reason = is_equivalent(equivalent, mod, m.operator_name, line, _original_line(result.diff, "+"))
            if reason:
                entry["reason"] = reason
                s["equivalent"].append(entry)
            else:
                s["survived"].append(entry)
    counted = s["killed"] + len(s["survived"])
    s["score"] = s["killed"] / counted if counted else float("nan")
    return s


def write_report(summaries: list[dict], out: Path, seconds: dict[str, float]) -> str:
    head = ("| module | mutants | run | killed | survived | equivalent | not run | score | time |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")

    def score(s: dict) -> str:
        text = f"{100 * s['score']:.1f} %"
        n = s["killed"] + len(s["survived"])
        if s["unsampled"] and n:  # a sample: Wilson 95 % interval of the whole module's score
            p, z = s["score"], 1.96
            mid = (p + z * z / (2 * n)) / (1 + z * z / n)
            half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
            text += f" ({100 * (mid - half):.0f}-{100 * min(mid + half, 1.0):.0f} %)"
        return text
    rows = []
    for s in summaries:
        run = s["killed"] + len(s["survived"]) + len(s["equivalent"])
        t = seconds.get(s["module"])
        total = run + s["pending"] + s["unsampled"]
        sample = " (sample)" if s["unsampled"] else ""
        rows.append(f"| {s['module']} | {total} | {run}{sample} | {s['killed']} | {len(s['survived'])} | "
                    f"{len(s['equivalent'])} | {s['pending']} | {score(s)} | "
                    f"{'' if t is None else f'{t / 60:.0f} min'} |")
    table = head + "\n".join(rows) + "\n"
    parts = ["# Mutation testing (cosmic-ray)\n", table]
    for s in summaries:
        for title, key in (("surviving", "survived"), ("equivalent", "equivalent")):
            if s[key]:
                parts.append(f"\n## {s['module']}: {title} mutants\n")
                for e in s[key]:
                    parts.append(f"\n### line {e['line_no']}, {e['operator']}\n")
                    if e.get("reason"):
                        parts.append(f"\n{e['reason']}\n")
                    parts.append("\n```diff\n" + "\n".join(e["diff"].splitlines()[2:]) + "\n```\n")
    (out / "report.md").write_text("".join(parts))
    return table


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--modules", default="", help="comma-separated subset of tools/mutation.toml's modules")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--budget-min", type=float, default=240.0, help="stop after this many minutes (default 240)")
    ap.add_argument("--out", default=str(ROOT / "results" / "mutation"))
    ap.add_argument("--resume", action="store_true", help="keep the mutants already run")
    ap.add_argument("--sample", type=int, default=None,
                    help="run a seeded random sample of this many mutants per module, 0 for all "
                         "(default: each module's own setting in tools/mutation.toml)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rerun-survivors", action="store_true",
                    help="run the surviving mutants of an earlier run again (after adding tests)")
    ap.add_argument("--report-only", action="store_true", help="only summarise the sessions in --out")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up the workers as on Ctrl-C
    os.nice(10)  # hours of background work: the machine's other work goes first
    exclude, mods = load_config()
    names = [n for n in args.modules.split(",") if n] or list(mods)
    unknown = [n for n in names if n not in mods]
    if unknown:
        ap.error(f"unknown module(s) {', '.join(unknown)}; known: {', '.join(mods)}")
    out = Path(args.out)
    mark = out / ".alif-spice-mutation"  # a folder this tool made: its sessions and copies may be replaced
    if out.exists() and any(out.iterdir()) and not mark.exists():
        ap.error(f"--out {out}: a folder this tool did not make; choose a new or empty one")
    out.mkdir(parents=True, exist_ok=True)
    mark.touch()
    deadline = time.monotonic() + 60 * args.budget_min
    seconds: dict[str, float] = {}
    if not args.report_only:
        copies = [make_copy(out / "workers" / f"w{k}") for k in range(args.workers)]
        for name in names:
            if time.monotonic() > deadline:
                print(f"{name}: not started, time budget spent")
                continue
            t0 = time.monotonic()
            run_module(mods[name], exclude, copies, out, deadline, args.resume, args.sample, args.seed,
                       args.rerun_survivors)
            seconds[name] = time.monotonic() - t0
        shutil.rmtree(out / "workers", ignore_errors=True)
    equivalent = load_equivalent()
    summaries = [s for s in (summarise(mods[n], out, equivalent) for n in names) if s]
    print(write_report(summaries, out, seconds))
    print(f"surviving mutants with their diffs: {out / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
