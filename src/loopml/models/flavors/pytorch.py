"""PyTorch on the CPU: a module class plus its state dict, or a TorchScript module.

A state dict is loaded with ``weights_only=True``, which cannot run code; the module is
rebuilt from its class (which must be importable where the model loads) and the
constructor arguments given when saving. TorchScript carries its own code.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from ...errors import InvalidInput
from . import Predictor, class_modules, class_path, import_class

STATE_FILE = "state_dict.pt"
SCRIPT_FILE = "model.torchscript.pt"


def matches(model: Any) -> bool:
    return any(module.startswith("torch.") for module in class_modules(model))


def save(model: Any, folder: Path, options: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    import torch

    if isinstance(model, torch.jit.ScriptModule):
        torch.jit.save(model, str(folder / SCRIPT_FILE))
        return {"file": SCRIPT_FILE, "script": True}, {"torch"}
    cls = type(model)
    init_kwargs = dict(options.get("init_kwargs") or {})
    if cls.__module__ == "__main__":
        raise InvalidInput(
            f"the module class {cls.__qualname__} is defined in __main__, "
            "so it cannot be imported where the model loads",
            hint="move the class into a module, or save torch.jit.script(model)",
        )
    try:
        inspect.signature(cls).bind(**init_kwargs)
    except TypeError as exc:
        raise InvalidInput(
            f"{cls.__qualname__}(**init_kwargs) cannot be called: {exc}",
            hint="pass the constructor's arguments: save(model, path, init_kwargs={...})",
        ) from None
    torch.save(model.state_dict(), str(folder / STATE_FILE))
    settings = {"file": STATE_FILE, "script": False, "class": class_path(cls), "init": init_kwargs}
    return settings, {"torch", cls.__module__}


def load(folder: Path, settings: dict[str, Any]) -> Any:
    import torch

    path = str(folder / settings["file"])
    if settings.get("script"):
        model = torch.jit.load(path, map_location="cpu")
    else:
        model = import_class(settings["class"])(**settings.get("init", {}))
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    model.eval()
    return model


def predictor(model: Any, settings: dict[str, Any]) -> Predictor:
    import numpy as np
    import torch

    def predict(values: Any) -> Any:
        tensor = torch.tensor(np.asarray(values, dtype=np.float32))  # a copy: may be read-only
        with torch.no_grad():
            out = model(tensor).numpy()
        return out[:, 0] if out.ndim == 2 and out.shape[1] == 1 else out

    return Predictor(predict, None, False)
