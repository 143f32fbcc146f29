"""Query arguments of the pages, checked: a bad one is a 400 naming the argument."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from ..errors import InvalidInput

PER_PAGE = 50
MAX_PER_PAGE = 500


@dataclass(frozen=True)
class Paging:
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def text(request: Request, name: str) -> str | None:
    """The argument stripped, or None when it is absent or blank."""
    value = request.query_params.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def whole_number(
    request: Request, name: str, default: int, *, low: int = 1, high: int | None = None
) -> int:
    value = text(request, name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise InvalidInput(
            f"query argument '{name}' must be a whole number, not {value!r}",
            hint=f"e.g. {name}={default}",
        ) from None
    if number < low or (high is not None and number > high):
        bounds = f"from {low} to {high}" if high is not None else f"{low} or more"
        raise InvalidInput(f"query argument '{name}' must be {bounds}, not {number}")
    return number


def paging(request: Request, *, per_page: int = PER_PAGE) -> Paging:
    return Paging(
        whole_number(request, "page", 1),
        whole_number(request, "per_page", per_page, high=MAX_PER_PAGE),
    )


def items(request: Request, listed: str, repeated: str | None = None) -> list[str]:
    """Values given as a comma list (``runs=a,b``) and/or repeated (``run=a&run=b``)."""
    values = []
    for raw in request.query_params.getlist(listed):
        values += [part.strip() for part in raw.split(",")]
    if repeated:
        values += [value.strip() for value in request.query_params.getlist(repeated)]
    return list(dict.fromkeys(value for value in values if value))


def choice(request: Request, name: str, options: tuple[str, ...], default: str) -> str:
    value = text(request, name) or default
    if value not in options:
        raise InvalidInput(
            f"query argument '{name}' must be one of {', '.join(options)}, not {value!r}"
        )
    return value
