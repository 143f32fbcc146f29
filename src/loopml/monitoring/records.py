"""Stored monitor runs: a row of headline figures each, the full JSON and HTML as blobs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select

from ..clock import now_ms
from ..errors import NotFound
from ..governance import audit
from ..ops import operation
from ..store import Store
from ..store.schema import monitor_alerts, monitor_reports, monitor_retrains
from ..tracking.artifacts import insert_blobs

if TYPE_CHECKING:
    from .monitor import MonitorRun


@dataclass(frozen=True)
class StoredReport:
    """A monitor run as listed: when, over which window, and its headline figures."""

    id: int
    deployment: str
    created_at: int
    window_start: int
    window_end: int
    rows: int
    labelled: int
    model: str
    reference: str
    dataset_drift: bool
    drift_share: float
    summary: dict[str, Any]
    blob: str
    html_blob: str | None

    @property
    def metrics(self) -> dict[str, float | None]:
        return dict(self.summary.get("metrics") or {})

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def save_run(store: Store, run: MonitorRun) -> int:
    """Store ``run`` (JSON and HTML blobs, one row, an audit event); sets ``run.id``."""
    # The JSON is written before the row exists, so it carries no id; readers add it.
    html = store.blobs.put_bytes(run.to_html(inline_plotly=False).encode("utf-8"))
    full = store.blobs.put_bytes(run.to_json(indent=None).encode("utf-8"))
    run.id = record_report(
        store,
        deployment=run.deployment,
        created_at=run.created_at or now_ms(),
        window_start=run.window_start,
        window_end=run.window_end,
        rows=run.rows,
        labelled=run.labelled,
        model=run.model,
        reference=run.reference,
        dataset_drift=run.data.dataset_drift,
        drift_share=run.data.drift_share,
        summary=json.loads(json.dumps(run.summary(), default=str)),
        blob=full.hash,
        blob_size=full.size,
        html_blob=html.hash,
        html_size=html.size,
        breaches=[breach["rule"] for breach in run.breaches],
    )
    return run.id


@operation("monitor.record_report", role="writer")
def record_report(
    store: Store,
    *,
    deployment: str,
    created_at: int,
    window_start: int,
    window_end: int,
    rows: int,
    labelled: int,
    model: str,
    reference: str,
    dataset_drift: bool,
    drift_share: float,
    summary: dict[str, Any],
    blob: str,
    blob_size: int,
    html_blob: str,
    html_size: int,
    breaches: list[str],
) -> int:
    """Record a monitor run whose JSON and HTML are stored blobs; returns its id."""
    with store.write() as connection:
        insert_blobs(connection, {html_blob: html_size, blob: blob_size}, now_ms())
        row = {
            "deployment": deployment,
            "created_at": created_at,
            "window_start": window_start,
            "window_end": window_end,
            "rows": rows,
            "labelled": labelled,
            "model": model,
            "reference": reference,
            "dataset_drift": dataset_drift,
            "drift_share": drift_share,
            "summary": json.dumps(summary, default=str),
            "blob": blob,
            "html_blob": html_blob,
        }
        report_id = int(
            connection.execute(insert(monitor_reports).values(**row)).inserted_primary_key[0]
        )
        audit.record(
            connection,
            actor=store.actor,
            action="monitor.report",
            object_type="deployment",
            object_id=deployment,
            after={
                "report": report_id,
                "model": model,
                "rows": rows,
                "dataset_drift": dataset_drift,
                "breaches": breaches,
            },
        )
    return report_id


@operation("monitor.reports", role="reader")
def list_reports(
    store: Store, deployment: str | None = None, *, limit: int = 50
) -> list[StoredReport]:
    """Stored runs, newest first."""
    query = select(monitor_reports).order_by(monitor_reports.c.id.desc()).limit(limit)
    if deployment is not None:
        query = query.where(monitor_reports.c.deployment == deployment)
    with store.read() as connection:
        return [_to_report(row) for row in connection.execute(query).all()]


@operation("monitor.latest_reports", role="reader")
def latest_reports(store: Store) -> list[StoredReport]:
    """The newest run of every deployment (what the gauges show)."""
    newest = (
        select(func.max(monitor_reports.c.id)).group_by(monitor_reports.c.deployment).subquery()
    )
    query = select(monitor_reports).where(monitor_reports.c.id.in_(select(newest)))
    with store.read() as connection:
        return [_to_report(row) for row in connection.execute(query).all()]


@operation("monitor.get_report", role="reader")
def get_report(store: Store, report_id: int) -> StoredReport:
    """Stored monitor run ``report_id``."""
    with store.read() as connection:
        row = connection.execute(
            select(monitor_reports).where(monitor_reports.c.id == report_id)
        ).first()
    if row is None:
        raise NotFound(f"no monitor report #{report_id}", hint="list them: loopml monitor reports")
    return _to_report(row)


def report_json(store: Store, report: StoredReport) -> dict[str, Any]:
    """The run's whole JSON, as :meth:`MonitorRun.to_dict` gave it, with its id and the
    alerts it raised (both are made after the JSON is written, so readers add them)."""
    alerts = report_alerts(store, report.id)
    return {**json.loads(store.blobs.read_bytes(report.blob)), "id": report.id, "alerts": alerts}


@operation("monitor.report_alerts", role="reader")
def report_alerts(store: Store, report_id: int) -> list[dict[str, Any]]:
    """The alerts monitor run ``report_id`` raised, oldest first."""
    from .alerts import Alert

    with store.read() as connection:
        rows = connection.execute(
            select(monitor_alerts)
            .where(monitor_alerts.c.report_id == report_id)
            .order_by(monitor_alerts.c.id)
        ).all()
    return [Alert(**row._mapping).to_dict() for row in rows]


@operation("monitor.counts", role="reader")
def monitor_counts(store: Store) -> tuple[dict[str, int], list[tuple[str, str, int]]]:
    """Alerts recorded per deployment, and retrains per deployment and status."""
    with store.read() as connection:
        alerts = connection.execute(
            select(monitor_alerts.c.deployment, func.count()).group_by(monitor_alerts.c.deployment)
        ).all()
        retrains = connection.execute(
            select(monitor_retrains.c.deployment, monitor_retrains.c.status, func.count()).group_by(
                monitor_retrains.c.deployment, monitor_retrains.c.status
            )
        ).all()
    return {name: count for name, count in alerts}, [tuple(row) for row in retrains]


def report_html(store: Store, report: StoredReport) -> bytes:
    """The run's self-contained page (stored without plotly.js, which goes back in)."""
    from .report_html import with_plotly

    if report.html_blob is None:
        raise NotFound(f"monitor report #{report.id} has no HTML page")
    page = store.blobs.read_bytes(report.html_blob).decode("utf-8")
    return with_plotly(page).encode("utf-8")


def _to_report(row: Any) -> StoredReport:
    data = dict(row._mapping)
    data["summary"] = json.loads(data["summary"])
    data["dataset_drift"] = bool(data["dataset_drift"])
    return StoredReport(**data)
