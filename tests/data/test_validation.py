from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopml.data.schema import LOGICAL_TYPES, ColumnSchema, Schema, infer_schema
from loopml.data.validation import KINDS, Anomaly, ValidationReport, validate
from loopml.errors import InvalidInput

from .test_schema import reference_tables


def _schema(*columns: ColumnSchema, **settings: Any) -> Schema:
    return Schema(columns=list(columns), **settings)


def _kinds(report: ValidationReport) -> list[str]:
    return [anomaly.kind for anomaly in report.anomalies]


def _only(report: ValidationReport, kind: str) -> Anomaly:
    found = [anomaly for anomaly in report.anomalies if anomaly.kind == kind]
    assert len(found) == 1, report.to_text()
    return found[0]


# Each case: the schema, a table breaking it once, and what the anomaly must say.
POSITIVE = [
    pytest.param(
        _schema(ColumnSchema("a", "integer")),
        pa.table({"a": pa.array([], pa.int64())}),
        ("empty_data", None, 0, []),
        id="empty_data",
    ),
    pytest.param(
        _schema(ColumnSchema("a", "integer"), min_rows=10),
        pa.table({"a": [1, 2, 3]}),
        ("empty_data", None, 3, []),
        id="empty_data-too-few-rows",
    ),
    pytest.param(
        _schema(ColumnSchema("a", "integer"), ColumnSchema("b", "string")),
        pa.table({"a": [1, 2, 3]}),
        ("missing_column", "b", 3, []),
        id="missing_column",
    ),
    pytest.param(
        _schema(ColumnSchema("a", "integer")),
        pa.table({"a": [1, 2, 3], "b": ["x", None, "y"]}),
        ("extra_column", "b", 2, []),
        id="extra_column",
    ),
    pytest.param(
        _schema(ColumnSchema("age", "integer")),
        pa.table({"age": ["31", "n/a", "45", None, "unknown", "12"]}),
        (
            "type_change",
            "age",
            5,
            [{"row": 1, "value": "n/a"}, {"row": 4, "value": "unknown"}],
        ),
        id="type_change",
    ),
    pytest.param(
        _schema(ColumnSchema("a", "float", max_null_rate=0.2)),
        pa.table({"a": [1.0, None, 2.0, math.nan, None, 3.0, 4.0, 5.0, 6.0, None]}),
        (
            "null_rate",
            "a",
            4,
            [{"row": 1, "value": None}, {"row": 3, "value": "NaN"}, {"row": 4, "value": None}],
        ),
        id="null_rate",
    ),
    pytest.param(
        _schema(ColumnSchema("a", "string", nullable=False)),
        pa.table({"a": ["x", "y", None, "z", "w", None]}),
        ("not_nullable", "a", 2, [{"row": 2, "value": None}, {"row": 5, "value": None}]),
        id="not_nullable",
    ),
    pytest.param(
        _schema(ColumnSchema("a", "integer", min=0, max=10)),
        pa.table({"a": [5, -1, 11, None, 10, 20, 0, 99]}),
        (
            "out_of_range",
            "a",
            4,
            [{"row": 1, "value": -1}, {"row": 2, "value": 11}, {"row": 5, "value": 20}],
        ),
        id="out_of_range",
    ),
    pytest.param(
        _schema(ColumnSchema("plan", "string", domain=["basic", "premium"])),
        pa.table({"plan": ["basic", "gold", "premium", "free", None, "gold"]}),
        (
            "unseen_category",
            "plan",
            3,
            [{"row": 1, "value": "gold"}, {"row": 3, "value": "free"}, {"row": 5, "value": "gold"}],
        ),
        id="unseen_category",
    ),
    pytest.param(
        _schema(ColumnSchema("email", "string", unique=True)),
        pa.table({"email": ["a", "b", "a", None, None, "c", "b", "a"]}),
        (
            "not_unique",
            "email",
            5,
            [{"value": "a", "rows": [0, 2, 7]}, {"value": "b", "rows": [1, 6]}],
        ),
        id="not_unique",
    ),
    pytest.param(
        _schema(ColumnSchema("id", "integer"), key=["id"]),
        pa.table({"id": [1, 2, 1, 3, 2, 2, None, None]}),
        (
            "duplicate_key",
            "id",
            5,
            [{"key": {"id": 1}, "rows": [0, 2]}, {"key": {"id": 2}, "rows": [1, 4, 5]}],
        ),
        id="duplicate_key",
    ),
    pytest.param(
        _schema(ColumnSchema("contact", "string")),
        pa.table({"contact": ["ann@example.com", "-", "bob@example.org", None]}),
        (
            "personal_data",
            "contact",
            2,
            [{"row": 0, "value": "a***@example.com"}, {"row": 2, "value": "b***@example.org"}],
        ),
        id="personal_data",
    ),
]

