"""A loaded model: one interface whatever the flavor (``predict``, ``predict_proba``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from .flavors import Predictor, flavor_module
from .format import CODE_DIR, input_example, read_manifest, verify_folder
from .signature import Signature, as_frame


class LoadedModel:
    """A model read back from its folder, checked against its signature on every call."""

    def __init__(
        self,
        raw: Any,
        predictor: Predictor,
        manifest: dict[str, Any],
        path: Path,
        uri: str | None = None,
    ) -> None:
        self.raw = raw
        """The underlying model object (a scikit-learn pipeline, a torch module...)."""
        self.manifest = manifest
        self.path = path
        self.uri = uri
        self.flavor: str = manifest["flavor"]
        self.requirements: list[str] = list(manifest.get("requirements") or [])
        self.signature: Signature | None = (
            Signature.from_dict(manifest["signature"]) if manifest.get("signature") else None
        )
        self._predictor = predictor

    def __repr__(self) -> str:
        where = self.uri or str(self.path)
        return f"LoadedModel(flavor={self.flavor!r}, source={where!r})"

    @property
    def has_proba(self) -> bool:
        return self._predictor.predict_proba is not None

    @property
    def predictor(self) -> Predictor:
        """How the flavor calls the model; a server uses it to skip per-call DataFrames."""
        return self._predictor

    def predict(self, data: Any) -> Any:
        """Predictions for ``data`` (DataFrame, dict of columns, records or 2-D array)."""
        import numpy as np

        return np.asarray(self._predictor.predict(self._inputs(data)))

    def predict_proba(self, data: Any) -> Any:
        """Class probabilities, for models that have them."""
        import numpy as np

        if self._predictor.predict_proba is None:
            raise InvalidInput(
                f"this {self.flavor} model has no predict_proba",
                hint="use predict(), or a classifier that estimates probabilities",
            )
        return np.asarray(self._predictor.predict_proba(self._inputs(data)))

    def input_example(self) -> Any:
        """The input example saved with the model, as a DataFrame (or None)."""
        return input_example(self.path)

    def _inputs(self, data: Any) -> Any:
        frame = self.signature.conform(data) if self.signature else as_frame(data, None)
        if len(frame) == 0:
            raise InvalidInput("no rows to predict on", hint="pass at least one row")
        return frame if self._predictor.wants_frame else frame.to_numpy()


def load_folder(folder: Path, uri: str | None = None) -> LoadedModel:
    """Load the model saved in ``folder`` after checking every file's hash."""
    manifest = read_manifest(folder)
    verify_folder(folder, manifest)
    code = folder / CODE_DIR
    if code.is_dir() and str(code) not in sys.path:
        sys.path.insert(0, str(code))
    module = flavor_module(manifest["flavor"])
    try:
        raw = module.load(folder, manifest["loader"])
    except ModuleNotFoundError as exc:
        raise InvalidInput(
            f"the model needs module '{exc.name}', which is not installed here",
            hint="install its requirements: pip install -r " + str(folder / "requirements.txt"),
        ) from None
    return LoadedModel(raw, module.predictor(raw, manifest["loader"]), manifest, folder, uri)
