"""The drift benchmark's data: 20 columns from one seeded generator, written to Parquet
chunk by chunk.

15 numeric columns (normal, lognormal, exponential, counts, integers, bimodal, uniform)
and 5 categorical ones (strings, 3 to 30 levels with Zipf-like shares). Three sets are
drawn per size, each from its own seed:

- ``reference`` and ``current``: the same distributions (no drift);
- ``shifted``: ``current`` with 7 columns moved, each by about half a standard deviation
  or a scale of 1.5 for numbers, and by moved shares for categories.

A set is generated and written ``CHUNK_ROWS`` rows at a time (one Parquet row group per
chunk), so 10 million rows never sit in memory at once. ``drift.py`` runs this in loopml's
venv; the workers only read the files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SEED = 20261204
CHUNK_ROWS = 250_000
SETS = ("reference", "current", "shifted")


@dataclass(frozen=True)
class Column:
    """One column: how to draw ``rows`` values, and how the shifted set moves it."""

    name: str
    kind: str  # numeric | categorical
    draw: Callable[[np.random.Generator, int, bool], Any]
    shift: str = ""  # what moves in the shifted set ("" for nothing)


def _zipf_shares(levels: int, power: float = 0.8) -> np.ndarray:
    weights = 1 / np.arange(1, levels + 1) ** power
    return weights / weights.sum()


def _normal(mean: float, std: float, shift: bool = False) -> Callable[..., Any]:
    def draw(rng: np.random.Generator, rows: int, shifted: bool) -> np.ndarray:
        moved = mean + (0.5 * std if shift and shifted else 0.0)
        return rng.normal(moved, std, rows)

    return draw


def _lognormal(sigma: float, scale: float, shift: bool = False) -> Callable[..., Any]:
    def draw(rng: np.random.Generator, rows: int, shifted: bool) -> np.ndarray:
        values = rng.lognormal(0.0, sigma, rows) * scale
        return values * 1.5 if shift and shifted else values

    return draw


def _exponential(scale: float, shift: bool = False) -> Callable[..., Any]:
    def draw(rng: np.random.Generator, rows: int, shifted: bool) -> np.ndarray:
        return rng.exponential(scale * (1.5 if shift and shifted else 1.0), rows)

    return draw


def _poisson(lam: float, shift: bool = False) -> Callable[..., Any]:
    def draw(rng: np.random.Generator, rows: int, shifted: bool) -> np.ndarray:
        moved = lam + (0.5 * lam**0.5 if shift and shifted else 0.0)  # mean + 0.5 std
        return rng.poisson(moved, rows).astype(np.int64)

    return draw


def _negative_binomial(n: int, p: float) -> Callable[..., Any]:
    def draw(rng: np.random.Generator, rows: int, shifted: bool) -> np.ndarray:
        return rng.negative_binomial(n, p, rows).astype(np.int64)

    return draw


def _integers(low: int, high: int) -> Callable[..., Any]:
    def draw(rng: np.random.Generator, rows: int, shifted: bool) -> np.ndarray:
        return rng.integers(low, high, rows, endpoint=True, dtype=np.int64)

    return draw


def _bimodal(
    low: float, high: float, std: float, share_high: float, shift: bool = False
) -> Callable[..., Any]:
    # the mixture's standard deviation, for a shift of half of it
    spread = (std**2 + share_high * (1 - share_high) * (high - low) ** 2) ** 0.5

    def draw(rng: np.random.Generator, rows: int, shifted: bool) -> np.ndarray:
        centres = np.where(rng.random(rows) < share_high, high, low)
        values = rng.normal(centres, std)
        return values + 0.5 * spread if shift and shifted else values

    return draw


def _uniform(low: float, high: float) -> Callable[..., Any]:
    def draw(rng: np.random.Generator, rows: int, shifted: bool) -> np.ndarray:
        return rng.uniform(low, high, rows)

    return draw


def _categories(prefix: str, levels: int, moved: np.ndarray | None = None) -> Callable[..., Any]:
    labels = pa.array([f"{prefix}_{i:02d}" for i in range(levels)], type=pa.string())
    shares = _zipf_shares(levels)

    def draw(rng: np.random.Generator, rows: int, shifted: bool) -> pa.Array:
        p = moved if moved is not None and shifted else shares
        codes = rng.choice(levels, size=rows, p=p).astype(np.int32)
        # plain strings, as a CSV or an ordinary Parquet file holds them (no dictionary
        # type, which pandas would read as a category dtype)
        return pa.DictionaryArray.from_arrays(pa.array(codes), labels).dictionary_decode()

    return draw


def _reversed_shares(levels: int) -> np.ndarray:
    """The Zipf shares in the opposite order: the rarest level becomes the commonest."""
    return _zipf_shares(levels)[::-1].copy()


def _moved_top(levels: int, moved: float) -> np.ndarray:
    """``moved`` of the total share taken from the commonest level and spread evenly
    over the others."""
    shares = _zipf_shares(levels).copy()
    shares[0] -= moved
    shares[1:] += moved / (levels - 1)
    return shares


COLUMNS: tuple[Column, ...] = (
    Column("normal_0", "numeric", _normal(50.0, 10.0, shift=True), "mean + 0.5 std"),
    Column("normal_1", "numeric", _normal(0.0, 1.0)),
    Column("normal_2", "numeric", _normal(-3.0, 0.25)),
    Column("normal_3", "numeric", _normal(1000.0, 150.0)),
    Column("lognormal_0", "numeric", _lognormal(1.0, 30_000.0, shift=True), "scale x1.5"),
    Column("lognormal_1", "numeric", _lognormal(0.5, 120.0)),
    Column("exponential_0", "numeric", _exponential(3.0)),
    Column("exponential_1", "numeric", _exponential(45.0, shift=True), "scale x1.5"),
    Column("count_0", "numeric", _poisson(3.0)),
    Column("count_1", "numeric", _poisson(12.0, shift=True), "mean + 0.5 std"),
    Column("count_2", "numeric", _negative_binomial(2, 0.15)),
    Column("integer_0", "numeric", _integers(18, 90)),
    Column("bimodal_0", "numeric", _bimodal(-2.0, 2.0, 0.7, 0.4, shift=True), "mean + 0.5 std"),
    Column("bimodal_1", "numeric", _bimodal(10.0, 25.0, 2.0, 0.25)),
    Column("uniform_0", "numeric", _uniform(0.0, 1.0)),
    Column("cat_3", "categorical", _categories("tier", 3)),
    Column(
        "cat_5",
        "categorical",
        _categories("plan", 5, _reversed_shares(5)),
        "shares reversed",
    ),
    Column("cat_8", "categorical", _categories("channel", 8)),
    Column(
        "cat_12",
        "categorical",
        _categories("region", 12, _moved_top(12, 0.15)),
        "15% of rows moved off the commonest level",
    ),
    Column("cat_30", "categorical", _categories("product", 30)),
)
NUMERIC = [c.name for c in COLUMNS if c.kind == "numeric"]
CATEGORICAL = [c.name for c in COLUMNS if c.kind == "categorical"]
SHIFTED = [c.name for c in COLUMNS if c.shift]


def chunk(set_name: str, index: int, rows: int) -> pa.Table:
    """Rows ``index * CHUNK_ROWS`` onwards of ``set_name``, the same on every run: each
    (set, chunk) pair has its own seed, so a chunk never depends on how many came before."""
    key = (SETS.index(set_name), index)
    rng = np.random.default_rng([SEED, *key])
    shifted = set_name == "shifted"
    arrays = {column.name: column.draw(rng, rows, shifted) for column in COLUMNS}
    return pa.table(arrays)


def write_set(set_name: str, rows: int, path: Path, on_chunk: Callable[[], None]) -> int:
    """Write ``rows`` rows of ``set_name`` to the Parquet file ``path``: its size in bytes."""
    writer = None
    try:
        for index, start in enumerate(range(0, rows, CHUNK_ROWS)):
            table = chunk(set_name, index, min(CHUNK_ROWS, rows - start))
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table, row_group_size=CHUNK_ROWS)
            on_chunk()
    finally:
        if writer is not None:
            writer.close()
    return path.stat().st_size


def chunks_of(rows: int) -> int:
    return -(-rows // CHUNK_ROWS)
