"""``/runs`` (search, sort, choose columns, page, select for comparison), ``/runs/{id}``
and ``/experiments``."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request

from ...data.versioning import run_inputs_of
from ...errors import FilterSyntaxError, InvalidInput
from ...store import Store
from ...tracking import get_run, list_artifacts, list_experiments
from ...tracking.entities import Run
from .. import arguments, charts, queries
from ..rendering import Page, url_with

DEFAULT_METRIC_COLUMNS = 4
DEFAULT_PARAM_COLUMNS = 3
RUN_VIEWS = ("active", "deleted", "all")
_PREFIXES = {"metrics": "metrics", "params": "params", "tags": "tags"}
_SORTABLE = ("run_name", "experiment", "status", "start_time", "duration")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_./:-]+$")


def runs(request: Request, store: Store) -> Page:
    """The runs the filter matches, one page of them, with the chosen metric, param and
    tag columns; a bad filter shows the page again with the error and a 400."""
    filter_text = arguments.text(request, "filter") or ""
    order_by = [term.strip() for term in request.query_params.getlist("order_by") if term.strip()]
    experiment = arguments.text(request, "experiment")
    view = arguments.choice(request, "view", RUN_VIEWS, "active")
    paging = arguments.paging(request)
    chosen = [_column(text) for text in arguments.items(request, "columns", "col")]
    keys = queries.run_keys(store)
    query = {
        "filter": filter_text,
        "order_by": order_by,
        "experiment": experiment,
        "view": view,
        "page": paging.page,
        "per_page": paging.per_page,
    }
    form = {**query, "available": keys, "chosen": [c["field"] for c in chosen]}
    try:
        found = queries.search_page(
            store,
            filter_text,
            order_by=order_by,
            experiment=experiment,
            view=view,  # type: ignore[arg-type]
            offset=paging.offset,
            limit=paging.per_page,
        )
    except FilterSyntaxError as exc:
        data = {**query, "total": 0, "runs": [], "columns": []}
        return Page(
            "runs.html.j2",
            "Runs",
            data,
            view={"form": form, "rows": [], "headers": [], "sorts": {}},
            section="/runs",
            error=exc,
        )
    columns = chosen or _default_columns(found.runs)
    pages = max(1, -(-found.total // paging.per_page))
    data = {
        **query,
        "total": found.total,
        "pages": pages,
        "columns": [c["field"] for c in columns],
        "runs": [run_summary(run) for run in found.runs],
        "next": url_with(request, page=paging.page + 1) if paging.page < pages else None,
        "previous": url_with(request, page=paging.page - 1) if paging.page > 1 else None,
    }
    rows = [{"run": run, "cells": [_cell(run, column) for column in columns]} for run in found.runs]
    headers = [
        {
            **column,
            "sort": _sort_links(request, field_name(column["prefix"], column["key"]), order_by),
        }
        for column in columns
    ]
    sorts = {term: _sort_links(request, term, order_by) for term in _SORTABLE}
    return Page(
        "runs.html.j2",
        "Runs",
        data,
        view={"form": form, "rows": rows, "headers": headers, "sorts": sorts},
        section="/runs",
    )


def run(request: Request, store: Store) -> Page:
    """One run: attributes, params, latest metrics with their histories, tags, the
    dataset versions it read and the files it logged."""
    found = get_run(store, request.path_params["run_id"])
    keys = sorted(found.metrics)
    histories = queries.metric_histories(store, [found.id], keys[:100], max_points=1000)
    chart_specs = {}
    for index, key in enumerate(keys[:100]):
        steps, values = histories.get(key, {}).get(found.id, ([], []))
        if len(steps) > 1:
            chart_specs[f"metric-{index}"] = charts.lines(
                [(key, steps, values)], x_title="step", y_title=key, height=220
            )
    artifacts = list_artifacts(store, found.id)
    data = {
        "run": {**run_summary(found), **_origin(found)},
        "inputs": run_inputs_of(store, found.id),
        "artifacts": [artifact.to_dict() for artifact in artifacts],
    }
    metric_rows = [
        {"key": key, "value": found.metrics[key], "chart": f"metric-{index}"}
        for index, key in enumerate(keys)
    ]
    return Page(
        "run.html.j2",
        f"Run {found.name}",
        data,
        view={"found": found, "metric_rows": metric_rows, "charts": chart_specs},
        section="/runs",
    )


def experiments(request: Request, store: Store) -> Page:
    """Every experiment with its number of runs, linking to its runs."""
    counts = queries.run_counts(store)
    found = [
        {**experiment.to_dict(), "runs": counts.get(experiment.id, 0)}
        for experiment in list_experiments(store)
    ]
    return Page(
        "experiments.html.j2", "Experiments", {"experiments": found}, section="/experiments"
    )


def run_summary(run: Run) -> dict[str, Any]:
    """What a table row or the JSON twin says about a run."""
    return {
        "id": run.id,
        "name": run.name,
        "experiment": run.experiment_name,
        "status": run.status,
        "user": run.user,
        "start_time": run.start_time,
        "end_time": run.end_time,
        "duration_ms": run.duration_ms,
        "parent_run_id": run.parent_run_id,
        "lifecycle_stage": run.lifecycle_stage,
        "metrics": run.metrics,
        "params": run.params,
        "tags": run.tags,
    }


def field_name(prefix: str, key: str) -> str:
    """``metrics.auc``, or ``metrics.`val loss``` when the key needs quoting."""
    return f"{prefix}.{key}" if _BARE_KEY.match(key) else f"{prefix}.`{key}`"


def _column(text: str) -> dict[str, str]:
    prefix, dot, key = text.partition(".")
    if not dot or prefix not in _PREFIXES or not key:
        raise InvalidInput(
            f"column {text!r} is not a metric, param or tag",
            hint="name columns as metrics.KEY, params.KEY or tags.KEY, e.g. col=metrics.auc",
        )
    key = key[1:-1] if len(key) > 1 and key[0] == key[-1] == "`" else key
    return {"prefix": prefix, "key": key, "field": f"{prefix}.{key}"}


def _default_columns(found: list[Run]) -> list[dict[str, str]]:
    """The first few metric and param keys of the runs on the page."""
    metric_keys = sorted({key for run in found for key in run.metrics})
    param_keys = sorted({key for run in found for key in run.params})
    return [
        {"prefix": "metrics", "key": key, "field": f"metrics.{key}"}
        for key in metric_keys[:DEFAULT_METRIC_COLUMNS]
    ] + [
        {"prefix": "params", "key": key, "field": f"params.{key}"}
        for key in param_keys[:DEFAULT_PARAM_COLUMNS]
    ]


def _cell(run: Run, column: dict[str, str]) -> Any:
    return getattr(run, column["prefix"]).get(column["key"])


def _sort_links(request: Request, term: str, order_by: list[str]) -> dict[str, Any]:
    """The link that sorts by ``term`` (descending first, then ascending) and whether
    the page is sorted by it now."""
    current = order_by[0] if order_by else ""
    descending = current == f"{term} desc"
    ascending = current in (term, f"{term} asc")
    flipped = f"{term} asc" if descending else f"{term} desc"
    return {
        "url": url_with(request, order_by=flipped, page=None),
        "state": "desc" if descending else "asc" if ascending else None,
    }


def _origin(run: Run) -> dict[str, Any]:
    return {
        "description": run.description,
        "source": run.source,
        "git_commit": run.git_commit,
        "git_dirty": run.git_dirty,
        "host": run.host,
        "python_version": run.python_version,
    }
