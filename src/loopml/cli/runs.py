"""``loopml runs``: list, inspect, compare, delete and restore runs."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import typer
from rich.text import Text

from ..clock import format_ms
from ..config import PROJECT_FILENAME
from ..project import LOWER_IS_BETTER
from ._output import console, fmt_duration, fmt_value, print_json, styled, table

if TYPE_CHECKING:  # the store and tracking load on use: `loopml --help` stays fast
    from ..store import Store
    from ..tracking import Run

app = typer.Typer(
    help="Runs: tracked executions with params, metrics and files.", no_args_is_help=True
)
_DEFAULT_KEY_COLUMNS = 4


@app.command("ls")
def ls(
    filter_text: str = typer.Option(
        "", "--filter", "-f", help="e.g. \"metrics.auc > 0.8 and params.model = 'xgb'\""
    ),
    experiment: list[str] = typer.Option(None, "--experiment", "-e", help="Experiment name(s)."),
    order_by: list[str] = typer.Option(None, "--order-by", "-o", help="e.g. 'metrics.auc desc'."),
    max_results: int = typer.Option(50, "--max-results", "-n", min=1, help="How many runs."),
    columns: str = typer.Option(
        None, "--columns", "-c", help="Comma-separated extra columns, e.g. metrics.auc,params.lr."
    ),
    view: str = typer.Option("active", "--view", help="active, deleted or all."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List runs, newest first, filtered with the search language."""
    from ..store import open_store
    from ..tracking import search_runs

    store = open_store(create=False)
    found = search_runs(
        store,
        filter_text,
        experiment=experiment or None,
        order_by=order_by or None,
        max_results=max_results,
        run_view=view,  # type: ignore[arg-type]
        output="list",
    )
    if json_output:
        print_json([run.to_dict() for run in found])
        return
    chosen = _columns(found, columns, order_by or [])
    output = table("run", "name", "experiment", "status", "started", "duration", *chosen)
    for run in found:
        output.add_row(
            run.id[:8],
            run.name,
            run.experiment_name,
            _status(run.status),
            format_ms(run.start_time),
            fmt_duration(run.duration_ms),
            *(fmt_value(_lookup(run, column)) for column in chosen),
        )
    console.print(output)
    if len(found) == max_results:
        console.print(
            styled(f"showing the first {max_results}; raise --max-results for more", "dim")
        )


