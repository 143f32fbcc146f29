"""Datasets: immutable, content-addressed versions of files, folders and tables.

>>> import loopml.data
>>> loopml.data.add("customers", "exports/customers.csv", message="March")  # doctest: +SKIP
>>> frame = loopml.data.load("customers@1")  # doctest: +SKIP

Inside an active run, ``load`` records the version the run read (lineage).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..errors import InvalidInput
from .entities import AddResult, Dataset, DatasetVersion

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from .profiling import DatasetProfile
    from .schema import Schema
    from .sources import Snapshot
    from .validation import ValidationReport

__all__ = [
    "AddResult",
    "Dataset",
    "DatasetVersion",
    "add",
    "datasets",
    "from_sql",
    "from_url",
    "get",
    "load",
    "profile",
    "show",
    "tag",
    "validate",
    "versions",
]


def add(name: str, data: Any, *, message: str | None = None, warn_only: bool = False) -> AddResult:
    """Add a file, a folder, or a pandas/polars/Arrow table as the next version of ``name``.

    Content equal to the latest version's makes no new version (``result.created`` is
    False). Files unchanged since they were last hashed are not read again. A table is
    checked against the dataset's schema, if it has one: a version that breaks it raises
    :class:`~loopml.errors.ValidationFailed`, unless ``warn_only`` stores it with its
    anomalies.
    """
    from .versioning import add as add_version

    return add_version(_store(), name, data, message=message, warn_only=warn_only)


def from_sql(query: str, db: str) -> Snapshot:
    """A snapshot of ``query``'s result on database ``db`` (PostgreSQL, MySQL/MariaDB or
    SQLite, opened read-only), to add:

    >>> snapshot = loopml.data.from_sql("SELECT * FROM orders", url)  # doctest: +SKIP
    >>> loopml.data.add("orders", snapshot)  # doctest: +SKIP
    """
    from .sources import from_sql as snapshot

    return snapshot(query, db)


def from_url(url: str) -> Snapshot:
    """A snapshot of an HTTP API's JSON or CSV answer, to add (its exact bytes are kept)."""
    from .sources import from_url as snapshot

    return snapshot(url)


def load(ref: str, *, output: Literal["pandas", "arrow"] = "pandas") -> pd.DataFrame | pa.Table:
    """A table version as a DataFrame (``"customers"``, ``"customers@3"``, ``"customers@gold"``).

    Inside an active run, the run records that it read this version.
    """
    from ..tracking.fluent import active_run
    from .reads import note_read, pin_for
    from .versioning import get_version, read_version_table, record_input

    store = _store()
    version = get_version(store, pin_for(ref))
    note_read(ref, version.dataset, version.version)
    table = read_version_table(store, version)
    run = active_run()
    if run is not None:
        record_input(store, run.id, version)
    return table if output == "arrow" else table.to_pandas()


def get(ref: str, dest: str | Path) -> list[Path]:
    """Write the exact bytes of a version under folder ``dest``; returns the files written.

    Inside a pipeline step the version read joins the step's cache key, as with ``load``.
    """
    from .reads import note_read, pin_for
    from .versioning import get_version, materialize

    store = _store()
    version = get_version(store, pin_for(ref))
    note_read(ref, version.dataset, version.version)
    return materialize(store, version, dest)


def show(ref: str) -> DatasetVersion:
    from .versioning import get_version

    return get_version(_store(), ref)


def profile(ref: str) -> DatasetProfile:
    """The profile of a table version: per column counts, nulls, moments, quantiles,
    distinct counts and top values, mergeable (``.merge``) and viewable (``.save_html``)."""
    from .versioning import get_version, version_profile

    store = _store()
    return version_profile(store, get_version(store, ref))


def validate(
    data: Any,
    *,
    dataset: str | None = None,
    schema: str | Path | Schema | None = None,
    raise_on_errors: bool = True,
) -> ValidationReport:
    """Check a table (path, DataFrame or Arrow table) against a schema: the one attached
    to ``dataset``, or ``schema`` (a :class:`Schema` or a YAML file). Usable as a step:
    errors raise :class:`~loopml.errors.ValidationFailed` unless ``raise_on_errors`` is
    False; the report lists every anomaly either way.
    """
    from .checking import attached_schema, check_table, read_any_table
    from .schema import Schema as SchemaType
    from .validation import validate as run_checks

    if (dataset is None) == (schema is None):
        raise InvalidInput("pass exactly one of dataset= or schema=")
    if dataset is not None:
        rules = attached_schema(_store(), dataset)
        if rules is None:
            raise InvalidInput(
                f"dataset '{dataset}' has no schema",
                hint=f"attach one: loopml data schema set {dataset} schema.yaml",
            )
    elif isinstance(schema, SchemaType):
        rules = schema
    else:
        path = Path(schema)  # type: ignore[arg-type]
        rules = SchemaType.from_yaml(path.read_text(encoding="utf-8"), source=str(path))
    table = read_any_table(data)
    if raise_on_errors:
        return check_table(
            table, rules, name=str(data) if isinstance(data, str | Path) else "the table"
        )
    return run_checks(table, rules)


def versions(name: str) -> list[DatasetVersion]:
    """Every version of dataset ``name``, newest first."""
    from .versioning import list_versions

    return list_versions(_store(), name)


def datasets() -> list[Dataset]:
    from .versioning import list_datasets

    return list_datasets(_store())


def tag(ref: str, name: str) -> DatasetVersion:
    """Point tag ``name`` at version ``ref`` (``loopml.data.load("customers@gold")``)."""
    from .versioning import tag_version

    return tag_version(_store(), ref, name)


def _store():  # -> Store; SQLAlchemy loads with the first call, not with the import
    from ..store import default_store

    return default_store()
