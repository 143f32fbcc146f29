"""``loopml audit``: read and verify the hash-chained audit log."""

from __future__ import annotations

import typer

from ..clock import format_ms
from ..errors import IntegrityFailure
from ._output import console, print_json, styled, table

app = typer.Typer(help="The audit log: who changed what, when.", no_args_is_help=True)


@app.command("ls")
def ls(
    object_type: str = typer.Option(None, "--type", help="Only this object type (run, ...)."),
    object_id: str = typer.Option(None, "--object", help="Only events about this object id."),
    actor: str = typer.Option(None, help="Only events by this user."),
    action: str = typer.Option(None, help="Only this action (run.create, run.params, ...)."),
    limit: int = typer.Option(50, min=1, help="How many of the newest events."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the newest audit events."""
    from ..governance import list_events
    from ..store import open_store

    store = open_store(create=False)
    events = list_events(
        store,
        object_type=object_type,
        object_id=object_id,
        actor=actor,
        action=action,
        limit=limit,
    )
    if json_output:
        print_json([event.to_dict() for event in events])
        return
    output = table("seq", "time", "actor", "action", "object", "change")
    for event in events:
        change = _summary(event.before, event.after)
        output.add_row(
            str(event.seq),
            format_ms(event.time),
            event.actor,
            event.action,
            f"{event.object_type} {event.object_id[:12]}",
            change,
        )
    console.print(output)


@app.command("verify")
def verify_cmd(json_output: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Re-walk the hash chain; exits 6 and names each edited or missing event."""
    from ..governance import verify
    from ..store import open_store

    store = open_store(create=False)
    report = verify(store)
    if json_output:
        print_json(report.to_dict())
    elif report.ok:
        console.print(f"audit log intact: {report.checked} events verified")
    else:
        for problem in report.problems:
            console.print(styled("✗", "red"), problem)
    if not report.ok:
        raise IntegrityFailure(
            f"the audit log was tampered with: {len(report.problems)} problem(s), first: "
            f"{report.problems[0]}"
        )


def _summary(before: object, after: object, width: int = 60) -> str:
    text = f"{before} → {after}" if before is not None else str(after or "")
    return text if len(text) <= width else text[: width - 1] + "…"
