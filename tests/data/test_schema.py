from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loopml.data.schema import (
    LOGICAL_TYPES,
    ColumnSchema,
    Schema,
    infer_schema,
    logical_type,
    temporal_micros,
)
from loopml.errors import InvalidInput, NotFound


def _column(values: list, arrow_type: pa.DataType | None = None, name: str = "x") -> ColumnSchema:
    return infer_schema(pa.table({name: pa.array(values, arrow_type)})).column(name)


# --- logical types ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arrow_type", "logical"),
    [
        (pa.int8(), "integer"),
        (pa.int64(), "integer"),
        (pa.uint64(), "integer"),
        (pa.float16(), "float"),
        (pa.float32(), "float"),
        (pa.float64(), "float"),
        (pa.decimal128(10, 2), "float"),
        (pa.bool_(), "boolean"),
        (pa.string(), "string"),
        (pa.large_string(), "string"),
        (pa.string_view(), "string"),
        (pa.dictionary(pa.int32(), pa.string()), "string"),
        (pa.timestamp("s"), "timestamp"),
        (pa.timestamp("ns", tz="Europe/Paris"), "timestamp"),
        (pa.date32(), "date"),
        (pa.date64(), "date"),
        (pa.binary(), "binary"),
        (pa.large_binary(), "binary"),
        (pa.binary(4), "binary"),
        (pa.list_(pa.int64()), "other"),
        (pa.struct([("a", pa.int64())]), "other"),
        (pa.null(), "other"),
        (pa.duration("s"), "other"),
    ],
)
def test_arrow_types_map_to_one_logical_type(arrow_type: pa.DataType, logical: str) -> None:
    assert logical_type(arrow_type) == logical
    assert logical in LOGICAL_TYPES


# --- inference ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("missing", "rows", "nullable", "max_null_rate"),
    [
        (0, 10, False, None),
        (1, 10, True, 0.2),  # 10% x 1.5 + 5 points
        (1, 100, True, 0.07),  # 1.5% + 5 points, rounded up to a whole percent
        (1, 3, True, 0.55),
        (5, 10, True, 0.8),
        (6, 10, True, 0.95),
        (7, 10, True, None),  # the limit would reach 100%: no limit
        (10, 10, True, None),
    ],
)
def test_null_rate_limit_is_the_observed_rate_with_headroom(
    missing: int, rows: int, nullable: bool, max_null_rate: float | None
) -> None:
    column = _column([None] * missing + list(range(rows - missing)), pa.int64())
    assert column.nullable is nullable
    assert column.max_null_rate == max_null_rate


def test_nan_counts_as_missing_like_pandas() -> None:
    column = _column([1.0, math.nan, 2.0, 3.0])
    assert column.nullable is True
    assert column.max_null_rate == 0.43
    assert (column.min, column.max) == (0.8, 3.2)  # NaN is no part of the range


@pytest.mark.parametrize(
    ("values", "arrow_type", "low", "high"),
    [
        ([18, 33, 95], pa.int64(), 10, 103),  # span 77: pad 7.7 -> 8, rounded to 1
        ([0, 1000], pa.int64(), 0, 1100),  # non-negative data never gets a negative minimum
        ([-500, -100], pa.int64(), -540, -60),  # non-positive data never gets a positive maximum
        ([-5, 5], pa.int32(), -6, 6),
        ([7, 7, 7], pa.int64(), 7, 7),  # a constant gives nothing to scale the headroom by
        ([0.1, 0.47], pa.float64(), 0.06, 0.51),
        ([1.5, 2.5], pa.float32(), 1.4, 2.6),
        ([-1e6, 1e6], pa.float64(), -1.2e6, 1.2e6),
        ([2.5, 2.5], pa.float64(), 2.5, 2.5),
        ([0, 2**64 - 1], pa.uint64(), 0, 21 * 10**18),  # exact integers beyond 64 bits
        ([-(2**63), 2**63 - 1], pa.int64(), -12 * 10**18, 12 * 10**18),
        ([Decimal("1.25"), Decimal("2.75")], pa.decimal128(5, 2), 1.1, 2.9),
    ],
)
def test_numeric_ranges_are_widened_to_round_numbers(values, arrow_type, low, high) -> None:
    column = _column(values, arrow_type)
    assert (column.min, column.max) == (low, high)
    assert column.min <= min(values) and column.max >= max(values)
    assert column.range_severity == "warning"
    if column.type == "integer":
        assert isinstance(column.min, int) and isinstance(column.max, int)


