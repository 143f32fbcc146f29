"""Pinned requirements of a model, from the modules its objects come from, with no subprocess.

MLflow guesses requirements by loading the model in a child process and watching what it
imports (about 3 s). The model's own object graph says the same thing directly: pickling
it visits every object, and each object's class names its module. Those modules map to
installed distributions; each is pinned to the installed version, together with what it
requires itself (scikit-learn brings numpy, scipy, joblib, threadpoolctl), and loopml,
numpy and pandas, which loading needs.
"""

from __future__ import annotations

import importlib.metadata
import io
import pickle
import re
import sys
from collections.abc import Iterable
from typing import Any

from .. import __version__

_ALWAYS = ("numpy", "pandas")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


class ModuleRecorder(pickle.Pickler):
    """A pickler that notes the module of every object and global it writes."""

    def __init__(self, file: Any, protocol: int = pickle.HIGHEST_PROTOCOL) -> None:
        super().__init__(file, protocol=protocol)
        self.modules: set[str] = set()

    def persistent_id(self, obj: Any) -> None:
        module = getattr(type(obj), "__module__", None)
        if module:
            self.modules.add(module)
        if isinstance(obj, type) or callable(obj):
            owner = getattr(obj, "__module__", None)
            if isinstance(owner, str):
                self.modules.add(owner)
        return None


class _Discard(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return len(data)


def modules_of(model: Any) -> set[str]:
    """The modules of every object reachable from ``model`` (walked by pickling to nowhere)."""
    recorder = ModuleRecorder(_Discard())
    try:
        recorder.dump(model)
    except Exception:  # an unpicklable model still names its own class's module
        recorder.modules.add(type(model).__module__)
    return recorder.modules


def requirements_for(modules: Iterable[str], extra: Iterable[str] = ()) -> list[str]:
    """Pinned requirement lines (``name==version``) for ``modules``, sorted by name.

    Modules from the standard library or from no installed distribution (the project's
    own code) are left out; :func:`local_modules` lists the latter.
    """
    from ..tracking.environment import _installed

    owners, versions = _installed()
    wanted: dict[str, str] = {}
    for top in sorted(_top_levels(modules) | set(_ALWAYS) | set(extra)):
        for dist in owners.get(top, ()):
            _add_with_requirements(dist, versions, wanted)
    wanted.pop("loopml", None)
    lines = [f"{name}=={version}" for name, version in wanted.items()]
    lines.append(f"loopml=={__version__}")
    return sorted(lines, key=lambda line: _canonical(line.partition("==")[0]))


def local_modules(modules: Iterable[str]) -> list[str]:
    """Modules that no installed distribution provides: code that must travel with the model."""
    from ..tracking.environment import _installed

    owners, _ = _installed()
    return sorted(
        name
        for name in _top_levels(modules)
        if name not in owners and name != "__main__" and name in sys.modules
    )


def _top_levels(modules: Iterable[str]) -> set[str]:
    stdlib = sys.stdlib_module_names
    tops = set()
    for module in modules:
        top = module.partition(".")[0]
        if top and top not in stdlib and not top.startswith("_") and top != "builtins":
            tops.add(top)
    return tops


def _add_with_requirements(dist: str, versions: dict[str, str], wanted: dict[str, str]) -> None:
    """Pin ``dist`` and, one level down, the distributions it requires unconditionally."""
    if dist in wanted or dist not in versions:
        return
    wanted[dist] = versions[dist]
    try:
        requires = importlib.metadata.requires(dist) or []
    except importlib.metadata.PackageNotFoundError:
        return
    by_canonical = {_canonical(name): name for name in versions}
    for line in requires:
        if ";" in line and not _marker_holds(line.split(";", 1)[1]):
            continue
        match = _NAME.match(line)
        if not match:
            continue
        name = by_canonical.get(_canonical(match.group(1)))
        if name and name not in wanted:
            wanted[name] = versions[name]


def _marker_holds(marker: str) -> bool:
    """Whether an environment marker holds here; ``extra == ...`` markers never do."""
    if "extra" in marker:
        return False
    try:
        from packaging.markers import Marker
    except ImportError:  # without packaging, conditional requirements are left out
        return False
    return Marker(marker).evaluate()


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()
