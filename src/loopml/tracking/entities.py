"""What tracking returns: experiments, runs and metric points, as plain frozen dataclasses."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Final

RUNNING: Final = "RUNNING"
FINISHED: Final = "FINISHED"
FAILED: Final = "FAILED"
KILLED: Final = "KILLED"
RUN_STATUSES: Final = (RUNNING, FINISHED, FAILED, KILLED)
TERMINAL_STATUSES: Final = (FINISHED, FAILED, KILLED)

ACTIVE: Final = "active"
DELETED: Final = "deleted"
DEFAULT_EXPERIMENT: Final = "Default"


@dataclass(frozen=True)
class Experiment:
    id: int
    name: str
    description: str | None
    lifecycle_stage: str
    created_at: int
    updated_at: int
    tags: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Run:
    """A tracked execution with its params, latest metric values and tags."""

    id: str
    experiment_id: int
    experiment_name: str
    name: str
    status: str
    lifecycle_stage: str
    user: str
    start_time: int
    end_time: int | None
    parent_run_id: str | None = None
    description: str | None = None
    source: str | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None
    git_diff_hash: str | None = None
    host: str | None = None
    pid: int | None = None
    python_version: str | None = None
    environment: dict[str, Any] | None = None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def duration_ms(self) -> int | None:
        return None if self.end_time is None else self.end_time - self.start_time

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MetricPoint:
    key: str
    value: float
    step: int
    timestamp: int


@dataclass(frozen=True)
class ArtifactEntry:
    """One file logged to a run: its path in the run, blob hash, size and media type."""

    path: str
    hash: str
    size: int
    media_type: str | None
    created_at: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
