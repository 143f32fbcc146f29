"""Validating a table against its schema: each broken expectation becomes an :class:`Anomaly`.

Every check is a vectorised Arrow compute over whole columns, so a million rows take a
fraction of a second; Python only touches the few rows quoted as examples.

Type compatibility (``COMPATIBLE``): a column passes when its logical type is one the
schema's type accepts. Widening is fine, narrowing or reinterpreting is a ``type_change``:

==========  ==============================
schema      accepts
==========  ==============================
integer     integer
float       float, integer
boolean     boolean
string      string
timestamp   timestamp, date
date        date
binary      binary
other       other
==========  ==============================

A column of Arrow's ``null`` type (every value missing) passes any type; the null checks
judge it. Integer widths, timestamp units and time zones and dictionary encoding do not
matter. After a type change the column's value checks (range, domain) are skipped; its
null and uniqueness checks still run.

Counting rules: ``count`` is the number of offending values or rows; for
``missing_column`` the rows of the table, for ``extra_column`` the non-null values of the
unexpected column, for ``empty_data`` the rows found, for ``not_unique`` and
``duplicate_key`` every row whose value or key repeats, for ``type_change`` every non-null
value (all have the wrong type; the message says how many would not survive a cast and the
examples show those first), for ``personal_data`` the matching values in the sample.
Null and NaN count as missing; uniqueness and keys ignore rows with a missing value, as
SQL's UNIQUE does. Example values are JSON-ready: dates and times as ISO text, bytes as
hex, NaN and infinities as the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InvalidInput
from .pii import DEFAULT_SAMPLE_ROWS, PiiFinding, find_personal_data
from .schema import (
    TEMPORAL_TYPES,
    ColumnSchema,
    Schema,
    logical_type,
    missing_mask,
    plain_column,
    temporal_micros,
)

KINDS = (
    "empty_data",
    "missing_column",
    "extra_column",
    "type_change",
    "null_rate",
    "not_nullable",
    "out_of_range",
    "unseen_category",
    "not_unique",
    "duplicate_key",
    "personal_data",
)
COMPATIBLE: dict[str, frozenset[str]] = {
    "integer": frozenset({"integer"}),
    "float": frozenset({"float", "integer"}),
    "boolean": frozenset({"boolean"}),
    "string": frozenset({"string"}),
    "timestamp": frozenset({"timestamp", "date"}),
    "date": frozenset({"date"}),
    "binary": frozenset({"binary"}),
    "other": frozenset({"other"}),
}
# How text must look to be read as the type a schema expects, to tell values that only
# need a cast from values that are wrong.
_TEXT_AS = {
    "integer": r"^\s*[+-]?[0-9]+\s*$",
    "float": r"^\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*$"
    r"|^\s*[+-]?(?:inf|infinity|nan)\s*$",
    "boolean": r"^\s*(?:true|false|yes|no|t|f|y|n|0|1)\s*$",
    "date": r"^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}\s*$",
    "timestamp": r"^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?\s*$",
}
_MICROS_PER_DAY = 86_400_000_000
_TOP_UNSEEN = 5
_PERSONAL_DATA_NAMES = {
    "email": "e-mail addresses",
    "phone": "phone numbers",
    "card_number": "payment card numbers",
}


@dataclass
class Anomaly:
    """One broken expectation, with enough detail to find and fix it.

    ``examples`` quote at most ``examples`` offending rows as ``{"row": index, "value":
    value}``; for ``not_unique`` they are ``{"value": value, "rows": [...]}`` and for
    ``duplicate_key`` ``{"key": {column: value}, "rows": [...]}``.
    """

    kind: str
    column: str | None
    message: str
    severity: str
    count: int
    examples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ValidationReport:
    """What :func:`validate` found; ``ok`` when nothing is an error (warnings may remain)."""

    anomalies: list[Anomaly]
    rows: int

    @property
    def errors(self) -> list[Anomaly]:
        return [anomaly for anomaly in self.anomalies if anomaly.severity == "error"]

    @property
    def warnings(self) -> list[Anomaly]:
        return [anomaly for anomaly in self.anomalies if anomaly.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: ``{"ok", "rows", "errors", "warnings", "anomalies"}``."""
        return {
            "ok": self.ok,
            "rows": self.rows,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "anomalies": [asdict(anomaly) for anomaly in self.anomalies],
        }

    def to_text(self) -> str:
        """One summary line, then one line per anomaly: severity, kind, column, message and
        the example rows."""
        verdict = "OK" if self.ok else "FAILED"
        lines = [
            f"{verdict}: {_plural(len(self.errors), 'error')}, "
            f"{_plural(len(self.warnings), 'warning')} in {_plural(self.rows, 'row')}"
        ]
        for anomaly in self.anomalies:
            line = f"{anomaly.severity:<7} {anomaly.kind:<15} {anomaly.column or '(table)'}: "
            line += anomaly.message
            if anomaly.examples:
                line += f" [e.g. {'; '.join(_describe(e) for e in anomaly.examples)}]"
            lines.append(line)
        return "\n".join(lines)

    def raise_for_errors(self, name: str = "table") -> None:
        """Raise :class:`~loopml.errors.InvalidInput` listing the errors, if there are any;
        for pipelines that must stop on bad data."""
        if self.errors:
            summary = "; ".join(anomaly.message for anomaly in self.errors[:3])
            more = f" (and {len(self.errors) - 3} more)" if len(self.errors) > 3 else ""
            raise InvalidInput(
                f"{name} failed validation with {_plural(len(self.errors), 'error')}: "
                f"{summary}{more}",
                report=self.to_dict(),
            )


