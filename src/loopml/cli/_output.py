"""How the CLI prints: Rich tables for people, ``--json`` for scripts, one-line errors."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

# Output going to a pipe or file is never truncated or wrapped (scripts parse it), so
# only a terminal's width applies. Markup is off: run names, params and tags are the
# user's text and print as written ("x[/]y" is not a style); colour goes through Text.
_UNBOUNDED = 100_000
console = Console(markup=False, width=None if sys.stdout.isatty() else _UNBOUNDED)
err_console = Console(
    stderr=True,
    markup=False,
    highlight=False,
    width=None if sys.stderr.isatty() else _UNBOUNDED,
)


def styled(text: str, style: str) -> Text:
    return Text(text, style=style)


def print_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout (NaN and infinities as null, times as numbers)."""
    sys.stdout.write(json.dumps(_finite(data), indent=2, default=str, ensure_ascii=False) + "\n")


def table(*columns: str, title: str | None = None) -> Table:
    result = Table(*columns, title=title, title_justify="left", show_edge=False, pad_edge=False)
    return result


def fmt_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.6g}"
    return str(value)


def fmt_duration(ms: int | None) -> str:
    if ms is None:
        return ""
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
