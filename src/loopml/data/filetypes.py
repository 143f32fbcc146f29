"""Which files are tables, by their name (no file is opened, nothing heavy imported)."""

from __future__ import annotations

from pathlib import Path

TABLE_SUFFIXES: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


def table_format(path: str | Path) -> str | None:
    """``csv``, ``parquet`` or ``jsonl`` from the file name, or None for other files."""
    return TABLE_SUFFIXES.get(Path(path).suffix.lower())
