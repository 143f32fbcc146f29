from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopml.data.pii import PiiFinding, find_personal_data, luhn_valid, mask_value
from loopml.errors import InvalidInput


def _kinds(values: list, arrow_type: pa.DataType | None = None) -> list[str]:
    table = pa.table({"column": pa.array(values, arrow_type)})
    return [finding.kind for finding in find_personal_data(table)]


def _luhn(number: str) -> bool:
    total = 0
    for position, ch in enumerate(reversed(number)):
        digit = int(ch) * (2 if position % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return total % 10 == 0


@pytest.mark.parametrize(
    "phone",
    [
        "+1 (555) 123-4567",
        "+44 20 7946 0958",
        "+33 6 12 34 56 78",
        "+49 30 1234567",
        "+4915123456789",
        "+91-98765-43210",
        "+1.555.123.4567",
        "0044 20 7946 0958",
        "(555) 123-4567",
        "(020) 7946 0958",
        "555-123-4567",
        "555 123 4567",
        "555.123.4567",
        "020 7946 0958",
        "030 12345678",
        "06 12 34 56 78",
        "06.12.34.56.78",
        "  +44 20 7946 0958 ",
    ],
)
def test_phone_numbers_in_international_and_national_formats(phone: str) -> None:
    assert _kinds([phone]) == ["phone"]


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("12345678", "an order id"),
        ("100000123", "an order id"),
        ("004400123456", "a zero-padded id"),
        ("ORD-2024-000123", "an order reference"),
        ("2024-01-15", "an ISO date"),
        ("15-01-2024", "a day-first date"),
        ("15.01.2024", "a dotted date"),
        ("01/02/2024", "a slashed date"),
        ("2024-01-15 10:30:00", "a timestamp"),
        ("2024-01-15T10:30:00+01:00", "an ISO timestamp with an offset"),
        ("1705314600", "a Unix timestamp"),
        ("1.2.3", "a version"),
        ("10.15.7", "a version"),
        ("2.31.0.1234", "a version with a build number"),
        ("v1.2.3-rc.1", "a version tag"),
        ("192.168.1.1", "an IPv4 address"),
        ("192.168.100.200", "an IPv4 address with 12 digits"),
        ("10.0.0.255:8080", "an address and port"),
        ("2001:db8::8a2e:370:7334", "an IPv6 address"),
        ("12345-6789", "a ZIP+4 code"),
        ("123-45-6789", "a social security number, not a phone"),
        ("1234.5678", "a decimal number"),
        ("-12345678", "a negative number"),
        ("1,234,567.89", "an amount"),
        ("+1", "too few digits"),
        ("+1234567890123456", "too many digits"),
        ("555-1234", "a local number without area code: 7 digits"),
    ],
)
def test_things_that_are_not_phone_numbers(value: str, why: str) -> None:
    assert _kinds([value]) == [], why


@pytest.mark.parametrize(
    "values",
    [
        list(range(10_000_000, 10_000_100)),  # integer order ids
        [f"{n}" for n in range(4_000_000_000, 4_000_000_100)],  # ids as text, 10 digits
        [str(n) for n in range(10**15, 10**15 + 100)],  # 16-digit ids: 1 in 10 pass Luhn
        list(range(4 * 10**15, 4 * 10**15 + 100)),
    ],
)
def test_ids_are_neither_phones_nor_card_numbers(values: list) -> None:
    assert _kinds(values) == []


@pytest.mark.parametrize(
    "card",
    [
        "4111 1111 1111 1111",
        "4111111111111111",
        "4111-1111-1111-1111",
        "5555 5555 5555 4444",
        "2223 0031 2200 3222",
        "3782 822463 10005",
        "6011 1111 1111 1117",
        "4222222222222",
        "6304000000000000000",
    ],
)
def test_card_numbers_that_pass_luhn(card: str) -> None:
    assert _kinds([card]) == ["card_number"]


