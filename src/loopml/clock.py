"""Time as loopml stores it: integer milliseconds since the Unix epoch, UTC."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def ms_to_datetime(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def format_ms(ms: int | None) -> str:
    """``2026-11-26 11:02:03`` in UTC, or an empty string for None."""
    moment = ms_to_datetime(ms)
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")
