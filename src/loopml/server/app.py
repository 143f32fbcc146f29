"""The team server: every service operation over HTTP, blobs, tokens and the web UI.

    app = build_app(open_store(config), ServerSettings(auth=True))

Routes (all in ``/openapi.json``):

- ``POST /api/v1/ops/<name>``: run operation ``<name>`` (see :mod:`loopml.ops`) with the
  JSON body as its arguments, as the token's user; the result is JSON.
- ``/api/v1/uploads...`` and ``GET /api/v1/blobs/<hash>``: resumable uploads, downloads.
- ``GET /api/v1/whoami``, ``GET /health``, ``GET /openapi.json``.
- ``/login``, ``/logout`` and the web UI's pages at ``/``.

Every error is the one JSON shape of :meth:`loopml.errors.LoopmlError.to_dict`.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

import orjson
from sqlalchemy.exc import IntegrityError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import wire
from ..errors import Conflict, InvalidInput, LoopmlError, NotFound
from ..ops import Operation, load_operations
from ..serving.app import read_limited
from ..store import Store
from .auth import COOKIE, Gate, Principal, require
from .openapi import build_document
from .uploads import Uploads, blob_response

MB = 1 << 20
_JSON = "application/json"
_PUBLIC = frozenset({"/health", "/openapi.json", "/login", "/logout"})
_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
        b"form-action 'self'",
    ),
]
log = logging.getLogger("loopml.server")


@dataclass
class ServerSettings:
    max_body_bytes: int = 64 * MB
    """The largest JSON body an operation takes (blobs go through uploads instead)."""
    max_upload_bytes: int = 100 * 1024 * MB
    auth: bool = False
    """Require a token even before the first one exists."""
    uploads_dir: Path | None = None
    ui: bool = True
    """Serve the web UI at ``/`` (``loopml server --no-ui`` serves the API alone)."""


class TeamServer:
    """The state behind the routes."""

    def __init__(self, store: Store, settings: ServerSettings) -> None:
        self.store = store
        self.settings = settings
        self.operations = load_operations()
        for op in self.operations.values():  # a signature that cannot be described fails here
            wire.params_model(op)
            wire.result_adapter(op)
        self.gate = Gate(store, required=settings.auth)
        self.uploads = Uploads(
            settings.uploads_dir or Path(store.config.home) / "uploads",
            max_bytes=settings.max_upload_bytes,
        )
        self._document: bytes | None = None

    # --- operations ----------------------------------------------------------------------

    async def run_operation(self, request: Request) -> Response:
        name = request.path_params["name"]
        op = self.operations.get(name)
        if op is None:
            raise NotFound(
                f"operation '{name}' not found", hint="GET /openapi.json lists every operation"
            )
        principal = _principal(request)
        require(principal, op.role, f"call {name}")
        body = await read_body(request, self.settings.max_body_bytes)
        arguments = wire.parse_arguments(op, body)
        result = await run_in_threadpool(self._call, op, principal, arguments)
        return Response(wire.dumps(result), media_type=_JSON)

    def _call(self, op: Operation, principal: Principal, arguments: dict[str, Any]) -> Any:
        try:
            return op.func(self.store.acting_as(principal.user), **arguments)
        except LoopmlError:
            raise
        except IntegrityError:
            # A reference to something that is not there (or a duplicate) the function did
            # not check for; the transaction rolled back, so nothing changed.
            raise Conflict(
                f"{op.name}: the request names something that does not exist, or exists "
                "already; nothing was changed",
                hint="check the ids and hashes it names",
            ) from None
        except (OverflowError, UnicodeEncodeError) as exc:
            # Only a value can cause these: a number past 64 bits, a lone surrogate.
            raise InvalidInput(
                f"{op.name}: a value cannot be stored: {exc}",
                hint="integers must fit in 64 bits and text must be valid Unicode",
            ) from None
        except Exception:
            # Plain values reach the function as they came: one of the wrong type is the
            # caller's mistake when the annotations say so, and a bug of ours otherwise.
            problem = wire.explain(op, arguments)
            if problem is not None:
                raise problem from None
            raise

    async def whoami(self, request: Request) -> Response:
        principal = _principal(request)
        return _json({"user": principal.user, "role": principal.role, "auth": self.gate.enabled()})

    # --- blobs -----------------------------------------------------------------------------

    async def open_upload(self, request: Request) -> Response:
        require(_principal(request), "writer", "upload blobs")
        body = await read_body(request, 64 * 1024)
        try:
            fields = orjson.loads(body or b"{}")
        except orjson.JSONDecodeError:
            fields = None
        if not isinstance(fields, dict):
            raise InvalidInput("the body must be a JSON object with 'hash' and 'size'")
        return _json(await run_in_threadpool(self.uploads.open, self.store, fields))

    async def upload_status(self, request: Request) -> Response:
        require(_principal(request), "writer", "upload blobs")
        return _json(self.uploads.status(request.path_params["hash"]))

    async def append_upload(self, request: Request) -> Response:
        require(_principal(request), "writer", "upload blobs")
        return _json(await self.uploads.append(request.path_params["hash"], request))

    async def finish_upload(self, request: Request) -> Response:
        require(_principal(request), "writer", "upload blobs")
        return _json(await self.uploads.finish(self.store, request.path_params["hash"]))

    async def get_blob(self, request: Request) -> Response:
        return await blob_response(self.store, request.path_params["hash"], request)

    # --- documents and sign-in -------------------------------------------------------------

    async def openapi(self, _request: Request) -> Response:
        if self._document is None:
            self._document = orjson.dumps(build_document(self.operations))
        return Response(self._document, media_type=_JSON)

    async def health(self, _request: Request) -> Response:
        return _json({"status": "ok"})

    async def login(self, request: Request) -> Response:
        target = _safe_next(request.query_params.get("next"))
        if request.method == "GET":
            return _login_page(target, error=None)
        # A urlencoded form, parsed here: python-multipart would be a dependency for two fields.
        form = parse_qs((await read_body(request, 16 * 1024)).decode("utf-8", "replace"))
        token = (form.get("token") or [""])[0].strip()
        target = _safe_next((form.get("next") or [target])[0])
        try:
            await run_in_threadpool(_check_token, self.store, token)
        except LoopmlError as exc:
            return _login_page(target, error=exc.message, status=401)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            max_age=7 * 86_400,
        )
        return response

    async def logout(self, _request: Request) -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/api/v1/ops/{name}", self.run_operation, methods=["POST"]),
            Route("/api/v1/whoami", self.whoami),
            Route("/api/v1/uploads", self.open_upload, methods=["POST"]),
            Route("/api/v1/uploads/{hash}", self.upload_status, methods=["GET"]),
            Route("/api/v1/uploads/{hash}", self.append_upload, methods=["PATCH"]),
            Route("/api/v1/uploads/{hash}/finish", self.finish_upload, methods=["POST"]),
            Route("/api/v1/blobs/{hash}", self.get_blob, methods=["GET", "HEAD"]),
            Route("/openapi.json", self.openapi),
            Route("/health", self.health),
            Route("/login", self.login, methods=["GET", "POST"]),
            Route("/logout", self.logout),
        ]


def _check_token(store: Store, token: str) -> None:
    from .tokens import authenticate

    authenticate(store, token)


def _principal(request: Request) -> Principal:
    return request.scope["loopml.principal"]  # set by AuthMiddleware


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) past ``limit`` bytes before it is all read."""
    return await read_limited(
        request, limit, hint="send artifacts as blobs (the client does) or raise --max-body-mb"
    )