def validate(
    table: pa.Table,
    schema: Schema,
    *,
    examples: int = 3,
    personal_data: bool = True,
    pii_sample_rows: int = DEFAULT_SAMPLE_ROWS,
) -> ValidationReport:
    """Check ``table`` against ``schema`` and report every anomaly found, in schema order.

    Nothing is raised for bad data: the report says what is wrong, where, and how to fix
    it (:meth:`ValidationReport.raise_for_errors` turns errors into an exception).
    ``examples`` caps the rows quoted per anomaly; ``personal_data=False`` skips the scan
    for e-mail addresses, phone and card numbers (:mod:`loopml.data.pii`), which otherwise
    adds one warning per column that looks like them.

    >>> from loopml.data.schema import infer_schema
    >>> reference = pa.table({"age": [31, 45, 27]})
    >>> validate(pa.table({"age": [33, None]}), infer_schema(reference)).ok
    False
    """
    if not isinstance(table, pa.Table):
        raise InvalidInput(
            f"validate() takes a pyarrow.Table, got {type(table).__name__}",
            hint="convert first, e.g. pyarrow.Table.from_pandas(frame) or frame.to_arrow()",
        )
    if not isinstance(schema, Schema):
        raise InvalidInput(
            f"validate() takes a Schema, got {type(schema).__name__}",
            hint="infer one with infer_schema(table) or read one with Schema.from_yaml(text)",
        )
    if isinstance(examples, bool) or not isinstance(examples, int) or examples < 0:
        raise InvalidInput(f"examples must be a whole number, 0 or more, got {examples!r}")
    names = table.column_names
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InvalidInput(
            f"the table has more than one column named {', '.join(map(repr, repeated))}",
            hint="rename or drop the copies before validating",
        )
    rows = table.num_rows
    anomalies: list[Anomaly] = []
    if rows < schema.min_rows:
        anomalies.append(_empty_data(rows, schema.min_rows))
    for spec in schema.columns:
        if spec.name in names:
            anomalies += _check_column(table.column(spec.name), spec, rows, examples)
        else:
            anomalies.append(_missing_column(spec, rows))
    if not schema.allow_extra_columns:
        known = set(schema.column_names)
        for name in names:
            if name not in known:
                anomalies.append(_extra_column(name, table.column(name)))
    if schema.key and all(name in names for name in schema.key):
        anomalies += _duplicate_key(table, schema.key, examples)
    if personal_data and rows:
        for finding in find_personal_data(table, sample_rows=pii_sample_rows, examples=examples):
            anomalies.append(_personal_data(finding))
    return ValidationReport(anomalies=anomalies, rows=rows)


# --- table-level checks -----------------------------------------------------------------


def _empty_data(rows: int, min_rows: int) -> Anomaly:
    found = "no rows" if not rows else f"only {_plural(rows, 'row')}"
    return Anomaly(
        kind="empty_data",
        column=None,
        message=f"the table has {found}; the schema expects at least {min_rows:,}: check the "
        "query, file or filter that produced it, or lower min_rows",
        severity="error",
        count=rows,
    )


def _missing_column(spec: ColumnSchema, rows: int) -> Anomaly:
    return Anomaly(
        kind="missing_column",
        column=spec.name,
        message=f"column '{spec.name}' ({spec.type}) is missing; restore it upstream, or "
        "remove it from the schema if it was dropped on purpose",
        severity="error",
        count=rows,
    )


