"""The scoring app in-process: OIP v2, MLflow's /invocations, /metrics, and every bad input
answered with a 4xx in the one JSON error shape, never a 5xx."""

from __future__ import annotations

import re
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

import loopml
from loopml.store import Store

from .support import (
    DEPLOYMENT,
    FEATURES,
    MODEL,
    ROW,
    ClientFactory,
    expected,
    oip_request,
    sample_rows,
)

# The scoring protocol does not depend on the database behind the store (test_deployments
# and test_predlog run on PostgreSQL too): served from a local store and through a team
# server.
pytestmark = pytest.mark.parametrize("backend", ["sqlite", "remote"], indirect=True)

INFER = f"/v2/models/{DEPLOYMENT}/infer"
ROWS = sample_rows(3)
ANSWERS = expected(ROWS)
GENERATED_ID = re.compile(r"^[0-9a-f]{20}$")


def assert_error_shape(response: Any, status: int, code: str, fragment: str) -> dict[str, Any]:
    """The one error shape, the status and code expected, a message naming the problem."""
    body = response.json()
    assert response.status_code == status, body
    assert response.headers["content-type"] == "application/json"
    assert list(body) == ["error"]
    error = body["error"]
    assert set(error) == {"code", "message", "hint", "details"}
    assert error["code"] == code
    assert isinstance(error["details"], dict)
    assert error["hint"] is None or isinstance(error["hint"], str)
    assert fragment in error["message"], error["message"]
    return error


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of the samples called ``name`` whose labels include ``labels``."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                total += sample.value
    return total


# --- Open Inference Protocol v2 --------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v2/health/live", {"live": True}),
        ("/v2/health/ready", {"ready": True}),
        (f"/v2/models/{DEPLOYMENT}/ready", {"name": DEPLOYMENT, "ready": True}),
        (f"/v2/models/{MODEL}/ready", {"name": MODEL, "ready": True}),
        ("/ping", {"status": "ok"}),
        ("/health", {"status": "ok"}),
    ],
)
def test_health_routes_say_ready_once_the_model_is_loaded(
    client: TestClient, path: str, body: dict[str, Any]
) -> None:
    response = client.get(path)
    assert (response.status_code, response.json()) == (200, body)


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        ("/v2/health/live", 200, {"live": True}),
        ("/v2/health/ready", 503, {"ready": False}),
        (f"/v2/models/{DEPLOYMENT}/ready", 503, {"name": DEPLOYMENT, "ready": False}),
        ("/ping", 503, {"status": "loading"}),
    ],
)
def test_before_the_model_loads_the_server_is_live_but_not_ready(
    store: Store, deployment: str, path: str, status: int, body: dict[str, Any]
) -> None:
    from loopml.serving.app import ServerSettings
    from loopml.serving.server import make_app

    # Without its lifespan the app never starts loading: a server still loading its model.
    app = make_app(store, deployment, log=False, settings=ServerSettings(ready_timeout=0.05))
    unloaded = TestClient(app)
    response = unloaded.get(path)
    assert (response.status_code, response.json()) == (status, body)
    scored = unloaded.post("/invocations", json={"instances": [ROW]})
    assert_error_shape(scored, 503, "not_ready", f"deployment '{deployment}' is not ready")
    inferred = unloaded.post(INFER, json=oip_request([ROW]))
    assert_error_shape(inferred, 503, "not_ready", "still loading")


def test_server_metadata_names_loopml_and_its_version(client: TestClient) -> None:
    assert client.get("/v2").json() == {
        "name": "loopml",
        "version": loopml.__version__,
        "extensions": ["loopml_feedback"],
    }


