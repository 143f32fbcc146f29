"""Schemas attached to datasets, and checking new data against them.

A dataset may carry a schema (YAML, see ``schema.py``). ``loopml data add`` checks a new
table version against it before storing anything: errors refuse the version, unless the
caller accepts them (``warn_only``), in which case the anomalies are stored with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import select

from ..clock import now_ms
from ..errors import InvalidInput, ValidationFailed
from ..governance import audit
from ..ops import operation
from ..store import Store
from ..store.schema import datasets
from ..store.upsert import conflict_insert
from .formats import read_table, table_format, to_arrow
from .refs import check_dataset_name
from .schema import Schema
from .validation import ValidationReport, validate


def set_schema(store: Store, name: str, text: str, *, source: str = "schema.yaml") -> Schema:
    """Attach the schema in ``text`` to dataset ``name`` (created if new); audited."""
    check_dataset_name(name)
    schema = Schema.from_yaml(text, source=source)  # refuse a broken schema before storing
    attach_schema(store, name, text, source=source)
    return schema


@operation("data.attach_schema", role="writer")
def attach_schema(store: Store, name: str, text: str, *, source: str = "schema.yaml") -> None:
    """Store the schema text ``text`` as dataset ``name``'s (checked first); audited."""
    check_dataset_name(name)
    Schema.from_yaml(text, source=source)
    now = now_ms()
    with store.write() as connection:
        before = connection.execute(
            select(datasets.c.schema_yaml).where(datasets.c.name == name)
        ).first()
        statement = conflict_insert(connection, datasets)
        connection.execute(
            statement.values(
                name=name, schema_yaml=text, created_at=now, updated_at=now
            ).on_conflict_do_update(
                index_elements=["name"],
                set_={"schema_yaml": statement.excluded.schema_yaml, "updated_at": now},
            )
        )
        audit.record(
            connection,
            actor=store.actor,
            action="dataset.schema",
            object_type="dataset",
            object_id=name,
            before={"schema": before.schema_yaml} if before and before.schema_yaml else None,
            after={"schema": text},
        )


def attached_schema(store: Store, name: str) -> Schema | None:
    """The schema attached to dataset ``name``, or None."""
    text = schema_text(store, name)
    return Schema.from_yaml(text, source=f"the schema of dataset '{name}'") if text else None


@operation("data.schema_text", role="reader")
def schema_text(store: Store, name: str) -> str | None:
    """The YAML of the schema attached to dataset ``name``, or None."""
    with store.read() as connection:
        return connection.execute(
            select(datasets.c.schema_yaml).where(datasets.c.name == name)
        ).scalar_one_or_none()


def read_any_table(data: Any, *, name: str | None = None) -> pa.Table:
    """A table from a path (CSV, Parquet, JSONL) or a DataFrame / Arrow table."""
    if isinstance(data, str | Path):
        path = Path(data)
        fmt = table_format(path)
        if fmt is None:
            raise InvalidInput(
                f"{path} is not a table file", hint="validate a .csv, .parquet or .jsonl file"
            )
        if not path.is_file():
            from ..errors import NotFound

            raise NotFound(f"no file at {path}", hint="check the path")
        return read_table(path, fmt, name=name or str(path))
    return to_arrow(data, name=name or "the table")


def check_table(
    table: pa.Table, schema: Schema, *, name: str, warn_only: bool = False
) -> ValidationReport:
    """Validate ``table``; raise :class:`ValidationFailed` on errors unless ``warn_only``."""
    report = validate(table, schema)
    if report.errors and not warn_only:
        error = ValidationFailed(
            f"{name} breaks its schema: {len(report.errors)} error(s), first: "
            f"{report.errors[0].message}",
            hint="fix the data, edit the schema, or store it anyway with --warn-only",
            report=report.to_dict(),
        )
        error.report = report  # type: ignore[attr-defined] - for the CLI to print in full
        raise error
    return report
