"""``loopml artifacts``: list, fetch and verify stored files."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

from ..errors import IntegrityFailure
from ._output import console, err_console, print_json, styled, table

app = typer.Typer(help="Artifacts: content-addressed files attached to runs.", no_args_is_help=True)


@app.command("ls")
def ls(
    run_id: str = typer.Argument(..., help="Run id or unique prefix."),
    path: str = typer.Option(None, help="Only files under this folder."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List a run's files with their sizes and hashes."""
    from ..store import open_store
    from ..tracking import list_artifacts

    store = open_store(create=False)
    entries = list_artifacts(store, run_id, path)
    if json_output:
        print_json([entry.to_dict() for entry in entries])
        return
    output = table("path", "size", "hash", "type")
    for entry in entries:
        output.add_row(entry.path, f"{entry.size:,}", entry.hash[:16], entry.media_type or "")
    console.print(output)


@app.command("get")
def get(
    run_id: str = typer.Argument(..., help="Run id or unique prefix."),
    dest: Path = typer.Argument(Path("."), help="Folder to copy the files into."),
    path: str = typer.Option(None, help="Only this file or the files under this folder."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Copy a run's files out of the store, checking every hash."""
    from ..store import open_store
    from ..tracking import download_artifacts

    store = open_store(create=False)
    written = download_artifacts(store, run_id, dest, path)
    if json_output:
        print_json([str(target) for target in written])
    else:
        console.print(f"copied {len(written)} file(s) to {dest}")


@app.command("verify")
def verify(
    workers: int = typer.Option(4, min=1, help="Blobs hashed at once."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Re-hash every blob; exits 6 if any is corrupt or missing, naming the runs using it."""
    from ..artifacts.verify import verify_blobs
    from ..store import open_store

    store = open_store(create=False)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=json_output or not err_console.is_terminal,
    ) as progress:
        task = progress.add_task("verifying blobs", total=None)
        report = verify_blobs(
            store,
            workers=workers,
            on_progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    if json_output:
        print_json(report.to_dict())
    else:
        console.print(
            f"checked {report.checked} blob(s), {report.bytes_checked:,} bytes intact; "
            f"{len(report.corrupt)} corrupt, {len(report.missing)} missing, "
            f"{len(report.orphaned)} orphaned, {len(report.temp_removed)} temp file(s) removed"
        )
        for kind, digests in (("corrupt", report.corrupt), ("missing", report.missing)):
            for digest in digests:
                users = ", ".join(report.references.get(digest, [])) or "no run file"
                console.print(styled(f"✗ {kind}", "red"), f"{digest}  used by {users}")
    if not report.ok:
        raise IntegrityFailure(
            f"{len(report.corrupt)} corrupt and {len(report.missing)} missing blob(s) in "
            f"{store.blobs.url}",
            hint="restore them from a copy; the runs listed above cannot be reproduced as is",
        )
