"""numba's on-disk cache, made to notice a change in any compiled module of the package.

numba keys a cached function on its own source file only. Our kernels inline functions
from other modules (the ODE kernel calls the memristor's equations and the stimulus), so
after an edit of ``memristor.py`` alone numba would load the ODE kernel compiled from the
old equations. Importing this module (the compiled modules do, before their first
``@njit``) puts locators in front of numba's own: for this package's files they key the
cache on all of :data:`JIT_MODULES` together, and otherwise behave as numba's (the
``NUMBA_CACHE_DIR`` folder if set, else ``__pycache__`` beside the module, else, where that
is read-only, the user's cache folder). Other packages' functions are left to numba.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from numba.core import caching

HERE = Path(__file__).resolve().parent
#: the modules with compiled functions that may inline one another
JIT_MODULES = ("memristor.py", "stimulus.py", "ode.py")


@functools.lru_cache(maxsize=None)
def package_stamp() -> str:
    """SHA-256 over the sources of :data:`JIT_MODULES` (read once per process)."""
    h = hashlib.sha256()
    for name in JIT_MODULES:
        h.update(name.encode() + b"\0" + (HERE / name).read_bytes() + b"\0")
    return h.hexdigest()


def _ours(py_file: str) -> bool:
    try:
        return Path(py_file).resolve().parent == HERE
    except OSError:
        return False


def _keyed(base: type) -> type:
    """``base`` (a numba locator class) restricted to this package, stamped with the package."""

    class Locator(base):  # type: ignore[misc, valid-type]
        def get_source_stamp(self):
            return (super().get_source_stamp(), package_stamp())

        @classmethod
        def from_function(cls, py_func, py_file):
            if not _ours(py_file):
                return None
            return super().from_function(py_func, py_file)

    Locator.__name__ = Locator.__qualname__ = f"AlifSpice{base.__name__.lstrip('_')}"
    return Locator


def _install() -> None:
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl")
    names = ("UserProvidedCacheLocator", "InTreeCacheLocator", "UserWideCacheLocator")
    bases = [getattr(caching, n, None) or getattr(caching, "_" + n) for n in names]
    if any(getattr(c, "_alif_spice", False) for c in impl._locator_classes):
        return
    ours = []
    for base in bases:
        cls = _keyed(base)
        cls._alif_spice = True
        ours.append(cls)
    impl._locator_classes[:0] = ours


_install()
