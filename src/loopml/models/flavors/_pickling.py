"""Pickle-based storage shared by the scikit-learn, LightGBM and custom flavors.

cloudpickle writes classes and functions defined in ``__main__`` (a notebook, a script)
by value, so a model built from them loads elsewhere; everything importable is written
by reference, as plain pickle does. The same pass notes every object's module, which is
where the model's requirements come from.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import cloudpickle


class _RecordingPickler(cloudpickle.Pickler):
    def __init__(self, file: Any) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.modules: set[str] = set()

    def persistent_id(self, obj: Any) -> None:
        module = getattr(type(obj), "__module__", None)
        if isinstance(module, str):
            self.modules.add(module)
        owner = getattr(obj, "__module__", None)
        if isinstance(owner, str) and (isinstance(obj, type) or callable(obj)):
            self.modules.add(owner)
        return None


def dump(model: Any, path: Path) -> set[str]:
    """Write ``model`` to ``path``; returns the modules of every object written."""
    with open(path, "wb") as out:
        pickler = _RecordingPickler(out)
        pickler.dump(model)
    modules = pickler.modules
    if "__main__" in modules:
        modules.add("cloudpickle")  # by-value objects need it to load
    return modules


def load(path: Path) -> Any:
    """Read a model written by :func:`dump` (only after its hash was checked)."""
    with open(path, "rb") as source:
        return pickle.load(source)
