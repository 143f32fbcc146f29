"""The one generic caller of the team server: send an operation, get its result or its error.

Errors come back in the one JSON shape and are raised again as the same
:class:`~loopml.errors.LoopmlError` subclass a local call would raise, with the same
message, hint and details, so code written against a local store behaves the same.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx2
import orjson

from .. import errors, wire
from ..ops import Operation

API_PREFIX = "/api/v1"
_TIMEOUT = httpx2.Timeout(connect=10.0, read=300.0, write=300.0, pool=30.0)


def _error_classes() -> dict[str, type[errors.LoopmlError]]:
    found: dict[str, type[errors.LoopmlError]] = {}
    pending: list[type[errors.LoopmlError]] = [errors.LoopmlError]
    while pending:
        cls = pending.pop()
        found.setdefault(cls.code, cls)
        pending.extend(cls.__subclasses__())
    return found


_ERRORS = _error_classes()


def raise_error(response: httpx2.Response, what: str) -> None:
    """Raise the LoopmlError a failed response carries (or one describing it)."""
    try:
        body = orjson.loads(response.content)["error"]
        code, message = body["code"], body["message"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise errors.StoreError(
            f"the server answered {what} with HTTP {response.status_code}",
            hint="check that LOOPML_SERVER points at a loopml server",
        ) from None
    cls = _ERRORS.get(code, errors.LoopmlError)
    error = cls.__new__(cls)
    errors.LoopmlError.__init__(
        error, message, hint=body.get("hint"), **(body.get("details") or {})
    )
    for key, value in error.details.items():  # FilterSyntaxError.column and the like
        if not hasattr(error, key):
            setattr(error, key, value)
    raise error


class ServerClient:
    """An HTTP connection pool to one server, with its token; safe to share between threads."""

    def __init__(self, url: str, token: str | None = None, *, user: str | None = None) -> None:
        self.url = url.rstrip("/")
        headers = {"User-Agent": "loopml-client"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        elif user:  # a server without auth records the user the client names
            headers["X-Loopml-User"] = user
        self._http = httpx2.Client(base_url=self.url, headers=headers, timeout=_TIMEOUT)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ServerClient({self.url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ServerClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def call(self, op: Operation, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run operation ``op`` on the server with these arguments; its result, decoded."""
        body = wire.dumps(op.bind(args, kwargs))
        response = self.request("POST", f"{API_PREFIX}/ops/{op.name}", content=body, json=True)
        return wire.parse_result(op, response.content)

    def request(
        self, method: str, path: str, *, json: bool = False, ok: tuple[int, ...] = (), **kw: Any
    ) -> httpx2.Response:
        """Send one request; a non-2xx answer (unless listed in ``ok``) raises its error."""
        if json:
            kw.setdefault("headers", {})["Content-Type"] = "application/json"
        try:
            response = self._http.request(method, path, **kw)
        except httpx2.TransportError as exc:
            raise errors.ServerUnreachable(
                f"the loopml server at {self.url} did not answer {method} {path}: {exc}",
                hint="start it with 'loopml server', or fix LOOPML_SERVER",
            ) from None
        if response.status_code >= 400 and response.status_code not in ok:
            raise_error(response, f"{method} {path}")
        return response

    def stream(self, method: str, path: str, **kw: Any) -> Any:
        """A streaming response context (downloads); errors raise as in :meth:`request`."""
        return self._http.stream(method, path, **kw)
