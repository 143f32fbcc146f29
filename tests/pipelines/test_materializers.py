"""Materializers: every supported value round-trips exactly, to the same bytes every time;
what has no format of its own falls back to pickle, with a warning unless it is a model."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import loopml.pipelines
from loopml.errors import InvalidInput
from loopml.pipelines.materializers import decode, encode

# Each test runs on the embedded store and through a team server.
pytestmark = pytest.mark.usefixtures("mode")


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [31, 45, 27],
            "plan": pd.Categorical(["basic", "pro", "basic"]),
            "spend": [10.5, np.nan, 3.25],
            "seen": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"], utc=True),
            "note": ["a", None, "c"],
        },
        index=pd.Index(["c1", "c2", "c3"], name="customer"),
    )


def _same_frame(a: Any, b: Any) -> None:
    pd.testing.assert_frame_equal(a, b)


def _same_series(a: Any, b: Any) -> None:
    pd.testing.assert_series_equal(a, b)
    assert type(a.name) is type(b.name)


def _same_array(a: Any, b: Any) -> None:
    np.testing.assert_array_equal(a, b)
    assert a.dtype == b.dtype and a.shape == b.shape


def _equal(a: Any, b: Any) -> None:
    assert a == b
    assert type(a) is type(b)


def _same_polars(a: Any, b: Any) -> None:
    assert a.equals(b) and a.schema == b.schema


def _same_arrow(a: Any, b: Any) -> None:
    assert a.equals(b, check_metadata=True)


def _same_scalar(a: Any, b: Any) -> None:
    assert type(a) is type(b)
    assert a == b


VALUES: list[tuple[str, Callable[[], Any], str, Callable[[Any, Any], None]]] = [
    ("pandas frame", _frame, "pandas", _same_frame),
    ("empty frame", pd.DataFrame, "pandas", _same_frame),
    ("named series", lambda: pd.Series([1.5, 2.0], name="score"), "pandas-series", _same_series),
    ("unnamed series", lambda: pd.Series([1, 2, 3]), "pandas-series", _same_series),
    ("number-named series", lambda: pd.Series(["x"], name=7), "pandas-series", _same_series),
    ("polars frame", lambda: pl.DataFrame({"a": [1, 2], "b": ["x", None]}), "polars", _same_polars),
    ("arrow table", lambda: pa.table({"a": [1, 2], "b": [0.5, None]}), "arrow", _same_arrow),
    ("int matrix", lambda: np.arange(12, dtype=np.int32).reshape(3, 4), "numpy", _same_array),
    ("float vector", lambda: np.array([0.1, np.nan, -np.inf]), "numpy", _same_array),
    ("json dict", lambda: {"auc": 0.91, "tags": ["a"], "n": 3, "ok": True}, "json", _equal),
    ("json list", lambda: [1, "two", None, 3.5, [], {}], "json", _equal),
    ("json scalar", lambda: "just text", "json", _equal),
    ("big int", lambda: 2**70, "json", _equal),
    ("numpy float", lambda: np.float64(0.5), "numpy-scalar", _same_scalar),
    ("numpy int", lambda: np.int32(-7), "numpy-scalar", _same_scalar),
    ("numpy datetime", lambda: np.datetime64("2024-01-01"), "numpy-scalar", _same_scalar),
]


@pytest.mark.parametrize(
    ("make", "materializer", "same"),
    [pytest.param(make, kind, same, id=name) for name, make, kind, same in VALUES],
)
def test_supported_values_round_trip_exactly(make, materializer, same) -> None:
    encoded = encode(make(), what="step 'make' output")
    assert encoded.materializer == materializer
    assert encoded.warning is None
    same(decode(encoded.data, encoded.materializer), make())


@pytest.mark.parametrize("make", [pytest.param(make, id=name) for name, make, _, _ in VALUES])
def test_the_same_value_always_gives_the_same_bytes(make) -> None:
    # Built twice from scratch, as two executors would: the artifact hash must not differ.
    assert encode(make(), what="x").data == encode(make(), what="x").data


def test_json_bytes_do_not_depend_on_key_order() -> None:
    assert encode({"b": 1, "a": 2}, what="x").data == encode({"a": 2, "b": 1}, what="x").data


@pytest.mark.parametrize(
    "value",
    [
        pytest.param((1, "a"), id="tuple"),
        pytest.param({1: "one", 2: "two"}, id="int keys"),
        pytest.param({"scores": (0.1, 0.2)}, id="nested tuple"),
        pytest.param(float("nan"), id="nan"),
        pytest.param({"when": pd.Timestamp("2024-01-01")}, id="timestamp"),
    ],
)
def test_values_json_would_change_are_pickled_with_a_warning(value) -> None:
    encoded = encode(value, what="step 'make' output")
    assert encoded.materializer == "pickle"
    assert encoded.warning is not None
    assert encoded.warning.startswith(f"step 'make' output is a {type(value).__module__}.")
    assert "stored with pickle" in encoded.warning
    back = decode(encoded.data, "pickle")
    assert type(back) is type(value)
    assert back == value or (back != back and value != value)  # nan is not equal to itself


def test_a_frame_parquet_cannot_hold_is_pickled_and_the_warning_says_why() -> None:
    mixed = pd.DataFrame({"id": [1, "two"]})  # an object column of ints and text
    encoded = encode(mixed, what="step 'clean' output")
    assert encoded.materializer == "pickle"
    assert "cannot be stored as Parquet" in str(encoded.warning)
    assert "column id" in str(encoded.warning)
    pd.testing.assert_frame_equal(decode(encoded.data, "pickle"), mixed)


def test_a_model_is_pickled_without_a_warning() -> None:
    from sklearn.linear_model import LogisticRegression

    x = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([0, 0, 1, 1])
    model = LogisticRegression().fit(x, y)
    encoded = encode(model, what="step 'train' output")
    assert encoded.materializer == "model-pickle"
    assert encoded.warning is None
    assert encoded.type_name == "sklearn.linear_model._logistic.LogisticRegression"
    again = decode(encoded.data, "model-pickle")
    np.testing.assert_array_equal(again.predict_proba(x), model.predict_proba(x))


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        pytest.param((n for n in range(3)), "generator", id="generator"),
        pytest.param(threading.Lock(), "lock", id="lock"),
        pytest.param(lambda row: row, "function", id="lambda"),
    ],
)
def test_an_unserialisable_value_names_the_step_and_the_fix(value, kind) -> None:
    with pytest.raises(InvalidInput) as raised:
        encode(value, what="step 'features' output")
    assert raised.value.message.startswith(f"step 'features' output is a {kind}")
    assert "cannot be stored" in raised.value.message
    assert raised.value.hint == (
        "return data the next step can load (a DataFrame, array, dict or model)"
    )


def test_an_unknown_materializer_asks_for_a_newer_loopml() -> None:
    with pytest.raises(InvalidInput, match="unknown materializer 'zarr'") as raised:
        decode(b"", "zarr")
    assert "upgrade loopml" in str(raised.value.hint)


def test_a_pipeline_step_returns_what_the_next_step_receives(project, write) -> None:
    path = write(
        """
        import numpy as np
        import pandas as pd
        import loopml

        @loopml.step
        def frame() -> pd.DataFrame:
            return pd.DataFrame({"x": [1, 2, 3]}, index=["a", "b", "c"])

        @loopml.step
        def pair(table: pd.DataFrame) -> tuple[pd.Series, np.ndarray]:
            return table["x"] * 2, table["x"].to_numpy()

        @loopml.step
        def check(doubled: pd.Series, raw: np.ndarray) -> dict:
            return {"name": doubled.name, "index": list(doubled.index), "raw": raw.tolist()}

        @loopml.pipeline
        def kinds():
            doubled, raw = pair(frame())
            check(doubled, raw)
        """
    )
    run = loopml.pipelines.run(path)
    assert loopml.pipelines.output(run.id, "check") == {
        "name": "x",
        "index": ["a", "b", "c"],
        "raw": [1, 2, 3],
    }
    materializers = [output.materializer for output in run.step("pair").outputs]
    assert materializers == ["pandas-series", "numpy"]


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(_json_values)
def test_json_values_round_trip_exactly(value) -> None:
    encoded = encode(value, what="x")
    assert encoded.materializer == "json"
    back = decode(encoded.data, "json")
    assert back == value
    assert repr(back) == repr(_sorted(value))  # same types all the way down (1.0 stays float)


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value