@pytest.mark.parametrize(
    ("values", "arrow_type", "low"),
    [
        ([date(2024, 3, 1), date(2023, 5, 17)], pa.date32(), "2023-05-17"),
        ([date(2024, 3, 1), date(2023, 5, 17)], pa.date64(), "2023-05-17"),
        (
            [datetime(2024, 3, 1, 12), datetime(2023, 5, 17, 8, 30, 0, 250)],
            pa.timestamp("us"),
            "2023-05-17T08:30:00.000250",
        ),
        (
            [datetime(2024, 1, 1, 1)],
            pa.timestamp("s", tz="Europe/Paris"),
            "2024-01-01T01:00:00+00:00",
        ),
    ],
)
def test_temporal_columns_get_the_observed_minimum_and_no_maximum(values, arrow_type, low) -> None:
    column = _column(values, arrow_type)
    assert (column.min, column.max, column.range_severity) == (low, None, "warning")


@pytest.mark.parametrize(
    ("values", "domain"),
    [
        (["b", "a", "b", "a", None], ["a", "b"]),  # sorted, nulls ignored
        (["only", "only"], ["only"]),
        (["a", "a", "b"], None),  # 'b' seen once: a long tail is likely
        ([f"v{i}" for i in range(51)] * 2, None),  # more than 50 distinct values
        ([f"v{i}" for i in range(50)] * 2, sorted(f"v{i}" for i in range(50))),
        ([None, None], None),
    ],
)
def test_domains_only_for_few_repeated_strings(values: list, domain: list[str] | None) -> None:
    column = _column(values, pa.string())
    assert column.domain == domain
    assert column.max_unseen_share == 0.0


def test_domain_options_are_respected() -> None:
    table = pa.table({"plan": ["a", "b", "c"] * 3})
    assert infer_schema(table, max_domain_size=2).column("plan").domain is None
    assert infer_schema(table, min_category_count=4).column("plan").domain is None
    assert infer_schema(table, min_category_count=3).column("plan").domain == ["a", "b", "c"]


def test_dictionary_encoded_strings_get_a_domain() -> None:
    column = _column(["x", "y", "x", "y"], pa.dictionary(pa.int8(), pa.string()))
    assert (column.type, column.domain) == ("string", ["x", "y"])


@pytest.mark.parametrize(
    ("values", "arrow_type", "unique"),
    [
        ([3, 1, 2], pa.int64(), True),
        (["a", "b", "c"], pa.string(), True),
        ([b"a", b"b"], pa.binary(), True),
        ([1, 2, 2], pa.int64(), False),
        ([1, 2, None], pa.int64(), False),
        ([5], pa.int64(), False),  # one row proves nothing
        ([0.1, 0.2, 0.3], pa.float64(), False),  # measurements are distinct by accident
        ([date(2024, 1, 1), date(2024, 1, 2)], pa.date32(), False),
        ([True, False], pa.bool_(), False),
    ],
)
def test_unique_only_for_exact_types_with_all_values_distinct(values, arrow_type, unique) -> None:
    assert _column(values, arrow_type, name="value").unique is unique


@pytest.mark.parametrize(
    ("name", "is_key"),
    [
        ("id", True),
        ("ID", True),
        ("order_id", True),
        ("order-id", True),
        ("customerId", True),
        ("customerID", True),
        ("user_uuid", True),
        ("sku_key", True),
        ("paid", False),
        ("monkey", False),
        ("width", False),
        ("identity", False),
    ],
)
def test_key_is_a_unique_column_named_like_an_identifier(name: str, is_key: bool) -> None:
    schema = infer_schema(pa.table({name: [1, 2, 3], "value": [1, 1, 2]}))
    assert schema.key == ([name] if is_key else None)
    # The key says the column is unique; the column does not say it twice.
    assert schema.column(name).unique is not is_key


