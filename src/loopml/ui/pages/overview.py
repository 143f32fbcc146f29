"""``/``: how much of everything there is, what happened lately, and the way to each page."""

from __future__ import annotations

from starlette.requests import Request

from ...data.versioning import list_datasets
from ...monitoring.alerts import list_alerts
from ...monitoring.records import latest_reports
from ...pipelines.records import list_pipeline_runs
from ...registry import list_models
from ...serving.deployments import list_deployments
from ...store import Store
from ...tracking import list_experiments
from .. import queries
from ..rendering import Page
from .runs import run_summary

RECENT = 8


def overview(request: Request, store: Store) -> Page:
    runs = queries.search_page(store, limit=RECENT)
    events = queries.audit_page(store, limit=RECENT * 2)
    models = list_models(store)
    deployments = list_deployments(store)
    reports = latest_reports(store)
    counts = {
        "runs": runs.total,
        "experiments": len(list_experiments(store)),
        "datasets": len(list_datasets(store)),
        "models": len(models),
        "deployments": len(deployments),
        "drifting_deployments": sum(report.dataset_drift for report in reports),
        "audit_events": events.total,
    }
    data = {
        "counts": counts,
        "recent_runs": [run_summary(run) for run in runs.runs],
        "recent_pipeline_runs": [
            {
                "id": run.id,
                "pipeline": run.pipeline,
                "status": run.status,
                "start_time": run.start_time,
            }
            for run in list_pipeline_runs(store, limit=RECENT // 2)
        ],
        "models": [model.to_dict() for model in models[:RECENT]],
        "deployments": [
            {"name": d.name, "strategy": d.strategy, "revision": d.revision} for d in deployments
        ],
        "alerts": [alert.to_dict() for alert in list_alerts(store, limit=RECENT // 2)],
        "activity": [event.to_dict() for event in events.events],
    }
    return Page("overview.html.j2", "loopml", data, section="/")
