"""Experiment tracking: experiments, runs, params, metrics, tags, artifacts and search.

The functions here are the service operations; each takes a :class:`~loopml.store.Store`
first. The SDK's ``loopml.start_run`` and friends (``fluent.py``) call them on the
default store.
"""

from .artifacts import download_artifacts, list_artifacts, log_artifact, log_bytes, read_artifact
from .entities import (
    FAILED,
    FINISHED,
    KILLED,
    RUNNING,
    ArtifactEntry,
    Experiment,
    MetricPoint,
    Run,
)
from .experiments import create_experiment, get_experiment, list_experiments
from .metrics import get_metric_history, log_metrics
from .runs import (
    create_run,
    delete_run,
    delete_tag,
    get_run,
    log_params,
    restore_run,
    set_run_status,
    set_tags,
)
from .search import search_runs

__all__ = [
    "FAILED",
    "FINISHED",
    "KILLED",
    "RUNNING",
    "ArtifactEntry",
    "Experiment",
    "MetricPoint",
    "Run",
    "create_experiment",
    "create_run",
    "delete_run",
    "delete_tag",
    "download_artifacts",
    "get_experiment",
    "get_metric_history",
    "get_run",
    "list_artifacts",
    "list_experiments",
    "log_artifact",
    "log_bytes",
    "log_metrics",
    "log_params",
    "read_artifact",
    "restore_run",
    "search_runs",
    "set_run_status",
    "set_tags",
]
