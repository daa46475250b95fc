"""numba's on-disk cache, made to notice a change in any compiled module of the package.

numba keys a cached function on its own source file only. Our kernels inline functions
from other modules (the ODE kernel calls the memristor's equations and the stimulus), so
after an edit of ``memristor.py`` alone numba would load the ODE kernel compiled from the
old equations. Importing this module (the compiled modules do, before their first
``@njit``) puts locators in front of numba's own: for this package's files they key the
cache on all of :data:`JIT_MODULES` together, and otherwise behave as numba's (the
``NUMBA_CACHE_DIR`` folder if set, else ``__pycache__`` beside the module, else, where that
is read-only, the user's cache folder). Other packages' functions are left to numba.

The first compilation in a process is announced on stderr when stderr is a terminal
(compiling takes 10-40 s; later runs load the kernels from the cache in well under 1 s).
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
from pathlib import Path

from numba.core import caching

HERE = Path(__file__).resolve().parent
#: the modules with compiled functions that may inline one another (and the device
#: registry, whose kernel arm numbers the ODE kernel compiles in)
JIT_MODULES = ("memristor.py", "stimulus.py", "ode.py", "devices.py")


def package_stamp() -> str:
    """SHA-256 over the sources of :data:`JIT_MODULES`, read again when one of them changes
    (its modification time or size, as numba does for a function's own file)."""
    stats = tuple((name, st.st_mtime_ns, st.st_size) for name in JIT_MODULES for st in [os.stat(HERE / name)])
    return _hash_sources(stats)


@functools.lru_cache(maxsize=None)
def _hash_sources(stats: tuple) -> str:
    h = hashlib.sha256()
    for name, _, _ in stats:
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
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl")  # noqa: B009 (older numba)
    names = ("UserProvidedCacheLocator", "InTreeCacheLocator", "UserWideCacheLocator")
    bases = [getattr(caching, n, None) or getattr(caching, "_" + n) for n in names]
    if any(getattr(c, "_alif_spice", False) for c in impl._locator_classes):
        return
    ours = []
    for base in bases:
        cls = _keyed(base)
        setattr(cls, "_alif_spice", True)  # noqa: B010
        ours.append(cls)
    impl._locator_classes[:0] = ours


#: the line a person watching (a terminal, a notebook) sees when the kernels are compiled (once, then cached)
COMPILE_NOTICE = ("alif-spice: compiling the numerical kernels once (10-40 s); "
                  "later runs load them from the cache")


def _someone_watching() -> bool:
    """A person reads stderr as it comes: a terminal, or a notebook (Jupyter's kernel shows
    stderr under the cell). Pipes and log files get no notice: scripts parse them."""
    try:
        if sys.stderr is None:
            return False
        return sys.stderr.isatty() or "ipykernel" in sys.modules
    except (OSError, ValueError):
        return False


def _announce_compiles() -> None:
    from numba.core import event

    class Notice(event.Listener):
        said = False

        def on_start(self, ev) -> None:
            dispatcher = ev.data.get("dispatcher") if isinstance(ev.data, dict) else None
            code = getattr(getattr(dispatcher, "py_func", None), "__code__", None)
            if self.said or code is None or not _ours(code.co_filename):
                return
            Notice.said = True
            if _someone_watching():
                print(COMPILE_NOTICE, file=sys.stderr, flush=True)

        def on_end(self, ev) -> None:
            pass

    event.register("numba:compile", Notice())


_install()
_announce_compiles()