@pytest.mark.parametrize(
    ("columns", "key"),
    [
        ({"order_id": [1, 2], "id": [1, 2]}, ["id"]),  # a column named 'id' wins
        ({"order_id": [1, 2], "user_id": ["a", "b"]}, ["order_id"]),  # else the first
        ({"order_id": [1, 1], "user_id": ["a", "b"]}, ["user_id"]),  # repeated: not a key
        ({"order_id": [1, None, 3]}, None),  # nulls: not a key
        ({"row_id": [0.5, 1.5]}, None),  # floats are never keys
        ({"file_id": [b"a", b"b"]}, None),  # nor bytes
    ],
)
def test_key_choice(columns: dict, key: list[str] | None) -> None:
    assert infer_schema(pa.table(columns)).key == key


@pytest.mark.parametrize("name", ["id", "customer_id", "accountId"])
def test_identifiers_get_no_range_since_new_ones_arrive_outside_it(name: str) -> None:
    column = infer_schema(pa.table({name: [5, 7, 7, 9]})).column(name)
    assert (column.min, column.max) == (None, None)


def test_key_inference_can_be_turned_off() -> None:
    schema = infer_schema(pa.table({"id": [1, 2, 3]}), infer_key=False)
    assert schema.key is None
    assert schema.column("id").unique is True


def test_an_empty_table_gives_types_and_no_constraints() -> None:
    table = pa.table({"id": pa.array([], pa.int64()), "plan": pa.array([], pa.string())})
    schema = infer_schema(table)
    assert schema == Schema(
        columns=[ColumnSchema("id", "integer"), ColumnSchema("plan", "string")], min_rows=1
    )


def test_table_defaults() -> None:
    schema = infer_schema(pa.table({"a": [1]}))
    assert (schema.min_rows, schema.allow_extra_columns) == (1, False)


@pytest.mark.parametrize("bad", [{"a": [1]}, [1, 2], None])
def test_infer_refuses_what_is_not_an_arrow_table(bad) -> None:
    with pytest.raises(InvalidInput, match=r"takes a pyarrow\.Table.*"):
        infer_schema(bad)


def test_infer_refuses_a_table_with_two_columns_of_one_name() -> None:
    table = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"])
    with pytest.raises(InvalidInput, match="same name"):
        infer_schema(table)


# --- YAML ---------------------------------------------------------------------------------


@pytest.fixture
def reference() -> pa.Table:
    return pa.table(
        {
            "order_id": pa.array([1, 2, 3, 4, 5, 6], pa.int64()),
            "age": pa.array([18, 33, 95, 40, None, 22], pa.int16()),
            "plan": ["basic", "premium", "basic", "yes", "premium", "yes"],
            "price": [1.5, 2.25, 3.0, 0.1, math.nan, 4.0],
            "paid": [True, False, True, True, None, False],
            "ordered": pa.array(
                [datetime(2024, 1, day, 9) for day in range(1, 7)], pa.timestamp("ns", "UTC")
            ),
            "shipped": pa.array([date(2024, 1, day) for day in range(2, 8)]),
            "blob": pa.array([b"a", b"b", b"c", b"d", b"e", b"f"]),
            "tags": pa.array([["x"], [], None, ["y"], ["x"], []]),
        }
    )


def test_inferred_schema_round_trips_through_yaml(reference: pa.Table) -> None:
    schema = infer_schema(reference)
    text = schema.to_yaml()
    assert Schema.from_yaml(text) == schema
    assert Schema.from_yaml(text).to_yaml() == text


