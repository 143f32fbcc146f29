"""Plotly figure specs for the pages: plain dicts that ``loopml.js`` hands to
``Plotly.newPlot``. Names and labels come from users, so they are HTML-escaped (Plotly
reads markup in them); values that are not finite numbers become gaps (``null``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ..html_charts import chart_labels, chart_layout, finite

COLORS = ("#1b6ac9", "#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d")
LEGEND_LIMIT = 20
"""Above this many lines, a chart has no legend: hovering names the line instead."""


def lines(
    series: Sequence[tuple[str, Sequence[Any], Sequence[Any]]],
    *,
    x_title: str,
    y_title: str = "",
    dates: bool = False,
    height: int = 300,
    markers: bool = False,
    x_range: tuple[Any, Any] | None = None,
    from_zero: bool = False,
) -> dict[str, Any]:
    """One line per ``(name, x, y)``; with ``dates``, x holds epoch milliseconds (and so
    does ``x_range``, the span the axis shows)."""
    names = chart_labels([name for name, _, _ in series])
    traces = []
    for index, ((_, xs, ys), label) in enumerate(zip(series, names, strict=True)):
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers" if markers or len(xs) == 1 else "lines",
                "name": label,
                "x": [iso(x) for x in xs] if dates else list(xs),
                "y": [finite(y) for y in ys],
                "line": {"width": 1.5, "color": COLORS[index % len(COLORS)]},
                "hovertemplate": f"{label}<br>%{{x}}: %{{y:.6g}}<extra></extra>",
            }
        )
    xaxis: dict[str, Any] = {"title": {"text": x_title}, "automargin": True}
    if dates:
        xaxis["type"] = "date"
    if x_range is not None:
        xaxis["range"] = [iso(x) for x in x_range] if dates else list(x_range)
    return {
        "data": traces,
        "layout": chart_layout(
            height=height,
            showlegend=1 < len(traces) <= LEGEND_LIMIT,
            legend={"orientation": "h", "y": -0.3},
            xaxis=xaxis,
            yaxis={
                "title": {"text": y_title},
                "automargin": True,
                "rangemode": "tozero" if from_zero else "normal",
            },
        ),
    }


def bars(
    labels: Sequence[str],
    values: Sequence[Any],
    *,
    value_title: str = "",
    horizontal: bool = True,
    color: str = COLORS[0],
    colors: Sequence[str] | None = None,
    hover: str = "%{y}: %{x:.6g}",
) -> dict[str, Any]:
    """One bar per label (horizontal by default, so long labels stay readable)."""
    names = chart_labels(list(labels))
    numbers = [finite(value) for value in values]
    trace: dict[str, Any] = {
        "type": "bar",
        "marker": {"color": list(colors) if colors else color},
        "hovertemplate": hover + "<extra></extra>",
    }
    if horizontal:
        trace.update(orientation="h", x=numbers, y=names)
        layout = chart_layout(
            height=max(140, 24 * len(names) + 60),
            xaxis={"title": {"text": value_title}, "automargin": True},
            yaxis={"type": "category", "autorange": "reversed", "automargin": True},
        )
    else:
        trace.update(x=names, y=numbers)
        layout = chart_layout(
            height=280,
            xaxis={"type": "category", "automargin": True},
            yaxis={"title": {"text": value_title}, "automargin": True},
        )
    return {"data": [trace], "layout": layout}


def grouped_bars(
    categories: Sequence[str],
    groups: Sequence[tuple[str, Sequence[Any]]],
    *,
    value_title: str = "",
) -> dict[str, Any]:
    """Bars side by side per category, one colour per group (reference vs current)."""
    labels = chart_labels(list(categories))
    traces = [
        {
            "type": "bar",
            "name": name,
            "x": labels,
            "y": [finite(value) for value in values],
            "marker": {"color": COLORS[index % len(COLORS)]},
        }
        for index, (name, values) in enumerate(groups)
    ]
    return {
        "data": traces,
        "layout": chart_layout(
            height=280,
            barmode="group",
            legend={"orientation": "h", "y": -0.3},
            xaxis={"type": "category", "automargin": True},
            yaxis={"title": {"text": value_title}, "automargin": True},
        ),
    }


def iso(ms: Any) -> str | None:
    """Epoch milliseconds as an ISO time Plotly reads as a date (UTC, no zone suffix)."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
