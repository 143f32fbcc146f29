"""Signing in to the UI with a token: the redirect, the cookie, the refusal, and a real
browser going through it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import Served

CHROMIUM = Path("/usr/bin/chromium")
HTML = {"Accept": "text/html"}


def test_a_page_without_a_token_sends_a_browser_to_sign_in(served: Served) -> None:
    served.token("reader")
    with served.client(**HTML) as http:
        response = http.get("/runs?filter=x", follow_redirects=False)
        api = http.post("/api/v1/ops/runs.search", json={})
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/runs%3Ffilter%3Dx"
    assert api.status_code == 401  # the API answers in JSON, never with a redirect


def test_a_good_token_sets_an_httponly_strict_cookie_and_goes_back(served: Served) -> None:
    token = served.token("reader", "rita")
    with served.client(**HTML) as http:
        response = http.post(
            "/login", data={"token": token, "next": "/runs"}, follow_redirects=False
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/runs"
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert http.get("/api/v1/whoami").json()["user"] == "rita"
        assert http.get("/runs").status_code == 200
        http.get("/logout", follow_redirects=False)
        assert http.get("/api/v1/whoami").status_code == 401


def test_a_bad_token_shows_the_form_again_with_the_reason(served: Served) -> None:
    served.token("reader")
    with served.client(**HTML) as http:
        response = http.post("/login", data={"token": "lml_000000000000_" + "x" * 43})
    assert response.status_code == 401
    assert "not known to this server" in response.text
    assert '<form method="post" action="/login">' in response.text


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example", "/\\evil"])
def test_sign_in_only_redirects_within_the_server(served: Served, target: str) -> None:
    token = served.token("reader")
    with served.client() as http:
        response = http.post(
            "/login", data={"token": token, "next": target}, follow_redirects=False
        )
    assert response.headers["location"] == "/"


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"
)
def test_a_person_signs_in_with_a_token_in_a_browser(served: Served, tmp_path: Path) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is missing")
    token = served.token("reader", "rita")
    shots = Path(os.environ.get("LOOPML_TEST_ARTIFACTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(base_url=served.url)
        page.goto("/audit")
        assert page.url.endswith("/login?next=/audit")
        page.screenshot(path=str(shots / "server-login.png"))
        page.fill("#token", token)
        page.click("button[type=submit]")
        page.wait_for_url("**/audit")
        assert "rita" in page.locator("header").inner_text()
        page.screenshot(path=str(shots / "server-signed-in.png"))
        browser.close()
