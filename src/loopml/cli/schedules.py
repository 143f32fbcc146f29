"""``loopml schedule``: run pipelines on cron times or new dataset versions; ``loopml scheduler``
runs them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from ..clock import format_ms
from ._output import console, err_console, print_json, styled, table

if TYPE_CHECKING:
    from ..pipelines.schedules import Schedule

app = typer.Typer(
    help="Schedules: run a pipeline on a cron expression or when a dataset gets a new version.",
    no_args_is_help=True,
)

_TICK_STYLE = {"RUNNING": "cyan", "FINISHED": "green", "FAILED": "red"}


@app.command("add")
def add(
    name: str = typer.Argument(..., help="Schedule name, e.g. nightly."),
    target: str = typer.Argument(..., help="Pipeline FILE or FILE:PIPELINE."),
    cron: str = typer.Option(None, "--cron", help="Cron expression in UTC, e.g. '0 2 * * *'."),
    on: str = typer.Option(None, "--on", help="Event: dataset:NAME or alert:DEPLOYMENT."),
    param: list[str] = typer.Option(
        None, "--param", "-p", help="NAME=VALUE passed to every run, e.g. train.max_depth=6."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Schedule a pipeline on exactly one of --cron or --on; nothing before now triggers it."""
    from ..pipelines.schedules import add_schedule
    from ..store import open_store
    from .pipelines import parse_params

    params = parse_params(param, None)
    created = add_schedule(open_store(create=True), name, target, cron=cron, on=on, params=params)
    if json_output:
        print_json(_schedule_dict(created))
        return
    console.print(f"Added schedule '{created.name}': {created.on} runs {created.file}")
    next_time = created.next_time()
    if next_time is not None:
        console.print(f"next run: {format_ms(next_time)} UTC (once 'loopml scheduler' runs)")


@app.command("ls")
def ls(json_output: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List schedules with their trigger, next cron time and last tick."""
    from ..pipelines.schedules import last_ticks, list_schedules
    from ..store import open_store

    store = open_store(create=False)
    found = list_schedules(store)
    last = last_ticks(store)
    if json_output:
        print_json(
            [
                {**_schedule_dict(s), "last_tick": t.to_dict() if (t := last.get(s.id)) else None}
                for s in found
            ]
        )
        return
    output = table("schedule", "trigger", "file", "params", "enabled", "next (UTC)", "last tick")
    for schedule in found:
        tick = last.get(schedule.id)
        output.add_row(
            schedule.name,
            schedule.on,
            schedule.file,
            " ".join(f"{k}={v}" for k, v in schedule.params.items()),
            "yes" if schedule.enabled else styled("no", "yellow"),
            format_ms(schedule.next_time()) if schedule.enabled else "",
            styled(f"{tick.tick} {tick.status}", _TICK_STYLE.get(tick.status, "")) if tick else "",
        )
    console.print(output)


@app.command("rm")
def rm(name: str = typer.Argument(..., help="The schedule to remove.")) -> None:
    """Remove a schedule and its tick history (the pipeline runs it started stay)."""
    from ..pipelines.schedules import remove_schedule
    from ..store import open_store

    remove_schedule(open_store(create=False), name)
    console.print(f"Removed schedule '{name}'")


@app.command("enable")
def enable(name: str = typer.Argument(..., help="The schedule to resume.")) -> None:
    """Resume a schedule; the newest tick missed while it was paused runs once."""
    _set_enabled(name, True)


@app.command("disable")
def disable(name: str = typer.Argument(..., help="The schedule to pause.")) -> None:
    """Pause a schedule: schedulers skip it until it is enabled again."""
    _set_enabled(name, False)


@app.command("ticks")
def ticks(
    name: str = typer.Argument(..., help="The schedule."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, help="How many of the newest ticks."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List a schedule's ticks, newest first: who ran each, its pipeline run and outcome."""
    from ..pipelines.schedules import list_ticks
    from ..store import open_store

    found = list_ticks(open_store(create=False), name, limit=limit)
    if json_output:
        print_json([tick.to_dict() for tick in found])
        return
    output = table("tick", "status", "pipeline run", "claimed by", "claimed at", "error")
    for tick in found:
        output.add_row(
            tick.tick,
            styled(tick.status, _TICK_STYLE.get(tick.status, "")),
            (tick.pipeline_run_id or "")[:8],
            tick.claimed_by,
            format_ms(tick.claimed_at),
            _last_line(tick.error),
        )
    console.print(output)


def scheduler(
    once: bool = typer.Option(False, "--once", help="Run what is due now, then exit."),
    poll: float = typer.Option(5.0, "--poll", min=0.1, help="Seconds between checks."),
) -> None:
    """Run every enabled schedule's pipeline when it is due, until SIGTERM or Ctrl-C.

    Several schedulers may run against one store: each tick runs once. A stop signal
    lets the running pipeline finish and be recorded; a second one kills it.
    """
    from ..pipelines.scheduler import default_claimer, run_scheduler
    from ..store import open_store

    store = open_store(create=False)
    claimer = default_claimer()
    if not once:
        err_console.print(
            f"scheduler {claimer} checking every {poll:g}s (Ctrl-C stops after the current tick)"
        )
    run_scheduler(store, once=once, poll_s=poll, claimed_by=claimer)


def _set_enabled(name: str, enabled: bool) -> None:
    from ..pipelines.schedules import set_enabled
    from ..store import open_store

    set_enabled(open_store(create=False), name, enabled)
    console.print(f"Schedule '{name}' {'enabled' if enabled else 'disabled'}")


def _schedule_dict(schedule: Schedule) -> dict[str, object]:
    return {**schedule.to_dict(), "next": schedule.next_time() if schedule.enabled else None}


def _last_line(text: str | None, width: int = 80) -> str:
    lines = (text or "").strip().splitlines()
    line = lines[-1] if lines else ""
    return line if len(line) <= width else line[: width - 1] + "…"
