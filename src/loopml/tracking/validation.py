"""Checks at the tracking boundary: keys, names and values are refused before anything is written.

Policy for metric values (documented in docs/tracking.md): any real number is accepted,
including numpy scalars and 0-d tensors; ``NaN`` and ``±inf`` are accepted and stored as
they are, because a diverging loss is a fact worth keeping; booleans, strings, ``None`` and
containers are refused with an error naming the key.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from typing import Any

from ..errors import InvalidInput
from ..store.schema import KEY_LENGTH, NAME_LENGTH

PARAM_VALUE_LENGTH = 6000
TAG_VALUE_LENGTH = 8000
INT64_MAX = 2**63 - 1
_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_\-. :/]+$")
_KEY_RULE = "letters, digits, and _ - . : / or space"


def check_key(key: Any, kind: str) -> str:
    """Return ``key`` if it is a valid metric/param/tag key, else raise :class:`InvalidInput`."""
    if not isinstance(key, str):
        raise InvalidInput(f"{kind} key must be a string, got {type(key).__name__} {key!r}")
    if not key or key.strip() != key:
        raise InvalidInput(
            f"{kind} key {key!r} is empty or has leading/trailing spaces", hint=_KEY_RULE
        )
    if len(key) > KEY_LENGTH:
        raise InvalidInput(
            f"{kind} key '{key[:40]}…' is {len(key)} characters; the limit is {KEY_LENGTH}"
        )
    if not _KEY_PATTERN.match(key) or ".." in key.split("/") or key.startswith("/"):
        raise InvalidInput(
            f"{kind} key {key!r} has characters that are not allowed", hint=_KEY_RULE
        )
    return key


def check_name(name: Any, kind: str) -> str:
    """Experiment and run names: any printable text up to the column length."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"{kind} name must be a non-empty string, got {name!r}")
    if len(name) > NAME_LENGTH:
        raise InvalidInput(f"{kind} name is {len(name)} characters; the limit is {NAME_LENGTH}")
    if any(ord(ch) < 32 for ch in name):
        raise InvalidInput(f"{kind} name {name!r} contains a control character")
    return name


def metric_value(key: str, value: Any) -> float:
    """Convert a metric value to float following the policy above."""
    kind = type(value)
    if kind is float:  # the hot path: checked by exact type before any ABC machinery
        return value
    if kind is int:
        return float(value)
    if isinstance(value, bool) or value is None or isinstance(value, str | bytes):
        raise InvalidInput(
            f"metric '{key}' must be a number, got {type(value).__name__} {value!r}",
            hint="log a number (NaN and inf are kept); log text as a param or tag",
        )
    if isinstance(value, numbers.Real):
        return float(value)
    if hasattr(value, "__float__") and getattr(value, "ndim", 0) == 0:
        try:
            return float(value)
        except (TypeError, ValueError):
            pass
    raise InvalidInput(
        f"metric '{key}' must be a number, got {type(value).__name__}",
        hint="pass a single number; log arrays one step at a time",
    )


def metric_step(key: str, step: Any) -> int:
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise InvalidInput(f"step of metric '{key}' must be an integer, got {step!r}")
    step = int(step)
    if not -INT64_MAX <= step <= INT64_MAX:
        raise InvalidInput(f"step of metric '{key}' is out of range: {step}")
    return step


def metric_timestamp(key: str, timestamp: Any) -> int:
    if isinstance(timestamp, bool) or not isinstance(timestamp, numbers.Integral):
        raise InvalidInput(
            f"timestamp of metric '{key}' must be integer milliseconds since the epoch, "
            f"got {timestamp!r}"
        )
    timestamp = int(timestamp)
    if not 0 <= timestamp <= INT64_MAX:
        raise InvalidInput(f"timestamp of metric '{key}' is out of range: {timestamp}")
    return timestamp


def param_text(key: str, value: Any) -> str:
    text = _text(value, f"param '{key}'")
    if len(text) > PARAM_VALUE_LENGTH:
        raise InvalidInput(
            f"param '{key}' value is {len(text)} characters; the limit is {PARAM_VALUE_LENGTH}",
            hint="log long values as an artifact with log_dict or log_text",
        )
    return text


def param_number(value: Any, text: str) -> float | None:
    """The numeric reading of a param value, for numeric filters; None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):
        number = float(value)
    else:
        try:
            number = float(text)
        except ValueError:
            return None
    return number if math.isfinite(number) else None


def tag_text(key: str, value: Any) -> str:
    text = _text(value, f"tag '{key}'")
    if len(text) > TAG_VALUE_LENGTH:
        raise InvalidInput(
            f"tag '{key}' value is {len(text)} characters; the limit is {TAG_VALUE_LENGTH}"
        )
    return text


def check_description(text: Any, kind: str) -> str | None:
    """Free text attached to an experiment or run (None allowed)."""
    return None if text is None else _text(text, f"{kind} description")


def _text(value: Any, what: str) -> str:
    text = value if isinstance(value, str) else str(value)
    if "\x00" in text:
        # PostgreSQL cannot store NUL in text, SQLite can: refuse it on both.
        raise InvalidInput(f"{what} contains a NUL character", hint="remove it from the value")
    return text


def check_mapping(values: Any, kind: str) -> Mapping[str, Any]:
    if not isinstance(values, Mapping):
        raise InvalidInput(f"{kind} must be a mapping of key to value, got {type(values).__name__}")
    return values
