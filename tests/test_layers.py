"""The package's layering, read from its source: the sweep's parts depend only on the ones
before them (no import cycle, lazy imports inside functions included), and nothing in the
package switches matplotlib's global backend."""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "alif_spice"
#: the sweep's parts in order: each may import only those before it
SWEEP_ORDER = ["spec", "store", "folder", "report", "run"]


def _imports(path: Path) -> set[str]:
    """Modules of this package that ``path`` imports anywhere (top level or in a function),
    as dotted names relative to the package ("sweep.store", "metrics")."""
    here = path.parent.relative_to(PKG).parts
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = list(here[: len(here) - (node.level - 1)])
            mod = base + (node.module.split(".") if node.module else [])
            if node.module:
                out.add(".".join(mod))
            else:
                out.update(".".join(base + [a.name]) for a in node.names)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            out.update(n.removeprefix("alif_spice.") for n in names if n.startswith("alif_spice."))
    return out


@pytest.mark.parametrize("part", SWEEP_ORDER)
def test_each_sweep_part_imports_only_the_parts_before_it(part):
    later = {f"sweep.{p}" for p in SWEEP_ORDER[SWEEP_ORDER.index(part) + 1:]} | {"sweep"}
    bad = _imports(PKG / "sweep" / f"{part}.py") & later
    assert not bad, f"sweep/{part}.py imports {sorted(bad)}"


def test_the_import_reader_sees_lazy_imports():
    # the oracle of the test above: it must find an import inside a function
    found = _imports(PKG / "sweep" / "run.py")
    assert {"sweep.report", "spice", "sweep.folder"} <= found


def test_no_module_switches_the_global_matplotlib_backend():
    # a notebook's inline plots must survive writing a report: figures are made with the
    # object API (matplotlib.figure.Figure), never through pyplot's global state
    offenders = []
    for path in PKG.rglob("*.py"):
        text = path.read_text()
        if "matplotlib.use(" in text or "matplotlib.pyplot" in text:
            offenders.append(str(path.relative_to(PKG)))
    assert not offenders, offenders


def test_the_mutation_runs_name_tests_that_exist():
    # tools/mutation.toml maps each module to its tests; a renamed or removed test would
    # make its module's baseline run fail
    import re
    import tomllib

    root = PKG.parent
    config = tomllib.loads((root / "tools" / "mutation.toml").read_text())
    missing = []
    for module in config["modules"].values():
        for test in module["tests"]:
            path, _, name = test.partition("::")
            assert (root / path).is_file(), test
            if name and not re.search(rf"^def {re.escape(name)}\(", (root / path).read_text(), re.M):
                missing.append(test)
    assert not missing, missing


def test_test_modules_share_helpers_through_conftest_only():
    # a test module importing another runs (and collects) that module's import side effects
    # and ties the two together; shared helpers live in conftest.py
    tests = Path(__file__).resolve().parent
    offenders = []
    for path in sorted(tests.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names if n.startswith("test_")]
    assert offenders == []