# Each case: a schema and a table that keeps it, close to the line the positive case crosses.
NEGATIVE = [
    pytest.param(
        "empty_data",
        _schema(ColumnSchema("a", "integer"), min_rows=0),
        pa.table({"a": pa.array([], pa.int64())}),
        id="empty_data-allowed",
    ),
    pytest.param(
        "empty_data",
        _schema(ColumnSchema("a", "integer"), min_rows=3),
        pa.table({"a": [1, 2, 3]}),
        id="empty_data-enough-rows",
    ),
    pytest.param(
        "missing_column",
        _schema(ColumnSchema("a", "integer"), ColumnSchema("b", "string")),
        pa.table({"b": ["x"], "a": [1]}),  # order does not matter
        id="missing_column",
    ),
    pytest.param(
        "extra_column",
        _schema(ColumnSchema("a", "integer"), allow_extra_columns=True),
        pa.table({"a": [1], "b": ["x"]}),
        id="extra_column-allowed",
    ),
    pytest.param(
        "type_change",
        _schema(ColumnSchema("a", "float")),
        pa.table({"a": pa.array([1, 2], pa.int8())}),  # widening
        id="type_change-widening",
    ),
    pytest.param(
        "null_rate",
        _schema(ColumnSchema("a", "float", max_null_rate=0.2)),
        pa.table({"a": [1.0, None, 2.0, math.nan, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]}),  # exactly 20%
        id="null_rate-at-the-limit",
    ),
    pytest.param(
        "not_nullable",
        _schema(ColumnSchema("a", "string", nullable=False)),
        pa.table({"a": ["x", "", "null"]}),  # empty and 'null' text are values
        id="not_nullable",
    ),
    pytest.param(
        "out_of_range",
        _schema(ColumnSchema("a", "float", min=0, max=10)),
        pa.table({"a": [0.0, 10.0, None, math.nan, 5.5]}),  # bounds are inclusive
        id="out_of_range-inclusive",
    ),
    pytest.param(
        "unseen_category",
        _schema(ColumnSchema("plan", "string", domain=["basic"], max_unseen_share=0.25)),
        pa.table({"plan": ["basic", "gold", "basic", "basic", None]}),  # 1 of 4 = 25%
        id="unseen_category-tolerated",
    ),
    pytest.param(
        "not_unique",
        _schema(ColumnSchema("email", "string", unique=True)),
        pa.table({"email": ["a", None, "b", None]}),  # missing values do not repeat
        id="not_unique",
    ),
    pytest.param(
        "duplicate_key",
        _schema(
            ColumnSchema("shop", "string"), ColumnSchema("day", "integer"), key=["shop", "day"]
        ),
        pa.table({"shop": ["a", "a", "b", None, None], "day": [1, 2, 1, 3, 3]}),
        id="duplicate_key-composite",
    ),
    pytest.param(
        "personal_data",
        _schema(ColumnSchema("contact", "string")),
        pa.table({"contact": ["ann at example dot com", "call me", None]}),
        id="personal_data",
    ),
]


