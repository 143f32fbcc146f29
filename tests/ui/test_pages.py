"""Every page and its JSON twin over a project holding one of everything (see support.py),
through an in-process ASGI client: status, what the page shows, the twin's shape, errors
that name the missing object, and pages that run under ``script-src 'self'``."""

from __future__ import annotations

import re
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from loopml.store import Store

from .support import World

PAGES = [
    ("/", "Overview"),
    ("/runs", "Runs"),
    ("/experiments", "Experiments"),
    ("/datasets", "Datasets"),
    ("/datasets/customers", "Dataset customers"),
    ("/datasets/customers/1", "version 1"),
    ("/datasets/customers/diff?old=1&new=2", "version 1 → 2"),
    ("/pipelines", "Pipeline runs"),
    ("/models", "Models"),
    ("/models/churn", "Model churn"),
    ("/models/churn/1", "version 1"),
    ("/models/churn/champion", "version 1"),
    ("/deployments", "Deployments"),
    ("/deployments/churn-prod", "Deployment churn-prod"),
    ("/monitoring", "Monitoring"),
    ("/monitoring/churn-prod", "Monitoring"),
    ("/audit", "Audit log"),
]


@pytest.fixture
def store(world: World) -> Store:
    """The pages show the session's shared world."""
    return world.store


def twin(path: str) -> str:
    """``/runs?x=1`` → ``/runs.json?x=1``."""
    route, _, query = path.partition("?")
    route = "/.json" if route == "/" else f"{route}.json"
    return f"{route}?{query}" if query else route


def everything(world: World) -> list[str]:
    return [
        *(path for path, _ in PAGES),
        f"/runs/{world.runs[0].id}",
        f"/compare?runs={world.runs[0].id},{world.runs[1].id}",
        f"/pipelines/runs/{world.pipeline_run_id}",
        f"/monitoring/reports/{world.report_id}",
    ]


@pytest.mark.parametrize(("path", "heading"), PAGES)
def test_each_page_and_its_twin_answer(client: TestClient, path: str, heading: str) -> None:
    page = client.get(path)
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    title = re.search(r"<h1>(.*?)</h1>", page.text, re.S)
    assert title is not None and heading in re.sub(r"<[^>]+>", "", title.group(1))
    assert f'href="{twin(path).replace("&", "&amp;")}"' in page.text  # the JSON link
    data = client.get(twin(path))
    assert data.status_code == 200
    assert data.headers["content-type"] == "application/json"
    assert isinstance(data.json(), dict)


def test_no_page_has_an_inline_script_or_handler(client: TestClient, world: World) -> None:
    """The server sends ``script-src 'self'``: only static scripts and JSON islands."""
    for path in everything(world):
        page = client.get(path).text
        for tag in re.findall(r"<script\b[^>]*>", page):
            assert 'src="/static/' in tag or 'type="application/json"' in tag, (path, tag)
        assert not re.search(r"\son[a-z]+\s*=", page), path
        assert "javascript:" not in page, path


def test_charts_load_plotly_from_the_package_only_where_drawn(
    client: TestClient, world: World
) -> None:
    compare = client.get(f"/compare?runs={world.runs[0].id},{world.runs[1].id}").text
    assert re.search(r'<script src="/static/plotly\.min\.js\?v=\w+" defer>', compare)
    assert 'id="loopml-charts"' in compare
    assert "cdn" not in compare.lower()
    audit = client.get("/audit").text  # tables only
    assert "plotly.min.js" not in audit and "loopml-charts" not in audit


def test_the_overview_counts_everything(client: TestClient, world: World) -> None:
    data = client.get("/.json").json()
    assert data["counts"]["runs"] >= len(world.runs)
    assert data["counts"]["datasets"] == 1
    assert data["counts"]["models"] == 1
    assert data["counts"]["deployments"] == 1
    assert data["counts"]["drifting_deployments"] == 1
    assert data["activity"][0]["seq"] == data["counts"]["audit_events"]
    assert data["alerts"][0]["rule"] == "drift"