@pytest.mark.parametrize(
    "value",
    [
        "4111 1111 1111 1112",  # fails Luhn
        "1111 1111 1111 1117",  # no card network starts with 1
        "0000 0000 0000 0000",
        "4111 1111 1111",  # 12 digits
        "41111 1111 1111 111",  # not grouped like a card
        "4111 1111 1111 1111 1111",  # 20 digits
    ],
)
def test_digit_strings_that_are_not_card_numbers(value: str) -> None:
    assert "card_number" not in _kinds([value])


def test_card_numbers_stored_as_integers() -> None:
    assert _kinds([4111111111111111, 5555555555554444, None], pa.int64()) == ["card_number"]
    assert _kinds([5555555555554444], pa.uint64()) == ["card_number"]


@pytest.mark.parametrize(
    "value",
    [
        "john.doe@example.com",
        "a+tag@mail.example.co.uk",
        "Write to ann_lee@example.org before Friday",
    ],
)
def test_email_addresses_anywhere_in_the_value(value: str) -> None:
    assert _kinds([value]) == ["email"]


@pytest.mark.parametrize("value", ["@handle", "user@localhost", "a@b", "x @ y.com", "mailto:"])
def test_things_that_are_not_email_addresses(value: str) -> None:
    assert _kinds([value]) == []


@pytest.mark.parametrize(
    ("kind", "value", "masked"),
    [
        ("email", "john.doe@example.com", "j***@example.com"),
        ("email", "Mail ann@example.org now", "a***@example.org"),
        ("card_number", "4111 1111 1111 1111", "**** **** **** 1111"),
        ("card_number", "4111111111111111", "************1111"),
        ("card_number", "3782 822463 10005", "**** ****** *0005"),
        ("phone", "+44 20 7946 0958", "+** ** **** **58"),
        ("phone", "(555) 123-4567", "(***) ***-**67"),
    ],
)
def test_examples_are_masked(kind: str, value: str, masked: str) -> None:
    assert mask_value(kind, value) == masked
    finding = find_personal_data(pa.table({"c": [value]}))[0]
    assert (finding.kind, finding.examples) == (kind, [masked])


@given(st.text(alphabet="0123456789 -+()", max_size=30), st.sampled_from(["phone", "card_number"]))
def test_masking_keeps_the_shape_and_hides_all_but_the_last_digits(text: str, kind: str) -> None:
    masked = mask_value(kind, text)
    digit_positions = [index for index, ch in enumerate(text) if ch.isdigit()]
    shown = set(digit_positions[-(4 if kind == "card_number" else 2) :])
    assert len(masked) == len(text)
    for index, (original, hidden) in enumerate(zip(text, masked, strict=True)):
        assert hidden == (original if index in shown or not original.isdigit() else "*")


@given(st.lists(st.integers(0, 10**19 - 1), max_size=50))
def test_vectorised_luhn_matches_the_textbook_check(numbers: list[int]) -> None:
    expected = [_luhn(str(number)) for number in numbers]
    assert luhn_valid(np.array(numbers, dtype=np.uint64)).tolist() == expected


@pytest.mark.parametrize(
    ("matching", "other", "flagged"),
    [
        (3, 7, True),  # 30%
        (2, 7, True),  # 22.2%: just above the threshold
        (2, 8, False),  # 20%: just below
        (1, 0, True),
        (0, 5, False),
    ],
)
def test_a_column_is_flagged_from_the_threshold_share_of_values(
    matching: int, other: int, flagged: bool
) -> None:
    values = ["ann@example.com"] * matching + ["no address"] * other + [None] * 20
    findings = find_personal_data(pa.table({"c": values}), threshold=0.22)
    assert bool(findings) is flagged
    if findings:
        assert findings[0].share == pytest.approx(matching / (matching + other))
        assert findings[0].sampled == matching + other  # nulls do not count


def test_default_threshold_is_thirty_percent() -> None:
    at = pa.table({"c": ["ann@example.com"] * 3 + ["-"] * 7})
    below = pa.table({"c": ["ann@example.com"] * 29 + ["-"] * 71})
    assert [f.share for f in find_personal_data(at)] == [0.3]
    assert find_personal_data(below) == []