def test_every_anomaly_kind_has_a_positive_and_a_negative_case() -> None:
    assert {case.values[2][0] for case in POSITIVE} == set(KINDS)
    assert {case.values[0] for case in NEGATIVE} == set(KINDS)


@pytest.mark.parametrize(("schema", "table", "expected"), POSITIVE)
def test_each_anomaly_is_found_with_its_column_count_and_example_rows(
    schema: Schema, table: pa.Table, expected: tuple
) -> None:
    kind, column, count, examples = expected
    report = validate(table, schema)
    anomaly = _only(report, kind)
    assert (anomaly.column, anomaly.count, anomaly.examples) == (column, count, examples)
    assert anomaly.severity == ("warning" if kind == "personal_data" else "error")
    assert report.ok is (kind == "personal_data")
    if column is not None:
        assert f"'{column}'" in anomaly.message or f"({column})" in anomaly.message
    assert len(report.anomalies) == 1, report.to_text()


@pytest.mark.parametrize(("kind", "schema", "table"), NEGATIVE)
def test_tables_that_keep_the_schema_raise_nothing(
    kind: str, schema: Schema, table: pa.Table
) -> None:
    report = validate(table, schema)
    assert report.anomalies == [], report.to_text()
    assert report.ok


@pytest.mark.parametrize("limit", [0, 1, 2, 3, 10])
def test_examples_are_capped_and_in_row_order(limit: int) -> None:
    schema = _schema(ColumnSchema("a", "integer", max=0))
    table = pa.table({"a": [1, 0, 2, 3, 0, 4]})
    anomaly = _only(validate(table, schema, examples=limit), "out_of_range")
    assert anomaly.count == 4
    assert anomaly.examples == [
        {"row": row, "value": value} for row, value in [(0, 1), (2, 2), (3, 3), (5, 4)][:limit]
    ]


@pytest.mark.parametrize("limit", [1, 2])
def test_repeats_show_at_least_two_rows_each(limit: int) -> None:
    schema = _schema(ColumnSchema("a", "integer", unique=True))
    anomaly = _only(
        validate(pa.table({"a": [7, 8, 7, 8, 7]}), schema, examples=limit), "not_unique"
    )
    assert anomaly.examples == [{"value": 7, "rows": [0, 2]}, {"value": 8, "rows": [1, 3]}][:limit]


def test_row_numbers_count_across_chunks() -> None:
    table = pa.concat_tables(
        [pa.table({"id": [1, 2], "a": [1, 50]}), pa.table({"id": [3, 1], "a": [60, 2]})]
    )
    schema = _schema(
        ColumnSchema("id", "integer"), ColumnSchema("a", "integer", max=10), key=["id"]
    )
    report = validate(table, schema)
    assert _only(report, "out_of_range").examples == [
        {"row": 1, "value": 50},
        {"row": 2, "value": 60},
    ]
    assert _only(report, "duplicate_key").examples == [{"key": {"id": 1}, "rows": [0, 3]}]
    composite = _schema(
        ColumnSchema("id", "integer"), ColumnSchema("a", "integer"), key=["a", "id"]
    )
    table = pa.concat_tables([table, pa.table({"id": [3], "a": [60]})])
    assert _only(validate(table, composite), "duplicate_key").examples == [
        {"key": {"a": 60, "id": 3}, "rows": [2, 4]}
    ]


def test_composite_keys_name_every_column() -> None:
    schema = _schema(
        ColumnSchema("shop", "string"), ColumnSchema("day", "date"), key=["shop", "day"]
    )
    table = pa.table(
        {
            "shop": ["b", "a", "b", "a", "b"],
            "day": [date(2024, 1, 2), date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 2), None],
        }
    )
    anomaly = _only(validate(table, schema), "duplicate_key")
    assert anomaly.column == "shop, day"
    assert anomaly.count == 2
    assert anomaly.examples == [{"key": {"shop": "b", "day": "2024-01-02"}, "rows": [0, 2]}]
    assert "key (shop, day)" in anomaly.message


# --- types --------------------------------------------------------------------------------

