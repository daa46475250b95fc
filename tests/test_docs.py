"""The documentation is current and stands on its own: the generated pages match the code,
every command, option, exit status and tolerance name is documented, every link leads to
a file (and heading) of this repository, and nothing cites a document outside it."""

import argparse
import importlib.util
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
COMMANDS = DOCS / "commands.md"

if not (DOCS.is_dir() and (ROOT / "tools" / "gen_docs.py").is_file()):
    pytest.skip("no source tree with docs/ and tools/ beside the tests", allow_module_level=True)


def _gen_docs():
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "tools" / "gen_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _markdown_files():
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def _without_code(text: str) -> str:
    """Markdown with fenced blocks and inline code spans blanked (they hold no links)."""
    text = re.sub(r"^(```|~~~).*?^\1[^\n]*$", "", text, flags=re.M | re.S)
    return re.sub(r"`[^`\n]*`", "``", text)


def _section(text: str, heading: str) -> str:
    """The text under ``heading`` (a whole heading line) up to the next heading of the
    same or a higher level."""
    level = len(heading) - len(heading.lstrip("#"))
    match = re.search(rf"^{re.escape(heading)}[ \t]*$", text, flags=re.M)
    assert match, f"no heading {heading!r}"
    rest = text[match.end():]
    end = re.search(rf"^#{{1,{level}}} ", _blank_fences(rest), flags=re.M)
    return rest[:end.start()] if end else rest


def _blank_fences(text: str) -> str:
    """Fenced code blocks replaced by as many blank characters (positions kept)."""
    return re.sub(r"^(```|~~~).*?^\1[^\n]*$", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text,
                  flags=re.M | re.S)


