"""Write the generated pages of docs/: the parameter reference and the metric reference.

    python tools/gen_docs.py           # write docs/parameters.md and docs/metrics.md
    python tools/gen_docs.py --check   # exit 1 (and name them) if either is out of date

Both come from the code (alif_spice/reference.py): the parameter schema of
alif_spice/params.py with the values of alif_spice/presets/paper.toml, and the metric
registry of alif_spice/metrics.py. Run it after changing any of these; tests/test_docs.py
fails while a committed page differs from what this writes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: page (relative to the repository root) -> name of its generator in alif_spice.reference
PAGES = {"docs/parameters.md": "parameter_reference", "docs/metrics.md": "metrics_page"}


def generate() -> dict[str, str]:
    """Every generated page: {path relative to the repository root: its text}."""
    from alif_spice import reference

    return {page: getattr(reference, name)() for page, name in PAGES.items()}


def stale(pages: dict[str, str] | None = None) -> list[str]:
    """The pages whose committed text differs from what :func:`generate` returns."""
    pages = generate() if pages is None else pages
    out = []
    for page, text in pages.items():
        path = ROOT / page
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            out.append(page)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="only check that the pages are current")
    args = parser.parse_args(argv)
    pages = generate()
    old = stale(pages)
    if args.check:
        for page in old:
            print(f"{page} is out of date: run python tools/gen_docs.py", file=sys.stderr)
        return 1 if old else 0
    for page in old:
        (ROOT / page).parent.mkdir(parents=True, exist_ok=True)
        (ROOT / page).write_text(pages[page], encoding="utf-8")
    for page in pages:
        print(f"{page}: {'written' if page in old else 'unchanged'}")
    return 0


if __name__ == "__main__":
    # document the source tree this script belongs to, not an installed copy
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