SAMPLES = {
    "integer": pa.array([1, 2], pa.int32()),
    "float": pa.array([1.5, 2.0], pa.float32()),
    "boolean": pa.array([True, False]),
    "string": pa.array(["a", "b"], pa.large_string()),
    "timestamp": pa.array([datetime(2024, 1, 1)], pa.timestamp("ms", tz="UTC")),
    "date": pa.array([date(2024, 1, 1)], pa.date64()),
    "binary": pa.array([b"a"], pa.binary()),
    "other": pa.array([[1]], pa.list_(pa.int64())),
}
WIDENING = {("float", "integer"), ("timestamp", "date")}


@pytest.mark.parametrize("expected", LOGICAL_TYPES)
@pytest.mark.parametrize("observed", LOGICAL_TYPES)
def test_type_compatibility(expected: str, observed: str) -> None:
    report = validate(pa.table({"c": SAMPLES[observed]}), _schema(ColumnSchema("c", expected)))
    fits = expected == observed or (expected, observed) in WIDENING
    assert ("type_change" not in _kinds(report)) is fits


@pytest.mark.parametrize("expected", LOGICAL_TYPES)
def test_a_column_with_no_values_at_all_fits_any_type(expected: str) -> None:
    table = pa.table({"c": pa.nulls(3)})
    report = validate(table, _schema(ColumnSchema("c", expected)))
    assert report.anomalies == []


@pytest.mark.parametrize(
    "column",
    [
        pa.array(np.array([1.5, np.nan, 2.5], dtype=np.float16)),
        pa.array([Decimal("1.25"), None, Decimal("-3")], pa.decimal256(40, 2)),
        pa.array([1, 2, 3], pa.duration("ms")),
        pa.array([1, 2, 3], pa.time32("s")),
        pa.array([b"ab", b"cd", b"ab"], pa.binary(2)),
        pa.array([b"a", b"b", b"c"], pa.binary_view()),
        pa.array(["a", "a", "b", "b"], pa.string_view()),
        pa.array(["a", None, "a"], pa.dictionary(pa.int8(), pa.string())),
        pa.array([{"x": 1}, None], pa.struct([("x", pa.int64())])),
        pa.array([[1], [], None]),
        pa.array([date(2024, 1, 1)], pa.date64()),
        pa.array([datetime(2024, 1, 1)] * 2, pa.timestamp("s", tz="America/New_York")),
        pa.nulls(3),
    ],
    ids=lambda column: str(column.type),
)
def test_every_arrow_type_keeps_the_schema_inferred_from_it(column: pa.Array) -> None:
    table = pa.table({"c": column})
    assert validate(table, infer_schema(table)).anomalies == []


@pytest.mark.parametrize(
    ("expected", "values", "offending", "detail"),
    [
        ("integer", ["1", " 2 ", "+3", "1.5", "x"], [(3, "1.5"), (4, "x")], "2 of 5 values"),
        ("float", ["1.5", "1e3", "-.5", "NaN", "inf", "1,5"], [(5, "1,5")], "1 of 6 values"),
        ("boolean", ["true", "No", "1", "maybe"], [(3, "maybe")], "1 of 4 values"),
        ("date", ["2024-01-31", "31/01/2024"], [(1, "31/01/2024")], "1 of 2 values"),
        (
            "timestamp",
            ["2024-01-31T10:00:00Z", "2024-01-31 10:00", "2024-01-31", "yesterday"],
            [(3, "yesterday")],
            "1 of 4 values",
        ),
        ("integer", ["1", "2", None], [(0, "1"), (1, "2")], "all 2 values read as integer"),
        ("integer", [1.0, 2.5, None, 3.0], [(1, 2.5)], "1 of 3 values are not whole numbers"),
        ("integer", [1.0, 2.0, None], [(0, 1.0), (1, 2.0)], "astype('Int64')"),
        ("string", [1, 2], [(0, 1), (1, 2)], "change type to integer"),
    ],
)
def test_type_changes_show_the_values_that_do_not_fit_first(
    expected: str, values: list, offending: list[tuple[int, Any]], detail: str
) -> None:
    table = pa.table({"c": values})
    anomaly = _only(validate(table, _schema(ColumnSchema("c", expected))), "type_change")
    assert anomaly.examples == [{"row": row, "value": value} for row, value in offending]
    assert anomaly.count == sum(value is not None for value in values)
    assert detail in anomaly.message
    assert f"column 'c' should be {expected} but is " in anomaly.message


