"""A monitor run as one self-contained page: the verdicts and alerts, performance over
time (realised where labels arrived, estimated where not), prediction and label drift,
then the input columns' drift report it extends (:mod:`.report_html`).

Every chart is drawn from aggregates (ten time buckets, ten deciles, twenty categories
at most), so the page stays the same size whatever the window's row count.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..html_charts import chart_layout
from .report_html import distribution_chart, report_html

if TYPE_CHECKING:
    from .monitor import MonitorRun

_REALISED, _ESTIMATED = "#1b9e77", "#7570b3"


def monitor_html(run: MonitorRun, *, inline_plotly: bool = True) -> str:
    summary = run.to_dict()
    charts: dict[str, Any] = {}
    if run.performance or run.estimated:
        charts["performance"] = _performance_chart(run)
    for name in ("prediction_drift", "label_drift"):
        if summary[name] is not None:
            charts[name] = distribution_chart(summary[name]["bins"])
    return report_html(
        run.data,
        f"Monitoring {run.deployment}: {run.model} against {run.reference}",
        run=summary,
        run_charts=charts,
        run_window=f"{_iso(run.window_start)} to {_iso(run.window_end)}",
        inline_plotly=inline_plotly,
    )


def _performance_chart(run: MonitorRun) -> dict[str, Any]:
    metric = "mae" if run.task == "regression" else "f1"
    traces = []
    realised = [p for p in run.performance if (p.get("metrics") or {}).get(metric) is not None]
    if realised:
        traces.append(_trace("realised " + metric, realised, metric, _REALISED))
    estimated = [p for p in run.estimated if (p.get("metrics") or {}).get(metric) is not None]
    if estimated:
        traces.append(_trace("estimated " + metric + " (CBPE)", estimated, metric, _ESTIMATED))
    return {
        "data": traces,
        "layout": chart_layout(
            height=300,
            yaxis={"title": metric},
            legend={"orientation": "h", "y": 1.12},
        ),
    }


def _trace(name: str, points: list[dict[str, Any]], metric: str, color: str) -> dict[str, Any]:
    return {
        "type": "scatter",
        "mode": "lines+markers",
        "name": name,
        "x": [point["end"] for point in points],
        "y": [point["metrics"][metric] for point in points],
        "line": {"color": color},
    }


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
