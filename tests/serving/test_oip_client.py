"""A real server driven by Triton's own HTTP client, as a KServe/Triton user would."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from .support import DEPLOYMENT, FEATURES, MODEL, ROW, Server, expected, sample_rows

# The protocol does not depend on the store's backend; one is enough here.
pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

http = pytest.importorskip("tritonclient.http")
InferenceServerException = pytest.importorskip("tritonclient.utils").InferenceServerException


@pytest.fixture
def triton(server: Server) -> Iterator[Any]:
    client = http.InferenceServerClient(url=f"127.0.0.1:{server.port}")
    yield client
    client.close()


def tensor(rows: list[list[float]], binary: bool = False) -> Any:
    """One FP64 [rows, columns] input, built from a numpy array."""
    array = np.array(rows, dtype=np.float64)
    infer_input = http.InferInput("input-0", list(array.shape), "FP64")
    infer_input.set_data_from_numpy(array, binary_data=binary)
    return infer_input


def error_text(error: Exception) -> str:
    """The server's message as the client got it, whatever shape the error body has."""
    assert isinstance(error, InferenceServerException)
    return repr(error.message())


def test_health_and_readiness(triton: Any) -> None:
    assert triton.is_server_live()
    assert triton.is_server_ready()
    assert triton.is_model_ready(DEPLOYMENT)
    assert triton.is_model_ready(MODEL)
    assert not triton.is_model_ready("fraud")


def test_server_and_model_metadata(triton: Any) -> None:
    assert triton.get_server_metadata()["name"] == "loopml"
    metadata = triton.get_model_metadata(DEPLOYMENT)
    assert metadata["versions"] == ["1"]
    assert [(i["name"], i["datatype"]) for i in metadata["inputs"]] == [
        (column, "FP64") for column in FEATURES
    ]
    assert [o["name"] for o in metadata["outputs"]] == ["predict"]


def test_infer_one_row_with_requested_outputs(triton: Any) -> None:
    outputs = [
        http.InferRequestedOutput("predict", binary_data=False),
        http.InferRequestedOutput("predict_proba", binary_data=False),
    ]
    result = triton.infer(DEPLOYMENT, [tensor([ROW])], outputs=outputs, request_id="triton-7")
    response = result.get_response()
    assert (response["id"], response["model_name"], response["model_version"]) == (
        "triton-7",
        DEPLOYMENT,
        "1",
    )
    assert result.as_numpy("predict").tolist() == expected([ROW])
    proba = result.as_numpy("predict_proba")
    assert proba.shape == (1, 2)  # churns or stays
    assert proba.sum() == pytest.approx(1.0)
    assert int(proba.argmax()) == expected([ROW])[0]


@pytest.mark.parametrize("version", ["", "1"])
def test_infer_a_batch_with_and_without_a_version(triton: Any, version: str) -> None:
    rows = sample_rows(5, seed=12)
    result = triton.infer(DEPLOYMENT, [tensor(rows)], model_version=version)
    assert result.get_response()["model_version"] == "1"
    assert result.as_numpy("predict").tolist() == expected(rows)


def test_infer_one_tensor_per_column(triton: Any) -> None:
    rows = sample_rows(4, seed=13)
    inputs = []
    for index, column in enumerate(FEATURES):
        infer_input = http.InferInput(column, [len(rows)], "FP64")
        infer_input.set_data_from_numpy(
            np.array([row[index] for row in rows], dtype=np.float64), binary_data=False
        )
        inputs.append(infer_input)
    assert triton.infer(MODEL, inputs).as_numpy("predict").tolist() == expected(rows)


@pytest.mark.parametrize(
    ("model", "version", "status", "fragment"),
    [
        ("fraud", "", "404", "no model 'fraud' is served here"),
        (DEPLOYMENT, "9", "404", "serves no version 9"),
    ],
)
def test_errors_reach_the_client_with_their_status_and_message(
    triton: Any, model: str, version: str, status: str, fragment: str
) -> None:
    with pytest.raises(InferenceServerException) as caught:
        triton.infer(model, [tensor([ROW])], model_version=version)
    assert caught.value.status() == status
    assert fragment in error_text(caught.value)


def test_a_row_of_the_wrong_width_is_a_400_naming_the_signature(triton: Any) -> None:
    with pytest.raises(InferenceServerException) as caught:
        triton.infer(DEPLOYMENT, [tensor([ROW[:2]])])
    assert caught.value.status() == "400"
    assert "each row has 2 values; the model expects 3" in error_text(caught.value)


@pytest.mark.xfail(
    strict=True,
    reason="OIP v2 says an error body is {'error': <string>}; the server sends its one "
    "error shape, {'error': {code, message, hint, details}}, so tritonclient's "
    "InferenceServerException.__str__ raises TypeError",
)
def test_an_error_prints_readably_in_the_client(triton: Any) -> None:
    with pytest.raises(InferenceServerException) as caught:
        triton.infer("fraud", [tensor([ROW])])
    assert "no model 'fraud' is served here" in str(caught.value)


def test_binary_tensor_data_is_refused_naming_the_binary_extension(triton: Any) -> None:
    # tritonclient's default: the tensor travels as raw bytes after the JSON header.
    with pytest.raises(InferenceServerException) as caught:
        triton.infer(DEPLOYMENT, [tensor([ROW], binary=True)])
    assert caught.value.status() in {"400", "415"}
    assert "binary" in error_text(caught.value).lower()
