"""Dataset names and references: ``customers``, ``customers@3``, ``customers@latest``,
``customers@gold`` (a tag)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InvalidInput

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
_NAME_RULE = "letters, digits, '_', '-', '.'; starting with a letter or digit; at most 128"


@dataclass(frozen=True)
class DatasetRef:
    name: str
    version: int | None = None
    """A version number, or None for the latest (or for ``tag``)."""
    tag: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}@{self.version}"
        return f"{self.name}@{self.tag}" if self.tag else self.name


def check_dataset_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput(f"dataset name {name!r} is not allowed", hint=_NAME_RULE)
    return name


def check_tag(tag: object) -> str:
    if not isinstance(tag, str) or not _NAME.match(tag) or tag.isdigit() or tag == "latest":
        raise InvalidInput(
            f"tag {tag!r} is not allowed",
            hint="a tag is a name (not a number, not 'latest'): " + _NAME_RULE,
        )
    return tag


def parse_ref(text: object) -> DatasetRef:
    """``NAME``, ``NAME@3``, ``NAME@v3``, ``NAME@latest`` or ``NAME@TAG``."""
    if not isinstance(text, str):
        raise InvalidInput(f"dataset reference must be a string, got {type(text).__name__}")
    name, at, selector = text.partition("@")
    check_dataset_name(name)
    if not at or selector == "latest":
        return DatasetRef(name)
    if not selector:
        raise InvalidInput(f"'{text}' has nothing after '@'", hint="use NAME@3 or NAME@TAG")
    number = selector[1:] if selector[:1] in ("v", "V") and selector[1:].isdigit() else selector
    if number.isdigit():
        if int(number) < 1:
            raise InvalidInput(f"'{text}': versions start at 1")
        return DatasetRef(name, version=int(number))
    return DatasetRef(name, tag=check_tag(selector))
