"""Stored monitor runs: a row of headline figures each, the full JSON and HTML as blobs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select

from ..clock import now_ms
from ..errors import NotFound
from ..governance import audit
from ..store import Store
from ..store.schema import monitor_alerts, monitor_reports
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
    with store.write() as connection:
        insert_blobs(connection, {html.hash: html.size, full.hash: full.size}, now_ms())
        row = {
            "deployment": run.deployment,
            "created_at": run.created_at or now_ms(),
            "window_start": run.window_start,
            "window_end": run.window_end,
            "rows": run.rows,
            "labelled": run.labelled,
            "model": run.model,
            "reference": run.reference,
            "dataset_drift": run.data.dataset_drift,
            "drift_share": run.data.drift_share,
            "summary": json.dumps(run.summary(), default=str),
            "blob": full.hash,
            "html_blob": html.hash,
        }
        run.id = int(
            connection.execute(insert(monitor_reports).values(**row)).inserted_primary_key[0]
        )
        audit.record(
            connection,
            actor=store.actor,
            action="monitor.report",
            object_type="deployment",
            object_id=run.deployment,
            after={
                "report": run.id,
                "model": run.model,
                "rows": run.rows,
                "dataset_drift": run.data.dataset_drift,
                "breaches": [breach["rule"] for breach in run.breaches],
            },
        )
    return run.id


def list_reports(
    store: Store, deployment: str | None = None, *, limit: int = 50
) -> list[StoredReport]:
    """Stored runs, newest first."""
    query = select(monitor_reports).order_by(monitor_reports.c.id.desc()).limit(limit)
    if deployment is not None:
        query = query.where(monitor_reports.c.deployment == deployment)
    with store.read() as connection:
        return [_to_report(row) for row in connection.execute(query).all()]


def latest_reports(store: Store) -> list[StoredReport]:
    """The newest run of every deployment (what the gauges show)."""
    newest = (
        select(func.max(monitor_reports.c.id)).group_by(monitor_reports.c.deployment).subquery()
    )
    query = select(monitor_reports).where(monitor_reports.c.id.in_(select(newest)))
    with store.read() as connection:
        return [_to_report(row) for row in connection.execute(query).all()]


def get_report(store: Store, report_id: int) -> StoredReport:
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
    from .alerts import Alert

    with store.read() as connection:
        rows = connection.execute(
            select(monitor_alerts)
            .where(monitor_alerts.c.report_id == report.id)
            .order_by(monitor_alerts.c.id)
        ).all()
    alerts = [Alert(**row._mapping).to_dict() for row in rows]
    return {**json.loads(store.blobs.read_bytes(report.blob)), "id": report.id, "alerts": alerts}


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
