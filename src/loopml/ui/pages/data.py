"""``/datasets``, ``/datasets/{name}`` (versions), ``/datasets/{name}/{version}`` (schema,
profile, anomalies) and ``/datasets/{name}/diff?old=1&new=2``."""

from __future__ import annotations

import itertools
from typing import Any

from starlette.requests import Request

from ...data.checking import attached_schema
from ...data.diff import diff_versions
from ...data.entities import DatasetVersion
from ...data.profiling import DatasetProfile
from ...data.refs import check_dataset_name
from ...data.versioning import get_version, list_datasets, list_versions
from ...errors import InvalidInput
from ...store import Store
from .. import arguments, charts
from ..rendering import Page

HISTOGRAM_COLUMNS = 60
"""Columns of a profile drawn as charts; wider tables show the rest as figures only."""


def datasets(request: Request, store: Store) -> Page:
    found = [dataset.to_dict() for dataset in list_datasets(store)]
    return Page("datasets.html.j2", "Datasets", {"datasets": found}, section="/datasets")


def dataset(request: Request, store: Store) -> Page:
    name = check_dataset_name(request.path_params["name"])
    versions = list_versions(store, name)
    schema = attached_schema(store, name)
    rows = [v for v in versions if v.row_count is not None]
    chart_specs = {}
    if len(rows) > 1:
        ordered = list(reversed(rows))
        chart_specs["rows"] = charts.lines(
            [("rows", [v.version for v in ordered], [v.row_count for v in ordered])],
            x_title="version",
            y_title="rows",
            height=220,
            markers=True,
        )
    data = {
        "name": name,
        "versions": [_version_summary(v) for v in versions],
        "schema": schema.to_yaml() if schema is not None else None,
    }
    return Page(
        "dataset.html.j2",
        f"Dataset {name}",
        data,
        view={"charts": chart_specs},
        section="/datasets",
    )


def version(request: Request, store: Store) -> Page:
    name = check_dataset_name(request.path_params["name"])
    found = get_version(store, f"{name}@{request.path_params['version']}")
    profile = None
    chart_specs: dict[str, Any] = {}
    columns: list[dict[str, Any]] = []
    if found.profile_blob:  # stored with the version; a page never profiles data itself
        profiled = DatasetProfile.from_bytes(store.blobs.read_bytes(found.profile_blob))
        profile = profiled.to_dict()
        columns, chart_specs = _profile_view(profile)
    data = {"version": found.to_dict(), "profile": profile}
    view = {
        "found": found,
        "columns": columns,
        "charts": chart_specs,
        "parent": found.parent_version,
    }
    return Page("dataset_version.html.j2", found.ref, data, view=view, section="/datasets")


def diff(request: Request, store: Store) -> Page:
    """What changed from version ``old`` to ``new`` (default: the latest and the one
    before it): files, columns, rows and column statistics."""
    name = check_dataset_name(request.path_params["name"])
    versions = list_versions(store, name)  # names a missing dataset
    numbers = [v.version for v in versions]
    new = arguments.whole_number(request, "new", numbers[0] if numbers else 1)
    old_default = next((v for v in numbers if v < new), None)
    if old_default is None and arguments.text(request, "old") is None:
        raise InvalidInput(
            f"dataset '{name}' has no version before {new} to compare with",
            hint=f"choose two versions: /datasets/{name}/diff?old=1&new=2",
        )
    old = arguments.whole_number(request, "old", old_default or 1)
    result = diff_versions(store, f"{name}@{old}", f"@{new}")
    data = {"name": name, "old": old, "new": new, "diff": result.to_dict()}
    return Page(
        "dataset_diff.html.j2",
        f"{name}: version {old} → {new}",
        data,
        view={"numbers": numbers},
        section="/datasets",
    )


def _version_summary(found: DatasetVersion) -> dict[str, Any]:
    summary = found.to_dict()
    summary["column_count"] = len(found.columns) if found.columns is not None else None
    summary["anomaly_count"] = len(found.anomalies or [])
    return summary


def _profile_view(profile: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per column: its figures for the table and, for the first columns, a chart of its
    histogram (numbers, times) or of its most frequent values (text, booleans)."""
    columns = []
    chart_specs: dict[str, Any] = {}
    names = list(profile["columns"])
    if profile["missing_cells"]:
        chart_specs["missing"] = charts.bars(
            names,
            [100 * (profile["columns"][n]["null_rate"] or 0.0) for n in names],
            value_title="missing (%)",
            color="#d95f02",
            hover="%{y}: %{x:.2f}% missing",
        )
        chart_specs["missing"]["layout"]["xaxis"]["range"] = [0, 100]
    for index, (name, figures) in enumerate(profile["columns"].items()):
        chart_id = None
        if index < HISTOGRAM_COLUMNS:
            spec = _column_chart(figures)
            if spec is not None:
                chart_id = f"column-{index}"
                chart_specs[chart_id] = spec
        columns.append({"name": name, "figures": figures, "chart": chart_id})
    return columns, chart_specs


def _column_chart(figures: dict[str, Any]) -> dict[str, Any] | None:
    histogram = figures.get("histogram")
    if histogram:
        edges, counts = histogram["edges"], histogram["counts"]
        labels = [f"{low} to {high}" for low, high in itertools.pairwise(edges)]
        spec = charts.bars(labels, counts, horizontal=False, color="#1b9e77", hover="%{x}: %{y}")
        spec["layout"]["bargap"] = 0.02
        spec["layout"]["xaxis"]["showticklabels"] = False
        return spec
    top = figures.get("top")
    if top:
        return charts.bars(
            [str(entry["value"]) for entry in top],
            [entry["count"] for entry in top],
            value_title="rows",
            color="#7570b3",
            hover="%{y}: %{x}",
        )
    return None
