"""``/static/<file>``: the UI's own CSS and JS, and plotly.js from the installed plotly.

Only names known when the package loads are served, so no request path can reach
another file. Every file is sent with a long cache lifetime and an ``ETag``; pages link
to them with their content hash in the query (:func:`static_url`), so a new loopml or
plotly release is fetched anew.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response

from ..errors import NotFound

CACHE_CONTROL = "public, max-age=31536000, immutable"
_MEDIA_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    media_type: str
    etag: str


def static_file(request: Request) -> Response:
    """Serve one known static file; ``304 Not Modified`` when the browser has it."""
    name = request.path_params["name"]
    found = _files().get(name)
    if found is None:
        raise NotFound(
            f"static file '{name}' does not exist",
            hint=f"the UI serves: {', '.join(sorted(_files()))}",
        )
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": found.etag}
    if request.headers.get("if-none-match") == found.etag:
        return Response(status_code=304, headers=headers)
    return Response(found.body, media_type=found.media_type, headers=headers)


def static_url(name: str) -> str:
    """The URL of a static file with its content hash, so a new release is fetched anew."""
    found = _files()[name]
    return f"/static/{name}?v={found.etag.strip(chr(34))[:12]}"


@cache
def _files() -> dict[str, StaticFile]:
    files = {}
    folder = resources.files("loopml.ui") / "static"
    for entry in folder.iterdir():
        suffix = Path(entry.name).suffix
        if entry.is_file() and suffix in _MEDIA_TYPES:
            files[entry.name] = _static(entry.read_bytes(), _MEDIA_TYPES[suffix])
    files["plotly.min.js"] = _static(_plotly_js(), _MEDIA_TYPES[".js"])
    return files


def _plotly_js() -> bytes:
    """plotly.js as the plotly package ships it (no network: the UI works offline)."""
    shipped = resources.files("plotly") / "package_data" / "plotly.min.js"
    if shipped.is_file():
        return shipped.read_bytes()
    import plotly.offline  # an unusual install without the file: plotly builds the text

    return plotly.offline.get_plotlyjs().encode("utf-8")


def _static(body: bytes, media_type: str) -> StaticFile:
    return StaticFile(body, media_type, f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"')
