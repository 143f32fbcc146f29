"""Turning what a page handler found into a response: an HTML page or its JSON twin.

A handler returns a :class:`Page`: ``data`` is the JSON twin (``/runs.json``) and what the
template shows; ``view`` holds what only the picture needs (chart specs, graph layouts,
form state). Both faces of a page come from one call, so they cannot disagree.

Templates autoescape. Chart specs and other data for the browser go into
``<script type="application/json">`` islands (see :func:`island`) that the static
``loopml.js`` reads, so the pages run under ``Content-Security-Policy: script-src 'self'``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any
from urllib.parse import urlencode

import jinja2
import orjson
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ..errors import LoopmlError
from ..html_charts import table_figure
from .static import static_url

#: The sections in the header of every page, in order: (path, label).
NAVIGATION = (
    ("/runs", "Runs"),
    ("/experiments", "Experiments"),
    ("/datasets", "Datasets"),
    ("/pipelines", "Pipelines"),
    ("/models", "Models"),
    ("/deployments", "Deployments"),
    ("/monitoring", "Monitoring"),
    ("/audit", "Audit"),
)


@dataclass
class Page:
    """One page: its template, its JSON twin (``data``) and what only the HTML needs."""

    template: str
    title: str
    data: dict[str, Any]
    view: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    section: str | None = None
    """The navigation entry to highlight (``/runs``)."""
    document: str | None = None
    """A whole page made elsewhere (a model card), sent as it is instead of the template."""
    error: LoopmlError | None = None
    """A page shown with its form and this error (a bad filter): the twin answers with
    the error alone, in the one JSON error shape."""


class JSONResponse(Response):
    """JSON through orjson: NaN and infinities become ``null``, dataclasses dicts."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, default=_json_default, option=_JSON_OPTIONS)


def json_page(page: Page) -> Response:
    if page.error is not None:
        return JSONResponse(page.error.to_dict(), status_code=page.error.http_status)
    return JSONResponse(page.data, status_code=page.status)


def html_page(request: Request, page: Page) -> HTMLResponse:
    if page.document is not None:
        return HTMLResponse(page.document, status_code=page.status)
    template = _environment().get_template(page.template)
    context = {
        "error": None,
        **page.data,
        **page.view,
        "meta": page,
        "navigation": NAVIGATION,
        "user": signed_in_user(request),
        "json_url": twin_url(request),
        "request": request,
    }
    status = page.status
    if page.error is not None:
        context["error"] = page.error.to_dict()["error"]
        status = page.error.http_status
    return HTMLResponse(template.render(context), status_code=status)


def error_response(request: Request, exc: LoopmlError, *, as_json: bool) -> Response:
    """The one error shape as JSON, or an error page with the same status and message."""
    if as_json:
        return JSONResponse(exc.to_dict(), status_code=exc.http_status)
    title = _STATUS_TITLES.get(exc.http_status, "Error")
    page = Page("error.html.j2", title=title, data={}, error=exc)
    return html_page(request, page)


def signed_in_user(request: Request) -> str | None:
    user = getattr(request.state, "user", None)
    return user if isinstance(user, str) and user else None


def twin_url(request: Request) -> str:
    """The JSON twin of the HTML page at ``request``: ``.json`` added, query kept."""
    path = request.url.path
    path = "/.json" if path == "/" else path.rstrip("/") + ".json"
    query = request.url.query
    return f"{path}?{query}" if query else path


def island(value: Any) -> Markup:
    """``value`` as JSON safe inside ``<script type="application/json">``.

    ``<``, ``>``, ``&`` and ``'`` are written as ``\\u`` escapes (as Jinja's ``tojson``
    does), so user text cannot close the script element; NaN becomes ``null``.
    """
    text = orjson.dumps(value, default=_json_default, option=_JSON_OPTIONS).decode("utf-8")
    for char, escaped in _ISLAND_ESCAPES:
        text = text.replace(char, escaped)
    return Markup(text)


def url_with(request: Request, **changes: Any) -> str:
    """The current page's URL with some query arguments replaced (None removes one).

    A list value repeats the argument (``col=a&col=b``).
    """
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    for key, value in changes.items():
        if value is None:
            continue
        if isinstance(value, list | tuple):
            pairs += [(key, str(item)) for item in value]
        else:
            pairs.append((key, str(value)))
    query = urlencode(pairs)
    return f"{request.url.path}?{query}" if query else request.url.path


def to_plain(value: Any) -> Any:
    """A dataclass (or anything with ``to_dict``) as plain dicts and lists, for JSON."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


# --- template filters ----------------------------------------------------------------


def when(ms: int | None) -> str:
    """Milliseconds since the epoch as ``2026-11-26 11:02:03`` (UTC)."""
    if ms is None:
        return "—"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def duration(ms: int | float | None) -> str:
    if ms is None:
        return "—"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def percent(share: float | None) -> str:
    return "—" if share is None else f"{100 * share:.1f}%"


def size(count: int | None) -> str:
    if count is None:
        return "—"
    amount = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} TB"  # pragma: no cover - the loop always returns


def short(text: str | None, length: int = 8) -> str:
    return "—" if not text else text[:length]


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("loopml.ui", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        when=when,
        figure=table_figure,
        duration=duration,
        percent=percent,
        size=size,
        short=short,
        island=island,
    )
    environment.globals.update(url_with=url_with, static_url=static_url)
    return environment


def _json_default(value: Any) -> Any:
    plain = to_plain(value)
    if plain is not value:
        return plain
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
_ISLAND_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("'", "\\u0027"))
_STATUS_TITLES = {
    400: "Bad request",
    404: "Not found",
    409: "Conflict",
    413: "Too large",
    415: "Unsupported media type",
    422: "Cannot do that",
    500: "Server error",
    503: "Unavailable",
}
