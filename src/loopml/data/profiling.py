"""Column profiles of tables that merge: profile partitions apart, add them up later.

A :class:`DatasetProfile` holds, per column, exact counts (values, nulls, NaN, ±inf),
exact min and max, mean and variance as ``(n, mean, M2)`` (combined with Chan's parallel
formula) and Apache DataSketches: KLL for quantiles and histograms, HLL for distinct
counts, a frequent-items sketch for top values. Every part merges, so
``profile_table(a).merge(profile_table(b))`` describes ``a`` and ``b`` together: counts,
min and max exactly, moments to floating-point rounding, quantiles within KLL's rank
error, distinct counts identically (see :meth:`ColumnProfile.distinct`).

Tables are read one record batch at a time, so memory beyond the input does not grow
with the number of rows. Columns are profiled one after the other on the calling thread:
most of the work is in sketch updates that hold the GIL, and profiling columns on
threads measured slower (and took more memory) than this::

    profile = profile_table(pq.ParquetFile("day1.parquet").iter_batches())
    profile = profile.merge(DatasetProfile.from_bytes(stored_bytes))
    profile.save_html("profile.html")

Kinds: integers, floats, decimals, durations and times are ``numeric``; timestamps and
dates are ``datetime`` (sketched as epoch counts in their unit, shown as ISO-8601);
``boolean``; strings (and dictionaries of strings) are ``categorical`` when their distinct
estimate is at most 1,000 or at most 5% of their values, ``text`` otherwise; anything
else (lists, structs, binary...) is ``other`` with counts and nulls only. The string
kind is decided from the sketches when asked, never while reading, so it is the same
for a merged profile and for a profile of everything at once.

Missing values: NaN counts as missing. ``count`` is the number of values the statistics
describe, ``nulls`` the Arrow nulls, ``nan`` the NaNs; ``count + nulls + nan`` is the
number of rows and ``null_rate`` is ``(nulls + nan) / rows``. ±inf are values: they count
in ``count``, ``min``, ``max`` and the distinct estimate, and ``infinite`` says how many
there are, but mean, variance, quantiles and histograms describe the finite values.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import datasketches as ds
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InvalidInput

Kind = Literal["numeric", "boolean", "categorical", "datetime", "text", "other"]
_Family = Literal["numeric", "boolean", "datetime", "string", "other"]

QUANTILES: tuple[float, ...] = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)
CATEGORICAL_MAX_DISTINCT = 1000
CATEGORICAL_MAX_RATIO = 0.05
KLL_K = 200  # normalized rank error ~1.3% (99th percentile over all queries)
HLL_LG_K = 12  # relative error ~1.6%; 2.5 KB compact
FREQUENT_LG_MAX_K = 10  # up to 768 distinct values counted exactly

FORMAT_VERSION = 1
_MAGIC = b"LOOPMLDP"  # loopml dataset profile
_PREFIX = struct.Struct(">8sHI")  # magic, format version, header length
_DIGEST_SIZE = 16
_HLL_OUT_OF_ORDER = 16  # flag bit in byte 5 of a serialized HLL sketch
_DEDUPE_MAX_RATIO = 0.5  # feed HLL a batch's unique values only while that saves calls
_DEDUPE_PROBE_EVERY = 8


@dataclass(frozen=True)
class Histogram:
    """Bin ``i`` holds the values in ``[edges[i], edges[i + 1])``; the last bin is closed."""

    edges: list[float]
    counts: list[int]


class ColumnProfile:
    """The mergeable statistics of one column.

    Numbers are in the column's own units: for ``datetime`` columns, min, max, mean,
    variance, quantiles and histogram edges are epoch counts in :attr:`unit` (``"D"`` for
    dates); :meth:`to_dict` shows them as ISO-8601 and the standard deviation in seconds.
    """

    _dedupe = True  # reading state, per instance once set; not part of the profile
    _batches = 0

    def __init__(self, name: str, arrow_type: pa.DataType) -> None:
        value_type = arrow_type.value_type if pa.types.is_dictionary(arrow_type) else arrow_type
        self.name = name
        self.arrow_type = str(arrow_type)
        self.family: _Family = _family_of(value_type)
        self.integer = self.family == "datetime" or _is_integral(value_type)
        self.unit, self.tz, self.is_date = _time_unit(value_type)
        self.count = 0
        self.nulls = 0
        self.nan = 0
        self.neg_inf = 0
        self.pos_inf = 0
        self.trues = 0
        self.empty = 0  # empty strings
        self.min: int | float | None = None
        self.max: int | float | None = None
        self.moments: tuple[int, float, float] = (0, 0.0, 0.0)  # finite values: n, mean, M2
        self.lengths: tuple[int, float, float] = (0, 0.0, 0.0)  # string lengths: n, mean, M2
        self.length_min: int | None = None
        self.length_max: int | None = None
        sketches = _SKETCHES_OF.get(self.family, ())
        self.kll = ds.kll_doubles_sketch(KLL_K) if "kll" in sketches else None
        self.hll = ds.hll_sketch(HLL_LG_K, ds.tgt_hll_type.HLL_4) if "hll" in sketches else None
        self.frequent = None
        if "frequent" in sketches:
            self.frequent = ds.frequent_strings_sketch(FREQUENT_LG_MAX_K)

    # --- what the profile says ------------------------------------------------------

    @property
    def kind(self) -> Kind:
        """What the column holds; strings are categorical or text by their distinct estimate."""
        if self.family != "string":
            return self.family
        distinct = self.distinct() or 0
        small = distinct <= CATEGORICAL_MAX_DISTINCT
        return "categorical" if small or distinct <= CATEGORICAL_MAX_RATIO * self.count else "text"

    @property
    def rows(self) -> int:
        return self.count + self.nulls + self.nan

    @property
    def infinite(self) -> int:
        return self.neg_inf + self.pos_inf

    @property
    def null_rate(self) -> float | None:
        """Share of rows that are null or NaN; None for a column of no rows."""
        return (self.nulls + self.nan) / self.rows if self.rows else None

    @property
    def mean(self) -> float | None:
        """Mean of the finite values (the share of ``True`` for booleans)."""
        if self.family == "boolean":
            return self.trues / self.count if self.count else None
        n, mean, _ = self.moments
        return mean if n and self.family in ("numeric", "datetime") else None

    @property
    def variance(self) -> float | None:
        """Sample variance (``ddof=1``) of the finite values; None below two values."""
        if self.family == "boolean":
            n, p = self.count, self.trues / self.count if self.count else 0.0
            return p * (1 - p) * n / (n - 1) if n > 1 else None
        n, _, m2 = self.moments
        return m2 / (n - 1) if n > 1 and self.family in ("numeric", "datetime") else None

    @property
    def std(self) -> float | None:
        variance = self.variance
        return math.sqrt(variance) if variance is not None else None

    def quantiles(self, qs: Sequence[float] = QUANTILES) -> list[float | int] | None:
        """Values at the normalized ranks ``qs`` (0 is the minimum, 1 the maximum), from KLL.

        Within the sketch's rank error, ``KLL_K``'s ~1.3%; exact below ~200 values.
        Integer and datetime columns get integers. None when there is no finite value.
        """
        if self.kll is None or self.kll.is_empty():
            return None
        if any(not 0.0 <= q <= 1.0 for q in qs):
            raise InvalidInput(f"quantile ranks must lie in [0, 1], got {list(qs)}")
        return [self._as_value(v) for v in self.kll.get_quantiles(list(qs))]

    def histogram(self, bins: int = 20) -> Histogram | None:
        """Equal-width bins over the finite range, with counts estimated from KLL.

        Integer columns whose range spans fewer than ``bins`` values get one bin per
        integer, centred on it, and so exact counts while the sketch is exact.
        """
        if bins < 1:
            raise InvalidInput(f"a histogram needs at least one bin, got {bins}")
        if self.kll is None or self.kll.is_empty():
            return None
        low, high, n = self.kll.get_min_value(), self.kll.get_max_value(), self.kll.n
        if low == high:
            return Histogram(edges=[low, high], counts=[n])
        if self.integer and high - low < bins:
            edges = np.arange(low - 0.5, high + 1.0, 1.0)
        else:
            # Weighted sums, not low + step * i: the range of finite doubles can overflow.
            steps = np.linspace(0.0, 1.0, bins + 1)
            edges = low * (1.0 - steps) + high * steps
            edges[0], edges[-1] = low, high
            edges = np.unique(edges)  # a range of a few ulps has fewer distinct edges
        cdf = self.kll.get_cdf(edges[1:-1].tolist())
        cumulative = np.rint(np.array([0.0, *cdf]) * n).astype(np.int64)
        counts = np.diff(cumulative).tolist()
        return Histogram(edges=[float(e) for e in edges], counts=counts)

    def distinct(self) -> int | None:
        """Estimated number of distinct values (exact for booleans); None for ``other``.

        HLL estimates with its composite estimator, which depends only on the sketch's
        registers: a sketch built in one pass and a union of partial sketches hold the
        same registers, so a merged profile and one of everything at once agree exactly
        (the in-order "HIP" estimator would differ by a fraction of a percent).
        """
        if self.family == "boolean":
            return int(self.trues > 0) + int(self.count - self.trues > 0)
        if self.hll is None:
            return None
        empty = int(self.empty > 0)  # HLL ignores the empty string; it is counted apart
        if self.hll.is_empty():
            return empty
        image = bytearray(self.hll.serialize_compact())
        image[5] |= _HLL_OUT_OF_ORDER
        return round(ds.hll_sketch.deserialize(bytes(image)).get_estimate()) + empty

    def top(self, k: int = 10) -> list[tuple[Any, int]]:
        """The ``k`` most frequent values with their counts, most frequent first.

        For strings the counts are exact while the column has at most 768 distinct
        values; beyond that they are estimates, off by at most :meth:`top_error`.
        Booleans count exactly. Other kinds have no top values.
        """
        if self.family == "boolean":
            pairs = [(True, self.trues), (False, self.count - self.trues)]
            return sorted((p for p in pairs if p[1]), key=lambda p: -p[1])[:k]
        if self.frequent is None or self.frequent.is_empty():
            return []
        items = self.frequent.get_frequent_items(_NO_FALSE_NEGATIVES)
        items.sort(key=lambda item: (-item[1], item[0]))
        return [(item[0], item[1]) for item in items[:k]]

    def top_error(self) -> int:
        """The most any count from :meth:`top` can be off by; 0 means they are exact."""
        if self.frequent is None or self.frequent.is_empty():
            return 0
        items = self.frequent.get_frequent_items(_NO_FALSE_NEGATIVES)
        return max((item[3] - item[2] for item in items), default=0)

    # --- combining ------------------------------------------------------------------

    def merge(self, other: ColumnProfile) -> ColumnProfile:
        """A new profile of both columns' values; neither input changes."""
        if (self.name, self.arrow_type) != (other.name, other.arrow_type):
            raise InvalidInput(
                f"cannot merge column '{self.name}' ({self.arrow_type}) "
                f"with column '{other.name}' ({other.arrow_type})",
                hint="profiles merge column by column, same name and Arrow type",
            )
        merged = _copy(self)
        for counter in _COUNTERS:
            setattr(merged, counter, getattr(self, counter) + getattr(other, counter))
        merged.min = _pick(min, self.min, other.min)
        merged.max = _pick(max, self.max, other.max)
        merged.moments = _combine(self.moments, other.moments)
        merged.lengths = _combine(self.lengths, other.lengths)
        merged.length_min = _pick(min, self.length_min, other.length_min)
        merged.length_max = _pick(max, self.length_max, other.length_max)
        if merged.kll is not None:
            merged.kll.merge(other.kll)
        if merged.frequent is not None:
            merged.frequent.merge(other.frequent)
        if self.hll is not None:
            union = ds.hll_union(HLL_LG_K)
            union.update(self.hll)
            union.update(other.hll)
            merged.hll = union.get_result(ds.tgt_hll_type.HLL_4)
        return merged

    # --- reading --------------------------------------------------------------------

    def _update(self, array: pa.Array) -> None:
        """Add one batch's worth of the column."""
        if self.family == "other":
            self.nulls += array.null_count
            self.count += len(array) - array.null_count
            return
        if pa.types.is_dictionary(array.type) and self.family != "string":
            array = array.dictionary_decode()
        if pa.types.is_string_view(array.type):  # few compute kernels take views yet
            array = array.cast(pa.large_string())
        self.nulls += array.null_count
        if array.null_count:
            array = array.drop_null()
        if len(array) == 0:
            return
        with np.errstate(over="ignore", invalid="ignore"):
            if self.family == "boolean":
                self.count += len(array)
                self.trues += pc.sum(array).as_py() or 0
            elif self.family == "string":
                self._update_strings(array)
            else:
                self._update_numbers(array)
        self._batches += 1

    def _update_numbers(self, array: pa.Array) -> None:
        values = _as_numpy(array)
        if values.dtype.kind == "f":
            missing = np.isnan(values)
            if missing.any():
                self.nan += int(missing.sum())
                values = values[~missing]
        self.count += len(values)
        if len(values) == 0:
            return
        self.min = _pick(min, self.min, values.min().item())
        self.max = _pick(max, self.max, values.max().item())
        finite = values
        if values.dtype.kind == "f":
            infinite = np.isinf(values)
            if infinite.any():
                self.pos_inf += int((values[infinite] > 0).sum())
                self.neg_inf += int((values[infinite] < 0).sum())
                finite = values[~infinite]
        if len(finite):
            # KLL takes only writable float64 arrays; Arrow's zero-copy views are read-only
            finite = finite.astype(np.float64, copy=not finite.flags.writeable)
            mean = float(finite.mean())
            deviations = finite - mean
            self.moments = _combine(
                self.moments, (len(finite), mean, float(np.square(deviations).sum()))
            )
            self.kll.update(finite)
        self._update_hll(values)

    def _update_hll(self, values: np.ndarray) -> None:
        """Feed HLL each value once per batch when duplicates abound, else all of them.

        HLL does not change on a value it has seen, so both give the same sketch; the
        unique pass only pays off when it removes many of the one-at-a-time updates.
        """
        probe = self._batches % _DEDUPE_PROBE_EVERY == 0
        if self._dedupe or probe:
            unique = pc.unique(pa.array(values)).to_numpy(zero_copy_only=False)
            self._dedupe = len(unique) <= _DEDUPE_MAX_RATIO * len(values)
            values = unique
        if values.dtype == np.uint64:
            values = values.view(np.int64)  # same distinctness, within HLL's int64 update
        for _ in map(self.hll.update, values.tolist()):
            pass

    def _update_strings(self, array: pa.Array) -> None:
        counted = pc.value_counts(array)
        values, counts = counted.field(0), counted.field(1)
        if pa.types.is_dictionary(values.type):
            values = values.dictionary_decode()
        if pa.types.is_string_view(values.type):
            values = values.cast(pa.large_string())
        if values.null_count:  # a dictionary can hold nulls among its values
            valid = values.is_valid()
            self.nulls += pc.sum(counts.filter(pc.invert(valid))).as_py()
            values, counts = values.filter(valid), counts.filter(valid)
            if len(values) == 0:
                return
        self.count += pc.sum(counts).as_py()
        lengths = pc.utf8_length(values).to_numpy().astype(np.float64)
        weights = counts.to_numpy().astype(np.float64)
        mean = float((lengths * weights).sum() / weights.sum())
        deviations = lengths - mean
        m2 = float((np.square(deviations) * weights).sum())
        self.lengths = _combine(self.lengths, (int(weights.sum()), mean, m2))
        self.empty += int(weights[lengths == 0].sum())
        self.length_min = _pick(min, self.length_min, int(lengths.min()))
        self.length_max = _pick(max, self.length_max, int(lengths.max()))
        items = values.to_pylist()
        for _ in map(self.frequent.update, items, counts.to_pylist()):
            pass
        for _ in map(self.hll.update, items):
            pass

    def _as_value(self, number: float) -> float | int:
        """A sketch's double in the column's terms: integers stay integers, within range."""
        if not self.integer:
            return number
        return min(max(round(number), self.min), self.max)

    # --- presenting -----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary (no NaN or inf floats: those appear as strings)."""
        numeric = self.family in ("numeric", "datetime")
        quantiles = self.quantiles() if numeric else None
        histogram = self.histogram() if numeric else None
        top = self.top(20) if self.family in ("string", "boolean") else None
        std = self.std
        if std is not None and self.family == "datetime":
            std = std * _SECONDS_PER_UNIT[self.unit or "s"]
        summary: dict[str, Any] = {
            "kind": self.kind,
            "arrow_type": self.arrow_type,
            "count": self.count,
            "nulls": self.nulls,
            "nan": self.nan,
            "infinite": self.infinite,
            "empty": self.empty if self.family == "string" else None,
            "null_rate": self.null_rate,
            "distinct": self.distinct(),
            "mean": self.display(self.mean) if self.family != "boolean" else self.mean,
            "std": _json_number(std),
            "min": self.display(self.min),
            "max": self.display(self.max),
            "quantiles": None,
            "histogram": None,
            "top": None,
            "top_error": self.top_error() if self.family == "string" else None,
            "length": None,
        }
        if quantiles is not None:
            summary["quantiles"] = {
                f"p{round(q * 100)}": self.display(v)
                for q, v in zip(QUANTILES, quantiles, strict=True)
            }
        if histogram is not None:
            summary["histogram"] = {
                "edges": [self.display(e, exact=False) for e in histogram.edges],
                "counts": histogram.counts,
            }
        if top is not None:
            summary["top"] = [{"value": value, "count": count} for value, count in top]
        if self.family == "string" and self.lengths[0]:
            n, mean, m2 = self.lengths
            summary["length"] = {
                "min": self.length_min,
                "max": self.length_max,
                "mean": mean,
                "std": math.sqrt(m2 / (n - 1)) if n > 1 else None,
            }
        return summary

    def display(self, value: float | None, *, exact: bool = True) -> Any:
        """A number in the column's units as :meth:`to_dict` shows it.

        Datetimes become ISO-8601 (``exact=False`` rounds a fractional epoch count down,
        for histogram edges), inf and NaN become ``"inf"``, ``"-inf"`` and ``"nan"``.
        """
        if value is None:
            return None
        if self.family != "datetime":
            return _json_number(value)
        epoch = value if exact else math.floor(value)
        if self.min is not None:  # a double near the int64 limits may round past them
            epoch = min(max(epoch, self.min), self.max)
        return _iso(epoch, self.unit, self.tz, self.is_date)

    def __repr__(self) -> str:
        return (
            f"ColumnProfile({self.name!r}, kind={self.kind!r}, count={self.count}, "
            f"nulls={self.nulls})"
        )