def _extra_column(name: str, column: pa.ChunkedArray) -> Anomaly:
    present = len(column) - (pc.sum(missing_mask(plain_column(column))).as_py() or 0)
    return Anomaly(
        kind="extra_column",
        column=name,
        message=f"column '{name}' ({logical_type(column.type)}) is not in the schema; add it "
        "to the schema, drop it before validating, or set allow_extra_columns: true",
        severity="error",
        count=present,
    )


def _duplicate_key(table: pa.Table, key: list[str], examples: int) -> list[Anomaly]:
    columns = [plain_column(table.column(name)) for name in key]
    rows, groups = _repeats(columns, examples)
    if not rows:
        return []
    shown = ", ".join(key)
    return [
        Anomaly(
            kind="duplicate_key",
            column=shown,
            message=f"key ({shown}) should identify each row, but {rows:,} rows share a key "
            "with another row; deduplicate upstream (keep the latest row per key), or fix "
            "key in the schema",
            severity="error",
            count=rows,
            examples=[
                {"key": dict(zip(key, map(_jsonable, values), strict=True)), "rows": at}
                for values, at in groups
            ],
        )
    ]


def _personal_data(finding: PiiFinding) -> Anomaly:
    what = _PERSONAL_DATA_NAMES[finding.kind]
    return Anomaly(
        kind="personal_data",
        column=finding.column,
        message=f"column '{finding.column}' looks like {what} ({finding.share:.0%} of "
        f"{finding.sampled:,} sampled values); drop, hash or pseudonymise it unless the "
        "model needs it and you may keep it",
        severity="warning",
        count=round(finding.share * finding.sampled),
        examples=[
            {"row": row, "value": value}
            for row, value in zip(finding.rows, finding.examples, strict=True)
        ],
    )


# --- column checks ----------------------------------------------------------------------


def _check_column(
    column: pa.ChunkedArray, spec: ColumnSchema, rows: int, examples: int
) -> list[Anomaly]:
    values = plain_column(column)
    missing = missing_mask(values)
    anomalies = []
    compatible = pa.types.is_null(values.type) or (
        logical_type(values.type) in COMPATIBLE[spec.type]
    )
    if not compatible:
        anomalies.append(_type_change(values, spec, missing, examples))
    anomalies += _null_checks(values, spec, missing, rows, examples)
    if compatible and not pa.types.is_null(values.type):
        if spec.min is not None or spec.max is not None:
            anomalies += _out_of_range(values, spec, missing, examples)
        if spec.domain is not None:
            anomalies += _unseen_category(values, spec, missing, examples)
    if spec.unique:
        anomalies += _not_unique(values, spec, examples)
    return anomalies


def _type_change(
    values: pa.ChunkedArray, spec: ColumnSchema, missing: pa.ChunkedArray, examples: int
) -> Anomaly:
    observed = logical_type(values.type)
    present = pc.invert(missing)
    count = _count(present)
    offending = present
    found = observed if str(values.type) == observed else f"{observed} ({values.type})"
    if observed == "string" and spec.type in _TEXT_AS:
        readable = pc.match_substring_regex(values, _TEXT_AS[spec.type], ignore_case=True)
        unreadable = pc.and_(present, pc.invert(pc.fill_null(readable, False)))
        bad = _count(unreadable)
        if bad:
            offending = unreadable
            detail = f"{bad:,} of {count:,} values do not read as {spec.type}"
            fix = "clean those values upstream, or cast the column to the schema's type"
        else:
            detail = f"all {count:,} values read as {spec.type}"
            fix = "cast the column (pyarrow.compute.cast) before validating"
    elif observed == "float" and spec.type == "integer":
        fractional = pc.and_(present, pc.not_equal(values, pc.floor(values)))
        bad = _count(fractional)
        if bad:
            offending = fractional
            detail = f"{bad:,} of {count:,} values are not whole numbers"
            fix = "fix the source, or change type to float in the schema if fractions are valid"
        else:
            detail = f"all {count:,} values are whole numbers"
            fix = (
                "integers with gaps become floats in pandas: convert with astype('Int64') "
                "before building the table, or cast the column"
            )
    else:
        detail = f"{count:,} values"
        fix = f"fix the source, or change type to {observed} in the schema if that is right"
    return Anomaly(
        kind="type_change",
        column=spec.name,
        message=f"column '{spec.name}' should be {spec.type} but is {found}: {detail}; {fix}",
        severity="error",
        count=count,
        examples=_row_examples(values, offending, examples),
    )


