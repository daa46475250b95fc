"""HTML and Markdown pages (the comparison report, the sweep summary) from the Jinja2
templates in ``alif_spice/templates/``: one HTML skeleton and style for every page, values
escaped by the template engine (HTML) and formatted by the filters below."""

from __future__ import annotations

import base64
from pathlib import Path

import jinja2

from .units import format_quantity


def number(value) -> str:
    """A table cell: "n/a" for None, 4 significant digits for a float."""
    return "n/a" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def precise(value) -> str:
    """A parameter or swept value: 10 significant digits (a fine grid's points stay apart),
    "auto" for None (a designed hardware value), a word as is."""
    if value is None:
        return "auto"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)  # numpy scalars
        except (TypeError, ValueError):
            return str(value)
    return f"{value:.10g}"


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode()


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("alif_spice", "templates"), undefined=jinja2.StrictUndefined,
        autoescape=jinja2.select_autoescape(["html.j2"], default_for_string=False, default=False),
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["num"] = number
    env.filters["precise"] = precise
    env.filters["quantity"] = format_quantity
    env.filters["data_uri"] = _data_uri
    return env


_ENV: jinja2.Environment | None = None


def render(template: str, **context) -> str:
    """The page ``templates/<template>`` rendered with ``context``."""
    global _ENV
    if _ENV is None:
        _ENV = _environment()
    return _ENV.get_template(template).render(**context)
