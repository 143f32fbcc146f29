"""The HTML report of a model evaluation: pictures first, then the numbers, in one file.

Like the dataset profile report, the page opens offline: plotly.js is inlined once and
every chart is drawn from a JSON spec embedded in the page. Class labels, group values
and column names come from the user's data, so Jinja2 escapes them in the page and they
are HTML-escaped in chart labels, which Plotly would otherwise read as markup.

    evaluate(model, test, target="churned").save_html("evaluation.html")
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..html_charts import chart_labels, chart_layout, finite, report_template

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from ..governance.fairness import AttributeFairness
    from .evaluation import Evaluation

CARD_METRICS = ("roc_auc", "accuracy", "f1", "r2", "mae", "rmse", "demographic_parity_difference")
FAIRNESS_BARS = {
    "classification": ("selection_rate", "accuracy", "recall"),
    "regression": ("mae", "rmse"),
}
_COLORS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a")
_CHART_TITLES = {
    "roc": "ROC curve",
    "calibration": "Calibration",
    "confusion": "Confusion matrix",
    "residuals": "Residuals (actual - predicted)",
    "predicted-vs-actual": "Predicted vs actual",
    "overfitting": "Train vs validation",
}


def evaluation_html(evaluation: Evaluation, title: str = "Model evaluation") -> str:
    """The report as one self-contained HTML page."""
    import plotly.offline

    charts = evaluation_charts(evaluation)
    summary = evaluation.to_dict()
    fairness = summary["fairness"]
    return report_template("loopml.models", "evaluation.html.j2").render(
        title=title,
        evaluation=summary,
        cards=[
            (name, summary["metrics"][name]) for name in CARD_METRICS if name in summary["metrics"]
        ],
        charts=charts,
        chart_list=[
            (chart_id, _CHART_TITLES[chart_id]) for chart_id in charts if chart_id in _CHART_TITLES
        ],
        fairness=_fairness_sections(fairness) if fairness else [],
        confusion=summary["details"].get("confusion_matrix"),
        residuals=summary["details"].get("residuals"),
        plotly_js=plotly.offline.get_plotlyjs(),
    )


def save_evaluation_html(
    evaluation: Evaluation, path: str | os.PathLike[str], title: str = "Model evaluation"
) -> None:
    """Write :func:`evaluation_html` to ``path`` as UTF-8."""
    Path(path).write_text(evaluation_html(evaluation, title), encoding="utf-8")


def evaluation_figures(evaluation: Evaluation) -> dict[str, go.Figure]:
    """The report's charts as plotly figures, by chart id."""
    import plotly.graph_objects as go

    return {chart_id: go.Figure(spec) for chart_id, spec in evaluation_charts(evaluation).items()}


def evaluation_charts(evaluation: Evaluation) -> dict[str, dict[str, Any]]:
    """Plotly JSON specs by chart id, in the order the report shows them."""
    details = evaluation.to_dict()["details"]
    charts: dict[str, dict[str, Any]] = {}
    if "roc_curve" in details:
        charts["roc"] = _roc_chart(details["roc_curve"], evaluation.metrics.get("roc_auc"))
    if "calibration_curve" in details:
        charts["calibration"] = _calibration_chart(details["calibration_curve"])
    if "confusion_matrix" in details:
        charts["confusion"] = _confusion_chart(details["confusion_matrix"])
    if "residuals" in details:
        charts["residuals"] = _residual_chart(details["residuals"]["histogram"])
    if "predicted_vs_actual" in details:
        charts["predicted-vs-actual"] = _scatter_chart(details["predicted_vs_actual"])
    if evaluation.overfitting is not None:
        charts["overfitting"] = _overfitting_chart(evaluation.overfitting)
    if evaluation.fairness is not None:
        bars = FAIRNESS_BARS[evaluation.fairness.task]
        for index, attribute in enumerate(evaluation.fairness.attributes.values()):
            charts[f"fairness-{index}"] = _group_chart(attribute, bars)
    return charts


# --- charts -------------------------------------------------------------------------


def _roc_chart(curve: dict[str, list[Any]], auc: float | None) -> dict[str, Any]:
    name = "model" if auc is None else f"model (AUC {auc:.3f})"
    return {
        "data": [
            _diagonal(0.0, 1.0),
            {
                "type": "scatter",
                "mode": "lines",
                "name": name,
                "x": curve["fpr"],
                "y": curve["tpr"],
                "customdata": curve["thresholds"],
                "line": {"color": _COLORS[0], "width": 2},
                "hovertemplate": "FPR %{x:.3f}, TPR %{y:.3f}<br>threshold %{customdata:.4g}"
                "<extra></extra>",
            },
        ],
        "layout": chart_layout(
            height=360,
            xaxis={"title": {"text": "false positive rate"}, "range": [0, 1]},
            yaxis={"title": {"text": "true positive rate"}, "range": [0, 1.02]},
        ),
    }


def _calibration_chart(curve: dict[str, list[Any]]) -> dict[str, Any]:
    return {
        "data": [
            _diagonal(0.0, 1.0),
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "model",
                "x": curve["prob_pred"],
                "y": curve["prob_true"],
                "customdata": curve["counts"],
                "line": {"color": _COLORS[1], "width": 2},
                "hovertemplate": "predicted %{x:.3f}, observed %{y:.3f}<br>%{customdata:,} rows"
                "<extra></extra>",
            },
        ],
        "layout": chart_layout(
            height=360,
            xaxis={"title": {"text": "mean predicted probability"}, "range": [0, 1]},
            yaxis={"title": {"text": "observed positive rate"}, "range": [0, 1.02]},
        ),
    }


