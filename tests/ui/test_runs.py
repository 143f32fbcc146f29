"""The runs table and the comparison on a fresh store (SQLite and PostgreSQL): paging in
SQL, the search language, chosen columns, and user text that stays text."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from loopml.store import Store
from loopml.tracking import create_run, log_metrics, log_params
from loopml.tracking.metrics import metric_rows, write_metric_rows

from .support import make_runs

pytestmark = pytest.mark.local_only("the UI runs next to the store it reads")


def test_pages_hold_per_page_runs_newest_first(store: Store, client: TestClient) -> None:
    made = make_runs(store, 23, steps=1)
    data = client.get("/runs.json", params={"per_page": 10, "page": 3}).json()
    assert (data["total"], data["pages"], data["page"]) == (23, 3, 3)
    assert [run["name"] for run in data["runs"]] == [run.name for run in made[2::-1]]
    assert data["next"] is None and data["previous"] == "/runs.json?per_page=10&page=2"
    page = client.get("/runs", params={"per_page": 10}).text
    assert page.count('name="run"') == 10
    assert "23 runs · page 1 of 3" in page


def test_a_filter_and_order_choose_the_rows(store: Store, client: TestClient) -> None:
    make_runs(store, 9, steps=2)
    data = client.get(
        "/runs.json", params={"filter": "params.model = 'lgbm'", "order_by": "metrics.auc asc"}
    ).json()
    assert [run["name"] for run in data["runs"]] == ["churn-001", "churn-004", "churn-007"]
    assert data["total"] == 3


def test_chosen_columns_show_with_sort_links(store: Store, client: TestClient) -> None:
    run = create_run(store, experiment="x", name="spaced")
    log_metrics(store, run.id, {"val loss": 0.25, "auc": 0.9})
    page = client.get("/runs", params={"col": ["metrics.val loss"]}).text
    header = re.search(r"<thead>.*?</thead>", page, re.S).group(0)
    assert "metrics.val loss" in header and "metrics.auc" not in header
    assert "order_by=metrics.%60val+loss%60+desc" in header  # a key with a space is quoted
    assert ">0.25<" in page
    sorted_page = client.get("/runs.json", params={"order_by": "metrics.`val loss` desc"})
    assert sorted_page.status_code == 200


def test_user_text_is_escaped_everywhere(store: Store, client: TestClient) -> None:
    run = create_run(store, experiment="x", name="evil")
    evil = "</script><script>alert(1)</script>"
    log_params(store, run.id, {"note": evil})
    log_metrics(store, run.id, {"auc": 0.5}, step=0)
    log_metrics(store, run.id, {"auc": 0.6}, step=1)
    for path in ("/runs?col=params.note", f"/runs/{run.id}", f"/compare?runs={run.id}"):
        page = client.get(path).text
        assert "<script>alert(1)" not in page, path
    page = client.get(f"/compare?runs={run.id}").text
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in page  # shown, as text


def test_compare_handles_a_hundred_runs(store: Store, client: TestClient) -> None:
    made = make_runs(store, 100, steps=3)
    ids = ",".join(run.id for run in made)
    data = client.get("/compare.json", params={"runs": ids, "metric": "auc"}).json()
    assert len(data["runs"]) == 100 and data["charted"] == ["auc"]
    assert all(len(h["steps"]) == 3 for h in data["histories"]["auc"].values())
    page = client.get("/compare", params={"runs": ids})
    assert page.status_code == 200
    assert page.text.count('<th><a href="/runs/') == 100


def test_long_histories_are_thinned_to_the_budget(store: Store, client: TestClient) -> None:
    run = create_run(store, experiment="x", name="long")
    rows = [row for step in range(3000) for row in metric_rows(run.id, {"x": step}, step=step)]
    with store.write() as connection:
        write_metric_rows(connection, rows)
    data = client.get("/compare.json", params={"runs": run.id, "metric": "x"}).json()
    steps = data["histories"]["x"][run.id]["steps"]
    assert 500 <= len(steps) <= 1001
    assert steps[0] == 0 and steps[-1] == 2999  # the first and the last point are kept


def test_compare_refuses_too_many_runs(client: TestClient) -> None:
    ids = ",".join(f"{i:032x}" for i in range(201))
    answer = client.get("/compare.json", params={"runs": ids})
    assert answer.status_code == 400
    assert "201 runs is more than the 200" in answer.json()["error"]["message"]


def test_compare_names_a_metric_no_run_has(store: Store, client: TestClient) -> None:
    made = make_runs(store, 2, steps=1)
    answer = client.get(
        "/compare.json", params={"runs": ",".join(r.id for r in made), "metric": "f1"}
    )
    assert answer.status_code == 404
    error = answer.json()["error"]
    assert error["message"] == "none of the 2 runs compared has metric 'f1'"
    assert error["hint"] == "their metrics: auc, loss"


@pytest.mark.parametrize("view", ["active", "deleted", "all"])
def test_the_view_chooses_deleted_runs(store: Store, client: TestClient, view: str) -> None:
    from loopml.tracking import delete_run

    made = make_runs(store, 3, steps=1)
    delete_run(store, made[0].id)
    total = client.get("/runs.json", params={"view": view}).json()["total"]
    assert total == {"active": 2, "deleted": 1, "all": 3}[view]
