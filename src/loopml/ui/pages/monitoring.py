"""``/monitoring`` (every deployment's drift over time, the newest reports, alerts),
``/monitoring/{deployment}`` (drift per feature and performance over time) and
``/monitoring/reports/{id}`` (one report: each feature's distributions side by side)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from starlette.requests import Request

from ...errors import InvalidInput, NotFound
from ...monitoring.alerts import list_alerts
from ...monitoring.records import (
    StoredReport,
    get_report,
    latest_reports,
    list_reports,
    report_json,
)
from ...serving.deployments import check_deployment_name, list_deployments
from ...store import Store
from .. import arguments, charts
from ..rendering import Page

REPORTS = 200
"""Reports drawn over time per deployment (the newest)."""
FEATURE_CHARTS = 40
PERFORMANCE_METRICS = ("accuracy", "f1", "roc_auc", "mae", "rmse", "r2")


def monitoring(request: Request, store: Store) -> Page:
    newest = sorted(latest_reports(store), key=lambda report: report.deployment)
    reports = list_reports(store, limit=REPORTS * max(1, len(newest)))
    by_deployment: dict[str, list[StoredReport]] = defaultdict(list)
    for report in reversed(reports):
        by_deployment[report.deployment].append(report)
    chart_specs = {}
    if reports:
        chart_specs["drift"] = charts.lines(
            [
                (name, [r.window_end for r in found], [r.drift_share for r in found])
                for name, found in sorted(by_deployment.items())
            ],
            x_title="window end (UTC)",
            y_title="share of features drifted",
            dates=True,
            markers=True,
            height=280,
        )
    alerts = list_alerts(store, limit=50)
    data = {
        "latest": [_report_summary(report) for report in newest],
        "alerts": [alert.to_dict() for alert in alerts],
    }
    return Page(
        "monitoring.html.j2",
        "Monitoring",
        data,
        view={"charts": chart_specs},
        section="/monitoring",
    )


def deployment(request: Request, store: Store) -> Page:
    name = check_deployment_name(request.path_params["deployment"])
    found = list(reversed(list_reports(store, name, limit=REPORTS)))
    if not found and name not in {d.name for d in list_deployments(store)}:
        raise NotFound(
            f"deployment '{name}' does not exist",
            hint="see the monitored deployments on /monitoring",
        )
    feature = arguments.text(request, "feature")
    times = [report.window_end for report in found]
    chart_specs: dict[str, Any] = {}
    features = sorted({key for r in found for key in r.summary.get("feature_statistics", {})})
    if feature is not None and feature not in features:
        raise NotFound(
            f"no report of '{name}' tested feature '{feature}'",
            hint=f"its features: {', '.join(features) or 'none yet'}",
        )
    shown = [feature] if feature else features[:FEATURE_CHARTS]
    if found:
        chart_specs["drift"] = charts.lines(
            [("drift share", times, [r.drift_share for r in found])],
            x_title="window end (UTC)",
            y_title="share of features drifted",
            dates=True,
            markers=True,
            height=240,
        )
        chart_specs["features"] = charts.lines(
            [
                (key, times, [r.summary.get("feature_statistics", {}).get(key) for r in found])
                for key in shown
            ],
            x_title="window end (UTC)",
            y_title="drift statistic",
            dates=True,
            markers=True,
        )
        performance = [
            key for key in PERFORMANCE_METRICS if any(r.metrics.get(key) is not None for r in found)
        ]
        if performance:
            chart_specs["performance"] = charts.lines(
                [(key, times, [r.metrics.get(key) for r in found]) for key in performance],
                x_title="window end (UTC)",
                y_title="performance",
                dates=True,
                markers=True,
                height=260,
            )
    alerts = list_alerts(store, name, limit=50)
    data = {
        "deployment": name,
        "feature": feature,
        "features": features,
        "reports": [_report_summary(report) for report in reversed(found)],
        "alerts": [alert.to_dict() for alert in alerts],
    }
    return Page(
        "monitoring_deployment.html.j2",
        f"Monitoring {name}",
        data,
        view={"charts": chart_specs},
        section="/monitoring",
    )


def report(request: Request, store: Store) -> Page:
    text = request.path_params["report_id"]
    if not text.isdigit():
        raise InvalidInput(f"monitor report id must be a number, not {text!r}")
    found = get_report(store, int(text))
    full = report_json(store, found)
    drift = full.get("data") or {}
    chart_specs: dict[str, Any] = {}
    ranking = drift.get("ranking") or []
    if ranking:
        chart_specs["ranking"] = charts.bars(
            [entry["feature"] for entry in ranking],
            [entry["score"] for entry in ranking],
            value_title="drift × importance",
            colors=["#d95f02" if e["drift_detected"] else charts.COLORS[0] for e in ranking],
        )
    features = []
    for index, (column, result) in enumerate((drift.get("features") or {}).items()):
        chart_id = None
        bins = result.get("bins") or {}
        if bins.get("labels") and index < FEATURE_CHARTS:
            chart_id = f"feature-{index}"
            chart_specs[chart_id] = charts.grouped_bars(
                bins["labels"],
                [
                    ("reference", _percents(bins.get("reference"))),
                    ("current", _percents(bins.get("current"))),
                ],
                value_title="% of rows",
            )
        features.append({**result, "column": column, "chart": chart_id})
    performance = full.get("performance") or []
    keys = [
        k for k in PERFORMANCE_METRICS if any(k in (p.get("metrics") or {}) for p in performance)
    ]
    if performance and keys:
        chart_specs["performance"] = charts.lines(
            [
                (
                    key,
                    [str(p["start"])[:23].replace("T", " ") for p in performance],
                    [p["metrics"].get(key) for p in performance],
                )
                for key in keys
            ],
            x_title="time (UTC)",
            markers=True,
            height=240,
        )
    data = {"report": _report_summary(found), "full": full}
    view = {"features": features, "charts": chart_specs, "full_report": full}
    return Page(
        "monitor_report.html.j2",
        f"Monitor report #{found.id}",
        data,
        view=view,
        section="/monitoring",
    )


def _percents(shares: list[float | None] | None) -> list[float | None]:
    return [None if share is None else 100 * share for share in shares or []]


def _report_summary(report: StoredReport) -> dict[str, Any]:
    return {
        "id": report.id,
        "deployment": report.deployment,
        "created_at": report.created_at,
        "window_start": report.window_start,
        "window_end": report.window_end,
        "rows": report.rows,
        "labelled": report.labelled,
        "model": report.model,
        "reference": report.reference,
        "dataset_drift": report.dataset_drift,
        "drift_share": report.drift_share,
        "drifted": report.summary.get("drifted", []),
        "breaches": report.summary.get("breaches", []),
        "metrics": report.metrics,
    }
