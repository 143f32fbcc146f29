"""Reading tables (CSV, Parquet, JSON lines) and DataFrames into Arrow, with errors that point.

Every failure names the file and, where it can be known, the line and the column:
"orders.csv line 7: expected 3 columns, found 4". A CSV column that mixes numbers and
text is refused instead of being silently read as text, since that is almost always a
data error (a stray "n/a", a shifted column) that would otherwise poison every version.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from ..errors import InvalidInput
from .filetypes import table_format as table_format

_NUMBER = r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$"
_MIXED_SHARE = 0.5  # a text column at least this numeric, but not wholly, is "mixed"


def read_table(source: str | Path | bytes, fmt: str, *, name: str | None = None) -> pa.Table:
    """Read a whole table from a path or from bytes; ``name`` is what errors call it."""
    label = name or str(source if not isinstance(source, bytes) else "the data")
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    if not data:
        raise InvalidInput(f"{label} is empty (0 bytes)", hint="add a file that holds data")
    reader = _READERS.get(fmt)
    if reader is None:
        raise InvalidInput(
            f"{label}: '{fmt}' is not a table format", hint="use csv, parquet or jsonl"
        )
    table = reader(data, label)
    if table.num_columns == 0:
        raise InvalidInput(f"{label} has no columns", hint="add a file with a header row")
    return table


def to_arrow(data: Any, *, name: str = "the table") -> pa.Table:
    """A pandas or polars DataFrame, or an Arrow table or record batch, as an Arrow table."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if hasattr(data, "to_arrow") and type(data).__module__.startswith("polars"):
        return data.to_arrow()
    if hasattr(data, "to_parquet") and hasattr(data, "dtypes"):  # pandas
        try:
            return pa.Table.from_pandas(data, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InvalidInput(f"{name}: {_pandas_problem(exc)}", hint=_MIXED_HINT) from None
    raise InvalidInput(
        f"cannot store a {type(data).__name__} as a dataset",
        hint="pass a path, a pandas or polars DataFrame, or a pyarrow Table",
    )


def table_to_parquet(table: pa.Table) -> bytes:
    """Parquet bytes that depend only on the table's content (no timestamps inside)."""
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


_MIXED_HINT = "make the column hold one type, or convert it to text explicitly"


def _read_csv(data: bytes, label: str, tab: bool = False) -> pa.Table:
    import pyarrow.csv as pcsv

    options = pcsv.ParseOptions(delimiter="\t" if tab else ",")
    try:
        table = pcsv.read_csv(io.BytesIO(data), parse_options=options)
    except pa.ArrowInvalid as exc:
        text = str(exc)
        if "Empty CSV file" in text:
            raise InvalidInput(f"{label} is empty", hint="add a header row and data") from None
        if "Expected" in text and "columns" in text:
            raise InvalidInput(_ragged_row(data, label, tab), hint="fix the row's fields") from None
        raise InvalidInput(f"{label}: {text}", hint="check the file is valid CSV") from None
    _refuse_mixed_columns(table, label)
    return table


def _ragged_row(data: bytes, label: str, tab: bool) -> str:
    reader = csv.reader(
        io.StringIO(data.decode("utf-8", "replace")), delimiter="\t" if tab else ","
    )
    header = next(reader, [])
    for line, row in enumerate(reader, start=2):
        if row and len(row) != len(header):
            return f"{label} line {line}: expected {len(header)} columns, found {len(row)}"
    return f"{label}: rows have different numbers of columns"


def _refuse_mixed_columns(table: pa.Table, label: str) -> None:
    import pyarrow.compute as pc

    for name in table.column_names:
        column = table.column(name)
        if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
            continue
        present = pc.drop_null(column)
        if len(present) == 0:
            continue
        numeric = pc.match_substring_regex(present, _NUMBER)
        share = pc.mean(numeric.cast(pa.int8())).as_py()
        if _MIXED_SHARE <= share < 1.0:
            mask = pc.and_(
                pc.is_valid(column), pc.invert(pc.match_substring_regex(column, _NUMBER))
            )
            row = pc.index(mask, True).as_py()
            value = column[row].as_py()
            raise InvalidInput(
                f"{label} line {row + 2}, column '{name}': {value!r} is not a number, "
                f"though {share:.0%} of the column is",
                hint=_MIXED_HINT,
                column=name,
                line=row + 2,
            )


def _read_parquet(data: bytes, label: str) -> pa.Table:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(io.BytesIO(data))
    except (pa.ArrowInvalid, OSError) as exc:
        reason = str(exc).split(": ", 1)[-1] if "Parquet" in str(exc) else str(exc)
        raise InvalidInput(
            f"{label} is not a readable Parquet file ({reason})",
            hint="the file may be truncated or not Parquet; write it again",
        ) from None


def _read_jsonl(data: bytes, label: str) -> pa.Table:
    import pyarrow.json as pjson

    try:
        return pjson.read_json(io.BytesIO(data))
    except pa.ArrowInvalid as exc:
        text = str(exc).removeprefix("JSON parse error: ")
        match = re.search(r"in row (\d+)", text)
        where = f" line {int(match.group(1)) + 1}" if match else ""
        text = re.sub(r"\s*in row \d+", "", text)
        raise InvalidInput(
            f"{label}{where}: {text}", hint="each line must be one JSON object"
        ) from None


def _pandas_problem(exc: Exception) -> str:
    args = exc.args
    if len(args) == 2 and "column" in str(args[1]):
        column = str(args[1]).split("column ", 1)[1].split(" with", 1)[0]
        return f"column '{column}' mixes types ({args[0]})"
    return str(exc)


def _read_json(data: bytes, label: str) -> pa.Table:
    from .sources import read_json_records

    return read_json_records(data, label)


def _read_tsv(data: bytes, label: str) -> pa.Table:
    return _read_csv(data, label, tab=True)


_READERS: dict[str, Callable[[bytes, str], pa.Table]] = {
    "csv": _read_csv,
    "tsv": _read_tsv,
    "parquet": _read_parquet,
    "jsonl": _read_jsonl,
    "json": _read_json,  # an array of objects: what HTTP APIs answer
}
