"""Any Python object with ``predict(df)``: the flavor that also covers TensorFlow and others.

The object is pickled with cloudpickle (classes from a notebook or script travel by
value). ``predict_proba`` is used when the object has it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import Predictor, _pickling

FILE = "model.pkl"


def matches(model: Any) -> bool:
    return callable(getattr(model, "predict", None))


def save(model: Any, folder: Path, options: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    modules = _pickling.dump(model, folder / FILE)
    return {"file": FILE, "frame": True}, modules


def load(folder: Path, settings: dict[str, Any]) -> Any:
    return _pickling.load(folder / settings["file"])


def predictor(model: Any, settings: dict[str, Any]) -> Predictor:
    proba = getattr(model, "predict_proba", None)
    return Predictor(model.predict, proba if callable(proba) else None, True)