class DatasetProfile:
    """Profiles of every column of a table, in the table's column order."""

    def __init__(self, rows: int, columns: dict[str, ColumnProfile]) -> None:
        self.rows = rows
        self.columns = columns

    @property
    def missing_cells(self) -> int:
        """Null or NaN cells over all columns."""
        return sum(column.nulls + column.nan for column in self.columns.values())

    def merge(self, other: DatasetProfile) -> DatasetProfile:
        """A profile of both tables' rows, as if they had been profiled as one.

        Both must have the same columns (names, order and Arrow types).
        """
        mine = [(name, column.arrow_type) for name, column in self.columns.items()]
        theirs = [(name, column.arrow_type) for name, column in other.columns.items()]
        if mine != theirs:
            raise InvalidInput(
                f"cannot merge profiles with different columns: {_column_difference(mine, theirs)}",
                hint="profile tables of one schema; cast or select columns first",
            )
        columns = {name: column.merge(other.columns[name]) for name, column in self.columns.items()}
        return DatasetProfile(self.rows + other.rows, columns)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary: rows, columns, missing cells and each column's figures."""
        return {
            "rows": self.rows,
            "missing_cells": self.missing_cells,
            "columns": {name: column.to_dict() for name, column in self.columns.items()},
        }

    def to_bytes(self) -> bytes:
        """A compact, versioned image with the sketches in it; see :meth:`from_bytes`.

        Layout: ``b"LOOPMLDP"``, format version (uint16, big-endian), header length
        (uint32), a UTF-8 JSON header, the sketches' own serializations one after the
        other, and a 16-byte BLAKE2b digest of everything before it.
        """
        header: dict[str, Any] = {"rows": self.rows, "columns": []}
        blobs: list[bytes] = []
        for column in self.columns.values():
            state = {field: getattr(column, field) for field in _STATE}
            sketches = {}
            for name in _SKETCHES_OF.get(column.family, ()):
                blobs.append(_serialize(getattr(column, name)))
                sketches[name] = len(blobs[-1])
            header["columns"].append({**state, "sketches": sketches})
        encoded = json.dumps(header, separators=(",", ":")).encode()
        body = _PREFIX.pack(_MAGIC, FORMAT_VERSION, len(encoded)) + encoded + b"".join(blobs)
        return body + hashlib.blake2b(body, digest_size=_DIGEST_SIZE).digest()

    @classmethod
    def from_bytes(cls, data: bytes) -> DatasetProfile:
        """Read what :meth:`to_bytes` wrote; anything else raises :class:`InvalidInput`."""
        data = bytes(data)
        if len(data) < _PREFIX.size + _DIGEST_SIZE or not data.startswith(_MAGIC):
            raise InvalidInput(
                "these bytes are not a loopml dataset profile",
                hint="pass what DatasetProfile.to_bytes() returned",
            )
        _, version, header_length = _PREFIX.unpack_from(data)
        if version != FORMAT_VERSION:
            newer = version > FORMAT_VERSION
            raise InvalidInput(
                f"dataset profile format {version} is {'newer than' if newer else 'not'} "
                f"what this loopml reads ({FORMAT_VERSION})",
                hint="upgrade loopml" if newer else None,
            )
        body, digest = data[:-_DIGEST_SIZE], data[-_DIGEST_SIZE:]
        if hashlib.blake2b(body, digest_size=_DIGEST_SIZE).digest() != digest:
            raise InvalidInput("dataset profile is corrupt: its checksum does not match")
        try:
            return _decode(body, _PREFIX.size, header_length)
        except (ValueError, TypeError, KeyError, IndexError, RuntimeError) as error:
            raise InvalidInput(f"dataset profile is corrupt: {error}") from error

    def to_html(self, title: str = "Dataset profile") -> str:
        """A self-contained HTML report (plotly.js inlined once, works offline)."""
        from .profile_report import profile_html

        return profile_html(self, title=title)

    def save_html(self, path: str | os.PathLike[str], title: str = "Dataset profile") -> None:
        """Write :meth:`to_html` to ``path`` as UTF-8."""
        Path(path).write_text(self.to_html(title), encoding="utf-8")

    def __repr__(self) -> str:
        return f"DatasetProfile(rows={self.rows}, columns={list(self.columns)})"


