"""``loopml experiments``: list and create experiments."""

from __future__ import annotations

import typer

from ..clock import format_ms
from ._output import console, print_json, table

app = typer.Typer(help="Experiments: named groups of runs.", no_args_is_help=True)


@app.command("ls")
def ls(
    include_deleted: bool = typer.Option(False, "--all", help="Include deleted experiments."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List experiments."""
    from ..store import open_store
    from ..tracking import list_experiments

    store = open_store(create=False)
    found = list_experiments(store, include_deleted=include_deleted)
    if json_output:
        print_json([experiment.to_dict() for experiment in found])
        return
    output = table("id", "name", "created", "description")
    for experiment in found:
        output.add_row(
            str(experiment.id),
            experiment.name,
            format_ms(experiment.created_at),
            experiment.description or "",
        )
    console.print(output)


@app.command("create")
def create(
    name: str = typer.Argument(..., help="The experiment's name."),
    description: str = typer.Option(None, help="What the experiment is about."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Create an experiment (runs also create theirs on first use)."""
    from ..store import open_store
    from ..tracking import create_experiment

    store = open_store(create=True)
    experiment = create_experiment(store, name, description=description)
    if json_output:
        print_json(experiment.to_dict())
    else:
        console.print(f"Created experiment {experiment.id}: {experiment.name}")
