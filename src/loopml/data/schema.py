"""Table schemas: the columns a table has, their types, and the limits their values keep.

A :class:`Schema` is inferred from a table someone trusts (:func:`infer_schema`), saved as
YAML for review and editing (:meth:`Schema.to_yaml`), and used by
:func:`loopml.data.validation.validate` to check each new table before it trains or scores
a model. The vocabulary follows TensorFlow Data Validation (TFDV).

Inference writes down only what the reference table proves, so that more rows from the
same source pass validation; a person tightens the schema by editing it:

- ``type``: the logical type of the Arrow type (:func:`logical_type`).
- ``nullable``: false only when the column has no nulls (NaN counts as null, as in pandas).
- ``max_null_rate``: the observed null rate × 1.5 plus 5 points, rounded up to a whole
  percent; left out when that reaches 100%.
- ``min``/``max``: numbers get the observed range widened by 10% of its span on each side,
  rounded outwards to a round number and never across zero; columns named like an
  identifier get none (new ids arrive outside any range seen). Dates and timestamps get
  the observed minimum only: later batches legitimately hold later times. Inferred ranges
  have ``range_severity: warning`` because a sample does not prove a limit; set it to
  ``error`` once the limits are right.
- ``domain``: for string columns with at most 50 distinct values, each seen at least twice
  (a value seen once hints at a long tail of values not seen yet). ``max_unseen_share`` 0.
- ``unique``: integer, string and binary columns with no nulls whose values all differ
  (floats and times are distinct by accident too often to mean anything).
- ``key``: the unique column named like an identifier (``id``, ``order_id``, ``userId``),
  preferring one named ``id``; it is then not marked ``unique`` as well, the key says it.
- ``min_rows`` 1, ``allow_extra_columns`` false.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import yaml

from ..errors import InvalidInput, NotFound

LOGICAL_TYPES = ("integer", "float", "boolean", "string", "timestamp", "date", "binary", "other")
NUMERIC_TYPES = frozenset({"integer", "float"})
TEMPORAL_TYPES = frozenset({"timestamp", "date"})
SEVERITIES = ("error", "warning")

DEFAULT_MAX_DOMAIN_SIZE = 50
DEFAULT_MIN_CATEGORY_COUNT = 2
DEFAULT_RANGE_HEADROOM = 0.1

_COLUMN_KEYS = (
    "name",
    "type",
    "nullable",
    "max_null_rate",
    "min",
    "max",
    "range_severity",
    "domain",
    "max_unseen_share",
    "unique",
)
_SCHEMA_KEYS = ("min_rows", "allow_extra_columns", "key", "columns")
_ID_NAME = re.compile(r"^(?:.*[_\-. ])?(?:id|uuid|guid|key)$", re.IGNORECASE)
_CAMEL_ID_NAME = re.compile(r"[a-z0-9](?:Id|ID|Uuid|UUID|Guid|GUID|Key)$")
_EPOCH = datetime(1970, 1, 1)

_YAML_HEADER = """\
# Table schema: validate() checks each new table against it. Edit it freely.
# Table: min_rows is the fewest rows a valid table has; allow_extra_columns lets columns
# the schema does not list through; key names the columns that identify a row.
# Columns: type is integer, float, boolean, string, timestamp, date, binary or other;
# nullable: false forbids nulls; max_null_rate caps the share of nulls (0 to 1);
# min and max bound numbers, dates and times (ISO 8601); range_severity says whether
# values outside them fail validation (error) or only warn (warning); domain lists the
# allowed strings and max_unseen_share the share of other values tolerated (0 to 1);
# unique: true forbids repeated values.
"""
_INFERRED_RANGE_COMMENT = "  # inferred from a sample: set to error once min/max are right"


@dataclass
class ColumnSchema:
    """What one column holds; see the module docstring for how inference fills it in.

    ``min`` and ``max`` are numbers for integer and float columns and ISO 8601 strings
    (``2024-01-31``, ``2024-01-31T12:00:00+00:00``) for date and timestamp columns; dates
    and datetimes passed in are stored as such strings. Values are checked on creation and
    a bad one raises :class:`~loopml.errors.InvalidInput` naming the column and the key.
    """

    name: str
    type: str
    nullable: bool = True
    max_null_rate: float | None = None
    min: float | str | None = None
    max: float | str | None = None
    range_severity: str = "error"
    domain: list[str] | None = None
    max_unseen_share: float = 0.0
    unique: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidInput(f"column name must be a non-empty string, got {self.name!r}")
        if self.type not in LOGICAL_TYPES:
            raise self._invalid(
                "type",
                f"must be one of {', '.join(LOGICAL_TYPES)}, got {self.type!r}",
                hint=_did_you_mean(self.type, LOGICAL_TYPES),
            )
        for key in ("nullable", "unique"):
            if not isinstance(getattr(self, key), bool):
                raise self._invalid(key, f"must be true or false, got {getattr(self, key)!r}")
        if self.max_null_rate is not None:
            self.max_null_rate = self._share("max_null_rate", self.max_null_rate)
        self.max_unseen_share = self._share("max_unseen_share", self.max_unseen_share)
        self.min = self._bound("min", self.min)
        self.max = self._bound("max", self.max)
        if self.min is not None and self.max is not None:
            low, high = (
                (temporal_micros(self.min, self.type), temporal_micros(self.max, self.type))
                if self.type in TEMPORAL_TYPES
                else (self.min, self.max)
            )
            if low > high:  # type: ignore[operator]
                raise self._invalid("min", f"{self.min!r} is greater than max {self.max!r}")
        if self.range_severity not in SEVERITIES:
            raise self._invalid(
                "range_severity", f"must be error or warning, got {self.range_severity!r}"
            )
        if self.domain is not None:
            self.domain = self._domain(self.domain)

    def _invalid(self, key: str, problem: str, hint: str | None = None) -> InvalidInput:
        return InvalidInput(
            f"column '{self.name}': {key} {problem}", hint=hint, column=self.name, key=key
        )

    def _share(self, key: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise self._invalid(key, f"must be between 0 and 1, got {value!r}")
        return float(value)

    def _bound(self, key: str, value: Any) -> float | str | None:
        if value is None:
            return None
        if self.type in NUMERIC_TYPES:
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or (isinstance(value, float) and math.isnan(value))
            ):
                raise self._invalid(
                    key, f"must be a number for a {self.type} column, got {value!r}"
                )
            return value
        if self.type in TEMPORAL_TYPES:
            try:
                temporal_micros(value, self.type)
                return as_temporal(value, self.type).isoformat()
            except (TypeError, ValueError, OverflowError):
                example = "2024-01-31" if self.type == "date" else "2024-01-31T12:00:00"
                raise self._invalid(
                    key, f"must be an ISO 8601 {self.type} like {example}, got {value!r}"
                ) from None
        raise self._invalid(
            key,
            f"applies to integer, float, date and timestamp columns, not {self.type}",
            hint=f"remove {key} from column '{self.name}'",
        )

    def _domain(self, values: Any) -> list[str]:
        if self.type != "string":
            raise self._invalid(
                "domain",
                f"applies to string columns, not {self.type}",
                hint="bound numbers and times with min and max instead",
            )
        if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
            raise self._invalid(
                "domain",
                f"must be a list of strings, got {values!r}",
                hint="quote values YAML reads as other types: 'yes', 'no', '1', '2024-01-31'",
            )
        seen: set[str] = set()
        for value in values:
            if value in seen:
                raise self._invalid("domain", f"lists {value!r} twice")
            seen.add(value)
        return list(values)


@dataclass
class Schema:
    """The columns of a table, in order, and the rules that apply to the table as a whole."""

    columns: list[ColumnSchema]
    key: list[str] | None = None
    allow_extra_columns: bool = False
    min_rows: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.columns, list | tuple) or not all(
            isinstance(column, ColumnSchema) for column in self.columns
        ):
            raise InvalidInput("columns must be a list of ColumnSchema")
        self.columns = list(self.columns)
        names: set[str] = set()
        for column in self.columns:
            if column.name in names:
                raise InvalidInput(
                    f"column '{column.name}' appears twice", column=column.name, key="name"
                )
            names.add(column.name)
        if not isinstance(self.allow_extra_columns, bool):
            raise InvalidInput(
                f"allow_extra_columns must be true or false, got {self.allow_extra_columns!r}",
                key="allow_extra_columns",
            )
        if isinstance(self.min_rows, bool) or not isinstance(self.min_rows, int):
            raise InvalidInput(
                f"min_rows must be a whole number, got {self.min_rows!r}", key="min_rows"
            )
        if self.min_rows < 0:
            raise InvalidInput(f"min_rows must be 0 or more, got {self.min_rows}", key="min_rows")
        if self.key is not None:
            self.key = self._checked_key(self.key)

    def _checked_key(self, key: Any) -> list[str]:
        if isinstance(key, str):
            key = [key]
        if not isinstance(key, list | tuple) or not key or not all(isinstance(k, str) for k in key):
            raise InvalidInput(
                f"key must be a list of column names, got {key!r}",
                hint="for example key: [order_id]",
                key="key",
            )
        for name in key:
            if name not in self.column_names:
                raise InvalidInput(
                    f"key: '{name}' is not a column of the schema",
                    hint=_did_you_mean(name, self.column_names) or "add it to columns",
                    column=name,
                    key="key",
                )
        if len(set(key)) != len(key):
            raise InvalidInput(f"key lists a column twice: {list(key)}", key="key")
        return list(key)

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    def column(self, name: str) -> ColumnSchema:
        """The column called ``name``; :class:`~loopml.errors.NotFound` if there is none."""
        for column in self.columns:
            if column.name == name:
                return column
        raise NotFound(
            f"schema has no column '{name}'",
            hint=_did_you_mean(name, self.column_names)
            or f"columns: {', '.join(self.column_names) or '(none)'}",
        )

    def to_yaml(self) -> str:
        """The schema as commented YAML, keys in a fixed order, meant to be read and edited.

        Keys at their default are left out of columns (``nullable`` is always written);
        :meth:`from_yaml` reads the text back into an equal schema.
        """
        document: dict[str, Any] = {
            "min_rows": self.min_rows,
            "allow_extra_columns": self.allow_extra_columns,
        }
        if self.key is not None:
            document["key"] = list(self.key)
        document["columns"] = [_column_document(column) for column in self.columns]
        # No line folding: every scalar stays on its own line, however long.
        text = yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=2**31)
        lines = []
        for line in text.splitlines():
            if line.startswith("  - name: ") and lines[-1] != "columns:":
                lines.append("")
            if line.strip() == "range_severity: warning":
                line += _INFERRED_RANGE_COMMENT
            lines.append(line)
        return _YAML_HEADER + "\n".join(lines) + "\n"

    @classmethod
    def from_yaml(cls, text: str, *, source: str = "schema.yaml") -> Schema:
        """Read a schema written by :meth:`to_yaml` or by hand.

        Every problem raises :class:`~loopml.errors.InvalidInput` naming ``source``, the
        column and the key: ``schema.yaml: column 'age': max_null_rate must be between 0
        and 1, got 1.5``.
        """
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise InvalidInput(
                f"{source}: not valid YAML: {problem}{where}", source=source
            ) from None
        if document is None:
            raise InvalidInput(
                f"{source}: is empty; a schema needs at least a 'columns' list", source=source
            )
        if not isinstance(document, dict):
            raise InvalidInput(
                f"{source}: must be a mapping with a 'columns' list, got {type(document).__name__}",
                source=source,
            )
        _refuse_unknown_keys(document, _SCHEMA_KEYS, source, where=None)
        entries = document.get("columns")
        if not isinstance(entries, list):
            raise InvalidInput(
                f"{source}: columns must be a list of column mappings, got {entries!r}",
                hint="each entry needs at least name and type",
                source=source,
                key="columns",
            )
        columns = [
            _column_from_document(entry, index, source) for index, entry in enumerate(entries)
        ]
        settings = {
            key: document[key]
            for key in ("min_rows", "allow_extra_columns", "key")
            if key in document
        }
        try:
            return cls(columns=columns, **settings)
        except InvalidInput as exc:
            raise _from_source(exc, source) from None


def logical_type(arrow_type: pa.DataType) -> str:
    """The logical type of an Arrow type: what the schema and validation reason about.

    Integer widths and signedness, string and binary flavours, timestamp units and time
    zones and dictionary encoding all collapse into one name; decimals count as float.
    """
    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if pa.types.is_integer(arrow_type):
        return "integer"
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "float"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if (
        pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
        or pa.types.is_string_view(arrow_type)
    ):
        return "string"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    if pa.types.is_date(arrow_type):
        return "date"
    if (
        pa.types.is_binary(arrow_type)
        or pa.types.is_large_binary(arrow_type)
        or pa.types.is_fixed_size_binary(arrow_type)
        or pa.types.is_binary_view(arrow_type)
    ):
        return "binary"
    return "other"


def plain_column(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """``column`` in a type every compute kernel the checks use accepts: dictionary
    encoding and string/binary views decoded, half floats widened, decimals as float64
    (their logical type is float; range checks do not need 38 digits)."""
    arrow_type = column.type
    if pa.types.is_dictionary(arrow_type):
        column = column.cast(arrow_type.value_type)
        arrow_type = column.type
    if pa.types.is_float16(arrow_type):
        return column.cast(pa.float32())
    if pa.types.is_decimal(arrow_type):
        return column.cast(pa.float64())
    if pa.types.is_string_view(arrow_type):
        return column.cast(pa.large_string())
    if pa.types.is_binary_view(arrow_type):
        return column.cast(pa.large_binary())
    return column


def missing_mask(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """True where a value is null, or NaN in a float column (pandas writes gaps as NaN)."""
    return pc.is_null(column, nan_is_null=True)


def as_temporal(value: Any, logical: str) -> date | datetime:
    """Parse an ISO 8601 bound (or take a date/datetime) as a ``date`` or ``datetime``."""
    if logical == "date":
        if isinstance(value, datetime):
            raise ValueError("a date column's bound is a date, not a date and time")
        return value if isinstance(value, date) else date.fromisoformat(value)
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return datetime.fromisoformat(value)


def temporal_micros(value: str | date | datetime, logical: str) -> int:
    """Microseconds since 1970-01-01 UTC of a date or time bound; naive times count as UTC,
    which is how Arrow stores them."""
    moment = as_temporal(value, logical)
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def infer_schema(
    table: pa.Table,
    *,
    max_domain_size: int = DEFAULT_MAX_DOMAIN_SIZE,
    min_category_count: int = DEFAULT_MIN_CATEGORY_COUNT,
    range_headroom: float = DEFAULT_RANGE_HEADROOM,
    infer_key: bool = True,
) -> Schema:
    """Infer a conservative schema from a table someone trusts, to review and edit.

    The rules are in the module docstring; the options tune them: ``max_domain_size`` and
    ``min_category_count`` decide when a string column gets a domain, ``range_headroom``
    is the share of the observed span added to each side of a numeric range, and
    ``infer_key=False`` leaves ``key`` out.

    >>> schema = infer_schema(pa.table({"id": [1, 2, 3], "plan": ["a", "b", "a"]}))
    >>> schema.key, schema.column("id").nullable
    (['id'], False)
    """
    if not isinstance(table, pa.Table):
        raise InvalidInput(
            f"infer_schema() takes a pyarrow.Table, got {type(table).__name__}",
            hint="convert first, e.g. pyarrow.Table.from_pandas(frame) or frame.to_arrow()",
        )
    if range_headroom < 0:
        raise InvalidInput(f"range_headroom must be 0 or more, got {range_headroom}")
    if len(set(table.column_names)) != len(table.column_names):
        raise InvalidInput("the table has two columns with the same name; rename one")
    columns = [
        _infer_column(
            name,
            table.column(index),
            table.num_rows,
            max_domain_size=max_domain_size,
            min_category_count=min_category_count,
            range_headroom=range_headroom,
        )
        for index, name in enumerate(table.column_names)
    ]
    key = _infer_key(columns) if infer_key else None
    for column in columns:
        if key and column.name in key:
            column.unique = False
    return Schema(columns=columns, key=key)


# --- inference --------------------------------------------------------------------------


def _infer_column(
    name: str,
    column: pa.ChunkedArray,
    rows: int,
    *,
    max_domain_size: int,
    min_category_count: int,
    range_headroom: float,
) -> ColumnSchema:
    logical = logical_type(column.type)
    values = plain_column(column)
    missing = pc.sum(missing_mask(values)).as_py() or 0
    present = rows - missing
    low: float | str | None = None
    high: float | str | None = None
    domain = None
    distinct = None
    if present and logical in NUMERIC_TYPES and not _named_like_an_identifier(name):
        low, high = _numeric_range(values, logical, range_headroom)
    elif present and logical in TEMPORAL_TYPES:
        low = _temporal_min(values)
    if present and logical == "string":
        counted = pc.value_counts(values.drop_null())
        distinct = len(counted)
        if (
            distinct <= max_domain_size
            and pc.min(counted.field("counts")).as_py() >= min_category_count
        ):
            domain = sorted(counted.field("values").to_pylist())
    unique = False
    if not missing and rows >= 2 and logical in {"integer", "string", "binary"}:
        if distinct is None:
            distinct = pc.count_distinct(values).as_py()
        unique = distinct == rows
    return ColumnSchema(
        name=name,
        type=logical,
        nullable=missing > 0 or rows == 0,
        max_null_rate=_null_rate_limit(missing, rows),
        min=low,
        max=high,
        range_severity="warning" if low is not None or high is not None else "error",
        domain=domain,
        unique=unique,
    )


def _null_rate_limit(missing: int, rows: int) -> float | None:
    if not missing or not rows:
        return None
    limit = math.ceil(round((missing / rows * 1.5 + 0.05) * 100, 6)) / 100
    return None if limit >= 1 else limit


def _numeric_range(
    values: pa.ChunkedArray, logical: str, headroom: float
) -> tuple[float | None, float | None]:
    if pa.types.is_floating(values.type):
        values = pc.if_else(pc.is_nan(values), None, values)
    extremes = pc.min_max(values)
    low, high = extremes["min"].as_py(), extremes["max"].as_py()
    if low is None or high is None:
        return None, None
    if logical == "integer":
        return _widen_integers(low, high, headroom)
    return _widen_floats(float(low), float(high), headroom)


def _widen_integers(low: int, high: int, headroom: float) -> tuple[int, int]:
    pad = math.ceil((high - low) * headroom)
    if pad <= 0:
        return low, high
    step = 10 ** (len(str(pad)) - 1)
    new_low = (low - pad) // step * step
    new_high = -(-(high + pad) // step) * step
    if low >= 0:
        new_low = max(new_low, 0)
    if high <= 0:
        new_high = min(new_high, 0)
    return min(new_low, low), max(new_high, high)


def _widen_floats(low: float, high: float, headroom: float) -> tuple[float, float]:
    span = high - low
    pad = span * headroom
    if not pad or not math.isfinite(pad):
        return low, high
    try:
        exponent = math.floor(math.log10(pad))
        step = 10.0**exponent
        # Rounding the quotient first keeps 1.4 / 0.1 = 13.999999999999998 at 14.
        new_low = math.floor(round((low - pad) / step, 9)) * step
        new_high = math.ceil(round((high + pad) / step, 9)) * step
        if exponent < 0:
            new_low, new_high = round(new_low, -exponent), round(new_high, -exponent)
    except (OverflowError, ValueError):
        return low, high
    if low >= 0:
        new_low = max(new_low, 0.0)
    if high <= 0:
        new_high = min(new_high, 0.0)
    # Rounding to a round number must never cut into what was observed.
    return min(new_low, low), max(new_high, high)


def _temporal_min(values: pa.ChunkedArray) -> str | None:
    if pa.types.is_date(values.type):
        low = pc.min(values.cast(pa.date32())).as_py()
        return None if low is None else low.isoformat()
    micros = values.cast(pa.timestamp("us", values.type.tz), safe=False).cast(pa.int64())
    low = pc.min(micros).as_py()
    if low is None:
        return None
    try:
        moment = _EPOCH + timedelta(microseconds=low)
    except OverflowError:
        return None
    return (moment.replace(tzinfo=UTC) if values.type.tz else moment).isoformat()


def _named_like_an_identifier(name: str) -> bool:
    return bool(_ID_NAME.match(name) or _CAMEL_ID_NAME.search(name))


def _infer_key(columns: list[ColumnSchema]) -> list[str] | None:
    candidates = [
        column.name
        for column in columns
        if column.unique
        and column.type in {"integer", "string"}
        and _named_like_an_identifier(column.name)
    ]
    if not candidates:
        return None
    exact = [name for name in candidates if name.lower() == "id"]
    return [(exact or candidates)[0]]


# --- YAML -------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Indents lists under their key, which reads better than PyYAML's flush-left default."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)


def _column_document(column: ColumnSchema) -> dict[str, Any]:
    document: dict[str, Any] = {
        "name": column.name,
        "type": column.type,
        "nullable": column.nullable,
    }
    if column.max_null_rate is not None:
        document["max_null_rate"] = column.max_null_rate
    if column.min is not None:
        document["min"] = column.min
    if column.max is not None:
        document["max"] = column.max
    if column.min is not None or column.max is not None:
        document["range_severity"] = column.range_severity
    if column.domain is not None:
        document["domain"] = list(column.domain)
    if column.domain is not None or column.max_unseen_share:
        document["max_unseen_share"] = column.max_unseen_share
    if column.unique:
        document["unique"] = True
    return document


def _column_from_document(entry: Any, index: int, source: str) -> ColumnSchema:
    if not isinstance(entry, dict):
        raise InvalidInput(
            f"{source}: columns[{index}] must be a mapping with at least name and type, "
            f"got {entry!r}",
            source=source,
            key="columns",
        )
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidInput(
            f"{source}: columns[{index}]: name must be a non-empty string, got {name!r}",
            hint="quote names YAML reads as other types, e.g. name: '2024'",
            source=source,
            key="name",
        )
    _refuse_unknown_keys(entry, _COLUMN_KEYS, source, where=f"column '{name}'")
    if "type" not in entry:
        raise InvalidInput(
            f"{source}: column '{name}': type is missing",
            hint=f"one of {', '.join(LOGICAL_TYPES)}",
            source=source,
            column=name,
            key="type",
        )
    try:
        return ColumnSchema(**entry)
    except InvalidInput as exc:
        raise _from_source(exc, source) from None


def _refuse_unknown_keys(
    document: dict[Any, Any], known: tuple[str, ...], source: str, where: str | None
) -> None:
    for key in document:
        if key not in known:
            place = f"{source}: {where}: " if where else f"{source}: "
            raise InvalidInput(
                f"{place}unknown key {key!r}",
                hint=_did_you_mean(str(key), known) or f"known keys: {', '.join(known)}",
                source=source,
                key=str(key),
            )


def _from_source(exc: InvalidInput, source: str) -> InvalidInput:
    details = {**exc.details, "source": source}
    return InvalidInput(f"{source}: {exc.message}", hint=exc.hint, **details)


def _did_you_mean(word: Any, choices: Any) -> str | None:
    if not isinstance(word, str):
        return None
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"did you mean {close[0]!r}?" if close else None