@app.command("show")
def show(
    run_id: str = typer.Argument(..., help="Run id or unique prefix."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Everything about one run: origin, params, metrics, tags, files."""
    from ..store import open_store
    from ..tracking import get_run, list_artifacts

    store = open_store(create=False)
    run = get_run(store, run_id)
    files = list_artifacts(store, run.id)
    if json_output:
        print_json({**run.to_dict(), "artifacts": [entry.to_dict() for entry in files]})
        return
    console.print(styled(run.name, "bold"), f" {run.id}  ({run.experiment_name})")
    commit = run.git_commit[:12] if run.git_commit else "not in git"
    if run.git_dirty:
        commit += f" + uncommitted changes ({(run.git_diff_hash or '')[:12]})"
    facts = {
        "status": _status(run.status),
        "started": format_ms(run.start_time),
        "ended": format_ms(run.end_time),
        "duration": fmt_duration(run.duration_ms),
        "user": run.user,
        "code": commit,
        "source": run.source or "",
        "host": f"{run.host or ''} (pid {run.pid})" if run.pid else run.host or "",
        "python": run.python_version or "",
        "packages": str(len((run.environment or {}).get("packages", {}))),
        "parent": run.parent_run_id or "",
    }
    for key, value in facts.items():
        if value:
            console.print(f"  {key:<8}", value)
    for title, values in (("params", run.params), ("metrics", run.metrics), ("tags", run.tags)):
        if values:
            section = table("key", "value", title=title)
            for key in sorted(values):
                section.add_row(key, fmt_value(values[key]))
            console.print(section)
    if files:
        section = table("path", "size", "hash", title="artifacts")
        for entry in files:
            section.add_row(entry.path, f"{entry.size:,}", entry.hash[:16])
        console.print(section)


@app.command("compare")
def compare(
    run_ids: list[str] = typer.Argument(..., help="Two or more run ids or prefixes."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Params and metrics side by side: differing params in yellow, best metric in green."""
    from ..store import open_store
    from ..tracking import get_run

    store = open_store(create=False)
    found = [get_run(store, run_id) for run_id in run_ids]
    if json_output:
        print_json([run.to_dict() for run in found])
        return
    console.print(compare_table(store, found))


def compare_table(store: Store, found: list[Run]):  # -> rich.table.Table
    """The comparison table shared by ``runs compare`` and the demo."""
    output = table("", *(f"{run.name}\n{run.id[:8]}" for run in found))
    output.add_row("status", *(_status(run.status) for run in found))
    output.add_row("duration", *(fmt_duration(run.duration_ms) for run in found))
    for key in sorted({key for run in found for key in run.params}):
        values = [run.params.get(key) for run in found]
        style = "yellow" if len(set(values)) > 1 else ""
        output.add_row(
            f"params.{key}",
            *(styled(fmt_value(v), style) for v in values),
        )
    objective = _objective(store)
    for key in sorted({key for run in found for key in run.metrics}):
        values = [run.metrics.get(key) for run in found]
        best = _best(key, values, objective)
        output.add_row(
            f"metrics.{key}",
            *(
                styled(fmt_value(v), "bold green" if i == best else "")
                for i, v in enumerate(values)
            ),
        )
    return output


@app.command("history")
def history(
    run_id: str = typer.Argument(..., help="Run id or unique prefix."),
    key: str = typer.Argument(..., help="Metric key."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Every logged value of one metric of a run."""
    from ..store import open_store
    from ..tracking import get_metric_history

    store = open_store(create=False)
    points = get_metric_history(store, run_id, key)
    if json_output:
        print_json([point.__dict__ for point in points])
        return
    output = table("step", "value", "time")
    for point in points:
        output.add_row(str(point.step), fmt_value(point.value), format_ms(point.timestamp))
    console.print(output)


@app.command("delete")
def delete(
    run_ids: list[str] = typer.Argument(..., help="Run ids or prefixes."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Hide runs from searches (restorable with 'loopml runs restore')."""
    from ..tracking import delete_run

    _set_lifecycle(run_ids, delete_run, "deleted", json_output)


@app.command("restore")
def restore(
    run_ids: list[str] = typer.Argument(..., help="Run ids or prefixes."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Bring deleted runs back."""
    from ..tracking import restore_run

    _set_lifecycle(run_ids, restore_run, "restored", json_output)


def _set_lifecycle(
    run_ids: list[str], change: Callable[[Store, str], Run], verb: str, json_output: bool
) -> None:
    from ..store import open_store

    store = open_store(create=False)
    changed = [change(store, run_id) for run_id in run_ids]
    if json_output:
        print_json(
            [
                {"id": run.id, "name": run.name, "lifecycle_stage": run.lifecycle_stage}
                for run in changed
            ]
        )
        return
    for run in changed:
        console.print(f"{verb} run {run.id[:8]} ({run.name})")


def _columns(found: list[Run], requested: str | None, order_by: list[str]) -> list[str]:
    if requested:
        return [column.strip() for column in requested.split(",") if column.strip()]
    ordered = [term.split()[0] for term in order_by if term.split()[0].startswith("metrics.")]
    metrics = sorted({key for run in found for key in run.metrics})
    params = sorted({key for run in found for key in run.params})
    chosen = ordered + [f"metrics.{k}" for k in metrics if f"metrics.{k}" not in ordered]
    return chosen[:_DEFAULT_KEY_COLUMNS] + [f"params.{k}" for k in params][:_DEFAULT_KEY_COLUMNS]


def _lookup(run: Run, column: str) -> object:
    prefix, _, key = column.partition(".")
    source = {"metrics": run.metrics, "params": run.params, "tags": run.tags}.get(prefix)
    if source is None:
        return getattr(run, column, None)
    return source.get(key)


def _status(status: str) -> Text:
    colour = {"FINISHED": "green", "FAILED": "red", "KILLED": "yellow", "RUNNING": "cyan"}
    return styled(status, colour.get(status, ""))


def _objective(store: Store) -> tuple[str, str] | None:
    """The project's objective metric and direction, to know which value is best."""
    if store.config.project_dir is None:
        return None
    path = store.config.project_dir / PROJECT_FILENAME
    if not path.is_file():
        return None
    from ..project import load_project

    project = load_project(path)
    return project.objective.metric, project.objective.direction


def _best(key: str, values: list[float | None], objective: tuple[str, str] | None) -> int | None:
    numbers = [(v, i) for i, v in enumerate(values) if v is not None and not math.isnan(v)]
    if len(numbers) < 2:
        return None
    if objective and objective[0] == key:
        lower = objective[1] == "minimize"
    else:
        lower = key in LOWER_IS_BETTER or any(
            word in key for word in ("loss", "error", "seconds", "latency", "time")
        )
    return (min(numbers) if lower else max(numbers))[1]