@pytest.mark.parametrize("name", [DEPLOYMENT, MODEL])
def test_model_metadata_lists_the_signature_columns_as_inputs(
    client: TestClient, name: str
) -> None:
    metadata = client.get(f"/v2/models/{name}").json()
    assert metadata["name"] == DEPLOYMENT
    assert metadata["versions"] == ["1"]
    assert metadata["platform"] == "loopml-sklearn"
    assert metadata["inputs"] == [
        {"name": column, "datatype": "FP64", "shape": [-1, 1]} for column in FEATURES
    ]
    # The signature says the classifier answers integers (its class labels).
    assert metadata["outputs"] == [{"name": "predict", "datatype": "INT64", "shape": [-1]}]
    assert metadata["parameters"] == {"revision": 1, "strategy": "single"}


def test_infer_with_one_2d_tensor_in_signature_order(client: TestClient) -> None:
    response = client.post(INFER, json=oip_request(ROWS))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_name"] == DEPLOYMENT
    assert body["model_version"] == "1"
    assert body["parameters"] == {"variant": "main", "model": MODEL}
    (output,) = body["outputs"]
    assert output == {"name": "predict", "datatype": "INT64", "shape": [3], "data": ANSWERS}


@pytest.mark.parametrize("shape", ["rows", "rows x 1"])
@pytest.mark.parametrize("order", [FEATURES, FEATURES[::-1]], ids=["in order", "reversed"])
def test_infer_with_one_tensor_per_column(client: TestClient, shape: str, order: list[str]) -> None:
    inputs = [
        {
            "name": column,
            "shape": [len(ROWS)] if shape == "rows" else [len(ROWS), 1],
            "datatype": "FP64",
            "data": [row[FEATURES.index(column)] for row in ROWS],
        }
        for column in order
    ]
    response = client.post(INFER, json={"inputs": inputs})
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["data"] == ANSWERS


@pytest.mark.parametrize(
    ("body_id", "header_id", "echoed"),
    [
        ("order-17", None, "order-17"),
        (None, "req:2026-11.a_b", "req:2026-11.a_b"),
        ("from-body", "from-header", "from-body"),
    ],
)
def test_infer_echoes_the_request_id(
    client: TestClient, body_id: str | None, header_id: str | None, echoed: str
) -> None:
    body = oip_request([ROW], **({"id": body_id} if body_id else {}))
    headers = {"X-Request-Id": header_id} if header_id else {}
    response = client.post(INFER, json=body, headers=headers)
    assert response.json()["id"] == echoed
    assert response.headers["x-prediction-id"] == echoed


def test_infer_without_an_id_gets_a_generated_one(client: TestClient) -> None:
    ids = set()
    for _ in range(5):
        response = client.post(INFER, json=oip_request([ROW]))
        assert response.json()["id"] == response.headers["x-prediction-id"]
        ids.add(response.json()["id"])
    assert len(ids) == 5
    assert all(GENERATED_ID.match(i) for i in ids)


def test_infer_returns_predict_proba_when_asked(client: TestClient) -> None:
    body = oip_request(ROWS, outputs=[{"name": "predict"}, {"name": "predict_proba"}])
    outputs = {o["name"]: o for o in client.post(INFER, json=body).json()["outputs"]}
    assert set(outputs) == {"predict", "predict_proba"}
    proba = outputs["predict_proba"]
    assert proba["datatype"] == "FP64"
    assert proba["shape"] == [3, 2]
    pairs = [proba["data"][i : i + 2] for i in range(0, 6, 2)]
    assert all(abs(sum(pair) - 1) < 1e-9 for pair in pairs)
    assert [int(p[1] > p[0]) for p in pairs] == outputs["predict"]["data"] == ANSWERS


def test_infer_without_outputs_returns_only_predict(client: TestClient) -> None:
    outputs = client.post(INFER, json=oip_request(ROWS)).json()["outputs"]
    assert [o["name"] for o in outputs] == ["predict"]


