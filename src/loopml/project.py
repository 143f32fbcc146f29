"""The project file ``loopml.yaml``: the problem a project solves, stated as data.

It names the task, the target column and the objective metric with its business
threshold. Promotion gates and monitoring policies read their defaults from here, so
"is this model good enough?" is answered the same way everywhere.

.. code-block:: yaml

    name: churn
    task: classification
    target: churned
    objective:
      metric: roc_auc
      threshold: 0.8
      direction: maximize
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from .errors import InvalidInput

Task = Literal["classification", "regression", "ranking", "forecasting", "other"]
TASKS: tuple[str, ...] = ("classification", "regression", "ranking", "forecasting", "other")
DEFAULT_METRIC = {"classification": "roc_auc", "regression": "rmse", "ranking": "ndcg"}
LOWER_IS_BETTER = {"rmse", "mae", "mse", "log_loss", "mape", "loss"}


@dataclass(frozen=True)
class Objective:
    metric: str
    threshold: float | None = None
    direction: Literal["maximize", "minimize"] = "maximize"


@dataclass(frozen=True)
class Project:
    name: str
    task: Task = "classification"
    target: str | None = None
    objective: Objective = field(default_factory=lambda: Objective("roc_auc"))
    store: dict[str, str] = field(default_factory=dict)
    """Optional ``db_url`` / ``artifacts_url`` for the whole team; env variables win."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if not data["store"]:
            del data["store"]
        return data


def make_project(
    name: str,
    *,
    task: str = "classification",
    target: str | None = None,
    metric: str | None = None,
    threshold: float | None = None,
    direction: str | None = None,
) -> Project:
    """Build a validated :class:`Project`; picks a metric and direction from the task."""
    if task not in TASKS:
        raise InvalidInput(f"task '{task}' is not known", hint=f"use one of: {', '.join(TASKS)}")
    metric = metric or DEFAULT_METRIC.get(task, "score")
    direction = direction or ("minimize" if metric in LOWER_IS_BETTER else "maximize")
    if direction not in ("maximize", "minimize"):
        raise InvalidInput(
            f"objective direction '{direction}' is not known", hint="use maximize or minimize"
        )
    return Project(
        name=name,
        task=task,  # type: ignore[arg-type]
        target=target,
        objective=Objective(metric, threshold, direction),  # type: ignore[arg-type]
    )


def save_project(project: Project, path: Path) -> None:
    import yaml

    path.write_text(yaml.safe_dump(project.to_dict(), sort_keys=False), encoding="utf-8")


def load_project(path: Path) -> Project:
    """Read and validate ``loopml.yaml``; errors name the file and the offending key."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{path} is not valid YAML: {exc}", hint="fix the file") from None
    if not isinstance(data, dict) or "name" not in data:
        raise InvalidInput(f"{path} must be a mapping with at least a 'name' key")
    objective = data.get("objective") or {}
    if not isinstance(objective, dict):
        raise InvalidInput(f"{path}: 'objective' must be a mapping with 'metric'")
    project = make_project(
        str(data["name"]),
        task=data.get("task", "classification"),
        target=data.get("target"),
        metric=objective.get("metric"),
        threshold=objective.get("threshold"),
        direction=objective.get("direction"),
    )
    store = data.get("store") or {}
    unknown = set(store) - {"db_url", "artifacts_url"}
    if unknown:
        raise InvalidInput(
            f"{path}: unknown store setting(s) {sorted(unknown)}",
            hint="the store section accepts db_url and artifacts_url",
        )
    return Project(
        project.name,
        project.task,
        project.target,
        project.objective,
        {k: str(v) for k, v in store.items()},
    )