def _mentions(text: str, option: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None


# ------------------------------------------------------------------ generated pages


def test_generated_pages_are_what_tools_gen_docs_writes_now():
    stale = _gen_docs().stale()
    assert not stale, (f"{', '.join(stale)} differ from what the code generates now: "
                       "run python tools/gen_docs.py and commit the result")


def test_the_parameter_reference_lists_every_parameter_with_its_preset_value():
    from alif_spice.params import TABLES, preset_dict
    from dataclasses import fields

    text = (DOCS / "parameters.md").read_text(encoding="utf-8")
    preset = preset_dict("paper")
    for table, cls in TABLES.items():
        section = _section(text, f"## [{table}]")
        for f in fields(cls):
            row = next((line for line in section.splitlines() if line.startswith(f"| `{table}.{f.name}` |")), None)
            assert row is not None, f"{table}.{f.name} missing from docs/parameters.md"
            assert f.metadata["rule"].text.replace("|", "\\|") in row
            assert f.name in preset[table]


def test_the_reference_module_imports_no_heavy_library():
    code = ("import sys, alif_spice.reference as r; r.parameter_reference(); "
            "print(' '.join(m for m in ('numba', 'pandas', 'matplotlib') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT / "tests")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "", f"alif_spice.reference imported {res.stdout.strip()}"


# ------------------------------------------------------------------ commands, options, exit statuses


def _parser():
    from alif_spice.cli import build_parser

    return build_parser()


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(subs) == 1
    return dict(subs[0].choices)


def test_every_subcommand_has_a_section_naming_each_of_its_options_and_choices():
    text = COMMANDS.read_text(encoding="utf-8")
    commands = _subcommands(_parser())
    assert set(commands) >= {"ode", "netlist", "run", "compare", "fit", "sweep"}
    for name, sub in commands.items():
        section = _section(text, f"## `alif-spice {name}`")
        for action in sub._actions:
            for option in action.option_strings:
                if option in ("-h", "--help"):
                    continue
                assert _mentions(section, option), f"alif-spice {name} {option}: not in its section of docs/commands.md"
            for choice in action.choices or ():
                assert _mentions(section, str(choice)), f"alif-spice {name} {action.option_strings}: choice {choice}"


def test_the_top_level_options_are_documented():
    text = COMMANDS.read_text(encoding="utf-8")
    parser = _parser()
    for action in parser._actions:
        for option in action.option_strings:
            assert _mentions(text, option), f"alif-spice {option}: not in docs/commands.md"


def _exit_statuses() -> set[int]:
    """Every exit status the code defines: the errors' statuses, the command line's
    constants and the statuses its help lists."""
    from alif_spice import cli, errors

    statuses = {cls.exit_status for _, cls in inspect.getmembers(errors, inspect.isclass)
                if issubclass(cls, errors.AlifError)}
    assert statuses >= {2, 3, 70}
    statuses |= {value for name, value in vars(cli).items() if name.startswith("EXIT_") and isinstance(value, int)}
    statuses |= {int(n) for n in re.findall(r"(?:^|, )(\d+) ", _parser().epilog.split(":", 1)[1].strip())}
    return statuses


def test_every_exit_status_is_in_the_table_and_the_table_holds_no_other():
    section = _section(COMMANDS.read_text(encoding="utf-8"), "## Exit status")
    table = {int(n) for n in re.findall(r"^\| `(\d+)` \|", section, flags=re.M)}
    statuses = _exit_statuses()
    assert statuses >= {0, 1, 2, 3, 70, 130}
    assert table == statuses, f"documented {sorted(table)}, defined {sorted(statuses)}"


def test_every_tolerance_name_is_documented_with_the_case_files():
    from alif_spice.metrics import checks

    section = _section(COMMANDS.read_text(encoding="utf-8"), "## Comparison cases")
    for name in [*checks(), "stuck_output"]:
        assert _mentions(section, name), f"tolerance {name}: not in docs/commands.md, 'Comparison cases'"


def test_every_key_of_the_shipped_case_files_is_documented():
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    section = _section(COMMANDS.read_text(encoding="utf-8"), "## Comparison cases")
    cases = sorted((ROOT / "compare").glob("*.toml"))
    assert cases
    for path in cases:
        case = tomllib.loads(path.read_text(encoding="utf-8"))
        for table in case:
            assert _mentions(section, f"[{table}") or _mentions(section, table), f"{path.name}: [{table}]"
        for key in case.get("case", {}):
            assert _mentions(section, key), f"{path.name}: case.{key} not in docs/commands.md"
        for circuit, tolerances in case.get("tolerances", {}).items():
            for key in tolerances:
                assert _mentions(section, key), f"{path.name}: tolerances.{circuit}.{key}"


# ------------------------------------------------------------------ links


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip())
    text = text.replace("`", "").lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for line in _blank_fences(path.read_text(encoding="utf-8")).splitlines():
        match = re.match(r"^#{1,6} (.+?)\s*#*\s*$", line)
        if match:
            slug = _slug(match.group(1))
            out.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
            seen[slug] = seen.get(slug, 0) + 1
    return out


def _links(path: Path) -> list[str]:
    text = _without_code(path.read_text(encoding="utf-8"))
    inline = re.findall(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", text)
    reference = re.findall(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", text, flags=re.M)
    return inline + reference


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_leads_to_a_file_and_heading_of_this_repository(path):
    links = _links(path)
    if path.parent == DOCS:
        assert links, f"{path.name} links nowhere"
    for link in links:
        if re.match(r"^[a-z][a-z0-9+.-]*:", link, flags=re.I):  # https:, mailto: ...
            continue
        target, _, anchor = link.partition("#")
        where = (path.parent / target).resolve() if target else path
        assert where.exists(), f"{path.name}: link {link!r} leads to no file"
        assert where == ROOT or ROOT in where.parents, f"{path.name}: link {link!r} leaves the repository"
        if anchor and where.suffix == ".md":
            assert anchor in _anchors(where), f"{path.name}: link {link!r}: no such heading in {where.name}"


def test_the_docs_index_links_every_page_and_the_readme_links_the_index():
    index = set(_links(DOCS / "README.md"))
    for page in DOCS.glob("*.md"):
        if page.name != "README.md":
            assert page.name in index, f"docs/README.md does not link {page.name}"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/README.md" in _links(ROOT / "README.md")
    assert "make run" in readme and "make test" in readme


# ------------------------------------------------------------------ standing on its own

#: strings that would cite documents kept outside this repository
FOREIGN = ("SPEC.md", "FACTS.md", "../shared", "SPEC §", "shared/SPEC")
#: the same as words (an upper-case SPEC or FACTS, "shared/...") and issue numbers
FOREIGN_WORDS = re.compile(r"\b(?:SPEC|FACTS)\b|\bshared/|\b[Ii]ssues? ?#?\d+\b")


def _own_files() -> list[Path]:
    files = [p for p in (ROOT / "alif_spice").rglob("*") if p.suffix in (".py", ".j2", ".toml")]
    for folder in ("netlists", "spice_models", "compare", "docs", "tools"):
        files += [p for p in (ROOT / folder).rglob("*") if p.is_file()]
    files += [ROOT / name for name in ("README.md", "Makefile", "Dockerfile", "tests/README.md")]
    return [p for p in files if p.is_file() and "__pycache__" not in p.parts]


def test_nothing_cites_a_document_outside_the_repository():
    found = []
    for path in _own_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        found += [f"{path.relative_to(ROOT)}: {s!r}" for s in FOREIGN if s in text]
        found += [f"{path.relative_to(ROOT)}: {m.group(0)!r}" for m in FOREIGN_WORDS.finditer(text)]
    assert not found, "documents outside the repository cited: " + "; ".join(found)
    outward = [link for link in _links(ROOT / "README.md") if link.startswith("../")]
    assert not outward, f"README.md links outside the repository: {outward}"
