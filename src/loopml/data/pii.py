"""Finding personal data in tables: e-mail addresses, phone numbers and payment card numbers.

A column is flagged when at least ``threshold`` (default 30%) of its non-null values, in
an evenly spaced sample of rows, look like one kind of personal data. Below that share,
matches are more likely noise (a phone-like reference number in a notes column) than a
column that holds people's details; contact columns are often sparse, so the share counts
non-null values only.

What matches, all with vectorised Arrow regular expressions:

- ``email``: an address anywhere in the value, so free text that quotes one counts too.
- ``phone``: the whole value, with 8 to 15 digits, written the way people write phones:
  ``+`` or ``00`` and a country code (``+44 20 7946 0958``, ``+4915123456789``), or a
  national number with separators or an area code in parentheses (``(555) 123-4567``,
  ``020 7946 0958``, ``555.123.4567``). Bare digit runs are never phones: they cannot be
  told from order ids. ISO dates, US ZIP+4 codes and social security numbers are excluded;
  times, version strings and IP addresses cannot match (colons, too few digits per dot).
- ``card_number``: the whole value is 13 to 19 digits, alone or in groups of 4 (Amex
  4-6-5), starting with 2 to 6 like every major card network, and passing the Luhn check,
  which one random digit string in ten passes. Integer columns are checked too. A value
  that is a card number is not also counted as a phone.

Examples are masked before they leave this module: ``j***@example.com``,
``+** ** **** **58``, ``**** **** **** 1111``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InvalidInput
from .schema import logical_type, plain_column

DEFAULT_SAMPLE_ROWS = 10_000
DEFAULT_THRESHOLD = 0.3
KINDS = ("email", "phone", "card_number")

_EMAIL = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
_PHONE = (
    r"^(?:"
    r"\+[1-9][0-9 ().-]{6,22}[0-9]"  # +44 20 7946 0958, +1 (555) 123-4567
    r"|00[1-9][0-9]{0,2}[ -][0-9 ()-]{5,20}[0-9]"  # 0044 20 7946 0958
    r"|(?:\([0-9]{2,5}\) ?|[0-9]{2,5}[ -])[0-9]{2,8}(?:[ -][0-9]{2,4}){0,3}"  # (555) 123-4567
    r"|\(?[0-9]{3}\)?\.[0-9]{3}\.[0-9]{4}"  # 555.123.4567
    r"|0[1-9](?:\.[0-9]{2}){4}"  # 06.12.34.56.78
    r")$"
)
_NOT_PHONE = (
    r"^(?:"
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"  # 2024-01-31
    r"|[0-9]{1,2}-[0-9]{1,2}-[0-9]{2,4}"  # 31-01-2024
    r"|[0-9]{5}-[0-9]{4}"  # ZIP+4
    r"|[0-9]{3}-[0-9]{2}-[0-9]{4}"  # US social security number
    r")$"
)
_CARD_SHAPE = (
    r"^(?:[0-9]{13,19}"
    r"|[0-9]{4}(?:[ -][0-9]{4}){2}[ -][0-9]{1,7}"  # 4111 1111 1111 1111
    r"|[0-9]{4}[ -][0-9]{6}[ -][0-9]{4,5}"  # 3782 822463 10005
    r")$"
)
_CARD_DIGITS = r"^[2-6][0-9]{12,18}$"
_EMAIL_IN_TEXT = re.compile(_EMAIL)


@dataclass
class PiiFinding:
    """A column that looks like it holds personal data of one ``kind``.

    ``share`` is the matching share of the non-null sampled values (``sampled`` of them);
    ``examples`` are masked matches and ``rows`` their row numbers in the table.
    """

    column: str
    kind: str
    share: float
    examples: list[str]
    rows: list[int] = field(default_factory=list)
    sampled: int = 0


def find_personal_data(
    table: pa.Table,
    *,
    sample_rows: int = DEFAULT_SAMPLE_ROWS,
    threshold: float = DEFAULT_THRESHOLD,
    examples: int = 3,
) -> list[PiiFinding]:
    """Columns of ``table`` that look like e-mail addresses, phone numbers or card numbers.

    ``sample_rows`` evenly spaced rows are checked (all rows in smaller tables), so the
    cost does not grow with the table; the same table always gives the same answer.
    String columns are checked for every kind, integer columns for card numbers only.

    >>> table = pa.table({"contact": ["ann@example.com", "bob@example.org", None]})
    >>> [(f.column, f.kind, f.share, f.examples) for f in find_personal_data(table)]
    [('contact', 'email', 1.0, ['a***@example.com', 'b***@example.org'])]
    """
    if not isinstance(table, pa.Table):
        raise InvalidInput(
            f"find_personal_data() takes a pyarrow.Table, got {type(table).__name__}",
            hint="convert first, e.g. pyarrow.Table.from_pandas(frame) or frame.to_arrow()",
        )
    if sample_rows < 1:
        raise InvalidInput(f"sample_rows must be 1 or more, got {sample_rows}")
    if not 0 < threshold <= 1:
        raise InvalidInput(f"threshold must be above 0 and at most 1, got {threshold}")
    rows = _sample_rows(table.num_rows, sample_rows)
    findings = []
    for index, name in enumerate(table.column_names):
        logical = logical_type(table.schema.field(index).type)
        if logical not in {"string", "integer"}:
            continue
        column = plain_column(table.column(index))
        sample = column if rows is None else column.take(rows)
        if logical == "integer":
            sample = sample.cast(pa.string())
        sample = pc.utf8_trim_whitespace(sample)
        present = pc.sum(pc.is_valid(sample)).as_py() or 0
        if not present:
            continue
        for kind, mask in _matches(sample, cards_only=logical == "integer").items():
            matched = pc.sum(mask).as_py() or 0
            if matched and matched / present >= threshold:
                positions = pc.indices_nonzero(mask)[:examples].to_pylist()
                texts = sample.take(positions).to_pylist()
                findings.append(
                    PiiFinding(
                        column=name,
                        kind=kind,
                        share=matched / present,
                        examples=[mask_value(kind, text) for text in texts],
                        rows=positions if rows is None else rows.take(positions).to_pylist(),
                        sampled=present,
                    )
                )
    return findings


def mask_value(kind: str, text: str) -> str:
    """Hide all but what a person needs to recognise the kind of value.

    E-mail keeps the first letter and the domain, phones their last two digits, card
    numbers their last four, as printed receipts do.
    """
    if kind == "email":
        found = _EMAIL_IN_TEXT.search(text)
        address = found.group(0) if found else text
        local, _, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    keep = 4 if kind == "card_number" else 2
    digits = sum(ch.isdigit() for ch in text)
    masked, seen = [], 0
    for ch in text:
        if ch.isdigit():
            seen += 1
            masked.append(ch if seen > digits - keep else "*")
        else:
            masked.append(ch)
    return "".join(masked)


def luhn_valid(digits: np.ndarray) -> np.ndarray:
    """The Luhn check on unsigned integers, all at once: True where the number passes."""
    numbers = digits.astype(np.uint64, copy=True)
    total = np.zeros(len(numbers), dtype=np.uint64)
    for position in range(20):
        digit = numbers % np.uint64(10)
        numbers //= np.uint64(10)
        if position % 2:
            digit *= np.uint64(2)
            digit -= np.uint64(9) * (digit > 9)
        total += digit
    return total % np.uint64(10) == 0


def _sample_rows(total: int, wanted: int) -> pa.Array | None:
    if total <= wanted:
        return None
    return pa.array(np.unique(np.linspace(0, total - 1, wanted).round().astype(np.int64)))


def _matches(sample: pa.ChunkedArray, *, cards_only: bool) -> dict[str, pa.Array]:
    cards = _card_mask(sample)
    if cards_only:
        return {"card_number": cards}
    digit_count = pc.utf8_length(pc.replace_substring_regex(sample, r"[^0-9]", ""))
    phones = pc.and_(
        pc.and_(
            pc.match_substring_regex(sample, _PHONE),
            pc.invert(pc.match_substring_regex(sample, _NOT_PHONE)),
        ),
        pc.and_(pc.greater_equal(digit_count, 8), pc.less_equal(digit_count, 15)),
    )
    phones = pc.and_(phones, pc.invert(cards))
    emails = pc.match_substring_regex(sample, _EMAIL)
    return {
        "email": _filled(emails),
        "phone": _filled(phones),
        "card_number": cards,
    }


def _card_mask(sample: pa.ChunkedArray) -> pa.Array:
    digits = pc.replace_substring_regex(sample, r"[ -]", "")
    shaped = pc.and_(
        pc.match_substring_regex(sample, _CARD_SHAPE),
        pc.match_substring_regex(digits, _CARD_DIGITS),
    )
    shaped = _filled(shaped)
    positions = pc.indices_nonzero(shaped)
    valid = np.zeros(len(sample), dtype=bool)
    if len(positions):
        numbers = pc.cast(pc.take(digits, positions), pa.uint64()).to_numpy()
        valid[positions.to_numpy()] = luhn_valid(numbers)
    return pa.array(valid)


def _filled(mask: pa.ChunkedArray | pa.Array) -> pa.Array:
    mask = pc.fill_null(mask, False)
    return mask.combine_chunks() if isinstance(mask, pa.ChunkedArray) else mask
