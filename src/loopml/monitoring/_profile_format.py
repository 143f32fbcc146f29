"""The encoding of a :class:`~loopml.monitoring.profile.Profile`, compact and versioned.

``MAGIC``, the header's length (4 bytes, little-endian), the header as JSON (counts,
means, category counts, and where each sketch lies), then each numeric column's KLL
sketch in DataSketches' own serialization. No pickle: a profile from an untrusted
source can be read safely, and other languages with DataSketches can read it too.
A reader refuses a format newer than its own rather than guessing.
"""

from __future__ import annotations

import json
import math
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
                minimum=_number(column.minimum),
                maximum=_number(column.maximum),
                mean=column.mean,
                m2=column.m2,
                sketch=[offset, len(blob)],
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
    head = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
    return b"".join([MAGIC, struct.pack("<I", len(head)), head, *sketches])


def _number(value: float) -> float | None:
    return value if math.isfinite(value) else None


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
    from datasketches import kll_doubles_sketch

    result = Profile(k=int(header["k"]), category_cap=int(header["category_cap"]))
    result.rows = int(header["rows"])
    for entry in header["columns"]:
        count, nulls = int(entry["count"]), int(entry["nulls"])
        column: ColumnProfile
        if entry["kind"] == "numeric":
            offset, length = entry["sketch"]
            if offset + length > len(body):
                raise ValueError(f"column '{entry['name']}' has a truncated sketch")
            sketch = kll_doubles_sketch.deserialize(body[offset : offset + length])
            if sketch.n != count:
                raise ValueError(f"column '{entry['name']}' holds {sketch.n} values, not {count}")
            low, high = entry["minimum"], entry["maximum"]
            column = NumericColumn(
                sketch,
                count,
                nulls,
                math.nan if low is None else float(low),
                math.nan if high is None else float(high),
                float(entry["mean"]),
                float(entry["m2"]),
            )
        elif entry["kind"] == "categorical":
            counts = dict(zip(entry["values"], map(int, entry["counts"]), strict=True))
            column = CategoricalColumn(counts, int(entry["other"]), count, nulls)
        else:
            raise ValueError(f"column '{entry['name']}' has an unknown kind {entry['kind']!r}")
        if count + nulls != result.rows:
            raise ValueError(f"column '{entry['name']}' does not add up to {result.rows} rows")
        result.columns[str(entry["name"])] = column
    return result
