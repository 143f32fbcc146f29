"""Which files are tables, by their name (no file is opened, nothing heavy imported)."""

from __future__ import annotations

from pathlib import Path

TABLE_SUFFIXES: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


def table_format(path: str | Path) -> str | None:
    """``csv``, ``tsv``, ``parquet`` or ``jsonl`` from the file name, or None for others."""
    return TABLE_SUFFIXES.get(Path(path).suffix.lower())