def test_a_type_change_skips_value_checks_but_not_null_checks() -> None:
    schema = _schema(ColumnSchema("c", "integer", nullable=False, min=0, max=1, unique=True))
    report = validate(pa.table({"c": ["5", None, "5"]}), schema)
    assert _kinds(report) == ["type_change", "not_nullable", "not_unique"]


# --- ranges ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "values", "arrow_type", "rows"),
    [
        (ColumnSchema("c", "integer", min=0, max=2**64), [0, 2**64 - 1], pa.uint64(), []),
        (ColumnSchema("c", "integer", min=-1), [0, 5], pa.uint8(), []),
        (ColumnSchema("c", "integer", max=-1), [0, 5], pa.uint8(), [0, 1]),
        (ColumnSchema("c", "integer", min=2**70), [2**63 - 1], pa.int64(), [0]),
        (ColumnSchema("c", "integer", max=2**70), [2**63 - 1], pa.int64(), []),
        (ColumnSchema("c", "integer", max=2**63 - 2), [2**63 - 1, 1], pa.int64(), [0]),
        (ColumnSchema("c", "integer", max=2.5), [2, 3], pa.int16(), [1]),
        (ColumnSchema("c", "float", min=0), [1, -1], pa.int64(), [1]),
        (ColumnSchema("c", "float", max=10**400), [1e308], pa.float64(), []),
        (ColumnSchema("c", "float", min=-math.inf, max=0), [-math.inf, math.inf], None, [1]),
        (
            ColumnSchema("c", "float", min=1, max=2),
            [Decimal("1.5"), Decimal("2.5")],
            pa.decimal128(3, 1),
            [1],
        ),
        (
            ColumnSchema("c", "date", min="2024-01-02"),
            [date(2024, 1, 1), date(2024, 1, 2)],
            pa.date32(),
            [0],
        ),
        (
            ColumnSchema("c", "timestamp", max="2024-01-01T12:00:00"),
            [date(2024, 1, 1), date(2024, 1, 2)],
            pa.date32(),
            [1],
        ),
        (
            # Arrow stores aware times as UTC: 01:00+02:00 is 23:00 the day before.
            ColumnSchema("c", "timestamp", max="2024-01-01T01:00:00+02:00"),
            [datetime(2023, 12, 31, 23, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC)],
            pa.timestamp("ns", tz="Asia/Tokyo"),
            [1],
        ),
        (
            ColumnSchema("c", "timestamp", min="2024-01-01T00:00:00.000001"),
            [datetime(2024, 1, 1), datetime(2024, 1, 1, 0, 0, 0, 1)],
            pa.timestamp("us"),
            [0],
        ),
    ],
)
def test_ranges_compare_exactly_whatever_the_column_type(
    column: ColumnSchema, values: list, arrow_type: pa.DataType | None, rows: list[int]
) -> None:
    report = validate(pa.table({"c": pa.array(values, arrow_type)}), _schema(column))
    found = [a for a in report.anomalies if a.kind == "out_of_range"]
    assert [example["row"] for anomaly in found for example in anomaly.examples] == rows


def test_temporal_examples_are_iso_text() -> None:
    schema = _schema(ColumnSchema("at", "timestamp", max="2024-01-01T00:00:00+00:00"))
    table = pa.table({"at": pa.array([datetime(2024, 5, 1, 8)], pa.timestamp("s", tz="UTC"))})
    anomaly = _only(validate(table, schema), "out_of_range")
    assert anomaly.examples == [{"row": 0, "value": "2024-05-01T08:00:00+00:00"}]
    assert "outside […, 2024-01-01T00:00:00+00:00]" in anomaly.message