def _null_checks(
    values: pa.ChunkedArray,
    spec: ColumnSchema,
    missing: pa.ChunkedArray,
    rows: int,
    examples: int,
) -> list[Anomaly]:
    nulls = _count(missing)
    if not nulls:
        return []
    if not spec.nullable:
        return [
            Anomaly(
                kind="not_nullable",
                column=spec.name,
                message=f"column '{spec.name}' has {_plural(nulls, 'missing value')} but the "
                "schema says nullable: false; fill or drop those rows upstream, or set "
                "nullable: true",
                severity="error",
                count=nulls,
                examples=_row_examples(values, missing, examples),
            )
        ]
    if spec.max_null_rate is not None and nulls / rows > spec.max_null_rate:
        return [
            Anomaly(
                kind="null_rate",
                column=spec.name,
                message=f"column '{spec.name}' is {_percent(nulls / rows)} missing ({nulls:,} of "
                f"{rows:,} rows); the schema allows at most {_percent(spec.max_null_rate)}: find "
                "where values go missing upstream, or raise max_null_rate",
                severity="error",
                count=nulls,
                examples=_row_examples(values, missing, examples),
            )
        ]
    return []


def _out_of_range(
    values: pa.ChunkedArray, spec: ColumnSchema, missing: pa.ChunkedArray, examples: int
) -> list[Anomaly]:
    present = pc.invert(missing)
    if spec.type in TEMPORAL_TYPES:
        comparable = _micros(values)
        low = None if spec.min is None else temporal_micros(spec.min, spec.type)
        high = None if spec.max is None else temporal_micros(spec.max, spec.type)
    else:
        comparable = values
        low, high = spec.min, spec.max
    outside = None
    for bound, below in ((low, True), (high, False)):
        if bound is not None:
            beyond = _beyond(comparable, bound, below=below, present=present)
            outside = beyond if outside is None else pc.or_(outside, beyond)
    outside = pc.and_(pc.fill_null(outside, False), present)
    count = _count(outside)
    if not count:
        return []
    interval = f"[{'…' if spec.min is None else spec.min}, {'…' if spec.max is None else spec.max}]"
    if spec.range_severity == "warning":
        fix = (
            "the range was inferred from a sample: widen min/max if these values are valid, "
            "or set range_severity: error once the limits are right"
        )
    else:
        fix = "fix the values upstream, or widen min/max in the schema if they are valid"
    return [
        Anomaly(
            kind="out_of_range",
            column=spec.name,
            message=f"column '{spec.name}' has {_plural(count, 'value')} outside {interval}; {fix}",
            severity=spec.range_severity,
            count=count,
            examples=_row_examples(values, outside, examples),
        )
    ]


def _unseen_category(
    values: pa.ChunkedArray, spec: ColumnSchema, missing: pa.ChunkedArray, examples: int
) -> list[Anomaly]:
    assert spec.domain is not None
    present = pc.invert(missing)
    known = pc.fill_null(pc.is_in(values, value_set=pa.array(spec.domain, pa.string())), False)
    unseen = pc.and_(present, pc.invert(known))
    count = _count(unseen)
    total = _count(present)
    if not count or count / total <= spec.max_unseen_share:
        return []
    counted = pc.value_counts(values.filter(unseen))
    order = pc.array_sort_indices(counted.field("counts"), order="descending")[:_TOP_UNSEEN]
    top = counted.take(order).to_pylist()
    listed = ", ".join(f"{entry['values']!r} ({entry['counts']:,})" for entry in top)
    if len(counted) > _TOP_UNSEEN:
        listed += f" and {len(counted) - _TOP_UNSEEN:,} more"
    return [
        Anomaly(
            kind="unseen_category",
            column=spec.name,
            message=f"column '{spec.name}' has {_plural(count, 'value')} "
            f"({_percent(count / total)}) outside its domain, more than the "
            f"{_percent(spec.max_unseen_share)} tolerated: "
            f"{listed}; add them to domain if they are valid, or raise max_unseen_share",
            severity="error",
            count=count,
            examples=_row_examples(values, unseen, examples),
        )
    ]


def _not_unique(values: pa.ChunkedArray, spec: ColumnSchema, examples: int) -> list[Anomaly]:
    rows, groups = _repeats([values], examples)
    if not rows:
        return []
    return [
        Anomaly(
            kind="not_unique",
            column=spec.name,
            message=f"column '{spec.name}' should be unique, but {rows:,} rows share a value "
            "with another row; deduplicate upstream, or set unique: false",
            severity="error",
            count=rows,
            examples=[{"value": _jsonable(value[0]), "rows": at} for value, at in groups],
        )
    ]


