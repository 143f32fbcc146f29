"""``loopml server``: the team server (REST API, blobs, tokens, web UI) over one store."""

from __future__ import annotations

import dataclasses
import ipaddress

import typer

from ..errors import InvalidInput
from ._output import err_console

_GB = 1 << 30


def server(
    db: str = typer.Option(
        None, "--db", help="Metadata database URL (default: the project's SQLite store)."
    ),
    artifacts: str = typer.Option(
        None, "--artifacts", help="Artifact store: a folder or s3://bucket/prefix."
    ),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8080, min=1, max=65535, help="Port to listen on."),
    auth: bool = typer.Option(
        False, "--auth", help="Require a token even before the first one is created."
    ),
    insecure: bool = typer.Option(
        False, "--insecure", help="Allow a non-loopback address without authentication."
    ),
    ui: bool = typer.Option(True, "--ui/--no-ui", help="Serve the web UI at /."),
    max_body_mb: int = typer.Option(64, min=1, help="Largest JSON request body, in MB."),
    max_upload_gb: int = typer.Option(100, min=1, help="Largest artifact upload, in GB."),
) -> None:
    """Serve every loopml operation over HTTP to a team, with tokens, roles and the web UI.

    Clients set LOOPML_SERVER=http://HOST:PORT (and LOOPML_TOKEN) and use the SDK and CLI
    as they would locally.
    """
    from ..config import resolve
    from ..server.app import MB, ServerSettings, build_app
    from ..server.tokens import count_tokens
    from ..serving.server import run
    from ..store import open_store
    from ..store.engine import describe_url

    config = dataclasses.replace(resolve(), server_url=None, token=None)
    if db:
        config = dataclasses.replace(config, db_url=db)
    if artifacts:
        config = dataclasses.replace(config, artifacts_url=artifacts)
    store = open_store(config)
    tokens = count_tokens(store)
    if not (auth or tokens) and not _loopback(host) and not insecure:
        raise InvalidInput(
            f"refusing to serve {host} without authentication: anyone who reaches it could "
            "read and change everything",
            hint="create a token (loopml token create --user NAME --role admin) or pass "
            "--auth; --insecure overrides",
        )
    settings = ServerSettings(
        max_body_bytes=max_body_mb * MB,
        max_upload_bytes=max_upload_gb * _GB,
        auth=auth,
        ui=ui,
    )
    app = build_app(store, settings)
    mode = "on" if (auth or tokens) else "off (no token exists yet)"
    err_console.print(
        f"loopml server on http://{host}:{port}  store: {describe_url(config.db_url)}  "
        f"auth: {mode}",
        markup=False,
        soft_wrap=True,
    )
    run(app, host, port)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