@pytest.mark.parametrize(("severity", "ok"), [("error", False), ("warning", True)])
def test_range_severity_decides_whether_out_of_range_fails(severity: str, ok: bool) -> None:
    schema = _schema(ColumnSchema("a", "integer", min=0, max=10, range_severity=severity))
    report = validate(pa.table({"a": [11]}), schema)
    assert _only(report, "out_of_range").severity == severity
    assert report.ok is ok


def test_an_inferred_range_says_how_to_confirm_it() -> None:
    schema = infer_schema(pa.table({"a": [10, 20, 30]}))
    anomaly = _only(validate(pa.table({"a": [100]}), schema), "out_of_range")
    assert anomaly.severity == "warning"
    assert "set range_severity: error" in anomaly.message


# --- domains --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arrow_type",
    [pa.string(), pa.large_string(), pa.string_view(), pa.dictionary(pa.int8(), pa.string())],
)
def test_domains_apply_to_every_string_encoding(arrow_type: pa.DataType) -> None:
    schema = _schema(ColumnSchema("plan", "string", domain=["a"]))
    table = pa.table({"plan": pa.array(["a", "b", None, "a"], arrow_type)})
    anomaly = _only(validate(table, schema), "unseen_category")
    assert (anomaly.count, anomaly.examples) == (1, [{"row": 1, "value": "b"}])


def test_unseen_values_are_listed_most_frequent_first() -> None:
    values = ["basic"] * 2 + ["x"] + ["gold"] * 3 + ["free"] * 2 + list("pqrst")
    schema = _schema(ColumnSchema("plan", "string", domain=["basic"]))
    anomaly = _only(validate(pa.table({"plan": values}), schema), "unseen_category")
    assert "'gold' (3), 'free' (2), " in anomaly.message
    assert "and 3 more" in anomaly.message
    assert "(84.6%) outside its domain, more than the 0% tolerated" in anomaly.message


# --- table level ----------------------------------------------------------------------------


def test_an_empty_table_fails_even_against_its_own_schema() -> None:
    table = pa.table({"a": pa.array([], pa.int64())})
    report = validate(table, infer_schema(table))
    assert _kinds(report) == ["empty_data"]
    assert "the table has no rows; the schema expects at least 1" in report.anomalies[0].message


def test_anomalies_come_in_schema_order() -> None:
    schema = _schema(
        ColumnSchema("id", "integer", nullable=False),
        ColumnSchema("gone", "string"),
        ColumnSchema("age", "integer", max=120),
        key=["id"],
        min_rows=5,
    )
    table = pa.table({"new": ["x", "y"], "age": [130, 1], "id": [None, None]})
    assert _kinds(validate(table, schema)) == [
        "empty_data",
        "not_nullable",
        "missing_column",
        "out_of_range",
        "extra_column",
    ]


def test_personal_data_is_only_ever_a_warning_and_can_be_skipped() -> None:
    table = pa.table({"card": ["4111 1111 1111 1111"] * 3, "phone": ["+44 20 7946 0958"] * 3})
    schema = infer_schema(table)
    report = validate(table, schema)
    assert [(a.kind, a.column, a.severity) for a in report.anomalies] == [
        ("personal_data", "card", "warning"),
        ("personal_data", "phone", "warning"),
    ]
    assert report.ok
    assert (
        "looks like payment card numbers (100% of 3 sampled values)" in report.anomalies[0].message
    )
    assert validate(table, schema, personal_data=False).anomalies == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"table": {"a": [1]}}, r"validate\(\) takes a pyarrow\.Table, got dict"),
        ({"schema": {"columns": []}}, r"validate\(\) takes a Schema, got dict"),
        ({"examples": -1}, "examples must be a whole number, 0 or more, got -1"),
        ({"examples": True}, "examples must be a whole number"),
        (
            {"table": pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"])},
            "more than one column named 'a'",
        ),
    ],
)
def test_bad_arguments_are_refused(arguments: dict, message: str) -> None:
    arguments = {
        "table": pa.table({"a": [1]}),
        "schema": _schema(ColumnSchema("a", "integer")),
        **arguments,
    }
    with pytest.raises(InvalidInput, match=message):
        validate(**arguments)


