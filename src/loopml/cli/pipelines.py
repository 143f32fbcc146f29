"""``loopml pipeline``: run, show, list, explain, resume and reproduce pipelines."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ..clock import format_ms
from ..errors import InvalidInput
from ._output import console, err_console, fmt_duration, print_json, styled, table

if TYPE_CHECKING:
    from ..pipelines.records import PipelineRun

app = typer.Typer(
    help="Pipelines: steps wired into a DAG, cached, retried, run locally or on Dask.",
    no_args_is_help=True,
)

_STATUS_STYLE = {
    "COMPLETED": "green",
    "CACHED": "blue",
    "FAILED": "red",
    "KILLED": "red",
    "SKIPPED": "yellow",
    "RUNNING": "cyan",
    "FINISHED": "green",
}


def parse_params(pairs: list[str] | None, params_file: Path | None) -> dict[str, Any]:
    """``-p a.b=v`` pairs over a YAML file's values ({train: {max_depth: 6}} is train.max_depth)."""
    values: dict[str, Any] = {}
    if params_file is not None:
        import yaml

        try:
            loaded = yaml.safe_load(params_file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise InvalidInput(f"{params_file} is not valid YAML: {exc}") from None
        if not isinstance(loaded, dict):
            raise InvalidInput(f"{params_file} must hold a mapping of param names to values")
        values.update(_flatten(loaded))
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(
                f"param '{pair}' is not NAME=VALUE", hint="for example -p train.max_depth=6"
            )
        values[key.strip()] = value
    return values


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and not prefix:
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


@app.command("run")
def run(
    target: str = typer.Argument(..., help="FILE or FILE:PIPELINE"),
    param: list[str] = typer.Option(
        None, "--param", "-p", help="NAME=VALUE, e.g. train.max_depth=6."
    ),
    params_file: Path = typer.Option(None, "--params-file", "-f", help="YAML file of params."),
    executor: str = typer.Option("local", "--executor", "-x", help="local, processes or dask."),
    workers: int = typer.Option(None, "--workers", "-w", min=1, help="Worker count."),
    dask: str = typer.Option(None, "--dask", help="Dask scheduler address, or 'local'."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Run every step."),
    json_output: bool = typer.Option(False, "--json", help="Print the run as JSON."),
) -> None:
    """Run a pipeline; steps whose cache key matches an earlier success are reused."""
    from ..pipelines import load
    from ..pipelines.runner import run_pipeline
    from ..pipelines.unchanged import reuse_if_unchanged
    from ..store import default_store

    params = parse_params(param, params_file)
    if not no_cache:  # nothing changed since the last finished run: no need to import it
        kind = f"dask:{dask}" if dask else executor
        reused = reuse_if_unchanged(default_store(), target, params, executor=kind)
        if reused is not None:
            if not json_output:
                err_console.print(f"↺ {len(reused.steps)} steps: {reused.steps[0].reason}")
            _report(reused, json_output)
            return
    pipeline = load(target)
    result = run_pipeline(
        pipeline,
        params,
        executor=executor,
        workers=workers,
        dask=dask,
        cache=not no_cache,
        progress=not json_output,
        raise_on_failure=False,
    )
    _report(result, json_output)


@app.command("show")
def show(
    target: str = typer.Argument(..., help="FILE or FILE:PIPELINE"),
    param: list[str] = typer.Option(None, "--param", "-p", help="NAME=VALUE overrides."),
    params_file: Path = typer.Option(None, "--params-file", "-f", help="YAML file of params."),
    json_output: bool = typer.Option(False, "--json", help="Print nodes and edges as JSON."),
) -> None:
    """Draw a pipeline's DAG in the terminal, with each step's params."""
    from ..pipelines import load
    from ..pipelines.render import dag_tree, graph_dict

    graph = load(target).compile(parse_params(param, params_file))
    if json_output:
        print_json(graph_dict(graph))
        return
    console.print(dag_tree(graph))


@app.command("ls")
def ls(
    pipeline: str = typer.Argument(None, help="Only runs of this pipeline."),
    limit: int = typer.Option(20, "--limit", "-n", min=1),
    json_output: bool = typer.Option(False, "--json"),
) -> None:
    """List pipeline runs, newest first."""
    from ..pipelines.records import list_pipeline_runs
    from ..store import open_store

    found = list_pipeline_runs(open_store(create=False), pipeline, limit=limit)
    if json_output:
        print_json([_run_dict(r) for r in found])
        return
    output = table("run", "pipeline", "status", "started", "duration", "steps", "executor")
    for r in found:
        counts: dict[str, int] = {}
        for s in r.steps:
            counts[s.status] = counts.get(s.status, 0) + 1
        summary = ", ".join(f"{n} {status.lower()}" for status, n in sorted(counts.items()))
        output.add_row(
            r.id[:8],
            r.pipeline,
            styled(r.status, _STATUS_STYLE.get(r.status, "")),
            format_ms(r.start_time),
            _duration(r.start_time, r.end_time),
            summary,
            r.executor,
        )
    console.print(output)


@app.command("explain")
def explain(
    ref: str = typer.Argument(
        None, help="Pipeline run id or prefix, or a step's run id. Default: the newest run."
    ),
    json_output: bool = typer.Option(False, "--json"),
) -> None:
    """Say for every step why it ran or was reused (which part of its cache key changed)."""
    from ..errors import NotFound
    from ..pipelines.records import get_pipeline_run, list_pipeline_runs
    from ..store import open_store

    store = open_store(create=False)
    if ref is None:
        newest = list_pipeline_runs(store, limit=1)
        if not newest:
            raise NotFound("no pipeline runs yet", hint="run one with: loopml pipeline run FILE")
        found = newest[0]
    else:
        found = get_pipeline_run(store, ref)
    if json_output:
        print_json(_run_dict(found))
        return
    output = table("step", "status", "why", "attempts", "duration")
    for s in found.steps:
        output.add_row(
            s.name,
            styled(s.status, _STATUS_STYLE.get(s.status, "")),
            s.reason or "",
            str(s.attempts),
            _duration(s.started_at, s.ended_at),
        )
    console.print(output)


@app.command("resume")
def resume(
    ref: str = typer.Argument(..., help="The failed pipeline run."),
    executor: str = typer.Option(None, "--executor", "-x", help="Default: the run's own."),
    json_output: bool = typer.Option(False, "--json"),
) -> None:
    """Re-run a failed run from the step that failed, reusing every step that succeeded."""
    from ..pipelines.reproduce import resume_run

    _report(resume_run(ref, executor=executor, progress=not json_output), json_output)


@app.command("reproduce")
def reproduce(
    ref: str = typer.Argument(..., help="The pipeline run to reproduce."),
    force: bool = typer.Option(False, "--force", help="Run even if the code differs."),
    json_output: bool = typer.Option(False, "--json"),
) -> None:
    """Re-run a past run with exactly its inputs and compare every step's output hashes."""
    from ..pipelines.reproduce import reproduce_run

    report = reproduce_run(ref, force=force, progress=not json_output)
    if json_output:
        print_json(dataclasses.asdict(report))
    else:
        output = table("step", "original", "now", "same")
        for row in report.steps:
            output.add_row(
                row.step,
                row.original[:12],
                row.now[:12],
                styled("yes", "green") if row.same else styled("NO", "red"),
            )
        console.print(output)
        console.print(report.summary)
    if not report.identical:
        raise typer.Exit(1)


def _report(result: PipelineRun, json_output: bool) -> None:
    if json_output:
        print_json(_run_dict(result))
    else:
        ran = sum(1 for s in result.steps if s.status == "COMPLETED" and "[" not in s.name)
        reused = sum(1 for s in result.steps if s.status == "CACHED")
        err_console.print(
            f"pipeline run {result.id[:8]} {result.status}: {ran} ran, {reused} reused "
            f"(loopml pipeline explain {result.id[:8]})"
        )
    failed = [s for s in result.steps if s.status == "FAILED"]
    if failed:
        if not json_output:
            err_console.print(f"step '{failed[0].name}' failed:\n{failed[0].error}")
            err_console.print(f"fix it, then: loopml pipeline resume {result.id[:8]}")
        raise typer.Exit(7)


def _run_dict(found: PipelineRun) -> dict[str, Any]:
    data = dataclasses.asdict(found)
    for step in data["steps"]:
        step["duration_s"] = (
            (step["ended_at"] - step["started_at"]) / 1000
            if step["ended_at"] and step["started_at"]
            else None
        )
    return data


def _duration(start: int | None, end: int | None) -> str:
    return fmt_duration(end - start) if start is not None and end is not None else ""
