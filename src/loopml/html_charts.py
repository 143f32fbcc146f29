"""What every self-contained HTML report shares: chart layout, safe labels, table figures,
and the Jinja2 environment.

Reports (dataset profiles, model evaluations) inline plotly.js once and draw each chart
from a JSON spec embedded in the page, so they open offline and their size does not
grow with the data's row count.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from typing import Any

import jinja2

LABEL_CHARS = 40


def chart_layout(**extra: Any) -> dict[str, Any]:
    """The layout every chart starts from: small margins, system font, no background."""
    return {
        "margin": {"l": 10, "r": 10, "t": 10, "b": 40},
        "font": {"family": "system-ui, sans-serif", "size": 12},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        **extra,
    }


def chart_labels(values: list[str], limit: int = LABEL_CHARS) -> list[str]:
    """Chart labels: shortened, made unique, and HTML-escaped (Plotly reads markup)."""
    labels, seen = [], set()
    for value in values:
        label = value if len(value) <= limit else value[: limit - 1] + "…"
        while label in seen:  # two labels shortened alike must stay two categories
            label += "\u200b"
        seen.add(label)
        labels.append(html.escape(label, quote=False))
    return labels


def finite(value: Any) -> float | None:
    """``value`` when it is a finite number; None for NaN, infinities and non-numbers."""
    return value if isinstance(value, int | float) and math.isfinite(value) else None


def table_figure(value: Any) -> str:
    """A value for the tables: grouped integers, six significant digits, dashes for None."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.6g}" if math.isfinite(value) else str(value)
    return str(value)


def report_template(
    package: str, name: str, filters: dict[str, Callable[..., Any]] | None = None
) -> jinja2.Template:
    """The report template ``name`` from ``package``'s templates folder, autoescaped."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Chart specs are JSON inside a <script>: NaN or inf there would break JSON.parse.
    environment.policies["json.dumps_kwargs"] = {"sort_keys": False, "allow_nan": False}
    environment.filters["figure"] = table_figure
    environment.filters.update(filters or {})
    return environment.get_template(name)