# --- the report -----------------------------------------------------------------------------


@pytest.fixture
def report() -> ValidationReport:
    schema = _schema(
        ColumnSchema("id", "integer"),
        ColumnSchema("seen", "timestamp"),
        ColumnSchema("age", "integer", max=120, range_severity="warning"),
        key=["id"],
    )
    table = pa.table(
        {
            "id": [1, 1, 2],
            "seen": [datetime(2024, 1, 1)] * 3,
            "age": [200, 20, 300],
            "raw": [b"\x00", b"\x01", None],
        }
    )
    return validate(table, schema, examples=2)


def test_report_counts_errors_and_warnings(report: ValidationReport) -> None:
    assert not report.ok
    assert [a.kind for a in report.errors] == ["extra_column", "duplicate_key"]
    assert [a.kind for a in report.warnings] == ["out_of_range"]
    assert report.rows == 3


def test_report_as_json(report: ValidationReport) -> None:
    document = json.loads(json.dumps(report.to_dict()))
    assert {key: document[key] for key in ("ok", "rows", "errors", "warnings")} == {
        "ok": False,
        "rows": 3,
        "errors": 2,
        "warnings": 1,
    }
    assert document["anomalies"][0] == {
        "kind": "out_of_range",
        "column": "age",
        "message": document["anomalies"][0]["message"],
        "severity": "warning",
        "count": 2,
        "examples": [{"row": 0, "value": 200}, {"row": 2, "value": 300}],
    }


def test_report_as_text_has_one_line_per_anomaly_with_column_and_examples(
    report: ValidationReport,
) -> None:
    lines = report.to_text().splitlines()
    assert lines[0] == "FAILED: 2 errors, 1 warning in 3 rows"
    assert len(lines) == 1 + len(report.anomalies)
    assert lines[1].startswith("warning out_of_range    age: column 'age' has 2 values outside")
    assert lines[1].endswith("[e.g. row 0: 200; row 2: 300]")
    assert lines[2].startswith("error   extra_column    raw: column 'raw' (binary)")
    assert lines[3].startswith("error   duplicate_key   id: key (id) should identify each row")
    assert lines[3].endswith("[e.g. rows 0, 1: id=1]")


def test_a_clean_report() -> None:
    report = validate(pa.table({"a": [1]}), _schema(ColumnSchema("a", "integer")))
    assert (report.ok, report.anomalies, report.to_text()) == (
        True,
        [],
        "OK: 0 errors, 0 warnings in 1 row",
    )
    report.raise_for_errors()


def test_raise_for_errors_names_the_table_and_the_problems(report: ValidationReport) -> None:
    with pytest.raises(InvalidInput, match="^orders failed validation with 2 errors: column 'raw'"):
        report.raise_for_errors("orders")


# --- properties -----------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reference_tables())
def test_a_table_keeps_the_schema_inferred_from_it(table: pa.Table) -> None:
    report = validate(table, infer_schema(table))
    assert [a for a in report.anomalies if a.kind != "personal_data"] == [], report.to_text()


SOURCE_KINDS = ("integer", "float", "category", "flag", "text", "day", "moment")


