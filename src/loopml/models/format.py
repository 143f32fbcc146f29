"""The model format: a folder of files plus ``loopml-model.json``, which describes them.

    model/
      loopml-model.json   flavor, loader settings, signature, requirements, file hashes
      model.pkl           (or model.ubj, model.txt, state_dict.pt, model.torchscript.pt)
      input_example.json  the example the signature was inferred from
      requirements.txt    the pinned requirements, for pip

Every file is listed in the manifest with its BLAKE3 hash, and :func:`load_folder` checks
them all before anything is deserialised: a pickle is code, and a swapped one must never
run. Stored in the registry, the manifest itself is a blob whose hash the model version
row holds, so the chain of trust starts in the database.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from ..artifacts.hashing import hash_file
from ..clock import now_ms
from ..errors import AlreadyExists, IntegrityFailure, InvalidInput, NotFound
from .flavors import detect, flavor_module
from .requirements import local_modules, requirements_for
from .signature import Signature, as_frame, infer_signature, with_output

MANIFEST = "loopml-model.json"
FORMAT_VERSION = 1
EXAMPLE_FILE = "input_example.json"
REQUIREMENTS_FILE = "requirements.txt"
CODE_DIR = "code"
_HASH = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ModelInfo:
    """What :func:`save` wrote: where, which flavor, the signature and the requirements."""

    path: Path
    flavor: str
    signature: Signature | None
    requirements: list[str]
    manifest: dict[str, Any] = field(repr=False)
    uri: str | None = None
    """``runs:/<run id>/<path>`` after :func:`~loopml.models.log_model`."""
    version: Any = None
    """The :class:`~loopml.registry.ModelVersion` when ``log_model`` also registered it."""


def save(
    model: Any,
    path: str | os.PathLike[str],
    *,
    input_example: Any = None,
    flavor: str | None = None,
    code_paths: Sequence[str | os.PathLike[str]] = (),
    init_kwargs: dict[str, Any] | None = None,
    extra_requirements: Iterable[str] = (),
    metadata: dict[str, Any] | None = None,
) -> ModelInfo:
    """Save ``model`` into the new folder ``path``.

    The flavor is detected from the model's class unless given. With ``input_example``
    (a few rows of the training inputs), the signature is inferred and checked by running
    the model on it. ``code_paths`` are files or folders of your own code the model needs
    at load time; ``init_kwargs`` are a PyTorch module's constructor arguments.

    >>> info = loopml.models.save(pipeline, "model", input_example=X[:5])  # doctest: +SKIP
    """
    target = Path(path)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise AlreadyExists(
            f"cannot save a model to {target}: it exists and is not empty",
            hint="choose a new folder, or remove this one first",
        )
    name = flavor or detect(model)
    module = flavor_module(name)
    if flavor and not module.matches(model):
        raise InvalidInput(
            f"a {type(model).__qualname__} cannot be saved with the '{flavor}' flavor",
            hint="leave flavor out to detect it, or use flavor='custom' for any object "
            "with predict()",
        )
    staging = Path(
        tempfile.mkdtemp(
            prefix=".loopml-model-", dir=target.parent if target.parent.exists() else None
        )
    )
    try:
        settings, modules = module.save(model, staging, {"init_kwargs": init_kwargs})
        signature = None
        if input_example is not None:
            signature = _signature_from_example(model, module, settings, input_example, name)
            _write_example(staging / EXAMPLE_FILE, input_example)
        for code in code_paths:
            _copy_code(Path(code), staging / CODE_DIR)
        requirements = requirements_for(modules, _extra_tops(name))
        requirements += [line for line in extra_requirements if line not in requirements]
        (staging / REQUIREMENTS_FILE).write_text("\n".join(requirements) + "\n", "utf-8")
        manifest = {
            "format": FORMAT_VERSION,
            "flavor": name,
            "loader": settings,
            "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
            "signature": signature.to_dict() if signature else None,
            "requirements": requirements,
            "local_modules": local_modules(modules) if not code_paths else [],
            "python": platform.python_version(),
            "loopml_version": __version__,
            "created_at": now_ms(),
            "metadata": metadata or {},
            "files": _file_hashes(staging),
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True), "utf-8")
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ModelInfo(target, name, signature, requirements, manifest)


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of the model in ``folder``, or a clear error if it holds no model."""
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise InvalidInput(
            f"{folder} is not a loopml model: it has no {MANIFEST}",
            hint="save one with loopml.models.save(model, path) or log_model(...)",
        )
    try:
        manifest = json.loads(manifest_path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{manifest_path} cannot be read: {exc}") from None
    return check_manifest(manifest, str(folder))


def check_manifest(manifest: Any, where: str) -> dict[str, Any]:
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise InvalidInput(f"the model manifest in {where} is malformed", hint="save it again")
    if manifest.get("format", 0) > FORMAT_VERSION:
        raise InvalidInput(
            f"the model in {where} was saved by a newer loopml ({manifest.get('loopml_version')})",
            hint="upgrade loopml to load it",
        )
    flavor_module(str(manifest.get("flavor")))  # an unknown flavor is named here
    for name, entry in manifest["files"].items():
        parts = name.split("/") if isinstance(name, str) else [""]
        bad_name = name.startswith("/") or "\\" in name or any(p in ("", ".", "..") for p in parts)
        bad_entry = not isinstance(entry, dict) or not _HASH.fullmatch(str(entry.get("hash")))
        if bad_name or bad_entry:
            raise InvalidInput(
                f"the model manifest in {where} lists an unsafe or malformed file {name!r}",
                hint="file names must be relative paths inside the model folder; save it again",
            )
    return manifest


def verify_folder(folder: Path, manifest: dict[str, Any]) -> None:
    """Check every file the manifest lists against its hash; raise before anything loads."""
    for name, entry in sorted(manifest["files"].items()):
        path = folder / name
        if not path.is_file():
            raise NotFound(f"model file {name} is missing from {folder}", hint="save it again")
        if hash_file(path) != entry["hash"]:
            raise IntegrityFailure(
                f"model file {name} in {folder} does not match its hash: it was changed "
                "after the model was saved, so nothing was loaded",
                hint="restore the file or save the model again",
            )


def input_example(folder: Path) -> Any:
    """The stored input example as a DataFrame, or None."""
    import pandas as pd

    path = folder / EXAMPLE_FILE
    if not path.is_file():
        return None
    data = json.loads(path.read_text("utf-8"))
    return pd.DataFrame(data["data"], columns=data["columns"])


def _signature_from_example(
    model: Any, module: Any, settings: dict[str, Any], example: Any, flavor: str
) -> Signature:
    import numpy as np

    signature = infer_signature(example)
    frame = as_frame(example, None)
    predictor = module.predictor(model, settings)
    values = frame if predictor.wants_frame else frame.to_numpy()
    if flavor == "pytorch" and not isinstance(example, np.ndarray):
        values = frame.to_numpy()
    try:
        prediction = predictor.predict(values)
    except Exception as exc:
        raise InvalidInput(
            f"the model failed on its input example: {type(exc).__name__}: {exc}",
            hint="pass rows shaped like the training inputs (X_train[:5])",
        ) from exc
    return with_output(signature, prediction)


def _write_example(path: Path, example: Any) -> None:
    frame = as_frame(example, None).head(20)
    payload = json.loads(frame.to_json(orient="split", index=False, date_format="iso"))
    path.write_text(json.dumps(payload), "utf-8")


def _copy_code(source: Path, dest: Path) -> None:
    if not source.exists():
        raise NotFound(f"code path {source} does not exist", hint="check code_paths")
    dest.mkdir(exist_ok=True)
    if source.is_dir():
        shutil.copytree(
            source, dest / source.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    else:
        shutil.copy2(source, dest / source.name)


def _file_hashes(folder: Path) -> dict[str, dict[str, Any]]:
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        files[name] = {"hash": hash_file(path), "size": path.stat().st_size}
    return files


def _extra_tops(flavor: str) -> tuple[str, ...]:
    return {"pytorch": ("torch",), "xgboost": ("xgboost",), "lightgbm": ("lightgbm",)}.get(
        flavor, ()
    )
