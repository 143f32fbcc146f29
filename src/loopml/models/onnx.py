"""ONNX export for scikit-learn models, through skl2onnx, where it supports the model.

ONNX lets a model run without Python (ONNX Runtime in C++, Java, a browser). Not every
estimator converts; the error says which part skl2onnx refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InvalidInput


def export(model: Any, path: Path, example: Any = None) -> Path:
    """Write ``model`` (a scikit-learn estimator or a loaded sklearn-flavor model) to ``path``."""
    from .loaded import LoadedModel

    if isinstance(model, LoadedModel):
        if model.flavor != "sklearn":
            raise InvalidInput(
                f"ONNX export covers scikit-learn models; this one is {model.flavor}",
                hint="export it with its own library's ONNX converter",
            )
        example = model.input_example() if example is None else example
        model = model.raw
    if not any(c.__module__.startswith("sklearn.") for c in type(model).__mro__):
        raise InvalidInput(f"ONNX export covers scikit-learn models, not {type(model).__name__}")
    if example is None:
        raise InvalidInput(
            "ONNX export needs an input example to fix the input types",
            hint="save the model with input_example=X[:5], or pass example=",
        )
    try:
        import numpy as np
        from skl2onnx import to_onnx
    except ImportError:
        raise InvalidInput(
            "ONNX export needs skl2onnx", hint="pip install 'loopml[onnx]'"
        ) from None
    values = example.to_numpy() if hasattr(example, "to_numpy") else np.asarray(example)
    if values.dtype.kind in "biuf":
        values = values.astype(np.float32)
    try:
        onnx_model = to_onnx(model, values[:1], target_opset=None)
    except Exception as exc:  # skl2onnx raises many types for unsupported parts
        raise InvalidInput(
            f"skl2onnx cannot convert this {type(model).__name__}: {exc}",
            hint="keep the model in loopml's format, or convert the unsupported step by hand",
        ) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(onnx_model.SerializeToString())
    return path