def profile_table(
    data: pa.Table | pa.RecordBatchReader | Iterable[pa.RecordBatch],
    *,
    batch_rows: int = 65_536,
) -> DatasetProfile:
    """Profile every column of ``data``, reading at most ``batch_rows`` rows at a time.

    ``data`` is a table, a record batch reader (a dataset scanner's ``to_reader()``...),
    any iterable of record batches of one schema (a Parquet file's ``iter_batches()``), or
    anything that exports an Arrow stream (``__arrow_c_stream__``: pandas and polars
    DataFrames, DuckDB results...). Memory beyond the input stays flat in the number of
    rows and grows with ``batch_rows``.
    """
    if batch_rows < 1:
        raise InvalidInput(f"batch_rows must be at least 1, got {batch_rows}")
    schema, batches = _batches_of(data, batch_rows)
    if schema is None:
        return DatasetProfile(0, {})
    names = schema.names
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InvalidInput(
            f"columns must have distinct names to be profiled; repeated: {duplicates}",
            hint="rename the columns first",
        )
    columns = [ColumnProfile(field.name, field.type) for field in schema]
    rows = 0
    for batch in batches:
        if not batch.schema.equals(schema):
            raise InvalidInput(
                "record batches must share one schema; "
                f"expected {_schema_text(schema)}, got {_schema_text(batch.schema)}"
            )
        rows += batch.num_rows
        for column, array in zip(columns, batch.columns, strict=True):
            column._update(array)
    return DatasetProfile(rows, {column.name: column for column in columns})


