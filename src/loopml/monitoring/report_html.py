"""The drift report as one self-contained HTML page: verdicts first, then the drift that
matters most to the model (the ranking: a bar chart and a table with the bins that moved
most), each column's two distributions side by side, then data quality.

Charts are drawn from the per-bin shares the drift tests computed (ten deciles, or at
most twenty categories per column), so the page's size does not grow with the rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..html_charts import chart_labels, chart_layout, report_template

if TYPE_CHECKING:
    from .drift_report import MonitorReport

_REFERENCE, _CURRENT = "#7570b3", "#d95f02"
_DRIFTED, _STABLE = "#cf222e", "#8c959f"
RANKING_BARS = 30  # the ranking chart's bars; the table lists every feature
PLOTLY_PLACEHOLDER = "/*loopml:plotly.js*/"
"""Where plotly.js goes in a page stored without it: the library is 4.8 MB of every
page, the same bytes each time, so stored pages leave it out and get it back on reading
(:func:`with_plotly`)."""


def report_html(
    report: MonitorReport,
    title: str = "Drift report",
    *,
    inline_plotly: bool = True,
    **context: Any,
) -> str:
    """The page; ``context`` goes to the template as is (a monitor run adds ``run``,
    ``run_window`` and its charts as ``run_charts``, drawn by ``monitor_run.html.j2``).
    Without ``inline_plotly`` the page holds :data:`PLOTLY_PLACEHOLDER` instead of the
    library, for storing; :func:`with_plotly` makes it whole again."""
    import plotly.offline

    summary = report.to_dict()
    ranked = [
        (entry["feature"], summary["features"][entry["feature"]]) for entry in summary["ranking"]
    ]
    charts = {
        f"feature-{index}": distribution_chart(result["bins"])
        for index, (_, result) in enumerate(ranked, start=1)
    }
    if summary["ranking"]:
        charts["ranking"] = _ranking_chart(summary["ranking"][:RANKING_BARS])
    charts.update(context.pop("run_charts", None) or {})
    return report_template(
        "loopml.monitoring", "report.html.j2", filters={"percent": _percent}
    ).render(
        title=title,
        report=summary,
        ranked=ranked,
        anchors={name: f"feature-{index}" for index, (name, _) in enumerate(ranked, start=1)},
        charts=charts,
        plotly_js=plotly.offline.get_plotlyjs() if inline_plotly else PLOTLY_PLACEHOLDER,
        **context,
    )


def with_plotly(page: str) -> str:
    """A page stored without plotly.js, self-contained again."""
    import plotly.offline

    return page.replace(PLOTLY_PLACEHOLDER, plotly.offline.get_plotlyjs(), 1)


def distribution_chart(bins: dict[str, list[Any]]) -> dict[str, Any]:
    """Reference and current shares per bin, side by side."""
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


def _ranking_chart(ranking: list[dict[str, Any]]) -> dict[str, Any]:
    """One horizontal bar per feature, the highest score on top, red where it drifted."""
    shown = list(reversed(ranking))  # Plotly draws the first category at the bottom
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "x": [entry["score"] or 0.0 for entry in shown],
                "y": chart_labels([entry["feature"] for entry in shown]),
                "marker": {"color": [_DRIFTED if e["drift_detected"] else _STABLE for e in shown]},
                "customdata": [[e["importance"], e["strength"]] for e in shown],
                "hovertemplate": "score %{x:.3g}<br>importance %{customdata[0]:.1%}"
                "<br>strength %{customdata[1]:.3g}<extra></extra>",
            }
        ],
        "layout": chart_layout(
            height=80 + 22 * len(shown),
            xaxis={"title": "drift strength × importance"},
            margin={"l": 160, "r": 10, "t": 10, "b": 40},
        ),
    }


def _percent(value: Any) -> str:
    return "—" if value is None else f"{value:.1%}"
