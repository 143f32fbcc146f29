from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loopml.errors import FilterSyntaxError, InvalidInput
from loopml.store.schema import runs as runs_table
from loopml.tracking import (
    FINISHED,
    create_run,
    delete_run,
    log_metrics,
    search_runs,
    set_run_status,
)
from loopml.tracking.search import parse_filter

RUNS = [
    # name, experiment, params, metrics, tags
    ("xgb-deep", "churn", {"model": "xgb", "depth": 8, "lr": 0.05}, {"auc": 0.91}, {"team": "ads"}),
    ("xgb-flat", "churn", {"model": "xgb", "depth": 2, "lr": 0.3}, {"auc": 0.78}, {"team": "ads"}),
    ("lgbm", "churn", {"model": "lgbm", "depth": 6, "lr": 0.1}, {"auc": 0.85}, {"team": "growth"}),
    ("rf", "churn", {"model": "rf", "depth": 12}, {"auc": 0.80, "loss": math.nan}, {}),
    ("baseline", "churn", {"model": "logreg"}, {}, {"note": "no auc logged"}),
    ("other", "fraud", {"model": "xgb", "depth": 4}, {"auc": 0.99}, {"team": "ads"}),
]


@pytest.fixture
def populated(store):
    for name, experiment, params, metrics, tags in RUNS:
        run = create_run(store, experiment=experiment, name=name, params=params, tags=tags)
        if metrics:
            log_metrics(store, run.id, metrics)
        set_run_status(store, run.id, FINISHED)
    return store


def names(store, text: str = "", **options) -> list[str]:
    return [run.name for run in search_runs(store, text, output="list", **options)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.auc > 0.8 and params.model = 'xgb'", {"xgb-deep", "other"}),
        ("metrics.auc >= 0.8 AND metrics.auc < 0.9", {"lgbm", "rf"}),
        ("params.model = 'xgb' or tags.team = 'growth'", {"xgb-deep", "xgb-flat", "lgbm", "other"}),
        ("not params.model = 'xgb'", {"lgbm", "rf", "baseline"}),
        ("params.model in ('rf', 'lgbm')", {"rf", "lgbm"}),
        ("params.model not in ('xgb', 'rf', 'lgbm')", {"baseline"}),
        ("params.depth > 6", {"xgb-deep", "rf"}),  # params compare as numbers with a number
        ("params.lr <= 0.1", {"xgb-deep", "lgbm"}),
        ("params.depth = '12'", {"rf"}),  # ...and as text with a string
        ("metrics.auc is null", {"baseline"}),
        ("metrics.loss is not null", set()),  # NaN is stored as "no number"
        ("tags.team != 'ads'", {"lgbm"}),
        ("run_name like 'xgb%'", {"xgb-deep", "xgb-flat"}),
        ("run_name like 'XGB%'", set()),  # like is case-sensitive on both databases
        ("run_name ilike 'XGB%'", {"xgb-deep", "xgb-flat"}),
        ("run_name not like '%-%'", {"lgbm", "rf", "baseline", "other"}),
        ("attributes.status = 'FINISHED' and experiment = 'fraud'", {"other"}),
        ("tags.`note` = 'no auc logged'", {"baseline"}),
        ("tags.\"note\" like 'no%'", {"baseline"}),
        ("duration >= 0 and start_time > '2020-01-01'", {r[0] for r in RUNS}),
        ("end_time < '2020-01-01T00:00'", set()),
        ("", {r[0] for r in RUNS}),
    ],
)
def test_filters_select_the_right_runs(populated, text: str, expected: set[str]) -> None:
    assert set(names(populated, text)) == expected


def test_order_by_metric_puts_runs_without_it_last(populated) -> None:
    ordered = names(populated, experiment="churn", order_by=["metrics.auc desc"])
    assert ordered == ["xgb-deep", "lgbm", "rf", "xgb-flat", "baseline"]
    ascending = names(populated, experiment="churn", order_by="metrics.auc")
    assert ascending == ["xgb-flat", "rf", "lgbm", "xgb-deep", "baseline"]


def test_order_by_params_sorts_numbers_numerically(populated) -> None:
    ordered = names(populated, "params.depth is not null", order_by=["params.depth desc"])
    assert ordered == ["rf", "xgb-deep", "lgbm", "other", "xgb-flat"]