def _json(value: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(value), status_code=status, media_type=_JSON)


def _safe_next(target: str | None) -> str:
    # Only a path on this server: "//evil.example" or "https://..." would be an open redirect.
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_page(target: str, *, error: str | None, status: int = 200) -> Response:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(
        loader=PackageLoader("loopml.server", "templates"), autoescape=select_autoescape()
    )
    html = env.get_template("login.html.j2").render(next=target, error=error)
    return Response(html, status_code=status, media_type="text/html; charset=utf-8")


class AuthMiddleware:
    """Finds the caller of every request (401 without a valid token while auth is on)."""

    def __init__(self, app: ASGIApp, server: TeamServer) -> None:
        self.app = app
        self.server = server

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in _PUBLIC or path.startswith("/static/"):
            scope["loopml.principal"] = Principal("anonymous", "reader")
            await self.app(scope, receive, send)
            return
        await self._authenticate(scope, receive, send)

    async def _authenticate(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        try:
            principal = await run_in_threadpool(self.server.gate.principal, request)
        except LoopmlError as exc:
            if _wants_html(request) and exc.http_status == 401:
                query = f"?{request.url.query}" if request.url.query else ""
                target = quote(request.url.path + query)
                await RedirectResponse(f"/login?next={target}", status_code=303)(
                    scope, receive, send
                )
                return
            await error_response(exc)(scope, receive, send)
            return
        scope["loopml.principal"] = principal
        scope.setdefault("state", {})["user"] = (
            principal.user if principal.token_id is not None else None
        )
        await self.app(scope, receive, send)


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get(
        "accept", ""
    )


class SecurityHeaders:
    """Adds the security headers to every response; API answers are never cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope["path"].startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(_SECURITY_HEADERS)
                if api:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def error_response(exc: LoopmlError) -> Response:
    return Response(orjson.dumps(exc.to_dict()), status_code=exc.http_status, media_type=_JSON)


async def _loopml_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoopmlError)
    return error_response(exc)


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    body = {"error": {"code": code, "message": str(exc.detail), "hint": None, "details": {}}}
    return Response(orjson.dumps(body), status_code=exc.status_code, media_type=_JSON)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("%s %s failed:\n%s", request.method, request.url.path, traceback.format_exc())
    body = {
        "error": {
            "code": "internal_error",
            "message": f"the server failed on {request.method} {request.url.path}: "
            f"{type(exc).__name__}",
            "hint": "the server's log has the traceback; please report it",
            "details": {},
        }
    }
    return Response(orjson.dumps(body), status_code=500, media_type=_JSON)


def build_app(store: Store, settings: ServerSettings | None = None) -> Starlette:
    """The team server's ASGI app over ``store``."""
    server = TeamServer(store, settings or ServerSettings())
    pages: list[BaseRoute] = []
    if server.settings.ui:
        from ..ui import ui_routes

        pages = ui_routes()
    app = Starlette(
        routes=[*server.routes(), *pages],
        exception_handlers={
            LoopmlError: _loopml_error,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
    )
    app.state.store = store
    app.state.server = server
    app.add_middleware(AuthMiddleware, server=server)
    app.add_middleware(SecurityHeaders)
    return app
