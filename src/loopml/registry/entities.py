"""What the registry returns: registered models, versions, alias moves and promotions."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ModelVersion:
    """One numbered version of a registered model, with where it came from."""

    name: str
    version: int
    flavor: str | None
    source: str | None
    run_id: str | None
    manifest_blob: str | None
    signature: dict[str, Any] | None
    requirements: list[str]
    metrics: dict[str, float | None]
    lineage: dict[str, Any]
    status: str
    description: str | None
    user: str | None
    created_at: int
    aliases: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "uri": self.uri}


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    description: str | None
    created_at: int
    updated_at: int
    latest_version: int | None
    aliases: dict[str, int]
    tags: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AliasMove:
    """One change of an alias: set, deleted, or rolled back, by whom and why."""

    id: int
    name: str
    alias: str
    version: int | None
    previous_version: int | None
    action: str
    actor: str
    reason: str | None
    time: int
    undone_by: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Promotion:
    """A request to point an alias at a version, and what its gates found."""

    id: int
    name: str
    version: int
    alias: str
    status: str
    gates: list[str]
    report: dict[str, Any] | None
    data_ref: str | None
    reason: str | None
    requested_by: str
    requested_at: int
    decided_by: str | None
    decided_at: int | None

    @property
    def passed(self) -> bool:
        return bool(self.report and self.report.get("passed"))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}
