"""A model's reference for monitoring: the data it learned from, and its answers on it.

Drift is a comparison, and the fair baseline for "what does this model see now" is what
it saw in training. A registered version knows the dataset versions its training run read
(``ModelVersion.lineage["datasets"]``); the reference is that table restricted to the
model's input columns, with the target (the column its evaluations name) and the model's
own predictions on it, so prediction drift and label drift have baselines too.

Computing it means reading the dataset and scoring it, so it is done once per model
version and dataset version (sampled to ``max_rows``) and kept as a Parquet blob; a
later monitor run reads the blob.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select

from ..clock import now_ms
from ..errors import InvalidInput, NotFound
from ..ops import operation
from ..store import Store
from ..store.schema import model_evaluations, monitor_references
from ..tracking.artifacts import insert_blobs

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from ..models.loaded import LoadedModel

MAX_ROWS = 200_000
"""Rows of the training data kept as the reference (a seeded sample above that)."""
_FORMAT = 1
_TARGET, _PREDICTION, _PROBA = "__target__", "__prediction__", "__proba__"


@dataclass
class Reference:
    """Inputs, target and the model's answers on the data ``model`` was trained on."""

    model: str  # churn/3
    dataset: str  # customers@2
    inputs: pd.DataFrame
    target: pd.Series | None
    predictions: np.ndarray
    proba: np.ndarray | None  # binary classifiers: the positive class's probability
    target_name: str | None = None


def load_version_model(store: Store, model: str) -> LoadedModel:
    """The model a version reference names, loaded from ``store``."""
    from ..models.loaded import load_folder
    from ..registry.cache import fetch

    folder, canonical = fetch(store, model if "/" in model else f"models:/{model}")
    return load_folder(folder, uri=canonical)


def positive_proba(model: LoadedModel, inputs: pd.DataFrame) -> np.ndarray | None:
    """The positive class's probability for a binary classifier, else None."""
    if not model.has_proba:
        return None
    proba = model.predict_proba(inputs)
    if proba.ndim != 2 or proba.shape[1] != 2:
        return None
    return proba[:, 1].astype(float)


def reference_for(
    store: Store,
    model: str,
    *,
    dataset: str | None = None,
    target: str | None = None,
    max_rows: int = MAX_ROWS,
    loaded: LoadedModel | None = None,
) -> Reference:
    """The reference of registered version ``model`` (``churn/3``), cached in ``store``.

    ``dataset`` overrides the training dataset found in the version's lineage; ``target``
    the target column its evaluations name.
    """
    from ..registry.versions import get_version

    version = get_version(store, model)
    name = f"{version.name}/{version.version}"
    loaded = loaded or load_version_model(store, f"models:/{name}")
    columns = loaded.signature.columns if loaded.signature else None
    if not columns:
        raise InvalidInput(
            f"model {name} has no input signature, so its inputs cannot be compared",
            hint="log the model with an input_example",
        )
    dataset = dataset or _training_dataset(store, version, columns)
    if target is None:
        target = evaluated_target(store, version.name, version.version)
    key = _key(name, dataset, target, max_rows)
    blob = reference_blob(store, key)
    if blob is not None:
        return _read(store, blob, name, dataset, columns, target)
    reference = _compute(store, loaded, name, dataset, columns, target, max_rows)
    _save(store, key, reference)
    return reference


def _training_dataset(store: Store, version: Any, columns: list[str]) -> str:
    from ..data.versioning import get_version as dataset_version

    read = list(version.lineage.get("datasets") or [])
    for ref in reversed(read):  # the newest first when one pipeline read several
        try:
            found = dataset_version(store, ref)
        except (NotFound, InvalidInput):
            continue
        names = {column[0] if isinstance(column, list | tuple) else column
                 for column in found.columns or []}  # fmt: skip
        if set(columns) <= names:
            return ref
    where = ", ".join(read) if read else "no registered dataset"
    raise InvalidInput(
        f"model {version.name}/{version.version} was trained on {where}, which does not hold "
        f"its input columns ({', '.join(columns[:6])}{'...' if len(columns) > 6 else ''})",
        hint="name the reference: --reference DATASET@VERSION (a table with those columns)",
    )


