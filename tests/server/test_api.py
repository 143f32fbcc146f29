"""The API's answers to bad input: one error shape naming the field or object, security
headers on everything, limits, and no way out of the store through a path."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import loopml
from loopml.tracking import create_run

from .conftest import Served

ERROR_KEYS = {"code", "message", "hint", "details"}


def _error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == ERROR_KEYS, body
    return body["error"]


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        ({}, "run_id", "Field required"),
        ({"run_id": "ab", "bogus": 1}, "bogus", "Extra inputs are not permitted"),
    ],
)
def test_a_malformed_body_is_a_400_naming_the_field(
    served: Served, body: dict, field: str, problem: str
) -> None:
    with served.client() as http:
        response = http.post("/api/v1/ops/runs.get", json=body)
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "invalid_input"
    assert f"field '{field}': {problem}" in error["message"]


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"{not json", "not valid JSON"), (b"[1, 2]", "must be a JSON object")],
)
def test_a_body_that_is_not_a_json_object_is_a_400(
    served: Served, content: bytes, message: str
) -> None:
    with served.client() as http:
        response = http.post("/api/v1/ops/runs.search", content=content)
    assert response.status_code == 400
    assert message in _error(response)["message"]


def test_structured_arguments_are_checked_field_by_field(served: Served) -> None:
    with served.client() as http:
        response = http.post(
            "/api/v1/ops/runs.write_metrics", json={"rows": [["r", "k", "high", 0, 0]]}
        )
    assert response.status_code == 400
    assert "field 'rows.0.2': Input should be a valid number" in _error(response)["message"]


def test_true_or_false_for_an_integer_is_a_400_naming_the_field(served: Served) -> None:
    with served.client() as http:
        response = http.post(
            "/api/v1/ops/predictions.segments", json={"deployment": "d", "until": False}
        )
    assert response.status_code == 400
    assert "field 'until': Input should be a valid integer" in _error(response)["message"]


def test_unknown_objects_and_operations_are_404_naming_them(served: Served) -> None:
    with served.client() as http:
        run = http.post("/api/v1/ops/runs.get", json={"run_id": "ffffffff"})
        op = http.post("/api/v1/ops/runs.teleport", json={})
        route = http.get("/api/v1/nowhere")
    assert run.status_code == op.status_code == route.status_code == 404
    assert _error(run)["message"] == "run 'ffffffff' not found"
    assert _error(op)["message"] == "operation 'runs.teleport' not found"
    assert _error(route)["code"] == "not_found"


def test_a_conflict_keeps_its_status_and_class(served: Served) -> None:
    run = create_run(served.store, params={"depth": 6})
    with served.client() as http:
        response = http.post(
            "/api/v1/ops/runs.log_params", json={"run_id": run.id, "values": {"depth": 8}}
        )
    assert response.status_code == 409
    assert _error(response)["code"] == "conflict"


def test_a_body_over_the_limit_is_a_413_and_nothing_is_written(
    serve: Callable[..., Served],
) -> None:
    served = serve(max_body_bytes=1024)
    run = create_run(served.store)
    body = {"run_id": run.id, "values": {f"k{i}": "v" * 50 for i in range(50)}}
    with served.client() as http:
        response = http.post("/api/v1/ops/runs.set_tags", json=body)
    assert response.status_code == 413
    assert _error(response)["code"] == "payload_too_large"
    assert loopml.tracking.get_run(served.store, run.id).tags == {}


@pytest.mark.parametrize("path", ["/api/v1/whoami", "/health", "/openapi.json", "/nowhere", "/"])
def test_every_answer_carries_the_security_headers(served: Served, path: str) -> None:
    with served.client() as http:
        response = http.get(path)
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert "script-src 'self'" in headers["content-security-policy"]
    if path.startswith("/api/"):
        assert headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/blobs/..%2F..%2Floopml.db",
        "/api/v1/blobs/../../loopml.db",
        "/api/v1/uploads/..%2F..%2Floopml.db",
        "/static/..%2F..%2F..%2Fstore%2F__init__.py",
        "/static/../server/app.py",
    ],
)
def test_no_path_reaches_outside_what_is_served(served: Served, path: str) -> None:
    with served.client() as http:
        response = http.get(path)
    assert response.status_code == 404
    assert b"sqlite" not in response.content.lower()
    assert b"import" not in response.content


def test_the_openapi_document_describes_every_operation_with_its_role(served: Served) -> None:
    with served.client() as http:
        document = http.get("/openapi.json").json()
    post = document["paths"]["/api/v1/ops/runs.create"]["post"]
    assert post["x-loopml-role"] == "writer"
    schema = document["components"]["schemas"]["RunsCreateInput"]
    assert {"experiment", "name", "params", "tags"} <= set(schema["properties"])
    assert schema["additionalProperties"] is False
    assert document["paths"]["/api/v1/ops/runs.search"]["post"]["x-loopml-role"] == "reader"
    assert document["paths"]["/api/v1/ops/tokens.create"]["post"]["x-loopml-role"] == "admin"
    assert "401" in post["responses"] and "403" in post["responses"]