def test_yaml_is_commented_ordered_and_quotes_what_yaml_would_misread(reference) -> None:
    text = infer_schema(reference).to_yaml()
    lines = text.splitlines()
    assert lines[0].startswith("# ")
    body = [line for line in lines if line and not line.startswith("#")]
    assert body[:5] == [
        "min_rows: 1",
        "allow_extra_columns: false",
        "key:",
        "  - order_id",
        "columns:",
    ]
    names = [line.split(": ", 1)[1] for line in body if line.startswith("  - name: ")]
    assert names == reference.column_names
    assert "      - 'yes'" in lines  # unquoted, YAML would read it as true
    assert "    min: '2024-01-01T09:00:00+00:00'" in lines
    assert sum("set to error once min/max are right" in line for line in lines) == 4


@pytest.mark.parametrize(
    "name",
    ["yes", "1", "null", "a: b", "- x", "#note", "  padded ", "é 名前", "line\nbreak", "x" * 300],
)
def test_awkward_names_and_values_survive_yaml(name: str) -> None:
    long_value = "range_severity: warning " * 10
    table = pa.table({name: [name, name, long_value, long_value], "range_severity": [1, 2, 3, 4]})
    schema = infer_schema(table)
    assert schema.column(name).domain == sorted([name, long_value])
    assert Schema.from_yaml(schema.to_yaml()) == schema


def test_hand_written_schema_with_defaults_left_out() -> None:
    schema = Schema.from_yaml(
        """
        columns:
          - {name: age, type: integer, min: 0, max: 120}
          - name: plan
            type: string
            domain: [basic, premium]
            max_unseen_share: 0.01
          - {name: day, type: date, min: 2024-01-01}
          - {name: at, type: timestamp, max: 2030-01-01 00:00:00Z}
        key: age
        """.replace("\n        ", "\n")
    )
    assert schema.key == ["age"]
    assert schema.column("age") == ColumnSchema("age", "integer", min=0, max=120)
    assert schema.column("plan").max_unseen_share == 0.01
    assert schema.column("day").min == "2024-01-01"  # YAML's date, stored as ISO text
    assert schema.column("at").max == "2030-01-01T00:00:00+00:00"
    assert Schema.from_yaml(schema.to_yaml()) == schema


def reference_tables() -> st.SearchStrategy[pa.Table]:
    """Small tables of every logical type, with nulls, NaN, infinities and extreme integers;
    shared with the validation tests."""
    words = st.sampled_from(["a", "b", "yes", "no", "1", "2024-01-01", "~", "null", "é", "a b"])
    texts = st.one_of(words, st.text(max_size=8))
    kinds = [
        (st.integers(-(2**63), 2**63 - 1), pa.int64()),
        (st.integers(0, 2**64 - 1), pa.uint64()),
        (st.integers(-100, 100), pa.int8()),
        (st.floats(allow_nan=True, allow_infinity=True), pa.float64()),
        (st.floats(width=32, allow_nan=False), pa.float32()),
        (texts, pa.string()),
        (words, pa.large_string()),
        (st.booleans(), pa.bool_()),
        (st.dates(), pa.date32()),
        (st.datetimes(), pa.timestamp("us")),
        (st.datetimes(timezones=st.just(UTC)), pa.timestamp("ms", tz="UTC")),
        (st.binary(max_size=4), pa.binary()),
    ]

    @st.composite
    def tables(draw) -> pa.Table:
        rows = draw(st.integers(1, 25))
        chosen = draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=4))
        columns = {}
        for index, (values, arrow_type) in enumerate(chosen):
            cells = st.one_of(st.none(), values) if draw(st.booleans()) else values
            data = draw(st.lists(cells, min_size=rows, max_size=rows))
            columns[f"c{index}" if index else "id"] = pa.array(data, arrow_type)
        return pa.table(columns)

    return tables()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reference_tables())
