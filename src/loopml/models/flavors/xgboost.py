"""XGBoost in its own binary JSON format (UBJSON), for the scikit-learn API and Boosters.

The native format, unlike a pickle, loads in later XGBoost versions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import Predictor, class_modules, class_path, import_class

FILE = "model.ubj"


def matches(model: Any) -> bool:
    return any(module.startswith("xgboost") for module in class_modules(model))


def save(model: Any, folder: Path, options: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    model.save_model(str(folder / FILE))
    booster = type(model).__name__ == "Booster"
    return {"file": FILE, "class": class_path(type(model)), "booster": booster}, {"xgboost"}


def load(folder: Path, settings: dict[str, Any]) -> Any:
    cls = import_class(settings["class"])
    if settings.get("booster"):
        return cls(model_file=str(folder / settings["file"]))
    model = cls()
    model.load_model(str(folder / settings["file"]))
    return model


def predictor(model: Any, settings: dict[str, Any]) -> Predictor:
    if settings.get("booster"):
        import xgboost

        def predict(frame: Any) -> Any:
            return model.predict(xgboost.DMatrix(frame))

        return Predictor(predict, None, True)
    return Predictor(model.predict, getattr(model, "predict_proba", None), True)
