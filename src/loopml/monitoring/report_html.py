"""The drift report as one self-contained HTML page: verdicts first, then each column's
two distributions side by side, then data quality.

Charts are drawn from the per-bin shares the drift tests computed (ten deciles, or at
most twenty categories per column), so the page's size does not grow with the rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..html_charts import chart_labels, chart_layout, report_template

if TYPE_CHECKING:
    from .report import MonitorReport

_REFERENCE, _CURRENT = "#7570b3", "#d95f02"


def report_html(report: MonitorReport, title: str = "Drift report") -> str:
    import plotly.offline

    summary = report.to_dict()
    ranked = sorted(
        summary["features"].items(),
        key=lambda item: (not item[1]["drift_detected"], -_strength(item[1])),
    )
    charts = {
        f"feature-{index}": _distribution_chart(result["bins"])
        for index, (_, result) in enumerate(ranked, start=1)
    }
    return report_template(
        "loopml.monitoring", "report.html.j2", filters={"percent": _percent}
    ).render(
        title=title,
        report=summary,
        ranked=ranked,
        charts=charts,
        plotly_js=plotly.offline.get_plotlyjs(),
    )


def _strength(result: dict[str, Any]) -> float:
    """How far past (or short of) its threshold a column is, comparable across tests."""
    threshold = result["threshold"] or 1.0
    if result["p_value"] is not None:
        return threshold / max(result["p_value"], 1e-300)
    return (result["statistic"] or 0.0) / threshold


def _distribution_chart(bins: dict[str, list[Any]]) -> dict[str, Any]:
    labels = chart_labels([str(label) for label in bins.get("labels", [])])
    return {
        "data": [
            {
                "type": "bar",
                "name": "reference",
                "x": labels,
                "y": bins.get("reference", []),
                "marker": {"color": _REFERENCE},
            },
            {
                "type": "bar",
                "name": "current",
                "x": labels,
                "y": bins.get("current", []),
                "marker": {"color": _CURRENT},
            },
        ],
        "layout": chart_layout(
            barmode="group",
            height=260,
            yaxis={"title": "share of rows", "tickformat": ".0%"},
            legend={"orientation": "h", "y": 1.1},
        ),
    }


def _percent(value: Any) -> str:
    return "—" if value is None else f"{value:.1%}"
