"""``/compare?runs=a,b,c``: runs side by side (params, latest metrics) and each metric's
history as a chart with one line per run. Built for a hundred runs: one query reads the
histories, thinned in the database to a fixed budget of points per page."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from ...errors import InvalidInput, NotFound
from ...store import Store
from .. import arguments, charts, queries
from ..rendering import Page
from .runs import run_summary

MAX_RUNS = 200
DEFAULT_CHARTS = 8
POINT_BUDGET = 200_000
"""Points over all charts of one page; each line gets its share, 50 to 1,000."""


def compare(request: Request, store: Store) -> Page:
    refs = arguments.items(request, "runs", "run")
    if len(refs) < 1:
        raise InvalidInput(
            "no runs to compare",
            hint="name them: /compare?runs=ID,ID (or tick runs on /runs and press Compare)",
        )
    if len(refs) > MAX_RUNS:
        raise InvalidInput(
            f"{len(refs)} runs is more than the {MAX_RUNS} a comparison shows",
            hint="narrow the runs with a filter on /runs",
        )
    found = queries.runs_by_id(store, refs)
    ids = [run.id for run in found]
    metric_keys = sorted({key for run in found for key in run.metrics})
    param_keys = sorted({key for run in found for key in run.params})
    charted = arguments.items(request, "metrics", "metric") or metric_keys[:DEFAULT_CHARTS]
    for key in charted:
        if key not in metric_keys:
            raise NotFound(
                f"none of the {len(found)} runs compared has metric '{key}'",
                hint=f"their metrics: {', '.join(metric_keys) or 'none'}",
            )
    lines = max(1, len(ids) * len(charted))
    budget = max(50, min(1000, POINT_BUDGET // lines))
    histories = queries.metric_histories(store, ids, charted, max_points=budget)

    names = {run.id: f"{run.name} ({run.id[:8]})" for run in found}
    chart_specs: dict[str, Any] = {}
    for index, key in enumerate(charted):
        per_run = histories.get(key, {})
        if any(len(steps) > 1 for steps, _ in per_run.values()):
            series = [(names[i], *per_run[i]) for i in ids if i in per_run]
            chart_specs[f"chart-{index}"] = charts.lines(series, x_title="step", y_title=key)
        else:
            values = [run.metrics.get(key) for run in found]
            chart_specs[f"chart-{index}"] = charts.bars(
                [names[i] for i in ids], values, value_title=key
            )

    params = {key: {run.id: run.params.get(key) for run in found} for key in param_keys}
    metrics = {key: {run.id: run.metrics.get(key) for run in found} for key in metric_keys}
    differing = [key for key, values in params.items() if len(set(values.values())) > 1]
    data = {
        "runs": [run_summary(run) for run in found],
        "params": params,
        "metrics": metrics,
        "differing_params": differing,
        "charted": charted,
        "histories": {
            key: {
                run_id: {"steps": steps, "values": values}
                for run_id, (steps, values) in per_run.items()
            }
            for key, per_run in histories.items()
        },
    }
    view = {
        "found": found,
        "metric_keys": metric_keys,
        "charts": chart_specs,
        "chart_list": [(f"chart-{index}", key) for index, key in enumerate(charted)],
        "best": {key: _best(values) for key, values in metrics.items()},
    }
    return Page("compare.html.j2", f"Compare {len(found)} runs", data, view=view, section="/runs")


def _best(values: dict[str, float | None]) -> tuple[float, float] | None:
    """The lowest and highest value of a metric across the runs (to mark both ends)."""
    numbers = [v for v in values.values() if v is not None and v == v]
    return (min(numbers), max(numbers)) if len(numbers) > 1 else None
