from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from loopml.errors import InvalidInput, NotFound
from loopml.store.schema import metrics
from loopml.tracking import create_run, get_metric_history, get_run, log_metrics
from loopml.tracking.validation import metric_value


def _points(store) -> int:
    with store.read() as connection:
        return connection.execute(select(func.count()).select_from(metrics)).scalar_one()


def test_nan_and_infinities_are_kept_as_facts(store) -> None:
    run = create_run(store)
    log_metrics(store, run.id, {"loss": float("nan"), "up": float("inf"), "down": -math.inf})
    latest = get_run(store, run.id).metrics
    assert math.isnan(latest["loss"])
    assert latest["up"] == math.inf
    assert latest["down"] == -math.inf
    assert math.isnan(get_metric_history(store, run.id, "loss")[0].value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0.9", "must be a number, got str"),
        (None, "must be a number, got NoneType"),
        (True, "must be a number, got bool"),
        ([1, 2], "must be a number, got list"),
        (np.array([1.0, 2.0]), "must be a number, got ndarray"),
        (b"1", "must be a number, got bytes"),
    ],
)
def test_values_that_are_not_numbers_are_refused_and_nothing_is_written(
    store, value, message, db
) -> None:
    run = create_run(store)
    with pytest.raises(InvalidInput, match=message):
        log_metrics(store, run.id, {"good": 1.0, "bad": value})
    assert _points(db) == 0


@pytest.mark.parametrize(
    "value", [3, np.float32(0.5), np.int64(7), np.float64("nan"), Decimal("1.5"), np.array(2.0)]
)
def test_numeric_types_are_accepted(value) -> None:
    number = metric_value("m", value)
    assert isinstance(number, float)
    assert math.isnan(number) or number == float(value)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_every_float_converts_to_itself(value: float) -> None:
    converted = metric_value("m", value)
    assert converted == value or (math.isnan(converted) and math.isnan(value))


def test_bad_steps_and_timestamps_are_refused(store) -> None:
    run = create_run(store)
    with pytest.raises(InvalidInput, match="step .* must be an integer"):
        log_metrics(store, run.id, {"a": 1}, step=1.5)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="timestamp .* milliseconds"):
        log_metrics(store, run.id, {"a": 1}, timestamp="now")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="out of range"):
        log_metrics(store, run.id, {"a": 1}, timestamp=-5)


def test_latest_value_is_the_highest_step_even_when_points_arrive_out_of_order(store) -> None:
    run = create_run(store)
    log_metrics(store, run.id, {"auc": 0.7}, step=5, timestamp=1000)
    log_metrics(store, run.id, {"auc": 0.9}, step=2, timestamp=2000)  # back-filled earlier step
    assert get_run(store, run.id).metrics["auc"] == 0.7
    log_metrics(store, run.id, {"auc": 0.8}, step=5, timestamp=3000)  # same step, newer
    assert get_run(store, run.id).metrics["auc"] == 0.8
    history = get_metric_history(store, run.id, "auc")
    assert [(p.step, p.value) for p in history] == [(2, 0.9), (5, 0.7), (5, 0.8)]


def test_history_of_an_unknown_run_or_bad_key_is_refused(store) -> None:
    with pytest.raises(NotFound):
        get_metric_history(store, "f" * 32, "auc")
    run = create_run(store)
    with pytest.raises(InvalidInput):
        get_metric_history(store, run.id, "bad;key")
    assert get_metric_history(store, run.id, "never") == []


def test_metrics_for_an_unknown_run_are_refused(store) -> None:
    with pytest.raises(NotFound):
        log_metrics(store, "f" * 32, {"a": 1.0})
