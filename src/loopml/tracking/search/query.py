"""Compile a parsed filter and order-by terms into one SQLAlchemy query with bound parameters.

Each metric, param or tag key the filter or ordering names becomes one outer join on its
table (reused when named twice), so ``OR`` and ``NOT`` keep SQL's meaning and a run
without the key simply does not match a comparison on it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, not_, or_, select
from sqlalchemy.sql.elements import ColumnElement

from ...errors import FilterSyntaxError
from ...store.schema import experiments, latest_metrics, params, runs, tags
from .parser import (
    And,
    Compare,
    Condition,
    Field,
    InList,
    IsNull,
    Not,
    Or,
    OrderTerm,
    Value,
)

_PREFIXES = {
    "metrics": "metric",
    "metric": "metric",
    "params": "param",
    "param": "param",
    "parameters": "param",
    "parameter": "param",
    "tags": "tag",
    "tag": "tag",
    "attributes": "attribute",
    "attribute": "attribute",
    "attr": "attribute",
    "run": "attribute",
}
_STRING_ATTRIBUTES = {
    "status": runs.c.status,
    "run_name": runs.c.name,
    "name": runs.c.name,
    "run_id": runs.c.id,
    "id": runs.c.id,
    "user": runs.c.user,
    "experiment": experiments.c.name,
    "git_commit": runs.c.git_commit,
    "parent_run_id": runs.c.parent_run_id,
    "source": runs.c.source,
    "host": runs.c.host,
}
_NUMBER_ATTRIBUTES = {
    "start_time": runs.c.start_time,
    "end_time": runs.c.end_time,
    "duration": runs.c.end_time - runs.c.start_time,
    "experiment_id": runs.c.experiment_id,
}
_TIME_ATTRIBUTES = {"start_time", "end_time"}
_TABLES = {"metric": latest_metrics, "param": params, "tag": tags}
_ORDERED_OPS = {"<", "<=", ">", ">="}
_LIKE_OPS = {"like", "not like", "ilike", "not ilike"}


class QueryBuilder:
    """Turns one filter and its order-by terms into a query over ``runs``."""

    def __init__(self, text: str = "") -> None:
        self.text = text
        self._joins: dict[tuple[str, str], Any] = {}

    def build(
        self,
        condition: Condition | None,
        order: list[OrderTerm],
        *,
        columns: list[Any],
        where: list[ColumnElement[bool]],
    ) -> Select:
        clauses = list(where)
        if condition is not None:
            clauses.append(self.condition(condition))
        ordering = [term for item in order for term in self.order_term(item)]
        source = runs.join(experiments, experiments.c.id == runs.c.experiment_id)
        for (_kind, key), alias in self._joins.items():
            source = source.outerjoin(alias, and_(alias.c.run_id == runs.c.id, alias.c.key == key))
        return (
            select(*columns)
            .select_from(source)
            .where(*clauses)
            .order_by(*ordering, runs.c.start_time.desc(), runs.c.id)
        )

    def condition(self, node: Condition) -> ColumnElement[bool]:
        if isinstance(node, And):
            return and_(*(self.condition(item) for item in node.items))
        if isinstance(node, Or):
            return or_(*(self.condition(item) for item in node.items))
        if isinstance(node, Not):
            return not_(self.condition(node.item))
        if isinstance(node, IsNull):
            column = self._column(node.field, None)
            return column.is_not(None) if node.negated else column.is_(None)
        if isinstance(node, InList):
            kinds = {type(value.value) for value in node.values}
            if len(kinds) > 1:
                raise self._error("an 'in' list mixes numbers and strings", node.values[0].column)
            column = self._column(node.field, node.values[0])
            values = [self._coerce(node.field, value) for value in node.values]
            return column.not_in(values) if node.negated else column.in_(values)
        return self._compare(node)

    def order_term(self, term: OrderTerm) -> list[Any]:
        # Errors in an order-by clause quote that clause, not the filter.
        filter_text, self.text = self.text, term.text
        try:
            return self._order_columns(term)
        finally:
            self.text = filter_text

    def _order_columns(self, term: OrderTerm) -> list[Any]:
        kind, key = self._kind(term.field)
        if kind == "param":
            alias = self._join("param", key)
            columns = [alias.c.value_num, alias.c.value]
        elif kind == "attribute":
            columns = [self._attribute(term.field, None)]
        else:
            columns = [self._join(kind, key).c.value]
        ordered = [col.desc() if term.descending else col.asc() for col in columns]
        return [col.nulls_last() for col in ordered]

    def _compare(self, node: Compare) -> ColumnElement[bool]:
        kind, key = self._kind(node.field)
        value = node.value
        if node.op in _LIKE_OPS and not isinstance(value.value, str):
            raise self._error(f"'{node.op}' needs a quoted pattern such as 'base%'", value.column)
        if kind == "metric" and isinstance(value.value, str):
            raise self._error(
                f"metric '{key}' is a number; compare it with a number, not {value.value!r}",
                value.column,
            )
        column = self._column(node.field, value)
        operand = self._coerce(node.field, value)
        match node.op:
            case "=":
                return column == operand
            case "!=":
                return column != operand
            case "<":
                return column < operand
            case "<=":
                return column <= operand
            case ">":
                return column > operand
            case ">=":
                return column >= operand
            case "like":
                return column.like(operand)
            case "not like":
                return column.not_like(operand)
            case "ilike":
                return column.ilike(operand)
            case _:
                return column.not_ilike(operand)

    def _column(self, field: Field, value: Value | None) -> Any:
        kind, key = self._kind(field)
        if kind == "attribute":
            return self._attribute(field, value)
        alias = self._join(kind, key)
        if kind == "param" and value is not None and not isinstance(value.value, str):
            return alias.c.value_num  # params compare as numbers when given a number
        if kind == "tag" and value is not None and not isinstance(value.value, str):
            raise self._error(
                f"tag '{key}' holds text; quote the value, e.g. tags.{key} = '{value.value:g}'",
                value.column,
            )
        return alias.c.value

    def _attribute(self, field: Field, value: Value | None) -> Any:
        name = field.name.lower()
        if name in _STRING_ATTRIBUTES:
            if value is not None and not isinstance(value.value, str):
                raise self._error(f"'{name}' holds text; quote the value", value.column)
            return _STRING_ATTRIBUTES[name]
        if name in _NUMBER_ATTRIBUTES:
            if value is not None and isinstance(value.value, str) and name not in _TIME_ATTRIBUTES:
                raise self._error(f"'{name}' is a number; compare it with a number", value.column)
            return _NUMBER_ATTRIBUTES[name]
        known = ", ".join(sorted({*_STRING_ATTRIBUTES, *_NUMBER_ATTRIBUTES}))
        raise self._error(
            f"unknown field '{field.name}'",
            field.column,
            hint=f"use metrics.KEY, params.KEY, tags.KEY or one of: {known}",
        )

    def _coerce(self, field: Field, value: Value) -> Any:
        is_time = field.name.lower() in _TIME_ATTRIBUTES and self._kind(field)[0] == "attribute"
        if is_time and isinstance(value.value, str):
            return _parse_time(value, self)
        return value.value

    def _kind(self, field: Field) -> tuple[str, str]:
        if field.prefix is None:
            return "attribute", field.name
        kind = _PREFIXES.get(field.prefix)
        if kind is None:
            raise self._error(
                f"unknown field prefix '{field.prefix}'",
                field.column,
                hint="use metrics., params., tags. or attributes.",
            )
        return kind, field.name

    def _join(self, kind: str, key: str) -> Any:
        alias = self._joins.get((kind, key))
        if alias is None:
            alias = _TABLES[kind].alias(f"{kind[0]}{len(self._joins)}")
            self._joins[(kind, key)] = alias
        return alias

    def _error(self, message: str, column: int, hint: str | None = None) -> FilterSyntaxError:
        return FilterSyntaxError(message, text=self.text, column=column, hint=hint)


def _parse_time(value: Value, builder: QueryBuilder) -> int:
    try:
        moment = datetime.fromisoformat(str(value.value))
    except ValueError:
        raise builder._error(
            f"{value.value!r} is not a date",
            value.column,
            hint="use milliseconds since the epoch or an ISO date such as '2026-11-01T12:00'",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)
