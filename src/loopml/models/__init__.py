"""The model format: save any supported model with its signature and requirements, load it back.

>>> info = loopml.models.save(pipeline, "model", input_example=X[:5])  # doctest: +SKIP
>>> model = loopml.models.load("models:/churn@champion")  # doctest: +SKIP
>>> model.predict(frame)  # doctest: +SKIP

Flavors: scikit-learn (pipelines included), XGBoost, LightGBM, PyTorch (CPU), and
``custom`` for any object with ``predict(df)``. Loading checks every file's hash first.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput, NotFound
from .format import ModelInfo, save
from .signature import ColumnSpec, Signature, infer_signature

if TYPE_CHECKING:
    from .evaluation import Evaluation
    from .loaded import LoadedModel

__all__ = [
    "ColumnSpec",
    "ModelInfo",
    "Signature",
    "evaluate",
    "export_onnx",
    "infer_signature",
    "load",
    "load_model",
    "log_model",
    "save",
]


def load(uri: str | os.PathLike[str]) -> LoadedModel:
    """Load a model from a folder, ``models:/churn@champion``, ``models:/churn/7``,
    ``churn@champion`` or ``runs:/<run id>/model``; every file's hash is checked first."""
    from ..registry.refs import is_model_reference
    from .loaded import load_folder

    text = os.fspath(uri)
    path = Path(text)
    if path.is_dir():
        return load_folder(path, uri=text)
    if not is_model_reference(text):
        raise NotFound(
            f"no model at {text!r}",
            hint="pass a saved model folder, models:/NAME@ALIAS, models:/NAME/VERSION "
            "or runs:/RUN/model",
        )
    from ..registry.quick import cached_folder

    found = cached_folder(text)
    if found is None:
        from ..registry.cache import fetch
        from ..store import default_store

        found = fetch(default_store(), text)
    folder, canonical = found
    return load_folder(folder, uri=canonical)


load_model = load  # the name the top-level SDK exports: loopml.load_model(uri)


def log_model(
    model: Any,
    artifact_path: str = "model",
    *,
    input_example: Any = None,
    registered_name: str | None = None,
    **options: Any,
) -> ModelInfo:
    """Save ``model`` into the active run under ``artifact_path``; with ``registered_name``,
    also register it as that model's next version (``info.version``).

    ``options`` are those of :func:`save` (``flavor``, ``code_paths``, ``init_kwargs``...).
    """
    from ..tracking import artifacts as files
    from ..tracking.fluent import active_run

    run = active_run()
    if run is None:
        raise InvalidInput(
            "log_model needs an active run",
            hint="call it inside: with loopml.start_run(): ...",
        )
    staging = Path(tempfile.mkdtemp(prefix="loopml-model-"))
    try:
        info = save(model, staging / "model", input_example=input_example, **options)
        files.log_artifact(run.store, run.id, info.path, artifact_path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    uri = f"runs:/{run.id}/{artifact_path.strip('/')}"
    version = None
    if registered_name is not None:
        from ..registry import register

        version = register(run.store, uri, registered_name)
    return ModelInfo(
        Path(artifact_path),
        info.flavor,
        info.signature,
        info.requirements,
        info.manifest,
        uri,
        version,
    )


def evaluate(model: Any, data: Any, **options: Any) -> Evaluation:
    """Evaluate ``model`` on ``data`` (see :func:`loopml.models.evaluation.evaluate`)."""
    from .evaluation import evaluate as run_evaluation

    if isinstance(model, str | os.PathLike):
        model = load(model)
    if isinstance(data, str):
        from .. import data as datasets

        data = datasets.load(data)
    return run_evaluation(model, data, **options)


def export_onnx(model: Any, path: str | os.PathLike[str]) -> Path:
    """Write a scikit-learn model (or a loaded one) as ONNX with skl2onnx, where it can."""
    from .onnx import export

    return export(model, Path(path))