def test_runs_twin_pages_and_names_its_columns(client: TestClient, world: World) -> None:
    data = client.get(
        "/runs.json",
        params={
            "experiment": "churn",
            "filter": "params.lr >= 0.1",
            "per_page": 5,
            "page": 2,
            "order_by": "params.lr",
            "col": ["metrics.auc", "params.lr"],
        },
    ).json()
    assert data["total"] == 21  # lr 0.10 to 0.30
    assert data["pages"] == 5
    assert data["columns"] == ["metrics.auc", "params.lr"]
    assert [run["params"]["lr"] for run in data["runs"]] == ["0.15", "0.16", "0.17", "0.18", "0.19"]
    first = data["runs"][0]
    assert set(first) >= {"id", "name", "experiment", "status", "start_time", "metrics", "params"}
    assert data["previous"].endswith("page=1") and "page=3" in data["next"]


def test_compare_twin_has_histories_per_run(client: TestClient, world: World) -> None:
    chosen = world.runs[:3]
    data = client.get("/compare.json", params={"runs": ",".join(r.id[:10] for r in chosen)}).json()
    assert [run["id"] for run in data["runs"]] == [r.id for r in chosen]  # prefixes resolved
    assert data["charted"] == ["auc", "loss"]
    history = data["histories"]["auc"][chosen[2].id]
    assert history["steps"] == list(range(10))
    assert history["values"][-1] == pytest.approx(0.52)
    assert data["differing_params"] == ["lr", "model"]


def test_model_twin_carries_aliases(client: TestClient) -> None:
    data = client.get("/models/churn.json").json()
    aliases = {v["version"]: v["aliases"] for v in data["versions"]}
    assert aliases == {1: ["champion"], 2: ["challenger"]}
    page = client.get("/models/churn").text
    assert 'data-alias="champion"' in page


def test_model_version_shows_lineage_and_evaluation(client: TestClient) -> None:
    data = client.get("/models/churn/champion.json").json()
    assert data["version"]["version"] == 1
    assert [node["id"] for node in data["lineage"]["upstream"]][:1]  # the training run
    assert data["evaluations"][0]["data_ref"] == "customers@1"
    page = client.get("/models/churn/champion").text
    assert 'data-node="dataset:customers@1"' in page
    assert 'data-chart="eval-roc"' in page
    card = client.get("/models/churn/champion/card")
    assert card.status_code == 200 and "churn" in card.text


def test_pipeline_twin_has_the_dag(client: TestClient, world: World) -> None:
    data = client.get(f"/pipelines/runs/{world.pipeline_run_id}.json").json()
    statuses = {step["name"]: step["status"] for step in data["steps"]}
    assert statuses == {
        "ingest": "CACHED",
        "features": "CACHED",
        "summary": "CACHED",
        "publish": "COMPLETED",
    }
    assert sorted(map(tuple, data["edges"])) == [
        ("features", "publish"),
        ("features", "summary"),
        ("ingest", "features"),
        ("summary", "publish"),
    ]


def test_deployment_twin_shows_the_canary_and_traffic(client: TestClient) -> None:
    data = client.get("/deployments/churn-prod.json").json()
    assert data["strategy"] == "canary"
    assert data["canary"]["steps"] == [20, 50, 100]
    assert data["canary"]["progress"] == pytest.approx(1 / 3)
    assert {v["name"]: v["weight"] for v in data["variants"]} == {"main": 80, "canary": 20}
    rows = {s["variant"]: s["rows"] for s in data["traffic"]["summary"]}
    assert sum(rows.values()) == 400


def test_monitoring_twins(client: TestClient, world: World) -> None:
    overview = client.get("/monitoring.json").json()
    assert overview["latest"][0]["drifted"] == ["monthly", "plan"]
    detail = client.get("/monitoring/churn-prod.json", params={"feature": "monthly"}).json()
    assert detail["feature"] == "monthly" and detail["reports"][0]["id"] == world.report_id
    report = client.get(f"/monitoring/reports/{world.report_id}.json").json()
    assert report["full"]["data"]["features"]["monthly"]["drift_detected"] is True