@operation("monitor.evaluated_target", role="reader")
def evaluated_target(store: Store, name: str, version: int) -> str | None:
    """The target column model version ``name/version``'s newest evaluation names."""
    with store.read() as connection:
        return connection.execute(
            select(model_evaluations.c.target)
            .where(model_evaluations.c.name == name, model_evaluations.c.version == version)
            .order_by(model_evaluations.c.created_at.desc())
            .limit(1)
        ).scalar()


@operation("monitor.reference_blob", role="reader")
def reference_blob(store: Store, key: str) -> str | None:
    """The blob of the reference computed under ``key``, if one was kept."""
    with store.read() as connection:
        return connection.execute(
            select(monitor_references.c.blob).where(monitor_references.c.key == key)
        ).scalar()


def _compute(
    store: Store,
    loaded: LoadedModel,
    name: str,
    dataset: str,
    columns: list[str],
    target: str | None,
    max_rows: int,
) -> Reference:
    from ..data.versioning import get_version as dataset_version
    from ..data.versioning import read_version_table

    version = dataset_version(store, dataset)
    if version.kind != "table":
        raise InvalidInput(f"dataset {dataset} is a {version.kind}, not a table")
    frame = read_version_table(store, version).to_pandas()
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise InvalidInput(
            f"dataset {dataset} lacks the model's input column(s) {', '.join(missing)}",
            hint="name a dataset version with the model's inputs: --reference DATASET@VERSION",
        )
    if target is None:
        target = _leftover_target(frame, columns)
    elif target not in frame.columns:
        target = None  # evaluated on another table: no label baseline here
    if len(frame) > max_rows:
        frame = frame.sample(max_rows, random_state=0)
    frame = frame.reset_index(drop=True)
    inputs = frame[columns]
    return Reference(
        model=name,
        dataset=dataset,
        inputs=inputs,
        target=frame[target] if target else None,
        predictions=loaded.predict(inputs),
        proba=positive_proba(loaded, inputs),
        target_name=target,
    )


def _leftover_target(frame: pd.DataFrame, columns: list[str]) -> str | None:
    """The one column besides the inputs that is not a row identifier, if there is one."""
    rest = [
        name
        for name in frame.columns
        if name not in columns and frame[name].nunique(dropna=True) < len(frame)
    ]
    return rest[0] if len(rest) == 1 else None


def _key(name: str, dataset: str, target: str | None, max_rows: int) -> str:
    from blake3 import blake3

    text = json.dumps([_FORMAT, name, dataset, target, max_rows])
    return blake3(text.encode()).hexdigest()


def _save(store: Store, key: str, reference: Reference) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(reference.inputs, preserve_index=False)
    if reference.target is not None:
        table = table.append_column(_TARGET, pa.array(reference.target.to_numpy()))
    table = table.append_column(_PREDICTION, pa.array(reference.predictions))
    if reference.proba is not None:
        table = table.append_column(_PROBA, pa.array(reference.proba))
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    info = store.blobs.put_bytes(buffer.getvalue())
    record_reference(
        store, key, model=reference.model, dataset=reference.dataset, blob=info.hash, size=info.size
    )


@operation("monitor.record_reference", role="writer")
def record_reference(
    store: Store, key: str, *, model: str, dataset: str, blob: str, size: int
) -> None:
    """Keep stored blob ``blob`` as the reference computed under ``key``."""
    with store.write() as connection:
        insert_blobs(connection, {blob: size}, now_ms())
        exists = connection.execute(
            select(monitor_references.c.key).where(monitor_references.c.key == key)
        ).scalar()
        if exists is None:  # two monitors computed it at once: either copy will do
            connection.execute(
                insert(monitor_references).values(
                    key=key, model=model, dataset=dataset, blob=blob, created_at=now_ms()
                )
            )


def _read(
    store: Store, blob: str, name: str, dataset: str, columns: list[str], target: str | None
) -> Reference:
    import pyarrow.parquet as pq

    with store.blobs.open(blob) as handle:
        frame = pq.read_table(handle).to_pandas()
    return Reference(
        model=name,
        dataset=dataset,
        inputs=frame[columns],
        target=frame[_TARGET] if _TARGET in frame.columns else None,
        predictions=frame[_PREDICTION].to_numpy(),
        proba=frame[_PROBA].to_numpy() if _PROBA in frame.columns else None,
        target_name=target,
    )
