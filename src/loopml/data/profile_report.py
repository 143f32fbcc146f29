"""The HTML report of a dataset profile: pictures first, then the numbers, in one file.

The file opens offline: plotly.js is inlined once, and every chart is drawn from a JSON
spec embedded in the page, so a report of a thousand columns carries plotly.js once and
no figure boilerplate. Its size depends on the number of columns, never on the number
of rows. Every column name and value is escaped: by Jinja2 in the page, and as HTML
entities in chart labels, which Plotly would otherwise read as markup.

    profile_table(table).save_html("profile.html")
"""

from __future__ import annotations

import html
import os
from collections import Counter
from pathlib import Path
from typing import Any

from ..html_charts import chart_labels, chart_layout, finite, report_template
from .profiling import ColumnProfile, DatasetProfile

TOP_VALUES = 20
HISTOGRAM_BINS = 30
_MS_PER_UNIT = {"D": 86_400_000.0, "s": 1000.0, "ms": 1.0, "us": 1e-3, "ns": 1e-6}


def profile_html(profile: DatasetProfile, title: str = "Dataset profile") -> str:
    """The report as one self-contained HTML page."""
    import plotly.offline

    summary = profile.to_dict()
    columns = []
    charts: dict[str, dict[str, Any]] = {}
    for index, (name, column) in enumerate(profile.columns.items()):
        figures = summary["columns"][name]
        chart_id = f"column-{index}"
        chart = _column_chart(column, figures)
        if chart is not None:
            charts[chart_id] = chart
        columns.append(
            {
                "anchor": chart_id,
                "name": name,
                "figures": figures,
                "chart_id": chart_id if chart is not None else None,
                "rows": _number_rows(column, figures),
                "quantiles": list((figures["quantiles"] or {}).items()),
            }
        )
    if profile.columns:
        charts["overview"] = _missing_chart(profile)
    cells = profile.rows * len(profile.columns)
    kinds = Counter(column["figures"]["kind"] for column in columns)
    return report_template("loopml.data", "profile.html.j2", {"percent": _percent}).render(
        title=title,
        rows=profile.rows,
        column_count=len(profile.columns),
        missing_cells=profile.missing_cells,
        missing_share=profile.missing_cells / cells if cells else None,
        kinds=kinds,
        columns=columns,
        charts=charts,
        plotly_js=plotly.offline.get_plotlyjs(),
    )


def save_profile_html(
    profile: DatasetProfile, path: str | os.PathLike[str], title: str = "Dataset profile"
) -> None:
    """Write :func:`profile_html` to ``path`` as UTF-8."""
    Path(path).write_text(profile_html(profile, title), encoding="utf-8")


# --- charts -------------------------------------------------------------------------


def _missing_chart(profile: DatasetProfile) -> dict[str, Any]:
    """One horizontal bar per column: the share of its rows that are null or NaN."""
    names = chart_labels(list(profile.columns))
    rates = [(column.null_rate or 0.0) * 100 for column in profile.columns.values()]
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "x": rates,
                "y": names,
                "marker": {"color": "#d95f02"},
                "hovertemplate": "%{y}: %{x:.2f}% missing<extra></extra>",
            }
        ],
        "layout": chart_layout(
            height=max(160, 22 * len(names) + 60),
            xaxis={"title": {"text": "missing (%)"}, "range": [0, 100]},
            yaxis={"type": "category", "autorange": "reversed", "automargin": True},
        ),
    }


def _column_chart(column: ColumnProfile, figures: dict[str, Any]) -> dict[str, Any] | None:
    if column.family in ("numeric", "datetime"):
        return _histogram_chart(column)
    if figures["top"]:
        return _top_chart(figures["top"], column.count)
    return None


def _histogram_chart(column: ColumnProfile) -> dict[str, Any] | None:
    histogram = column.histogram(bins=HISTOGRAM_BINS)
    if histogram is None:
        return None
    edges, counts = histogram.edges, histogram.counts
    lows, highs = edges[:-1], edges[1:]
    if column.family == "datetime":
        per_ms = _MS_PER_UNIT[column.unit or "s"]
        x = [_chart_time(column, low / 2 + high / 2) for low, high in zip(lows, highs, strict=True)]
        widths = [(high - low) * per_ms for low, high in zip(lows, highs, strict=True)]
        xaxis: dict[str, Any] = {"type": "date"}
    else:
        x = [finite(low / 2 + high / 2) for low, high in zip(lows, highs, strict=True)]
        widths = [finite(high - low) for low, high in zip(lows, highs, strict=True)]
        xaxis = {}
    ranges = [
        html.escape(f"{column.display(low, exact=False)} to {column.display(high, exact=False)}")
        for low, high in zip(lows, highs, strict=True)
    ]
    bars: dict[str, Any] = {
        "type": "bar",
        "x": x,
        "y": counts,
        "customdata": ranges,
        "marker": {"color": "#1b9e77", "line": {"width": 0}},
        "hovertemplate": "%{customdata}: %{y:,} values<extra></extra>",
    }
    if all(width is not None and width > 0 for width in widths):  # not for a single value
        bars["width"] = widths
    return {
        "data": [bars],
        "layout": chart_layout(
            height=260, bargap=0.02, xaxis=xaxis, yaxis={"title": {"text": "rows"}}
        ),
    }


def _top_chart(top: list[dict[str, Any]], count: int) -> dict[str, Any]:
    values = [entry["value"] for entry in top[:TOP_VALUES]]
    labels = chart_labels(["true" if v is True else "false" if v is False else v for v in values])
    counts = [entry["count"] for entry in top[:TOP_VALUES]]
    shares = [100 * c / count if count else 0.0 for c in counts]
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "x": counts,
                "y": labels,
                "customdata": shares,
                "marker": {"color": "#7570b3"},
                "hovertemplate": "%{y}: %{x:,} (%{customdata:.2f}%)<extra></extra>",
            }
        ],
        "layout": chart_layout(
            height=max(160, 22 * len(labels) + 60),
            xaxis={"title": {"text": "rows"}},
            yaxis={"type": "category", "autorange": "reversed", "automargin": True},
        ),
    }


def _chart_time(column: ColumnProfile, value: float) -> str:
    """An epoch count as a date Plotly reads: ISO-8601 without a zone suffix (UTC)."""
    return str(column.display(value, exact=False)).removesuffix("Z")


# --- numbers ------------------------------------------------------------------------


def _number_rows(column: ColumnProfile, figures: dict[str, Any]) -> list[tuple[str, Any]]:
    """(label, value) pairs for the column's table of figures, those that apply."""
    rows: list[tuple[str, Any]] = [
        ("values", figures["count"]),
        ("nulls", figures["nulls"]),
    ]
    if column.family == "numeric":
        rows += [("NaN", figures["nan"]), ("±inf", figures["infinite"])]
    rows.append(("missing", _percent(figures["null_rate"])))
    if figures["distinct"] is not None:
        rows.append(("distinct (estimate)", figures["distinct"]))
    for key in ("mean", "std", "min", "max"):
        if figures[key] is not None:
            label = "std (seconds)" if key == "std" and column.family == "datetime" else key
            rows.append((label, figures[key]))
    length = figures["length"]
    if length:
        rows += [(f"length {key}", length[key]) for key in ("min", "mean", "max", "std")]
    if figures["top_error"]:
        rows.append(("top counts off by at most", figures["top_error"]))
    return rows


def _percent(share: float | None) -> str | None:
    return None if share is None else f"{100 * share:.2f}%"
