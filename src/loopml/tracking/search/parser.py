"""Parse run filters and order-by clauses into a small typed tree.

The language (a superset of MLflow's)::

    metrics.auc > 0.8 and params.model = 'xgb'
    (tags.team = 'growth' or tags.team = "ads") and not status = 'FAILED'
    params.lr <= 0.01 and run_name like 'base%' and metrics.loss is not null
    params.model in ('xgb', 'lgbm') and start_time > '2026-11-01'

Fields are ``metrics.KEY``, ``params.KEY``, ``tags.KEY`` (a key with spaces or other
characters goes in backticks or double quotes) or a run attribute (``status``,
``run_name``, ``run_id``, ``user``, ``experiment``, ``start_time``, ``end_time``,
``duration``, ``git_commit``, ``parent_run_id``; optionally prefixed ``attributes.``).
Keywords are case-insensitive. Lark's LALR parser gives every error a column.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

from ...errors import FilterSyntaxError

GRAMMAR = r"""
?start: or_expr
?or_expr: and_expr (_OR and_expr)*
?and_expr: not_expr (_AND not_expr)*
?not_expr: _NOT not_expr -> negation
         | atom
?atom: comparison
     | "(" or_expr ")"
comparison: field OP value                                  -> compare
          | field _NOT _IN "(" value ("," value)* ")"       -> not_in
          | field _IN "(" value ("," value)* ")"            -> in_list
          | field _IS _NOT _NULL                            -> not_null
          | field _IS _NULL                                 -> is_null
field: NAME ("." key)?
key: KEY | DQ_STRING | BQ_STRING
value: NUMBER | SQ_STRING | DQ_STRING

order_by: field DIRECTION?

OP.2: "!=" | "<>" | "<=" | ">=" | "==" | "=" | "<" | ">"
    | /(?i:not\s+ilike)\b/ | /(?i:not\s+like)\b/ | /(?i:ilike)\b/ | /(?i:like)\b/