@st.composite
def sources(draw: st.DrawFn) -> tuple[list[tuple[str, dict]], int, int, int]:
    """Columns of a data source (kind, parameters), a seed, and how many rows the reference
    and the later batch have.

    Null shares are 0 or at least 10% and the reference has 400 rows or more, so it shows
    every category twice and every nullable column's nulls (a 10% column has no null in 400
    rows with probability 5e-19); the inferred null-rate headroom covers the rest.
    """
    columns = [("id", {"nulls": 0.0})]
    for kind in draw(st.lists(st.sampled_from(SOURCE_KINDS), min_size=1, max_size=6)):
        parameters = {
            "nulls": draw(st.sampled_from([0.0, 0.1, 0.3])),
            "low": draw(st.integers(-(10**6), 10**6)),
            "span": draw(st.integers(0, 1000)),
            "scale": draw(st.floats(0.001, 1e6)),
            "categories": draw(st.integers(1, 10)),
        }
        columns.append((kind, parameters))
    return (
        columns,
        draw(st.integers(0, 2**32 - 1)),
        draw(st.integers(400, 800)),
        draw(st.integers(1, 400)),
    )


def _draw_table(
    columns: list[tuple[str, dict]], rng: np.random.Generator, start: int, rows: int
) -> pa.Table:
    arrays = {}
    for index, (kind, p) in enumerate(columns):
        if kind == "id":
            values: Any = np.arange(start, start + rows)
        elif kind == "integer":
            values = rng.integers(p["low"], p["low"] + p["span"], rows, endpoint=True)
        elif kind == "float":
            values = rng.normal(p["low"], p["scale"], rows)
        elif kind == "category":
            values = np.array([f"c{i}" for i in range(p["categories"])])[
                rng.integers(0, p["categories"], rows)
            ]
        elif kind == "flag":
            values = rng.random(rows) < 0.5
        elif kind == "text":
            letters = rng.integers(97, 123, rows * 12, dtype=np.uint8).tobytes()
            values = np.frombuffer(letters, dtype="S12").astype(str)
        elif kind == "day":
            values = np.datetime64("2020-01-01") + rng.integers(0, 3650, rows)
        else:
            values = np.datetime64("2020-01-01T00:00:00", "us") + rng.integers(0, 10**14, rows)
        mask = rng.random(rows) < p["nulls"]
        arrays["id" if kind == "id" else f"{kind}_{index}"] = pa.array(
            values, mask=mask if mask.any() else None
        )
    return pa.table(arrays)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sources())
def test_more_rows_from_the_same_source_do_not_fail_the_inferred_schema(source) -> None:
    columns, seed, reference_rows, more_rows = source
    rng = np.random.default_rng(seed)
    reference = _draw_table(columns, rng, 0, reference_rows)
    schema = infer_schema(reference)
    later = _draw_table(columns, rng, reference_rows, more_rows)
    report = validate(pa.concat_tables([reference, later]), schema)
    assert report.ok, report.to_text()
    assert {a.kind for a in report.warnings} <= {"out_of_range"}
    assert schema.key == ["id"]


# --- scale --------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_million_rows_of_ten_columns_validate() -> None:
    rows = 1_000_000
    rng = np.random.default_rng(7)
    plans = np.array(["basic", "plus", "premium", "enterprise"])

    def batch(start: int) -> pa.Table:
        return pa.table(
            {
                "order_id": np.arange(start, start + rows),
                "customer_id": rng.integers(0, 50_000, rows),
                "age": pa.array(rng.integers(18, 90, rows), mask=rng.random(rows) < 0.05),
                "amount": rng.lognormal(3, 1, rows),
                "discount": pa.array(rng.random(rows), mask=rng.random(rows) < 0.2),
                "plan": plans[rng.integers(0, 4, rows)],
                "active": rng.random(rows) < 0.7,
                "created": np.datetime64("2024-01-01", "us")
                + rng.integers(0, 10**13, rows).astype("timedelta64[us]"),
                "day": np.datetime64("2024-01-01") + rng.integers(0, 365, rows),
                "email": np.array([f"user{i}@example.com" for i in range(1000)])[
                    rng.integers(0, 1000, rows)
                ],
            }
        )

    schema = infer_schema(batch(0))
    report = validate(batch(rows), schema)
    assert report.ok, report.to_text()
    assert report.rows == rows
    assert {a.kind for a in report.warnings} <= {"out_of_range", "personal_data"}
    assert schema.key == ["order_id"]
