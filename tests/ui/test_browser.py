"""The UI in a real browser: Debian's Chromium driven by Playwright against the real team
server (uvicorn on loopback, with its security headers: ``script-src 'self'``). Each test
checks what a person sees and saves a screenshot (into ``$LOOPML_TEST_ARTIFACTS`` when
set)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from loopml.store import Store

from ..helpers import free_port
from .conftest import artifacts_dir
from .support import World

CHROMIUM = Path("/usr/bin/chromium")

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
)
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"
)


@pytest.fixture
def store(world: World) -> Store:
    """The pages show the module's shared world."""
    return world.store


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module."""
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def port() -> int:
    """One port for the module, so every test's server is the same origin and the
    browser's cache keeps plotly.js (4.8 MB) from one test to the next."""
    return free_port()


@pytest.fixture(scope="module")
def context(browser: Any, port: int) -> Iterator[Any]:
    opened = browser.new_context(
        base_url=f"http://127.0.0.1:{port}", viewport={"width": 1400, "height": 900}
    )
    yield opened
    opened.close()


@pytest.fixture
def server(store: Store, port: int) -> Iterator[str]:
    """The team server over ``store``, served by uvicorn in a thread; its base URL."""
    from loopml.server.app import build_app

    config = uvicorn.Config(build_app(store), host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started:
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() < deadline, "uvicorn did not start within 10 s"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def tab(context: Any, server: str, tmp_path: Path) -> Iterator[Any]:
    """A fresh page whose console errors (a CSP violation, a script error) fail the test."""
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.screenshots = artifacts_dir(tmp_path)  # type: ignore[attr-defined]
    page.expected_status = None  # type: ignore[attr-defined]
    yield page
    page.close()
    expected = f"status of {page.expected_status} " if page.expected_status else None
    problems = [p for p in problems if not (expected and expected in p)]
    assert not problems, f"the browser reported: {problems}"


def shoot(page: Any, name: str) -> None:
    page.screenshot(path=str(page.screenshots / f"ui-{name}.png"), full_page=True)


def test_the_overview_links_to_every_page(tab: Any) -> None:
    tab.goto("/")
    assert tab.locator("h1").inner_text() == "Overview"
    cards = tab.locator(".card .label").all_inner_texts()
    assert {"runs", "datasets", "models", "deployments"} <= set(cards)
    for label in ("Runs", "Datasets", "Pipelines", "Models", "Deployments", "Monitoring", "Audit"):
        assert tab.locator("header nav a", has_text=label).count() == 1
    shoot(tab, "overview")


def test_filtering_runs_and_comparing_three(tab: Any, world: World) -> None:
    tab.goto("/runs?per_page=25")
    rows = tab.locator("#runs-table tbody tr")
    assert rows.count() == 25
    assert "page 1 of" in tab.locator(".pager").inner_text()
    tab.fill("input[name=filter]", "params.model = 'xgb' and experiment = 'churn'")
    tab.fill("input[name=order_by]", "metrics.auc desc")
    tab.press("input[name=filter]", "Enter")
    tab.wait_for_url("**/runs?*")
    assert rows.count() == 10
    names = tab.locator("#runs-table tbody tr td:nth-child(2) a").all_inner_texts()
    assert names[0] == "churn-027"  # the best auc of the xgb runs comes first
    shoot(tab, "runs-filtered")

    assert tab.locator("#compare-button").is_disabled()
    for index in range(3):
        rows.nth(index).locator("input[name=run]").check()
    assert tab.locator("#selected-count").inner_text() == "3 selected"
    tab.click("#compare-button")
    tab.wait_for_url("**/compare?runs=*")
    assert tab.locator("#compare-table thead th").count() == 4  # a label column, 3 runs
    tab.wait_for_selector(".chart .plotly")
    assert tab.locator(".chart .plotly").count() == 2  # auc and loss
    assert tab.locator(".chart .plotly .scatterlayer .trace").count() == 6  # a line per run
    shoot(tab, "compare")


def test_a_bad_filter_keeps_the_form_and_names_the_problem(tab: Any) -> None:
    tab.expected_status = 400
    answer = tab.goto("/runs?filter=metrics.auc+%3E+high")
    assert answer.status == 400
    banner = tab.locator("#error").inner_text()
    assert "unexpected 'high'" in banner and "column 15" in banner
    assert tab.locator("input[name=filter]").input_value() == "metrics.auc > high"
    shoot(tab, "runs-bad-filter")


def test_the_model_page_shows_the_champion_badge(tab: Any) -> None:
    tab.goto("/models/churn")
    badge = tab.locator("#versions-table tr[data-version='1'] .badge.alias")
    assert badge.all_inner_texts() == ["champion"]
    assert tab.locator("tr[data-version='2'] .badge.alias").all_inner_texts() == ["challenger"]
    shoot(tab, "model")
    tab.click("#versions-table tr[data-version='1'] a >> text=1")
    tab.wait_for_url("**/models/churn/1")
    assert tab.locator(".graph .node").count() >= 3  # the version, its run, customers@1
    tab.wait_for_selector(".chart .plotly")
    assert tab.locator(".chart .plotly").count() >= 2  # the stored evaluation's ROC and more
    shoot(tab, "model-version")


@pytest.mark.parametrize(
    ("path", "heading", "charts"),
    [
        ("/experiments", "Experiments", 0),
        ("/datasets", "Datasets", 0),
        ("/datasets/customers", "Dataset customers", 1),
        ("/datasets/customers/1", "customers version 1", 6),
        ("/datasets/customers/diff", "customers: version 1 → 2", 0),
        ("/pipelines", "Pipeline runs", 0),
        ("/deployments", "Deployments", 0),
        ("/deployments/churn-prod", "Deployment churn-prod", 3),
        ("/monitoring", "Monitoring", 1),
        ("/monitoring/churn-prod", "Monitoring churn-prod", 3),
        ("/audit", "Audit log", 0),
    ],
)
def test_each_page_draws(tab: Any, path: str, heading: str, charts: int) -> None:
    tab.goto(path)
    assert tab.locator("h1").inner_text().startswith(heading)
    if charts:
        tab.wait_for_selector(".chart .plotly")
    assert tab.locator(".chart .plotly").count() == charts
    shoot(tab, path.strip("/").replace("/", "-"))


def test_the_pipeline_run_shows_its_dag_with_cache_hits(tab: Any, world: World) -> None:
    tab.goto(f"/pipelines/runs/{world.pipeline_run_id}")
    nodes = tab.locator(".graph g.node")
    assert nodes.count() == 5  # four steps and the dataset version they read
    assert tab.locator(".graph g.node-cached").count() == 3
    assert tab.locator(".graph g.node-completed").count() == 1  # publish: cache=False
    assert tab.locator(".graph path.edge").count() == 5
    shoot(tab, "pipeline-run")


def test_a_monitor_report_shows_each_feature(tab: Any, world: World) -> None:
    tab.goto(f"/monitoring/reports/{world.report_id}")
    tab.wait_for_selector(".chart .plotly")
    drifted = tab.locator(".column-card:has(.status-failed) h3").all_inner_texts()
    assert {text.split()[0] for text in drifted} == {"monthly", "plan"}
    shoot(tab, "monitor-report")
