"""scikit-learn estimators and pipelines, pickled; called on a DataFrame when fitted on one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import Predictor, _pickling, class_modules

FILE = "model.pkl"


def matches(model: Any) -> bool:
    return any(module.startswith("sklearn.") for module in class_modules(model))


def save(model: Any, folder: Path, options: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    modules = _pickling.dump(model, folder / FILE)
    return {"file": FILE, "frame": hasattr(model, "feature_names_in_")}, modules


def load(folder: Path, settings: dict[str, Any]) -> Any:
    return _pickling.load(folder / settings["file"])


def predictor(model: Any, settings: dict[str, Any]) -> Predictor:
    proba = getattr(model, "predict_proba", None) if _has_proba(model) else None
    return Predictor(model.predict, proba, bool(settings.get("frame")))


def _has_proba(model: Any) -> bool:
    # Pipelines and some estimators expose predict_proba only when their last step has it;
    # hasattr is the check scikit-learn itself documents (available_if).
    try:
        return hasattr(model, "predict_proba")
    except Exception:
        return False
