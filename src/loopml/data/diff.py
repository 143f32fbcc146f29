"""What changed between two versions of a dataset: files, and for tables the schema, the
row count and the statistics of every column (read from the stored profiles, so a diff
of two large tables reads no data)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import InvalidInput
from ..store import Store
from .entities import DatasetVersion
from .refs import parse_ref
from .versioning import get_version, manifest, version_profile

_NUMERIC_STATS = ("null_rate", "mean", "std", "min", "p50", "max")


@dataclass(frozen=True)
class FileChange:
    path: str
    change: str  # added | removed | changed
    old_size: int | None
    new_size: int | None


@dataclass(frozen=True)
class ColumnChange:
    column: str
    change: str  # added | removed | type
    old_type: str | None
    new_type: str | None


@dataclass(frozen=True)
class StatChange:
    column: str
    stat: str
    old: Any
    new: Any


@dataclass
class DatasetDiff:
    old: str
    new: str
    same_content: bool
    files: list[FileChange] = field(default_factory=list)
    columns: list[ColumnChange] = field(default_factory=list)
    rows: tuple[int, int] | None = None
    stats: list[StatChange] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def diff_versions(store: Store, old_ref: str, new_ref: str | None = None) -> DatasetDiff:
    """Compare ``old_ref`` with ``new_ref``: ``"@3"`` is a version of the same dataset;
    without ``new_ref`` a version is compared with the one before it."""
    new_version = get_version(store, old_ref)
    if new_ref is None:
        if new_version.parent_version is None:
            raise InvalidInput(
                f"{new_version.ref} is the first version: there is nothing before it",
                hint=f"compare two versions: loopml data diff {new_version.dataset}@1 @2",
            )
        old_version = get_version(store, f"{new_version.dataset}@{new_version.parent_version}")
    else:
        old_version = new_version
        other = f"{new_version.dataset}{new_ref}" if new_ref.startswith("@") else new_ref
        new_version = get_version(store, parse_ref(other))
    return _diff(store, old_version, new_version)


def _diff(store: Store, old: DatasetVersion, new: DatasetVersion) -> DatasetDiff:
    result = DatasetDiff(old.ref, new.ref, same_content=old.content_hash == new.content_hash)
    if result.same_content:
        return result
    result.files = _file_changes(store, old, new)
    if old.kind == "table" and new.kind == "table":
        result.columns = _column_changes(old, new)
        result.rows = (old.row_count or 0, new.row_count or 0)
        result.stats = _stat_changes(store, old, new)
    return result


def _file_changes(store: Store, old: DatasetVersion, new: DatasetVersion) -> list[FileChange]:
    if old.kind != "folder" or new.kind != "folder":
        name = (new.source or {}).get("name") or new.dataset
        return [FileChange(name, "changed", old.size, new.size)]
    before = {entry.path: entry for entry in manifest(store, old)}
    after = {entry.path: entry for entry in manifest(store, new)}
    changes = []
    for path in sorted(before.keys() | after.keys()):
        was, now = before.get(path), after.get(path)
        if was is None:
            changes.append(FileChange(path, "added", None, now.size))  # type: ignore[union-attr]
        elif now is None:
            changes.append(FileChange(path, "removed", was.size, None))
        elif was.hash != now.hash:
            changes.append(FileChange(path, "changed", was.size, now.size))
    return changes


def _column_changes(old: DatasetVersion, new: DatasetVersion) -> list[ColumnChange]:
    before, after = dict(old.columns or []), dict(new.columns or [])
    changes = [ColumnChange(c, "removed", before[c], None) for c in before if c not in after]
    changes += [ColumnChange(c, "added", None, after[c]) for c in after if c not in before]
    changes += [
        ColumnChange(c, "type", before[c], after[c])
        for c in before
        if c in after and before[c] != after[c]
    ]
    return changes


def _stat_changes(store: Store, old: DatasetVersion, new: DatasetVersion) -> list[StatChange]:
    before = version_profile(store, old).to_dict()["columns"]
    after = version_profile(store, new).to_dict()["columns"]
    changes = []
    for column in before.keys() & after.keys():
        was, now = _stats(before[column]), _stats(after[column])
        for stat in was.keys() | now.keys():
            if not _same(was.get(stat), now.get(stat)):
                changes.append(StatChange(column, stat, was.get(stat), now.get(stat)))
    order = list(after)
    return sorted(changes, key=lambda change: (order.index(change.column), change.stat))


def _stats(summary: dict[str, Any]) -> dict[str, Any]:
    if summary.get("kind") == "numeric":
        values = {stat: summary.get(stat) for stat in _NUMERIC_STATS if stat != "p50"}
        values["p50"] = (summary.get("quantiles") or {}).get("p50")
        return values
    values = {"null_rate": summary.get("null_rate"), "distinct": summary.get("distinct")}
    top = summary.get("top") or []
    values["top"] = top[0]["value"] if top else None
    return values


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b