def test_any_inferred_schema_round_trips_through_yaml(table: pa.Table) -> None:
    schema = infer_schema(table)
    assert Schema.from_yaml(schema.to_yaml()) == schema


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("columns: [", "schema.yaml: not valid YAML: .* at line 1"),
        ("", "schema.yaml: is empty; a schema needs at least a 'columns' list"),
        ("- a\n- b", "schema.yaml: must be a mapping with a 'columns' list, got list"),
        ("colums: []", "schema.yaml: unknown key 'colums' .did you mean 'columns'"),
        ("columns: 3", "schema.yaml: columns must be a list of column mappings, got 3"),
        ("columns: [age]", r"schema.yaml: columns\[0\] must be a mapping"),
        ("columns: [{type: integer}]", r"schema.yaml: columns\[0\]: name must be a non-empty"),
        ("columns: [{name: 2024, type: integer}]", r"columns\[0\]: name .* got 2024 .*quote"),
        (
            "columns: [{name: age, type: integer, max_null_rat: 0.1}]",
            "schema.yaml: column 'age': unknown key 'max_null_rat' .did you mean 'max_null_rate'",
        ),
        ("columns: [{name: age}]", "schema.yaml: column 'age': type is missing .one of integer"),
        (
            "columns: [{name: age, type: int}]",
            "schema.yaml: column 'age': type must be one of integer, .*, got 'int' "
            ".did you mean 'integer'",
        ),
        (
            "columns: [{name: age, type: integer, nullable: maybe}]",
            "schema.yaml: column 'age': nullable must be true or false, got 'maybe'",
        ),
        (
            "columns: [{name: age, type: integer, unique: 1}]",
            "schema.yaml: column 'age': unique must be true or false, got 1",
        ),
        (
            "columns: [{name: age, type: integer, max_null_rate: 1.5}]",
            "^schema.yaml: column 'age': max_null_rate must be between 0 and 1, got 1.5$",
        ),
        (
            "columns: [{name: age, type: integer, max_null_rate: .nan}]",
            "schema.yaml: column 'age': max_null_rate must be between 0 and 1, got nan",
        ),
        (
            "columns: [{name: plan, type: string, domain: [a], max_unseen_share: -0.1}]",
            "schema.yaml: column 'plan': max_unseen_share must be between 0 and 1, got -0.1",
        ),
        (
            "columns: [{name: age, type: integer, min: ten}]",
            "schema.yaml: column 'age': min must be a number for a integer column, got 'ten'",
        ),
        (
            "columns: [{name: age, type: float, max: true}]",
            "schema.yaml: column 'age': max must be a number for a float column, got True",
        ),
        (
            "columns: [{name: age, type: integer, min: 10, max: 5}]",
            "schema.yaml: column 'age': min 10 is greater than max 5",
        ),
        (
            "columns: [{name: day, type: date, min: '2024-02-30'}]",
            "schema.yaml: column 'day': min must be an ISO 8601 date like 2024-01-31, "
            "got '2024-02-30'",
        ),
        (
            "columns: [{name: day, type: date, min: 2024-01-01 10:00:00}]",
            "schema.yaml: column 'day': min must be an ISO 8601 date",
        ),
        (
            "columns: [{name: at, type: timestamp, min: '2024-06-01', max: '2024-01-01'}]",
            "schema.yaml: column 'at': min '2024-06-01T00:00:00' is greater than max",
        ),
        (
            "columns: [{name: at, type: timestamp, max: soon}]",
            "schema.yaml: column 'at': max must be an ISO 8601 timestamp like "
            "2024-01-31T12:00:00, got 'soon'",
        ),
        (
            "columns: [{name: plan, type: string, min: 1}]",
            "schema.yaml: column 'plan': min applies to integer, float, date and timestamp "
            "columns, not string",
        ),
        (
            "columns: [{name: age, type: integer, domain: ['1']}]",
            "schema.yaml: column 'age': domain applies to string columns, not integer",
        ),
        (
            "columns: [{name: ok, type: string, domain: [yes, no]}]",
            r"schema.yaml: column 'ok': domain must be a list of strings, got \[True, False\] "
            ".quote",
        ),
        (
            "columns: [{name: plan, type: string, domain: [a, b, a]}]",
            "schema.yaml: column 'plan': domain lists 'a' twice",
        ),
        (
            "columns: [{name: age, type: integer, min: 0, range_severity: fatal}]",
            "schema.yaml: column 'age': range_severity must be error or warning, got 'fatal'",
        ),
        (
            "columns: [{name: age, type: integer}, {name: age, type: float}]",
            "schema.yaml: column 'age' appears twice",
        ),
        (
            "key: [order_id]\ncolumns: [{name: orderid, type: integer}]",
            "schema.yaml: key: 'order_id' is not a column of the schema .did you mean 'orderid'",
        ),
        ("key: []\ncolumns: []", r"schema.yaml: key must be a list of column names, got \[\]"),
        (
            "key: [a, a]\ncolumns: [{name: a, type: integer}]",
            "schema.yaml: key lists a column twice",
        ),
        ("min_rows: -1\ncolumns: []", "schema.yaml: min_rows must be 0 or more, got -1"),
        ("min_rows: 1.5\ncolumns: []", "schema.yaml: min_rows must be a whole number, got 1.5"),
        (
            "allow_extra_columns: sometimes\ncolumns: []",
            "schema.yaml: allow_extra_columns must be true or false, got 'sometimes'",
        ),
    ],
)
def test_bad_schema_files_are_refused_naming_source_column_and_key(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as caught:
        Schema.from_yaml(text)
    assert caught.value.details["source"] == "schema.yaml"


def test_errors_name_the_source_they_were_read_from() -> None:
    with pytest.raises(InvalidInput, match="^data/orders.schema.yaml: column 'age': ") as caught:
        Schema.from_yaml(
            "columns: [{name: age, type: integer, max_null_rate: 2}]",
            source="data/orders.schema.yaml",
        )
    assert caught.value.details == {
        "source": "data/orders.schema.yaml",
        "column": "age",
        "key": "max_null_rate",
    }


def test_syntax_errors_point_at_the_line() -> None:
    with pytest.raises(InvalidInput, match="at line 3, column 1"):
        Schema.from_yaml("columns:\n  - name: a\n\ttype: integer\n")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"name": "", "type": "integer"}, "column name must be a non-empty string"),
        ({"name": "a", "type": "number"}, "column 'a': type must be one of"),
        ({"name": "a", "type": "date", "min": datetime(2024, 1, 1, 8)}, "min must be an ISO"),
        ({"name": "a", "type": "boolean", "max": 1}, "max applies to integer, float, date"),
        ({"name": "a", "type": "float", "min": math.nan}, "min must be a number"),
    ],
)
def test_column_schemas_are_checked_when_built_in_python(arguments: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        ColumnSchema(**arguments)


@pytest.mark.parametrize(
    ("arrow_type", "bound", "stored"),
    [
        ("date", date(2024, 1, 31), "2024-01-31"),
        ("timestamp", date(2024, 1, 31), "2024-01-31T00:00:00"),
        ("timestamp", datetime(2024, 1, 31, 12, tzinfo=UTC), "2024-01-31T12:00:00+00:00"),
        ("timestamp", "2024-01-31T12:00:00Z", "2024-01-31T12:00:00+00:00"),
        ("timestamp", "2024-01-31 12:00", "2024-01-31T12:00:00"),
    ],
)
def test_temporal_bounds_are_stored_as_iso_text(arrow_type: str, bound, stored: str) -> None:
    assert ColumnSchema("t", arrow_type, min=bound).min == stored


def test_temporal_micros_treats_naive_times_as_utc() -> None:
    assert temporal_micros("1970-01-02", "date") == 86_400_000_000
    assert temporal_micros("1970-01-01T01:00:00+01:00", "timestamp") == 0
    assert temporal_micros("1970-01-01T00:00:01", "timestamp") == 1_000_000


def test_schema_column_lookup() -> None:
    schema = Schema(columns=[ColumnSchema("age", "integer")])
    assert schema.column("age").type == "integer"
    with pytest.raises(NotFound, match="schema has no column 'agee'") as caught:
        schema.column("agee")
    assert caught.value.hint == "did you mean 'age'?"
