"""``loopml token``: API tokens for the team server (create, list, revoke)."""

from __future__ import annotations

import typer

from ..clock import format_ms
from ._output import console, print_json, table

app = typer.Typer(help="API tokens for the team server.", no_args_is_help=True)


@app.command("create")
def create(
    user: str = typer.Option(..., "--user", help="Who the token acts as (recorded in the audit)."),
    role: str = typer.Option(..., "--role", help="reader, writer or admin."),
    expires_days: int = typer.Option(None, "--expires-days", help="Expire after this many days."),
    description: str = typer.Option(None, "--description", help="What the token is for."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Create a token and print it once (only its hash is stored)."""
    from ..server.tokens import create_token
    from ..store import open_store

    created = create_token(
        open_store(), user, role, expires_days=expires_days, description=description
    )
    if json_output:
        print_json(created.__dict__)
        return
    console.print(created.token, markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"token {created.id} for {created.user} ({created.role}); shown once, store it now",
        style="dim",
        markup=False,
    )


@app.command("ls")
def ls(json_output: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List tokens (never their secrets)."""
    from ..server.tokens import list_tokens
    from ..store import open_store

    tokens = list_tokens(open_store(create=False))
    if json_output:
        print_json([{**token.__dict__, "active": token.active} for token in tokens])
        return
    output = table("id", "user", "role", "created", "by", "expires", "state")
    for token in tokens:
        state = "revoked" if token.revoked_at else ("active" if token.active else "expired")
        output.add_row(
            token.id,
            token.user,
            token.role,
            format_ms(token.created_at),
            token.created_by,
            format_ms(token.expires_at) or "never",
            state,
        )
    console.print(output)


@app.command("revoke")
def revoke(token_id: str = typer.Argument(..., help="The token's id (loopml token ls).")) -> None:
    """Revoke a token; requests carrying it are refused from then on."""
    from ..server.tokens import revoke_token
    from ..store import open_store

    token = revoke_token(open_store(create=False), token_id)
    console.print(f"token {token.id} of {token.user} revoked", markup=False)