def test_max_results_and_experiment_limit_the_page(populated) -> None:
    assert names(populated, order_by=["metrics.auc desc"], max_results=2) == ["other", "xgb-deep"]
    assert names(populated, experiment=["fraud"]) == ["other"]
    assert names(populated, experiment="nope") == []


def test_the_frame_has_attributes_then_metrics_params_and_tags(populated) -> None:
    frame = search_runs(populated, "params.model = 'rf'")
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == 1
    row = frame.iloc[0]
    assert row["run_name"] == "rf"
    assert row["metrics.auc"] == 0.80
    assert math.isnan(row["metrics.loss"])
    assert row["params.depth"] == "12"
    assert str(frame["start_time"].dtype).startswith("datetime64")
    assert list(frame.columns[:4]) == ["run_id", "run_name", "experiment", "status"]


def test_an_empty_result_is_an_empty_frame(populated) -> None:
    frame = search_runs(populated, "metrics.auc > 5")
    assert len(frame) == 0
    assert "run_id" in frame.columns


def test_deleted_runs_are_searchable_on_request(populated) -> None:
    victim = search_runs(populated, "run_name = 'rf'", output="list")[0]
    delete_run(populated, victim.id)
    assert "rf" not in names(populated)
    assert names(populated, run_view="deleted") == ["rf"]
    assert "rf" in names(populated, run_view="all")


def test_values_are_bound_never_spliced_into_sql(populated, db) -> None:
    hostile = "params.model = 'x'' OR 1=1 --' or run_name = '; DROP TABLE runs; --'"
    assert names(populated, hostile) == []
    with db.read() as connection:
        assert connection.execute(runs_table.select()).first() is not None


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("metrics.auc > and x", 15, "unexpected 'and'"),
        ("metrics.auc >", 14, "ends too early"),
        ("metrics.auc ~ 3", 13, "unexpected character '~'"),
        ("(metrics.auc > 1", 17, "ends too early"),
        ("metrics.auc > 'high'", 15, "metric 'auc' is a number"),
        ("bogus = 1", 1, "unknown field 'bogus'"),
        ("foo.bar = 1", 1, "unknown field prefix 'foo'"),
        ("tags.team = 5", 13, "tag 'team' holds text"),
        ("status = 3", 10, "'status' holds text"),
        ("duration > '1h'", 12, "'duration' is a number"),
        ("start_time > 'yesterday'", 14, "'yesterday' is not a date"),
        ("metrics.auc like 0.5", 18, "needs a quoted pattern"),
        ("params.a in (1, 'x')", 14, "mixes numbers and strings"),
    ],
)
def test_bad_filters_point_at_the_column(store, text: str, column: int, message: str) -> None:
    with pytest.raises(FilterSyntaxError, match=message) as caught:
        search_runs(store, text)
    assert caught.value.column == column
    assert f"at column {column}" in str(caught.value)


def test_bad_options_are_refused(store) -> None:
    with pytest.raises(InvalidInput, match="max_results"):
        search_runs(store, max_results=0)
    with pytest.raises(InvalidInput, match="run_view"):
        search_runs(store, run_view="archived")  # type: ignore[arg-type]
    with pytest.raises(FilterSyntaxError, match="order_by"):
        search_runs(store, order_by=["metrics.auc sideways"])


_TOKENS = st.sampled_from(
    [
        "metrics.auc", "params.model", "tags.`a b`", "status", "and", "or", "not", "(", ")",
        "=", "!=", "<", ">=", "like", "in", "is", "null", "'x'", '"y"', "0.5", "-3", ",",
        "~", "metrics.", "`", "'", "run_name",
    ]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_TOKENS, max_size=12))
def test_any_input_parses_or_fails_with_a_column(tokens: list[str]) -> None:
    text = " ".join(tokens)
    try:
        parse_filter(text)
    except FilterSyntaxError as error:
        assert 1 <= error.column <= len(text) + 1


def test_an_order_by_error_quotes_the_order_by_clause(store) -> None:
    with pytest.raises(FilterSyntaxError, match="unknown field 'bogus'") as caught:
        search_runs(store, "metrics.loss > 0", order_by="bogus desc")
    assert "'⟶bogus desc'" in str(caught.value)


def test_absurdly_nested_filters_are_refused_not_crashed(store) -> None:
    with pytest.raises(FilterSyntaxError, match="nests deeper than 100 levels"):
        search_runs(store, "not " * 3000 + "status = 'x'")
    assert search_runs(store, "(" * 300 + "status = 'x'" + ")" * 300, output="list") == []
