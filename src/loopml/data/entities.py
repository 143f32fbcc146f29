"""What the data package returns: datasets and their immutable versions."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class DatasetVersion:
    """One immutable snapshot of a dataset."""

    dataset: str
    version: int
    kind: str
    """``file``, ``folder`` or ``table``."""
    format: str | None
    content_hash: str
    blob: str
    size: int
    file_count: int
    row_count: int | None
    columns: list[tuple[str, str]] | None
    """For tables: (name, Arrow type) per column."""
    parent_version: int | None
    author: str
    message: str | None
    source: dict[str, Any] | None
    created_at: int
    profile_blob: str | None = None
    anomalies: list[dict[str, Any]] | None = None
    tags: list[str] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.dataset}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str | None
    latest: int | None
    versions: int
    created_at: int
    updated_at: int
    has_schema: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AddResult:
    version: DatasetVersion
    created: bool
    """False when the content equals the latest version's: nothing new was stored."""
