"""``search_runs``: find runs with a filter expression, order them, and return a DataFrame."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from ...errors import InvalidInput
from ...ops import operation
from ...store import Store
from ...store.schema import experiments, runs
from ..entities import ACTIVE, DELETED, Run
from ..runs import key_values, row_to_run
from .parser import parse_filter, parse_order_by
from .query import QueryBuilder

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["parse_filter", "parse_order_by", "search_runs"]

RunView = Literal["active", "deleted", "all"]
MAX_RESULTS = 100_000
_FRAME_ATTRIBUTES = (
    "run_id",
    "run_name",
    "experiment",
    "status",
    "start_time",
    "end_time",
    "user",
    "parent_run_id",
    "git_commit",
)


@operation("runs.search", role="reader")
def search_runs(
    store: Store,
    filter: str = "",
    *,
    experiment: str | Sequence[str] | None = None,
    order_by: Sequence[str] | str | None = None,
    max_results: int = MAX_RESULTS,
    run_view: RunView = "active",
    output: Literal["pandas", "list"] = "pandas",
) -> pd.DataFrame | list[Run]:
    """Runs matching ``filter``, ordered by ``order_by`` (default: newest first).

    Returns a DataFrame with one row per run: attributes, then ``metrics.*`` (latest
    values), ``params.*`` and ``tags.*`` columns. ``output="list"`` returns
    :class:`~loopml.tracking.entities.Run` objects instead.

    >>> search_runs(store, "metrics.auc > 0.8 and params.model = 'xgb'",
    ...             order_by=["metrics.auc desc"], max_results=10)  # doctest: +SKIP
    """
    if not isinstance(max_results, int) or isinstance(max_results, bool) or max_results < 1:
        raise InvalidInput(f"max_results must be a positive integer, got {max_results!r}")
    if run_view not in ("active", "deleted", "all"):
        raise InvalidInput(f"run_view '{run_view}' is not known", hint="use active, deleted or all")
    order_terms = [order_by] if isinstance(order_by, str) else list(order_by or [])
    condition = parse_filter(filter)
    order = [parse_order_by(term) for term in order_terms]

    where = []
    if run_view != "all":
        where.append(runs.c.lifecycle_stage == (ACTIVE if run_view == "active" else DELETED))
    if experiment is not None:
        names = [experiment] if isinstance(experiment, str) else list(experiment)
        where.append(experiments.c.name.in_(names))
    builder = QueryBuilder(filter or "")
    # The frame does not show the recorded environment (often kilobytes of JSON per run).
    columns = [c for c in runs.c if output == "list" or c.name != "environment"]
    page = builder.build(
        condition,
        order,
        columns=[*columns, experiments.c.name.label("experiment_name")],
        where=where,
    ).limit(max_results)

    with store.read() as connection:
        run_rows = connection.execute(page).all()
        ids = [row.id for row in run_rows]
        values = key_values(connection, ids)
    if output == "list":
        return [
            row_to_run(
                row,
                values["params"].get(row.id, {}),
                values["metrics"].get(row.id, {}),
                values["tags"].get(row.id, {}),
            )
            for row in run_rows
        ]
    return _frame(run_rows, values)


def _frame(run_rows: list[Any], values: dict[str, dict[str, dict[str, Any]]]) -> pd.DataFrame:
    import pandas as pd

    count = len(run_rows)
    columns: dict[str, list[Any]] = {
        "run_id": [r.id for r in run_rows],
        "run_name": [r.name for r in run_rows],
        "experiment": [r.experiment_name for r in run_rows],
        "status": [r.status for r in run_rows],
        "start_time": pd.to_datetime([r.start_time for r in run_rows], unit="ms", utc=True),
        "end_time": pd.to_datetime([r.end_time for r in run_rows], unit="ms", utc=True),
        "user": [r.user for r in run_rows],
        "parent_run_id": [r.parent_run_id for r in run_rows],
        "git_commit": [r.git_commit for r in run_rows],
    }
    position = {row.id: index for index, row in enumerate(run_rows)}
    for prefix, missing in (("metrics", float("nan")), ("params", None), ("tags", None)):
        keyed: dict[str, list[Any]] = {}
        for run_id, pairs in values[prefix].items():
            index = position[run_id]
            for key, value in pairs.items():
                column = keyed.get(key)
                if column is None:
                    column = keyed[key] = [missing] * count
                column[index] = value
        for key in sorted(keyed):
            columns[f"{prefix}.{key}"] = keyed[key]
    return pd.DataFrame(columns)