# --- helpers ------------------------------------------------------------------------

_COUNTERS = ("count", "nulls", "nan", "neg_inf", "pos_inf", "trues", "empty")
_STATE = (
    *("name", "arrow_type", "family", "integer", "unit", "tz", "is_date"),
    *_COUNTERS,
    *("min", "max", "moments", "lengths", "length_min", "length_max"),
)
_SKETCHES_OF: dict[str, tuple[str, ...]] = {  # in the order they are serialized
    "numeric": ("kll", "hll"),
    "datetime": ("kll", "hll"),
    "string": ("hll", "frequent"),
}
_SKETCH_TYPES = {
    "kll": ds.kll_doubles_sketch,
    "hll": ds.hll_sketch,
    "frequent": ds.frequent_strings_sketch,
}
_INPUT_HINT = (
    "pass a pyarrow Table, a RecordBatchReader, an iterable of RecordBatches, or a pandas "
    "or polars DataFrame (anything with __arrow_c_stream__)"
)
_FAMILIES = ("numeric", "boolean", "datetime", "string", "other")
_NO_FALSE_NEGATIVES = ds.frequent_items_error_type.NO_FALSE_NEGATIVES
_SECONDS_PER_UNIT = {"D": 86_400.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


def _family_of(value_type: pa.DataType) -> _Family:
    types = pa.types
    if types.is_boolean(value_type):
        return "boolean"
    if _is_integral(value_type) or types.is_floating(value_type) or types.is_decimal(value_type):
        return "numeric"
    if types.is_timestamp(value_type) or types.is_date(value_type):
        return "datetime"
    strings = (types.is_string, types.is_large_string, types.is_string_view)
    return "string" if any(is_string(value_type) for is_string in strings) else "other"


def _is_integral(value_type: pa.DataType) -> bool:
    types = pa.types
    return (
        types.is_integer(value_type) or types.is_duration(value_type) or types.is_time(value_type)
    )


def _time_unit(value_type: pa.DataType) -> tuple[str | None, str | None, bool]:
    """(unit, time zone, is a date) of a timestamp or date type."""
    if pa.types.is_timestamp(value_type):
        return value_type.unit, value_type.tz, False
    if pa.types.is_date32(value_type):
        return "D", None, True
    if pa.types.is_date64(value_type):
        return "ms", None, True
    return None, None, False


def _as_numpy(array: pa.Array) -> np.ndarray:
    """A null-free numeric, temporal or decimal array as NumPy numbers (integers stay exact)."""
    kind = array.type
    if pa.types.is_decimal(kind):
        return array.cast(pa.float64()).to_numpy()
    if pa.types.is_temporal(kind):
        width = pa.int32() if kind.bit_width == 32 else pa.int64()
        return array.view(width).to_numpy().astype(np.int64, copy=False)
    values = array.to_numpy(zero_copy_only=False)
    return values.astype(np.float32) if values.dtype == np.float16 else values


def _combine(a: tuple[int, float, float], b: tuple[int, float, float]) -> tuple[int, float, float]:
    """Chan et al.'s parallel combination of (count, mean, sum of squared deviations)."""
    na, mean_a, m2_a = a
    nb, mean_b, m2_b = b
    if nb == 0:
        return a
    if na == 0:
        return b
    n = na + nb
    delta = mean_b - mean_a
    with np.errstate(over="ignore", invalid="ignore"):
        return (n, mean_a + delta * nb / n, m2_a + m2_b + delta * delta * (na * nb / n))


def _pick(choose: Any, a: Any, b: Any) -> Any:
    """``choose(a, b)``, where None means "nothing yet"."""
    if a is None:
        return b
    if b is None:
        return a
    return choose(a, b)


def _copy(column: ColumnProfile) -> ColumnProfile:
    copy = ColumnProfile.__new__(ColumnProfile)
    copy.__dict__.update(column.__dict__)
    for name in _SKETCHES_OF.get(column.family, ()):
        setattr(copy, name, _SKETCH_TYPES[name].deserialize(_serialize(getattr(column, name))))
    return copy


def _serialize(sketch: Any) -> bytes:
    return sketch.serialize_compact() if isinstance(sketch, ds.hll_sketch) else sketch.serialize()


def _decode(body: bytes, start: int, header_length: int) -> DatasetProfile:
    header = json.loads(body[start : start + header_length].decode())
    offset = start + header_length
    columns: dict[str, ColumnProfile] = {}
    for state in header["columns"]:
        if state["family"] not in _FAMILIES:
            raise ValueError(f"unknown column family {state['family']!r}")
        column = ColumnProfile.__new__(ColumnProfile)
        column.__dict__.update({field: state[field] for field in _STATE})
        column.moments, column.lengths = tuple(state["moments"]), tuple(state["lengths"])
        column.kll = column.hll = column.frequent = None
        if list(state["sketches"]) != list(_SKETCHES_OF.get(column.family, ())):
            raise ValueError(f"column {column.name!r} has sketches {list(state['sketches'])}")
        for name, length in state["sketches"].items():
            blob = body[offset : offset + length]
            if len(blob) != length:
                raise ValueError("sketch data ends early")
            offset += length
            setattr(column, name, _SKETCH_TYPES[name].deserialize(blob))
        columns[column.name] = column
    if offset != len(body):
        raise ValueError(f"{len(body) - offset} bytes left over after the sketches")
    return DatasetProfile(int(header["rows"]), columns)


def _batches_of(
    data: pa.Table | pa.RecordBatchReader | Iterable[pa.RecordBatch], batch_rows: int
) -> tuple[pa.Schema | None, Iterator[pa.RecordBatch]]:
    """The schema and a stream of batches of at most ``batch_rows`` rows."""
    if isinstance(data, pa.Table):
        return data.schema, iter(data.to_batches(max_chunksize=batch_rows))
    if isinstance(data, pa.RecordBatch):
        data = [data]
    elif hasattr(data, "__arrow_c_stream__") and not isinstance(data, pa.RecordBatchReader):
        data = pa.RecordBatchReader.from_stream(data)  # polars, DuckDB, ... without a copy
    if isinstance(data, pa.RecordBatchReader):
        schema, source = data.schema, iter(data)
    elif isinstance(data, Iterable) and not isinstance(data, str | bytes | Mapping):
        source = iter(data)
        first = next(source, None)
        if first is None:
            return None, iter(())
        if not isinstance(first, pa.RecordBatch):
            raise InvalidInput(
                f"expected record batches, got a {type(first).__name__}", hint=_INPUT_HINT
            )
        schema, source = first.schema, _chain(first, source)
    else:
        raise InvalidInput(f"cannot profile a {type(data).__name__}", hint=_INPUT_HINT)
    return schema, _sliced(source, batch_rows)


def _chain(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    for batch in rest:
        if not isinstance(batch, pa.RecordBatch):
            raise InvalidInput(
                f"expected record batches, got a {type(batch).__name__}", hint=_INPUT_HINT
            )
        yield batch


def _sliced(batches: Iterator[pa.RecordBatch], batch_rows: int) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        for start in range(0, batch.num_rows, batch_rows):
            yield batch.slice(start, batch_rows)


def _schema_text(schema: pa.Schema) -> str:
    return ", ".join(f"{field.name}: {field.type}" for field in schema)


def _column_difference(mine: list[tuple[str, str]], theirs: list[tuple[str, str]]) -> str:
    """Name what differs between two column lists: missing, extra, retyped or reordered."""
    left, right = dict(mine), dict(theirs)
    parts = []
    if only_left := [name for name in left if name not in right]:
        parts.append(f"only in the first: {only_left}")
    if only_right := [name for name in right if name not in left]:
        parts.append(f"only in the second: {only_right}")
    if retyped := [
        f"{n} ({left[n]} vs {right[n]})" for n in left if n in right and left[n] != right[n]
    ]:
        parts.append(f"different types: {', '.join(retyped)}")
    if not parts:
        parts.append(f"same columns in another order: {list(left)} vs {list(right)}")
    return "; ".join(parts)


def _json_number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def _iso(value: float | int, unit: str | None, tz: str | None, is_date: bool) -> str:
    """An epoch count in ``unit`` as ISO-8601 (UTC with ``Z`` for zoned timestamps)."""
    moment = np.datetime64(int(value), unit or "s")
    if is_date:
        return str(moment.astype("datetime64[D]"))
    text = str(np.datetime_as_string(moment, timezone="naive"))
    if "." in text:  # whole seconds read better without ".000000000"
        text = text.rstrip("0").rstrip(".")
    return text + "Z" if tz else text
