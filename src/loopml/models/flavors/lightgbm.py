"""LightGBM: the scikit-learn API (LGBMClassifier...) pickled, a Booster in its text format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import Predictor, _pickling, class_modules

PICKLE_FILE = "model.pkl"
BOOSTER_FILE = "model.txt"


def matches(model: Any) -> bool:
    return any(module.startswith("lightgbm") for module in class_modules(model))


def save(model: Any, folder: Path, options: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    if type(model).__name__ == "Booster":
        model.save_model(str(folder / BOOSTER_FILE))
        return {"file": BOOSTER_FILE, "booster": True, "frame": True}, {"lightgbm"}
    modules = _pickling.dump(model, folder / PICKLE_FILE)
    return {"file": PICKLE_FILE, "booster": False, "frame": True}, modules


def load(folder: Path, settings: dict[str, Any]) -> Any:
    if settings.get("booster"):
        import lightgbm

        return lightgbm.Booster(model_file=str(folder / settings["file"]))
    return _pickling.load(folder / settings["file"])


def predictor(model: Any, settings: dict[str, Any]) -> Predictor:
    proba = None if settings.get("booster") else getattr(model, "predict_proba", None)
    return Predictor(model.predict, proba, True)
