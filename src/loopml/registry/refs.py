"""Model names, aliases and references: ``churn``, ``churn@champion``, ``churn/7``,
``models:/churn@champion``, ``models:/churn/7``, and run outputs ``runs:/<run id>/model``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InvalidInput

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,255}$")
_ALIAS = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,62}$")
RESERVED_ALIASES = frozenset({"latest"})


@dataclass(frozen=True)
class ModelRef:
    """A registered model version named by number, alias, or ``latest`` (neither given)."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.alias:
            return f"{self.name}@{self.alias}"
        return f"{self.name}/{self.version}" if self.version else self.name


@dataclass(frozen=True)
class RunRef:
    """A model logged in a run: ``runs:/<run id>/<artifact path>``."""

    run_id: str
    path: str


def check_model_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInput(
            f"invalid model name {name!r}",
            hint="use letters, digits, '_', '.' and '-', starting with a letter or digit",
        )
    return name


def check_alias(alias: object) -> str:
    if not isinstance(alias, str) or not _ALIAS.fullmatch(alias):
        raise InvalidInput(
            f"invalid alias {alias!r}",
            hint="an alias starts with a letter and holds letters, digits, '_' and '-' "
            "(at most 63 characters), e.g. champion",
        )
    if alias.lower() in RESERVED_ALIASES:
        raise InvalidInput(f"'{alias}' is reserved", hint="it always means the newest version")
    return alias


def is_model_reference(text: str) -> bool:
    """Whether ``text`` looks like a registry or run reference rather than a folder path."""
    if text.startswith(("models:/", "runs:/")):
        return True
    head, sep, tail = text.partition("@")
    if sep:
        return bool(_NAME.fullmatch(head)) and bool(_ALIAS.fullmatch(tail))
    head, sep, tail = text.partition("/")
    return bool(sep) and bool(_NAME.fullmatch(head)) and bool(re.fullmatch(r"[0-9]{1,9}", tail))


def parse_model_ref(text: object) -> ModelRef | RunRef:
    """Parse a model reference; raises :class:`InvalidInput` naming the accepted forms."""
    if not isinstance(text, str) or not text:
        raise InvalidInput(f"invalid model reference {text!r}", hint=_FORMS)
    if text.startswith("runs:/"):
        run_id, _, path = text[len("runs:/") :].partition("/")
        if not run_id:
            raise InvalidInput(f"invalid run reference {text!r}", hint="runs:/<run id>/model")
        return RunRef(run_id, path.strip("/") or "model")
    body = text[len("models:/") :] if text.startswith("models:/") else text
    if "@" in body:
        name, _, alias = body.partition("@")
        check_model_name(name)
        if alias == "latest":
            return ModelRef(name)
        return ModelRef(name, alias=check_alias(alias))
    name, sep, number = body.partition("/")
    check_model_name(name)
    if not sep:
        return ModelRef(name)
    if number == "latest":
        return ModelRef(name)
    if not re.fullmatch(r"[0-9]{1,9}", number) or int(number) < 1:
        raise InvalidInput(f"invalid model version {number!r} in {text!r}", hint=_FORMS)
    return ModelRef(name, version=int(number))


_FORMS = "use models:/NAME@ALIAS, models:/NAME/VERSION, NAME@ALIAS, NAME/VERSION or runs:/RUN/PATH"