# --- helpers ----------------------------------------------------------------------------


def _repeats(
    columns: Sequence[pa.ChunkedArray], examples: int
) -> tuple[int, list[tuple[tuple[Any, ...], list[int]]]]:
    """How many rows share their value (or combination of values) with another row, and up
    to ``examples`` repeated values in order of first appearance with their rows."""
    complete = pc.invert(missing_mask(columns[0]))
    for column in columns[1:]:
        complete = pc.and_(complete, pc.invert(missing_mask(column)))
    if len(columns) == 1:
        counted = pc.value_counts(columns[0].filter(complete))
        repeated = counted.field("values").filter(pc.greater(counted.field("counts"), 1))
        if not len(repeated):
            return 0, []
        involved = pc.and_(complete, pc.is_in(columns[0], value_set=repeated))
        first = pc.unique(columns[0].filter(involved))[:examples]
        keys = [(value,) for value in first.to_pylist()]
        rows = _count(involved)
    else:
        names = [f"k{index}" for index in range(len(columns))]
        table = pa.table(
            [*columns, pa.array(np.arange(len(columns[0])))], names=[*names, "row"]
        ).filter(complete)
        groups = table.group_by(names).aggregate([("row", "count"), ("row", "min")])
        groups = groups.filter(pc.greater(groups["row_count"], 1))
        if not groups.num_rows:
            return 0, []
        rows = pc.sum(groups["row_count"]).as_py()
        first = groups.take(pc.sort_indices(groups["row_min"])[:examples])
        keys = list(zip(*(first[name].to_pylist() for name in names), strict=True))
    shown = []
    for key in keys:
        same = complete
        for column, value in zip(columns, key, strict=True):
            same = pc.and_(same, pc.equal(column, pa.scalar(value, column.type)))
        at = pc.indices_nonzero(pc.fill_null(same, False))[: max(examples, 2)]
        shown.append((key, at.to_pylist()))
    return rows, shown


def _beyond(
    values: pa.ChunkedArray, bound: float, *, below: bool, present: pa.ChunkedArray
) -> pa.ChunkedArray:
    """Where values are below (or above) ``bound``, exactly, whatever the column's width."""
    compare = pc.less if below else pc.greater
    if pa.types.is_integer(values.type) and isinstance(bound, int):
        info = np.iinfo(values.type.to_pandas_dtype())
        lowest, highest = int(info.min), int(info.max)
        if (below and bound <= lowest) or (not below and bound >= highest):
            return pc.and_(present, False)
        if (below and bound > highest) or (not below and bound < lowest):
            return present
        return compare(values, pa.scalar(bound, values.type))
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        return compare(values, pa.scalar(_as_float(bound), pa.float64()))
    return compare(values, pa.scalar(bound, values.type))


def _micros(values: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_date(values.type):
        days = values.cast(pa.date32()).cast(pa.int32()).cast(pa.int64())
        return pc.multiply(days, _MICROS_PER_DAY)
    return values.cast(pa.timestamp("us", values.type.tz), safe=False).cast(pa.int64())


def _as_float(bound: float) -> float:
    try:
        return float(bound)
    except OverflowError:
        return math.inf if bound > 0 else -math.inf


def _row_examples(
    values: pa.ChunkedArray, mask: pa.ChunkedArray, limit: int
) -> list[dict[str, Any]]:
    if not limit:
        return []
    rows = pc.indices_nonzero(pc.fill_null(mask, False))[:limit]
    taken = values.take(rows).to_pylist()
    return [
        {"row": row, "value": _jsonable(value)}
        for row, value in zip(rows.to_pylist(), taken, strict=True)
    ]


def _count(mask: pa.ChunkedArray | pa.Array) -> int:
    return pc.sum(mask).as_py() or 0


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    return value


def _describe(example: dict[str, Any]) -> str:
    if "rows" in example:
        at = ", ".join(map(str, example["rows"]))
        if "key" in example:
            shown = ", ".join(f"{name}={value!r}" for name, value in example["key"].items())
        else:
            shown = repr(example["value"])
        return f"rows {at}: {shown}"
    return f"row {example['row']}: {example['value']!r}"


def _percent(share: float) -> str:
    text = f"{share * 100:.1f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")