def test_a_contact_column_with_both_kinds_is_flagged_for_each() -> None:
    table = pa.table({"contact": ["ann@example.com", "+44 20 7946 0958"] * 5})
    assert [(f.kind, f.share) for f in find_personal_data(table)] == [
        ("email", 0.5),
        ("phone", 0.5),
    ]


def test_findings_name_the_column_and_rows_in_column_order() -> None:
    table = pa.table(
        {
            "id": [1, 2, 3, 4],
            "card": [None, "4111 1111 1111 1111", "x", "5555 5555 5555 4444"],
            "mail": ["a@example.com", "b@example.com", "c@example.com", "d@example.com"],
        }
    )
    findings = find_personal_data(table, examples=2)
    assert findings == [
        PiiFinding(
            column="card",
            kind="card_number",
            share=2 / 3,
            examples=["**** **** **** 1111", "**** **** **** 4444"],
            rows=[1, 3],
            sampled=3,
        ),
        PiiFinding(
            column="mail",
            kind="email",
            share=1.0,
            examples=["a***@example.com", "b***@example.com"],
            rows=[0, 1],
            sampled=4,
        ),
    ]


@pytest.mark.parametrize(
    "column",
    [
        pa.array([1.5, 2.5]),
        pa.array([date(2024, 1, 1)]),
        pa.array([datetime(2024, 1, 1)]),
        pa.array([True]),
        pa.array([b"ann@example.com"]),
        pa.array([["ann@example.com"]]),
        pa.array([5551234567, 4407946095]),  # phones need their formatting to be told apart
    ],
)
def test_only_text_and_integer_columns_are_looked_at(column: pa.Array) -> None:
    assert find_personal_data(pa.table({"c": column})) == []


def test_text_column_encodings_are_all_looked_at() -> None:
    value = "ann@example.com"
    for arrow_type in (
        pa.large_string(),
        pa.string_view(),
        pa.dictionary(pa.int32(), pa.string()),
    ):
        assert [
            f.kind for f in find_personal_data(pa.table({"c": pa.array([value], arrow_type)}))
        ] == ["email"]


def test_large_tables_are_sampled_evenly_and_rows_point_into_the_table() -> None:
    rows = 100_000
    values = np.array(["-"] * rows, dtype=object)
    values[rows // 2 :] = "ann@example.com"  # sorted data: a head-only sample would miss it
    table = pa.table({"c": pa.array(values)})
    (finding,) = find_personal_data(table, sample_rows=1_000)
    assert finding.sampled == 1_000
    assert finding.share == pytest.approx(0.5, abs=0.01)
    assert all(row >= rows // 2 for row in finding.rows)
    assert [table["c"][row].as_py() for row in finding.rows] == ["ann@example.com"] * 3
    assert find_personal_data(table, sample_rows=1_000) == [finding]  # the same every time


def test_a_chunked_column_reports_rows_of_the_whole_table() -> None:
    table = pa.concat_tables(
        [pa.table({"c": ["-", "-"]}), pa.table({"c": ["-", "ann@example.com"]})]
    )
    assert find_personal_data(table, threshold=0.25)[0].rows == [3]


def test_an_empty_or_all_null_column_has_nothing_to_find() -> None:
    assert find_personal_data(pa.table({"c": pa.array([], pa.string())})) == []
    assert find_personal_data(pa.table({"c": pa.array([None, None], pa.string())})) == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"table": {"c": ["x"]}}, r"takes a pyarrow\.Table, got dict"),
        ({"sample_rows": 0}, "sample_rows must be 1 or more"),
        ({"threshold": 0}, "threshold must be above 0"),
        ({"threshold": 1.5}, "threshold must be above 0 and at most 1"),
    ],
)
def test_bad_arguments_are_refused(arguments: dict, message: str) -> None:
    arguments = {"table": pa.table({"c": ["x"]}), **arguments}
    with pytest.raises(InvalidInput, match=message):
        find_personal_data(**arguments)
