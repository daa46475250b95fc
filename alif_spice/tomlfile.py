"""Reading TOML (parameter files, presets, comparison cases, sweep specifications): the one
place that picks the parser and turns its errors into one line naming the file."""

from __future__ import annotations

import sys
from typing import Any

from .errors import ParamError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def parse(data: str | bytes, source: str) -> dict[str, Any]:
    """The tables of TOML text (bytes are UTF-8, a byte-order mark allowed); invalid TOML
    or text raises :class:`ParamError` naming ``source``."""
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data.removeprefix("\ufeff")
        return tomllib.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ParamError(f"{source}: not valid TOML: {exc}") from None