DIRECTION.2: /(?i:asc|desc)\b/
_AND.2: /(?i:and)\b/
_OR.2: /(?i:or)\b/
_NOT.2: /(?i:not)\b/
_IN.2: /(?i:in)\b/
_IS.2: /(?i:is)\b/
_NULL.2: /(?i:null)\b/
NAME: /[A-Za-z_][A-Za-z0-9_]*/
KEY: /[A-Za-z0-9_][A-Za-z0-9_.\/:\-]*/
NUMBER: /[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/
SQ_STRING: /'(?:[^'\\]|\\.|'')*'/
DQ_STRING: /"(?:[^"\\]|\\.|"")*"/
BQ_STRING: /`[^`]*`/

%import common.WS
%ignore WS
"""

_FRIENDLY = {
    "NUMBER": "a number",
    "SQ_STRING": "a 'quoted string'",
    "DQ_STRING": 'a "quoted string"',
    "BQ_STRING": "a `quoted key`",
    "NAME": "a field such as metrics.auc or status",
    "KEY": "a key",
    "OP": "an operator (= != < <= > >= like ilike in is)",
    "DIRECTION": "asc or desc",
    "_AND": "and",
    "_OR": "or",
    "_NOT": "not",
    "_IN": "in",
    "_IS": "is",
    "_NULL": "null",
    "LPAR": "(",
    "RPAR": ")",
    "COMMA": ",",
    "DOT": ".",
    "$END": "the end of the filter",
}


@dataclass(frozen=True)
class Field:
    prefix: str | None
    """``metrics``/``params``/``tags``/``attributes`` as written, or None for a bare name."""
    name: str
    """The key (after the dot) or the bare attribute name."""
    column: int


@dataclass(frozen=True)
class Value:
    value: float | str
    column: int


@dataclass(frozen=True)
class Compare:
    field: Field
    op: str
    value: Value


@dataclass(frozen=True)
class InList:
    field: Field
    values: tuple[Value, ...]
    negated: bool


@dataclass(frozen=True)
class IsNull:
    field: Field
    negated: bool


@dataclass(frozen=True)
class And:
    items: tuple[Any, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Any, ...]


@dataclass(frozen=True)
class Not:
    item: Any


@dataclass(frozen=True)
class OrderTerm:
    field: Field
    descending: bool
    text: str = ""
    """The clause as written, for error messages."""


Condition = Compare | InList | IsNull | And | Or | Not


def parse_filter(text: str) -> Condition | None:
    """Parse a filter; an empty or blank filter means "every run" (None)."""
    if text is None or not str(text).strip():
        return None
    return _to_ast(_parse(str(text), "start"), str(text))


def parse_order_by(text: str) -> OrderTerm:
    tree = _parse(text, "order_by")
    field = _field(tree.children[0])
    direction = tree.children[1] if len(tree.children) > 1 else None
    descending = bool(direction and str(direction).lower() == "desc")
    return OrderTerm(field, descending=descending, text=text)


@functools.cache
def _parser():  # -> lark.Lark; built once, on first use, for both start symbols
    from lark import Lark

    return Lark(GRAMMAR, start=["start", "order_by"], parser="lalr", maybe_placeholders=False)


def _parse(text: str, start: str):  # -> lark.Tree
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

    what = "filter" if start == "start" else "order_by"
    try:
        return _parser().parse(text, start=start)
    except (UnexpectedToken, UnexpectedEOF) as exc:
        at_end = isinstance(exc, UnexpectedEOF) or exc.token.type == "$END"
        raise FilterSyntaxError(
            f"{what} ends too early" if at_end else f"unexpected '{exc.token}' in {what}",
            text=text,
            column=len(text) + 1 if at_end else exc.column,
            hint=f"expected {_expected(exc.expected)}",
        ) from None
    except UnexpectedCharacters as exc:
        raise FilterSyntaxError(
            f"unexpected character {text[exc.pos_in_stream]!r} in {what}",
            text=text,
            column=exc.column,
            hint="quote string values with '...' and keys with spaces with `...`",
        ) from None


def _expected(names: Any) -> str:
    friendly = sorted({_FRIENDLY.get(name, name.lower()) for name in names})
    if len(friendly) > 6:
        friendly = [*friendly[:6], "…"]
    return " or ".join(friendly)


MAX_DEPTH = 100  # nesting of and/or/not/parentheses; deeper filters are refused, not crashed


def _to_ast(tree: Any, text: str, depth: int = 0) -> Condition:
    if depth > MAX_DEPTH:
        raise FilterSyntaxError(
            f"filter nests deeper than {MAX_DEPTH} levels",
            text=text,
            column=1,
            hint="simplify it: 'in (...)' replaces long chains of 'or'",
        )
    kind = tree.data
    if kind == "or_expr":
        return Or(tuple(_to_ast(child, text, depth + 1) for child in tree.children))
    if kind == "and_expr":
        return And(tuple(_to_ast(child, text, depth + 1) for child in tree.children))
    if kind == "negation":
        return Not(_to_ast(tree.children[0], text, depth + 1))
    field = _field(tree.children[0])
    if kind == "compare":
        op = " ".join(str(tree.children[1]).lower().split())
        return Compare(field, {"==": "=", "<>": "!="}.get(op, op), _value(tree.children[2]))
    if kind in ("in_list", "not_in"):
        values = tuple(_value(child) for child in tree.children[1:])
        return InList(field, values, negated=kind == "not_in")
    return IsNull(field, negated=kind == "not_null")


def _field(tree: Any) -> Field:
    name_token = tree.children[0]
    if len(tree.children) == 1:
        return Field(None, str(name_token), name_token.column)
    key_token = tree.children[1].children[0]
    key = str(key_token)
    if key_token.type in ("DQ_STRING", "BQ_STRING"):
        key = _unquote(key)
    return Field(str(name_token).lower(), key, name_token.column)


def _value(tree: Any) -> Value:
    token = tree.children[0]
    if token.type == "NUMBER":
        return Value(float(token), token.column)
    return Value(_unquote(str(token)), token.column)


def _unquote(text: str) -> str:
    quote, body = text[0], text[1:-1]
    if quote == "`":
        return body
    # SQL's doubled quote and a backslash escape both stand for the quote itself.
    return re.sub(r"\\(.)|" + quote * 2, lambda m: m.group(1) or quote, body)
