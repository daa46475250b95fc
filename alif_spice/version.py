"""The installed package's version (one place, importable without import cycles)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("alif-spice")
except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
    __version__ = "0+unknown"
