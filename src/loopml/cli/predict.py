"""``loopml predict``: score a Parquet or CSV file with a model, in bounded memory."""

from __future__ import annotations

from pathlib import Path

import typer

from ._output import console, err_console, print_json


def predict(
    model: str = typer.Argument(..., help="churn@champion, models:/churn/3 or a model folder."),
    source: Path = typer.Argument(..., help="The input: a .parquet file or folder, or a .csv."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write: .parquet or .csv."),
    deployment: str = typer.Option(
        None, "--deployment", "-d", help="Log the predictions under this name (default: model's)."
    ),
    chunk_rows: int = typer.Option(100_000, help="Rows scored at a time: bounds memory."),
    dask: str = typer.Option(None, "--dask", help="Score on the Dask scheduler at this address."),
    no_log: bool = typer.Option(False, "--no-log", help="Do not log the predictions."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Score every row of a file and write it out with a 'prediction' column."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ..models import load
    from ..serving.batch import file_format, score_file, score_on_dask
    from ..store import open_store

    file_format(source)
    file_format(output)
    loaded = load(model)
    store = None if no_log else open_store(create=True)
    if dask:
        result = score_on_dask(loaded, source, output, dask, store=store, deployment=deployment)
    else:
        with Progress(
            TextColumn("scoring"),
            BarColumn(),
            TextColumn("{task.completed:,} rows"),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
            disable=not err_console.is_terminal,  # a pipe gets the result line only
        ) as progress:
            task = progress.add_task("score", total=None)

            def advance(done: int, total: int | None) -> None:
                progress.update(task, completed=done, total=total)

            result = score_file(
                loaded,
                source,
                output,
                store=store,
                deployment=deployment,
                chunk_rows=chunk_rows,
                on_progress=advance,
            )
    if json_output:
        print_json(result.to_dict())
        return
    logged = f"; logged as '{result.logged_as}'" if result.logged_as else ""
    console.print(
        f"Scored {result.rows:,} rows with {result.model} in {result.seconds:.1f} s "
        f"({result.chunks} chunk{'s' if result.chunks != 1 else ''}) → {result.output}{logged}"
    )