@pytest.mark.parametrize("name", [DEPLOYMENT, MODEL])
def test_versioned_infer_route_scores_with_that_version(client: TestClient, name: str) -> None:
    response = client.post(f"/v2/models/{name}/versions/1/infer", json=oip_request(ROWS))
    assert response.status_code == 200, response.text
    assert response.json()["model_version"] == "1"
    assert response.json()["outputs"][0]["data"] == ANSWERS


# --- MLflow /invocations ---------------------------------------------------------------

TWO = ROWS[:2]
RECORDS = [dict(zip(FEATURES, row, strict=True)) for row in TWO]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param({"dataframe_split": {"columns": FEATURES, "data": TWO}}, None, id="split"),
        pytest.param(
            {
                "dataframe_split": {
                    "columns": FEATURES[::-1],
                    "data": [row[::-1] for row in TWO],
                }
            },
            None,
            id="split-reordered",
        ),
        pytest.param({"dataframe_split": {"data": TWO}}, None, id="split-no-columns"),
        pytest.param({"dataframe_records": RECORDS}, None, id="records"),
        pytest.param({"instances": TWO}, None, id="instances-rows"),
        pytest.param({"instances": RECORDS}, None, id="instances-records"),
        pytest.param(
            {"inputs": {c: [row[i] for row in TWO] for i, c in enumerate(FEATURES)}},
            None,
            id="inputs-columns",
        ),
        pytest.param({"inputs": TWO}, None, id="inputs-rows"),
        pytest.param(
            ",".join(FEATURES) + "\n" + "\n".join(",".join(map(str, r)) for r in TWO) + "\n",
            "text/csv",
            id="csv",
        ),
        pytest.param(
            ",".join(FEATURES) + "\r\n" + "\r\n".join(",".join(map(str, r)) for r in TWO),
            "text/csv; charset=utf-8",
            id="csv-crlf-charset",
        ),
        pytest.param(
            ",".join(FEATURES) + "\r" + "\r".join(",".join(map(str, r)) for r in TWO) + "\r",
            "text/csv",
            id="csv-cr-line-endings",
        ),
        pytest.param(
            {"dataframe_split": {"columns": FEATURES, "data": TWO}},
            "application/json; charset=utf-8",
            id="json-charset",
        ),
        pytest.param({"instances": TWO, "params": {}}, None, id="with-params"),
    ],
)
def test_invocations_in_every_format(
    client: TestClient, body: dict[str, Any] | str, content_type: str | None
) -> None:
    if isinstance(body, str):
        response = client.post("/invocations", content=body, headers={"content-type": content_type})
    elif content_type:
        import orjson

        response = client.post(
            "/invocations", content=orjson.dumps(body), headers={"content-type": content_type}
        )
    else:
        response = client.post("/invocations", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": expected(TWO)}
    assert response.headers["x-variant"] == "main"


def test_invocations_set_a_prediction_id_header_or_echo_the_request_id(
    client: TestClient,
) -> None:
    first = client.post("/invocations", json={"instances": [ROW]})
    second = client.post("/invocations", json={"instances": [ROW]})
    generated = [first.headers["x-prediction-id"], second.headers["x-prediction-id"]]
    assert all(GENERATED_ID.match(i) for i in generated)
    assert generated[0] != generated[1]
    chosen = client.post(
        "/invocations", json={"instances": [ROW]}, headers={"X-Request-Id": "checkout-991"}
    )
    assert chosen.headers["x-prediction-id"] == "checkout-991"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"dataframe_records": [{**RECORDS[0], "plan": "pro"}]}, id="records"),
        pytest.param(
            {"dataframe_split": {"columns": [*FEATURES, "plan"], "data": [[*TWO[0], "pro"]]}},
            id="split",
        ),
        pytest.param(
            {"inputs": {**{c: [TWO[0][i]] for i, c in enumerate(FEATURES)}, "plan": ["pro"]}},
            id="inputs-columns",
        ),
    ],
)
def test_extra_columns_are_accepted_and_ignored(client: TestClient, body: dict[str, Any]) -> None:
    response = client.post("/invocations", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": expected(TWO[:1])}


def test_an_extra_oip_column_tensor_is_ignored(client: TestClient) -> None:
    inputs = [
        {"name": c, "shape": [1], "datatype": "FP64", "data": [ROW[i]]}
        for i, c in enumerate(FEATURES)
    ]
    inputs.append({"name": "plan", "shape": [1], "datatype": "BYTES", "data": ["pro"]})
    response = client.post(INFER, json={"inputs": inputs})
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["data"] == expected([ROW])


def test_a_large_batch_is_scored_whole(client: TestClient) -> None:
    rows = sample_rows(600, seed=5)  # above the inline limit: scored on a worker thread
    response = client.post("/invocations", json={"dataframe_split": {"data": rows}})
    assert response.json() == {"predictions": expected(rows)}


def test_micro_batching_answers_as_unbatched_scoring_does(open_client: ClientFactory) -> None:
    rows = sample_rows(6, seed=14)
    with open_client(max_batch_size=16, max_wait_ms=1) as client:
        singles = [
            client.post("/invocations", json={"instances": [row]}).json()["predictions"][0]
            for row in rows
        ]
        batch = client.post(INFER, json=oip_request(rows)).json()["outputs"][0]["data"]
        wanted = [{"name": "predict"}, {"name": "predict_proba"}]
        with_proba = client.post(INFER, json=oip_request(rows, outputs=wanted))
        refused = client.post("/invocations", json={"instances": [["x", 1, 2]]})
    assert singles == batch == with_proba.json()["outputs"][0]["data"] == expected(rows)
    assert_error_shape(refused, 400, "invalid_input", "column 'tenure' holds str values")


# --- /metrics --------------------------------------------------------------------------


def test_metrics_count_requests_errors_latency_and_predicted_values(client: TestClient) -> None:
    pool = sample_rows(40, seed=9)
    rows = [r for r in pool if expected([r]) == [1]][:2] + [
        r for r in pool if expected([r]) == [0]
    ][:2]
    answers = expected(rows)
    assert answers == [1, 1, 0, 0]
    for row in rows:
        assert client.post("/invocations", json={"instances": [row]}).status_code == 200
    assert client.post(INFER, json=oip_request(rows)).status_code == 200
    assert client.post("/invocations", json={"instances": [["x", 1, 2]]}).status_code == 400

    text = client.get("/metrics").text
    labels = {"deployment": DEPLOYMENT, "variant": "main", "model_version": "1"}
    requests = "loopml_requests_total"
    assert metric(text, requests, **labels, protocol="invocations", status="200") == 4
    assert metric(text, requests, **labels, protocol="oip", status="200") == 1
    assert metric(text, requests, **labels, protocol="invocations", status="400") == 1
    assert metric(text, "loopml_request_errors_total", **labels, code="invalid_input") == 1

    latency = "loopml_request_duration_seconds"
    assert metric(text, latency + "_count", **labels) == 6
    assert metric(text, latency + "_bucket", **labels, le="+Inf") == 6
    assert metric(text, latency + "_sum", **labels) > 0

    values = "loopml_prediction_value"
    assert metric(text, values + "_count", **labels) == 8
    assert metric(text, values + "_bucket", **labels, le="0.0") == 2 * answers.count(0)
    assert metric(text, values + "_bucket", **labels, le="1.0") == 8
    assert metric(text, "loopml_predictions_total", **labels, shadow="false") == 8

    assert metric(text, "loopml_ready") == 1
    assert metric(text, "loopml_deployment_revision", deployment=DEPLOYMENT) == 1
    assert metric(text, "loopml_variant_weight_percent", **labels) == 100


def test_metrics_are_in_the_prometheus_text_format(client: TestClient) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert {"loopml_requests", "loopml_request_duration_seconds", "loopml_ready"} <= names


# --- bad input: a 4xx in the one error shape, never a 5xx ------------------------------

JSON = {"content-type": "application/json"}
SPLIT_COLUMNS = {"columns": FEATURES}


def _split(*rows: list[Any]) -> dict[str, Any]:
    return {"dataframe_split": {**SPLIT_COLUMNS, "data": list(rows)}}


def _records(**values: Any) -> dict[str, Any]:
    return {"dataframe_records": [{**RECORDS[0], **values}]}


def _tensor(data: list[Any], shape: list[int], datatype: str = "FP64") -> dict[str, Any]:
    return {"inputs": [{"name": "x", "shape": shape, "datatype": datatype, "data": data}]}


def _columns(*names: str) -> dict[str, Any]:
    return {
        "inputs": [
            {"name": n, "shape": [1], "datatype": "FP64", "data": [ROW[FEATURES.index(n)]]}
            for n in names
        ]
    }


BAD = [
    # malformed bodies
    ("/invocations", {"content": b'{"instances": [[1, 2, 3]]', "headers": JSON},
     400, "invalid_input", "the body is not valid JSON", "invocations-truncated-json"),
    (INFER, {"content": b"{inputs: []}", "headers": JSON},
     400, "invalid_input", "the body is not valid JSON", "oip-unquoted-json"),
    ("/invocations", {"content": b'{"instances": [[NaN, 1, 2]]}', "headers": JSON},
     400, "invalid_input", "the body is not valid JSON", "json-nan-literal"),
    ("/invocations", {"content": b"", "headers": JSON},
     400, "invalid_input", "the request body is empty", "invocations-empty-body"),
    (INFER, {"content": b""},
     400, "invalid_input", "the request body is empty", "oip-empty-body"),
    ("/invocations", {"json": [[1, 2, 3]]},
     400, "invalid_input", "must be a JSON object", "invocations-not-an-object"),
    ("/invocations", {"json": {"rows": [[1, 2, 3]]}},
     400, "invalid_input", "exactly one of", "invocations-no-known-key"),
    ("/invocations", {"json": {"instances": [ROW], "inputs": [ROW]}},
     400, "invalid_input", "(it holds instances, inputs)", "invocations-two-keys"),
    ("/invocations", {"json": {"instances": [ROW], "model": "x"}},
     400, "invalid_input", "unknown field(s) in the body: model", "invocations-unknown-field"),
    ("/invocations", {"json": {"dataframe_split": [ROW]}},
     400, "invalid_input", "'dataframe_split' must be an object", "split-not-an-object"),
    ("/invocations", {"json": {"instances": "1,2,3"}},
     400, "invalid_input", "'instances' must be a list", "instances-a-string"),
    (INFER, {"json": {"data": [ROW]}},
     400, "invalid_input", "'inputs' must be a non-empty list", "oip-no-inputs"),
    (INFER, {"json": _tensor(ROW, [1, 3], "FLOAT")},
     400, "invalid_input", "has datatype 'FLOAT'", "oip-unknown-datatype"),
    (INFER, {"json": _tensor(ROW, [2, 3])},
     400, "invalid_input", "has 3 values for shape [2, 3]", "oip-shape-mismatch"),
    (INFER, {"json": _tensor(ROW, [1, 1, 3])},
     400, "invalid_input", "has 3 dimensions", "oip-3d"),
    (INFER, {"json": {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64"}]}},
     400, "invalid_input", "needs 'data'", "oip-no-data"),
    (INFER, {"json": {**oip_request([ROW]), "id": 7}},
     400, "invalid_input", "'id' must be a string", "oip-numeric-id"),
    # wrong content type
    ("/invocations", {"content": b"1,2,3", "headers": {"content-type": "text/plain"}},
     415, "unsupported_media_type", "'text/plain'", "invocations-text-plain"),
    ("/invocations", {"content": b"<rows/>", "headers": {"content-type": "application/xml"}},
     415, "unsupported_media_type", "'application/xml'", "invocations-xml"),
    ("/feedback", {"content": b"id=a&label=1",
                   "headers": {"content-type": "application/x-www-form-urlencoded"}},
     415, "unsupported_media_type", "'application/x-www-form-urlencoded'", "feedback-form"),
    # missing columns, wrong width
    ("/invocations", {"json": {"dataframe_records": [{"tenure": 1.0, "monthly": 2.0}]}},
     400, "invalid_input", "missing column 'support_calls'", "records-missing-column"),
    ("/invocations", {"json": {"dataframe_split": {"columns": FEATURES[:2], "data": [ROW[:2]]}}},
     400, "invalid_input", "missing column 'support_calls'", "split-missing-column"),
    ("/invocations", {"content": b"tenure,monthly\n1,2\n", "headers": {"content-type": "text/csv"}},
     400, "invalid_input", "missing column 'support_calls'", "csv-missing-column"),
    (INFER, {"json": _columns("tenure", "monthly")},
     400, "invalid_input", "missing column 'support_calls'", "oip-missing-column-tensor"),
    ("/invocations", {"json": {"instances": [ROW[:2]]}},
     400, "invalid_input", "each row has 2 values; the model expects 3", "instances-short-row"),
    (INFER, {"json": _tensor(ROW[:2], [1, 2])},
     400, "invalid_input", "each row has 2 values; the model expects 3", "oip-narrow-tensor"),
    ("/invocations", {"json": _split(ROW, ROW[:2])},
     400, "invalid_input", "row 1 has 2 values for 3 columns", "split-ragged-rows"),
    ("/invocations", {"json": {"dataframe_split": {"columns": ["tenure", "tenure", "monthly"],
                                                   "data": [ROW]}}},
     400, "invalid_input", "names a column twice", "split-duplicate-column"),
    # wrong types
    ("/invocations", {"json": _records(monthly="lots")},
     400, "invalid_input", "column 'monthly' holds str values such as 'lots'", "records-string"),
    ("/invocations", {"json": _split([ROW[0], "lots", ROW[2]])},
     400, "invalid_input", "column 'monthly' holds str values", "split-string"),
    ("/invocations", {"json": _records(monthly=[1, 2])},
     400, "invalid_input", "column 'monthly' holds list values", "records-list"),
    ("/invocations", {"json": _records(monthly={"a": 1})},
     400, "invalid_input", "column 'monthly' holds dict values", "records-object"),
    ("/invocations", {"content": b"tenure,monthly,support_calls\n1,lots,3\n",
                      "headers": {"content-type": "text/csv"}},
     400, "invalid_input", "column 'monthly' holds str values", "csv-string"),
    (INFER, {"json": _tensor([ROW[0], "lots", ROW[2]], [1, 3])},
     400, "invalid_input", "input 'x' is FP64, so its values must be numbers", "oip-string"),
    (INFER, {"json": _tensor([1, 2, 3], [1, 3], "BYTES")},
     400, "invalid_input", "input 'x' is BYTES, so its values must be strings", "oip-bytes-ints"),
    ("/invocations", {"content": b"\xff\xfe1,2,3", "headers": {"content-type": "text/csv"}},
     400, "invalid_input", "not UTF-8", "csv-not-utf8"),
    ("/invocations", {"content": b"tenure,monthly,support_calls\n1,2\n",
                      "headers": {"content-type": "text/csv"}},
     400, "invalid_input", "CSV line 2 has 2 fields; the header has 3", "csv-short-line"),
    ("/invocations", {"content": b"tenure,monthly,support_calls\n1\r2,3,4\n",
                      "headers": {"content-type": "text/csv"}},
     400, "invalid_input", "CSV", "csv-stray-carriage-return"),
    # missing values where the signature has none
    ("/invocations", {"json": _records(monthly=None)},
     400, "invalid_input", "column 'monthly' holds a missing value", "records-null"),
    ("/invocations", {"json": _split([ROW[0], None, ROW[2]])},
     400, "invalid_input", "column 'monthly' holds a missing value", "split-null"),
    ("/invocations", {"json": {"instances": [[ROW[0], None, ROW[2]]]}},
     400, "invalid_input", "column 'monthly' holds a missing value", "instances-null"),
    ("/invocations", {"content": b"tenure,monthly,support_calls\n1,,3\n",
                      "headers": {"content-type": "text/csv"}},
     400, "invalid_input", "column 'monthly' holds a missing value", "csv-empty-field"),
    (INFER, {"json": _tensor([ROW[0], None, ROW[2]], [1, 3])},
     400, "invalid_input", "column 'monthly' holds a missing value", "oip-null"),
    # empty batches
    ("/invocations", {"json": _split()},
     400, "invalid_input", "no rows", "split-empty"),
    ("/invocations", {"json": {"dataframe_records": []}},
     400, "invalid_input", "no rows", "records-empty"),
    ("/invocations", {"json": {"instances": []}},
     400, "invalid_input", "no rows", "instances-empty"),
    ("/invocations", {"json": {"inputs": {}}},
     400, "invalid_input", "no rows", "inputs-empty-columns"),
    ("/invocations", {"content": b"tenure,monthly,support_calls\n",
                      "headers": {"content-type": "text/csv"}},
     400, "invalid_input", "no rows", "csv-header-only"),
    ("/invocations", {"content": b"", "headers": {"content-type": "text/csv"}},
     400, "invalid_input", "the CSV body is empty", "csv-empty"),
    (INFER, {"json": _tensor([], [0, 3])},
     400, "invalid_input", "holds no rows", "oip-zero-rows"),
    # unknown model, version, route
    ("/v2/models/fraud/infer", {"json": oip_request([ROW])},
     404, "not_found", "no model 'fraud' is served here", "infer-unknown-model"),
    (f"/v2/models/{DEPLOYMENT}/versions/9/infer", {"json": oip_request([ROW])},
     404, "not_found", f"deployment '{DEPLOYMENT}' serves no version 9", "unknown-version"),
    (f"/v2/models/{DEPLOYMENT}/versions/champion/infer", {"json": oip_request([ROW])},
     404, "not_found", "serves no version champion", "version-not-a-number"),
    ("/v2/models/fraud/versions/1/infer", {"json": oip_request([ROW])},
     404, "not_found", "no model 'fraud' is served here", "versioned-unknown-model"),
    ("/v1/models/churn:predict", {"json": {"instances": [ROW]}},
     404, "not_found", "no route /v1/models/churn:predict", "unknown-route"),
    # feedback
    ("/feedback", {"json": {"id": "never-issued", "label": 1}},
     404, "not_found", "logged no prediction with id 'never-issued'", "feedback-unknown-id"),
    ("/feedback", {"json": {"id": "never-issued"}},
     400, "invalid_input", "must be an object with 'id' and 'label'", "feedback-no-label"),
    ("/feedback", {"json": {"label": 1}},
     400, "invalid_input", "must be an object with 'id' and 'label'", "feedback-no-id"),
    ("/feedback", {"json": {"id": "a", "label": {"churned": True}}},
     400, "invalid_input", "'label' must be a number, a string or a boolean", "feedback-label-obj"),
    ("/feedback", {"json": {"id": "a", "label": None}},
     400, "invalid_input", "'label' must be a number, a string or a boolean", "feedback-null"),
    ("/feedback", {"json": {"id": 17, "label": 1}},
     400, "invalid_input", "'id' must be a prediction id", "feedback-numeric-id"),
    ("/feedback", {"json": {"id": "a" * 65, "label": 1}},
     400, "invalid_input", "'id' must be a prediction id", "feedback-id-too-long"),
    ("/feedback", {"json": {"id": "a", "label": 1, "weight": 2}},
     400, "invalid_input", "unknown field(s): weight", "feedback-extra-field"),
    ("/feedback", {"json": []},
     400, "invalid_input", "the feedback batch is empty", "feedback-empty-batch"),
    ("/feedback", {"json": [{"id": "a", "label": 1}, "b"]},
     400, "invalid_input", "feedback item 1 must be an object", "feedback-bad-item"),
    ("/feedback", {"content": b'{"id": "a", "label": ', "headers": JSON},
     400, "invalid_input", "the body is not valid JSON", "feedback-truncated-json"),
    # request ids
    ("/invocations", {"json": {"instances": [ROW]}, "headers": {"X-Request-Id": "r" * 65}},
     400, "invalid_input", "a request id is at most 64", "header-id-too-long"),
    (INFER, {"json": oip_request([ROW], id="r" * 65)},
     400, "invalid_input", "a request id is at most 64", "oip-id-too-long"),
    (INFER, {"json": oip_request([ROW], id="a b")},
     400, "invalid_input", "a request id is at most 64", "oip-id-with-space"),
    ("/invocations", {"json": {"instances": [ROW]}, "headers": {"X-Request-Id": "a/b"}},
     400, "invalid_input", "a request id is at most 64", "header-id-with-slash"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "request_args", "status", "code", "fragment"),
    [pytest.param(*case[:5], id=case[5]) for case in BAD],
)
def test_bad_input_is_a_4xx_in_the_one_error_shape(
    client: TestClient,
    path: str,
    request_args: dict[str, Any],
    status: int,
    code: str,
    fragment: str,
) -> None:
    response = client.post(path, **request_args)
    assert_error_shape(response, status, code, fragment)


@pytest.mark.parametrize(
    ("method", "path", "status", "code", "fragment"),
    [
        ("GET", "/v2/models/fraud", 404, "not_found", "no model 'fraud' is served here"),
        ("GET", "/v2/models/fraud/ready", 404, "not_found", "no model 'fraud' is served here"),
        ("GET", "/invocations", 405, "method_not_allowed", "GET is not allowed on /invocations"),
        ("GET", INFER, 405, "method_not_allowed", f"GET is not allowed on {INFER}"),
        ("DELETE", "/feedback", 405, "method_not_allowed", "DELETE is not allowed on /feedback"),
        ("GET", "/nowhere", 404, "not_found", "no route /nowhere"),
    ],
)
def test_unknown_models_and_routes_use_the_error_shape(
    client: TestClient, method: str, path: str, status: int, code: str, fragment: str
) -> None:
    assert_error_shape(client.request(method, path), status, code, fragment)


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
@pytest.mark.parametrize("path", ["/invocations", INFER, "/feedback"])
def test_a_body_over_the_limit_is_refused_with_413(
    open_client: ClientFactory, path: str, declared: bool
) -> None:
    import orjson

    body = orjson.dumps({"instances": sample_rows(200)})
    assert len(body) > 2_000
    with open_client(max_body_bytes=2_000) as client:
        if declared:
            response = client.post(path, content=body, headers=JSON)
        else:
            chunks = (body[i : i + 500] for i in range(0, len(body), 500))
            response = client.post(path, content=chunks, headers=JSON)
        error = assert_error_shape(response, 413, "payload_too_large", "this server takes at most")
        assert "2,000" in error["message"]
        small = client.post("/invocations", json={"instances": [ROW]})
        assert small.status_code == 200


def test_bad_requests_are_counted_but_never_answered_with_a_5xx(client: TestClient) -> None:
    statuses = [client.post(path, **args).status_code for path, args, *_ in BAD]
    assert all(400 <= status < 500 for status in statuses)
    text = client.get("/metrics").text
    labels = {"deployment": DEPLOYMENT, "variant": "main", "model_version": "1"}
    assert metric(text, "loopml_request_errors_total", **labels) > 0
    assert metric(text, "loopml_requests_total", status="500") == 0
