"""Evaluations recorded on model versions: metrics, the full result and the HTML report.

An evaluation names the data it ran on: a dataset version (``customers@3``) or, for an
in-memory frame, the hash of its content, so two evaluations are comparable exactly
when they ran on the same data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select

from ..artifacts import BlobInfo
from ..clock import now_ms
from ..errors import InvalidInput
from ..governance import audit
from ..ops import operation
from ..store import Store
from ..store.schema import model_evaluations
from ..tracking.artifacts import insert_blobs
from .refs import ModelRef, check_model_name
from .versions import resolve_version


@dataclass(frozen=True)
class EvaluationRecord:
    id: int
    name: str
    version: int
    data_ref: str | None
    data_hash: str
    task: str
    target: str
    metrics: dict[str, float | None]
    result_blob: str
    report_blob: str | None
    created_by: str
    created_at: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class EvaluationData:
    """A frame to evaluate on, and how to name it: a dataset version or a content hash."""

    frame: Any
    ref: str | None
    hash: str


def resolve_data(store: Store, data: Any) -> EvaluationData:
    """A dataset reference (``customers@3``) or a DataFrame, as :class:`EvaluationData`."""
    if isinstance(data, str):
        from ..data.versioning import get_version, read_version_table

        version = get_version(store, data)
        if version.kind != "table":
            raise InvalidInput(
                f"dataset {version.dataset}@{version.version} is a {version.kind}, not a table",
                hint="evaluate on a CSV, Parquet or JSONL dataset version",
            )
        frame = read_version_table(store, version).to_pandas()
        return EvaluationData(frame, f"{version.dataset}@{version.version}", version.content_hash)
    frame = data.to_pandas() if hasattr(data, "to_pandas") and not hasattr(data, "iloc") else data
    if not hasattr(frame, "iloc"):
        raise InvalidInput(
            f"cannot evaluate on a {type(data).__name__}",
            hint="pass a dataset reference such as customers@3, or a DataFrame",
        )
    return EvaluationData(frame, None, frame_hash(frame))


def frame_hash(frame: Any) -> str:
    """A content hash of a DataFrame: its columns, dtypes and values, row order included."""
    import pandas as pd
    from blake3 import blake3

    hasher = blake3()
    hasher.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    hasher.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return hasher.hexdigest()


def record_evaluation(
    store: Store, name: str, version: int, evaluation: Any, data: EvaluationData
) -> EvaluationRecord:
    """Store ``evaluation`` on ``name/version``: its JSON result and HTML report as blobs."""
    result = json.dumps(evaluation.to_dict(), sort_keys=True).encode("utf-8")
    result_info = store.blobs.put_bytes(result)
    report_info = store.blobs.put_bytes(evaluation.to_html().encode("utf-8"))
    return save_evaluation(
        store,
        name,
        version,
        data_ref=data.ref,
        data_hash=data.hash,
        task=evaluation.task,
        target=evaluation.target,
        metrics=dict(evaluation.metrics),
        result=result_info,
        report=report_info,
    )


@operation("models.save_evaluation", role="writer")
def save_evaluation(
    store: Store,
    name: str,
    version: int,
    *,
    data_ref: str | None,
    data_hash: str,
    task: str,
    target: str,
    metrics: dict[str, float | None],
    result: BlobInfo,
    report: BlobInfo,
) -> EvaluationRecord:
    """Record an evaluation whose result and report are stored blobs; audited."""
    now = now_ms()
    with store.write() as connection:
        resolve_version(connection, ModelRef(check_model_name(name), version=version))
        insert_blobs(connection, {result.hash: result.size, report.hash: report.size}, now)
        row = {
            "name": name,
            "version": version,
            "data_ref": data_ref,
            "data_hash": data_hash,
            "task": task,
            "target": target,
            "metrics": json.dumps(metrics),
            "result_blob": result.hash,
            "report_blob": report.hash,
            "created_by": store.actor,
            "created_at": now,
        }
        new_id = connection.execute(insert(model_evaluations).values(**row)).inserted_primary_key[0]
        audit.record(
            connection,
            actor=store.actor,
            action="model.evaluate",
            object_type="model_version",
            object_id=f"{name}/{version}",
            after={"evaluation": new_id, "data": data_ref or data_hash[:16], "metrics": metrics},
        )
    return EvaluationRecord(id=int(new_id), **{**row, "metrics": metrics})


@operation("models.list_evaluations", role="reader")
def list_evaluations(store: Store, name: str, version: int | None = None) -> list[EvaluationRecord]:
    """Evaluations of a model (or one version), newest first."""
    check_model_name(name)
    with store.read() as connection:
        query = select(model_evaluations).where(model_evaluations.c.name == name)
        if version is not None:
            query = query.where(model_evaluations.c.version == version)
        rows = connection.execute(query.order_by(model_evaluations.c.id.desc())).all()
    return [
        EvaluationRecord(
            id=row.id,
            name=row.name,
            version=row.version,
            data_ref=row.data_ref,
            data_hash=row.data_hash,
            task=row.task,
            target=row.target,
            metrics=json.loads(row.metrics),
            result_blob=row.result_blob,
            report_blob=row.report_blob,
            created_by=row.created_by,
            created_at=row.created_at,
        )
        for row in rows
    ]


def evaluate_version(
    store: Store,
    ref: str,
    data: Any,
    *,
    target: str,
    task: str | None = None,
    sensitive: list[str] | tuple[str, ...] = (),
    train_data: Any = None,
) -> tuple[Any, EvaluationRecord]:
    """Evaluate a registered version on ``data`` and record the result on the version."""
    from ..models.evaluation import evaluate
    from ..models.loaded import load_folder
    from .cache import fetch
    from .versions import get_version

    version = get_version(store, ref)
    folder, uri = fetch(store, version.uri)
    model = load_folder(folder, uri=uri)
    resolved = resolve_data(store, data)
    train = resolve_data(store, train_data).frame if train_data is not None else None
    evaluation = evaluate(
        model, resolved.frame, target=target, task=task, sensitive=list(sensitive), train_data=train
    )
    return evaluation, record_evaluation(store, version.name, version.version, evaluation, resolved)
