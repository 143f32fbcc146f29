"""Model flavors: how each kind of model is written to files, read back and asked to predict.

Each flavor module offers ``matches(model)``, ``save(model, folder, options)`` returning
its loader settings and the modules its objects came from, ``load(folder, settings)``
returning the model, and ``predictor(model, settings)`` returning a :class:`Predictor`.
Detection goes through the class hierarchy's module names, so checking whether a model
is, say, a torch module never imports torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ...errors import InvalidInput

NAMES = ("pytorch", "xgboost", "lightgbm", "sklearn", "custom")


@dataclass(frozen=True)
class Predictor:
    """How to call a loaded model: on a DataFrame, or on its values as a numpy array."""

    predict: Callable[[Any], Any]
    predict_proba: Callable[[Any], Any] | None
    wants_frame: bool


def flavor_module(name: str) -> ModuleType:
    if name not in NAMES:
        raise InvalidInput(
            f"unknown model flavor '{name}'",
            hint=f"use one of: {', '.join(NAMES)}",
        )
    return importlib.import_module(f"{__name__}.{name}")


def detect(model: Any) -> str:
    """The flavor of ``model``: the first whose ``matches`` accepts it."""
    for name in NAMES:
        if flavor_module(name).matches(model):
            return name
    raise InvalidInput(
        f"cannot save a {type(model).__module__}.{type(model).__qualname__} as a model: "
        "it is not a scikit-learn, XGBoost, LightGBM or PyTorch model and has no predict()",
        hint="give the object a predict(df) method (the custom flavor saves any such object)",
    )


def class_modules(model: Any) -> list[str]:
    """The modules of every class in ``model``'s class hierarchy (no imports needed)."""
    return [getattr(cls, "__module__", "") or "" for cls in type(model).__mro__]


def class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def import_class(path: str) -> Any:
    module_name, _, qualname = path.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target