def _confusion_chart(matrix: dict[str, Any]) -> dict[str, Any]:
    labels = chart_labels([_text(label) for label in matrix["labels"]])
    return {
        "data": [
            {
                "type": "heatmap",
                "z": matrix["counts"],
                "x": labels,
                "y": labels,
                "colorscale": "Blues",
                "texttemplate": "%{z:,}",
                "hovertemplate": "actual %{y}, predicted %{x}: %{z:,} rows<extra></extra>",
            }
        ],
        "layout": chart_layout(
            height=max(300, 40 * len(labels) + 120),
            xaxis={"title": {"text": "predicted"}, "type": "category", "automargin": True},
            yaxis={
                "title": {"text": "actual"},
                "type": "category",
                "autorange": "reversed",
                "automargin": True,
            },
        ),
    }


def _residual_chart(histogram: dict[str, list[Any]]) -> dict[str, Any]:
    edges, counts = histogram["edges"], histogram["counts"]
    lows, highs = edges[:-1], edges[1:]
    return {
        "data": [
            {
                "type": "bar",
                "x": [low / 2 + high / 2 for low, high in zip(lows, highs, strict=True)],
                "y": counts,
                "width": [high - low or None for low, high in zip(lows, highs, strict=True)],
                "customdata": [[low, high] for low, high in zip(lows, highs, strict=True)],
                "marker": {"color": _COLORS[0], "line": {"width": 0}},
                "hovertemplate": "%{customdata[0]:.4g} to %{customdata[1]:.4g}: %{y:,} rows"
                "<extra></extra>",
            }
        ],
        "layout": chart_layout(
            height=300,
            bargap=0.02,
            xaxis={"title": {"text": "actual - predicted"}},
            yaxis={"title": {"text": "rows"}},
        ),
    }


def _scatter_chart(sample: dict[str, Any]) -> dict[str, Any]:
    values = [v for v in sample["actual"] + sample["predicted"] if v is not None]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    return {
        "data": [
            _diagonal(low, high),
            {
                "type": "scatter",
                "mode": "markers",
                "name": "rows",
                "x": sample["actual"],
                "y": sample["predicted"],
                "marker": {"color": _COLORS[2], "size": 5, "opacity": 0.6},
                "hovertemplate": "actual %{x:.4g}, predicted %{y:.4g}<extra></extra>",
            },
        ],
        "layout": chart_layout(
            height=360,
            xaxis={"title": {"text": "actual"}},
            yaxis={"title": {"text": "predicted"}},
        ),
    }


def _overfitting_chart(overfitting: dict[str, Any]) -> dict[str, Any]:
    values = [overfitting["train"], overfitting["validation"]]
    return {
        "data": [
            {
                "type": "bar",
                "x": ["train", "validation"],
                "y": [finite(v) for v in values],
                "marker": {"color": [_COLORS[1], _COLORS[0]]},
                "hovertemplate": "%{x}: %{y:.4f}<extra></extra>",
            }
        ],
        "layout": chart_layout(
            height=260,
            xaxis={"type": "category"},
            yaxis={"title": {"text": html.escape(overfitting["metric"], quote=False)}},
        ),
    }


def _group_chart(attribute: AttributeFairness, metrics: tuple[str, ...]) -> dict[str, Any]:
    groups = chart_labels([_text(row["group"]) for row in attribute.groups])
    bars = [
        {
            "type": "bar",
            "name": metric.replace("_", " "),
            "x": groups,
            "y": [finite(row.get(metric)) for row in attribute.groups],
            "marker": {"color": color},
            "hovertemplate": f"%{{x}}: %{{y:.4f}} {metric.replace('_', ' ')}<extra></extra>",
        }
        for metric, color in zip(metrics, _COLORS, strict=False)
        if any(metric in row for row in attribute.groups)
    ]
    return {
        "data": bars,
        "layout": chart_layout(
            height=300,
            barmode="group",
            xaxis={"type": "category", "automargin": True},
            legend={"orientation": "h", "y": -0.2},
        ),
    }


def _diagonal(low: float, high: float) -> dict[str, Any]:
    return {
        "type": "scatter",
        "mode": "lines",
        "name": "ideal",
        "x": [low, high],
        "y": [low, high],
        "line": {"color": "#999999", "dash": "dash", "width": 1},
        "hoverinfo": "skip",
    }


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


# --- tables -------------------------------------------------------------------------


def _fairness_sections(fairness: dict[str, Any]) -> list[dict[str, Any]]:
    sections = []
    for index, (column, attribute) in enumerate(fairness["attributes"].items()):
        metrics = (
            [key for key in attribute["groups"][0] if key != "group"] if attribute["groups"] else []
        )
        gaps = [
            (label, attribute[key])
            for key, label in (
                ("demographic_parity_difference", "demographic parity difference"),
                ("equalized_odds_difference", "equalized odds difference"),
            )
            if fairness["task"] == "classification"
        ]
        gaps += [
            (f"{metric} difference", value) for metric, value in attribute["differences"].items()
        ]
        sections.append(
            {
                "column": column,
                "chart_id": f"fairness-{index}",
                "metrics": metrics,
                "rows": attribute["groups"],
                "gaps": gaps,
                "notes": attribute["notes"],
            }
        )
    return sections