def test_audit_filters_and_pages(client: TestClient) -> None:
    data = client.get("/audit.json", params={"object_type": "model_version", "per_page": 2}).json()
    assert data["total"] >= 1
    assert {event["object_type"] for event in data["events"]} == {"model_version"}
    everything_ = client.get("/audit.json", params={"per_page": 5, "page": 2}).json()
    assert [e["seq"] for e in everything_["events"]] == list(
        range(everything_["total"] - 5, everything_["total"] - 10, -1)
    )


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/runs/abcdef123456", "run 'abcdef123456' not found"),
        ("/datasets/nothing", "no dataset named 'nothing'"),
        ("/datasets/customers/9", "dataset 'customers' has no version 9; latest is 2"),
        ("/models/nothing", "nothing"),
        ("/models/churn/7", "7"),
        ("/models/churn/retired", "retired"),
        ("/deployments/nothing", "deployment 'nothing' does not exist"),
        ("/monitoring/nothing", "deployment 'nothing' does not exist"),
        ("/monitoring/reports/999", "no monitor report #999"),
        ("/pipelines/runs/abcdef12", "pipeline run 'abcdef12' not found"),
        ("/compare?runs=abcdef123456", "run 'abcdef123456' not found"),
    ],
)
def test_an_unknown_object_is_a_404_naming_it(client: TestClient, path: str, named: str) -> None:
    page = client.get(path)
    assert page.status_code == 404
    assert named.replace("'", "&#39;") in page.text
    answer = client.get(twin(path))
    assert answer.status_code == 404
    error = answer.json()["error"]
    assert set(error) == {"code", "message", "hint", "details"}
    assert error["code"] == "not_found" and named in error["message"]


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/runs?filter=metrics.auc+%3E", "filter ends too early at column 14"),
        ("/runs?order_by=colour+desc", "unknown field 'colour'"),
        ("/runs?page=0", "query argument 'page' must be 1 or more"),
        ("/runs?per_page=many", "query argument 'per_page' must be a whole number"),
        ("/runs?col=auc", "column 'auc' is not a metric, param or tag"),
        ("/runs?view=archived", "query argument 'view' must be one of"),
        ("/compare", "no runs to compare"),
        ("/datasets/customers/diff?old=x", "query argument 'old'"),
        ("/deployments/churn-prod?since=yesterday", "invalid time 'yesterday'"),
        ("/monitoring/reports/first", "monitor report id must be a number"),
    ],
)
def test_bad_input_is_a_400_naming_the_problem(client: TestClient, path: str, named: str) -> None:
    page = client.get(path)
    assert page.status_code == 400
    assert named.replace("'", "&#39;") in page.text
    answer = client.get(twin(path))
    assert answer.status_code == 400
    assert named in answer.json()["error"]["message"]


def test_a_bad_filter_keeps_the_form_filled(client: TestClient) -> None:
    page = client.get("/runs", params={"filter": "params.model = xgb"})
    assert page.status_code == 400
    assert 'value="params.model = xgb"' in page.text
    assert "unexpected &#39;xgb&#39; in filter at column 16" in page.text
    error = client.get("/runs.json", params={"filter": "params.model = xgb"}).json()["error"]
    assert error["code"] == "invalid_filter" and error["details"]["column"] == 16


def test_the_signed_in_user_and_sign_out_are_shown(ui_app: Starlette) -> None:
    async def signed_in(scope: Any, receive: Any, send: Any) -> None:
        scope.setdefault("state", {})["user"] = "alice <admin>"
        await ui_app(scope, receive, send)

    with TestClient(signed_in) as http:
        page = http.get("/runs").text
    assert "signed in as <strong>alice &lt;admin&gt;</strong>" in page
    assert '<a href="/logout">sign out</a>' in page


def test_without_a_user_there_is_no_sign_out(client: TestClient) -> None:
    assert "/logout" not in client.get("/").text
