"""``/static/<file>``: the UI's files and plotly.js from the installed package, cached
for long, and nothing else."""

from __future__ import annotations

from importlib import resources

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from loopml.ui import ui_routes


@pytest.fixture
def http() -> TestClient:
    """The UI without a store: static files need none."""
    return TestClient(Starlette(routes=ui_routes()))


def test_plotly_comes_from_the_installed_package(http: TestClient) -> None:
    answer = http.get("/static/plotly.min.js")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/javascript")
    assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    shipped = resources.files("plotly") / "package_data" / "plotly.min.js"
    assert answer.content == shipped.read_bytes()


@pytest.mark.parametrize(
    ("name", "media_type"),
    [("loopml.css", "text/css"), ("loopml.js", "text/javascript"), ("favicon.svg", "image/svg")],
)
def test_own_files_are_served_with_an_etag(http: TestClient, name: str, media_type: str) -> None:
    answer = http.get(f"/static/{name}")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith(media_type)
    again = http.get(f"/static/{name}", headers={"if-none-match": answer.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


@pytest.mark.parametrize(
    "path",
    [
        "/static/missing.js",
        "/static/..%2F__init__.py",
        "/static/%2e%2e%2f%2e%2e%2fpyproject.toml",
        "/static/templates",
        "/static/loopml.css%00.js",
    ],
)
def test_only_known_files_are_served(http: TestClient, path: str) -> None:
    answer = http.get(path)
    assert answer.status_code == 404
    assert "does not exist" in answer.text or answer.text == "Not Found"
