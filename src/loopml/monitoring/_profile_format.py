"""The encoding of a :class:`~loopml.monitoring.profile.Profile`, compact and versioned.

``MAGIC``, the header's length (4 bytes, little-endian), the header as JSON (counts,
means, category counts, and where each sketch lies), then each numeric column's KLL
sketch in DataSketches' own serialization. No pickle: a profile from an untrusted
source can be read safely, and other languages with DataSketches can read it too.
A reader refuses a format newer than its own rather than guessing.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from ..errors import InvalidInput
from .profile import FORMAT_VERSION, CategoricalColumn, ColumnProfile, NumericColumn, Profile

MAGIC = b"LOOPMLPF"


def encode(result: Profile) -> bytes:
    entries, sketches, offset = [], [], 0
    for name, column in result.columns.items():
        entry: dict[str, Any] = {"name": name, "kind": column.kind, "count": column.count}
        entry["nulls"] = column.nulls
        if isinstance(column, NumericColumn):
            blob = column.sketch.serialize()
            entry.update(
                minimum=column.minimum,
                maximum=column.maximum,
                mean=column.mean,
                m2=column.m2,
                sketch=[offset, len(blob)],
                exact=None if column.values is None else _pairs(column.values),
            )
            sketches.append(blob)
            offset += len(blob)
        else:
            entry.update(
                values=list(column.counts), counts=list(column.counts.values()), other=column.other
            )
        entries.append(entry)
    header = {
        "format": FORMAT_VERSION,
        "rows": result.rows,
        "k": result.k,
        "category_cap": result.category_cap,
        "columns": entries,
    }
    # NaN and Infinity (an empty column's range, infinite data) are written as Python's
    # json module writes and reads them.
    head = json.dumps(header, separators=(",", ":")).encode()
    return b"".join([MAGIC, struct.pack("<I", len(head)), head, *sketches])


def _pairs(values: dict[float, int]) -> list[list[float]]:
    return [list(values), list(values.values())]


def decode(data: bytes) -> Profile:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidInput(f"Profile.from_bytes() takes bytes, not a {type(data).__name__}")
    data = bytes(data)
    if not data.startswith(MAGIC) or len(data) < len(MAGIC) + 4:
        raise InvalidInput(
            "these bytes are not a loopml profile", hint="pass the output of Profile.to_bytes()"
        )
    (size,) = struct.unpack_from("<I", data, len(MAGIC))
    start = len(MAGIC) + 4
    try:
        header = json.loads(data[start : start + size])
        version = header["format"]
    except (ValueError, TypeError, KeyError) as error:
        raise InvalidInput(f"the profile's header is corrupt: {error}") from error
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise InvalidInput(
            f"the profile was written in format {version}; this loopml reads up to "
            f"format {FORMAT_VERSION}",
            hint="upgrade loopml to read it",
        )
    try:
        return _from_header(header, data[start + size :])
    except (ValueError, TypeError, KeyError, RuntimeError) as error:
        raise InvalidInput(f"the profile is corrupt: {error}") from error


def _from_header(header: dict[str, Any], body: bytes) -> Profile:
    result = Profile(k=int(header["k"]), category_cap=int(header["category_cap"]))
    result.rows = int(header["rows"])
    for entry in header["columns"]:
        column: ColumnProfile
        if entry["kind"] == "numeric":
            column = _numeric(entry, body)
        elif entry["kind"] == "categorical":
            counts = dict(zip(entry["values"], map(int, entry["counts"]), strict=True))
            column = CategoricalColumn(counts, int(entry["other"]), entry["count"], entry["nulls"])
        else:
            raise ValueError(f"column '{entry['name']}' has an unknown kind {entry['kind']!r}")
        if not isinstance(column.count, int) or not isinstance(column.nulls, int):
            raise ValueError(f"column '{entry['name']}' has a count that is not a whole number")
        if column.count + column.nulls != result.rows:
            raise ValueError(f"column '{entry['name']}' does not add up to {result.rows} rows")
        result.columns[str(entry["name"])] = column
    return result


def _numeric(entry: dict[str, Any], body: bytes) -> NumericColumn:
    from datasketches import kll_doubles_sketch

    offset, length = entry["sketch"]
    if offset + length > len(body):
        raise ValueError(f"column '{entry['name']}' has a truncated sketch")
    sketch = kll_doubles_sketch.deserialize(body[offset : offset + length])
    if sketch.n != entry["count"]:
        raise ValueError(f"column '{entry['name']}' holds {sketch.n} values, not {entry['count']}")
    exact = entry["exact"]
    values = (
        None if exact is None else dict(zip(map(float, exact[0]), map(int, exact[1]), strict=True))
    )
    return NumericColumn(
        sketch,
        entry["count"],
        entry["nulls"],
        float(entry["minimum"]),
        float(entry["maximum"]),
        float(entry["mean"]),
        float(entry["m2"]),
        values,
    )
