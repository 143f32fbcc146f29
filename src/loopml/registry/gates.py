"""Promotion gates: ``auc >= 0.80``, ``auc >= champion.auc - 0.005``, ``dpd <= 0.1``.

A gate is one comparison between two arithmetic expressions over numbers and metrics.
A bare metric name is the candidate's (``candidate.auc`` says the same); ``champion.auc``
is the current holder's of the alias being promoted to, measured on the same data.
Expressions are parsed with Python's own parser and only this small grammar is
evaluated, so a gate can never run code.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput

_COMPARE: dict[type[ast.cmpop], tuple[str, Callable[[float, float], bool]]] = {
    ast.GtE: (">=", operator.ge),
    ast.Gt: (">", operator.gt),
    ast.LtE: ("<=", operator.le),
    ast.Lt: ("<", operator.lt),
    ast.Eq: ("==", operator.eq),
    ast.NotEq: ("!=", operator.ne),
}
_ARITHMETIC: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
SIDES = ("candidate", "champion")


@dataclass(frozen=True)
class Gate:
    """One parsed gate: its text, the comparison, and the metrics it reads per side."""

    text: str
    op: str
    left: ast.expr = field(repr=False)
    right: ast.expr = field(repr=False)
    metrics: tuple[tuple[str, str], ...]
    """(side, metric) pairs the gate reads, in order of appearance."""

    @property
    def needs_champion(self) -> bool:
        return any(side == "champion" for side, _ in self.metrics)


@dataclass(frozen=True)
class GateResult:
    gate: str
    passed: bool
    left: float | None
    right: float | None
    values: dict[str, dict[str, float | None]]
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "passed": self.passed,
            "left": self.left,
            "right": self.right,
            "values": self.values,
            "note": self.note,
        }


def parse_gate(text: str) -> Gate:
    """Parse one gate, or raise :class:`InvalidInput` showing the accepted form."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(f"invalid gate {text!r}", hint=_FORM)
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise InvalidInput(f"gate {text!r} does not parse", hint=_FORM) from None
    if not isinstance(tree, ast.Compare) or len(tree.ops) != 1:
        raise InvalidInput(f"gate {text!r} must be one comparison", hint=_FORM)
    op = _COMPARE.get(type(tree.ops[0]))
    if op is None:
        raise InvalidInput(f"gate {text!r} uses an unsupported comparison", hint=_FORM)
    metrics: list[tuple[str, str]] = []
    for side in (tree.left, tree.comparators[0]):
        _collect(side, text, metrics)
    return Gate(text.strip(), op[0], tree.left, tree.comparators[0], tuple(metrics))


def check_gates(
    gates: list[Gate],
    candidate: Mapping[str, float | None],
    champion: Mapping[str, float | None] | None,
) -> list[GateResult]:
    """Evaluate every gate; an unknown metric is an error naming the metrics there are."""
    known = sorted(set(candidate) | set(champion or {}))
    for gate in gates:
        for side, metric in gate.metrics:
            values = candidate if side == "candidate" else champion
            if values is not None and metric not in values:
                raise InvalidInput(
                    f"gate {gate.text!r} reads metric '{metric}', which the evaluation "
                    "does not produce",
                    hint=f"available metrics: {', '.join(known)}",
                )
    results = []
    for gate in gates:
        values: dict[str, dict[str, float | None]] = {side: {} for side in SIDES}
        for side, metric in gate.metrics:
            source = candidate if side == "candidate" else (champion or {})
            values[side][metric] = source.get(metric)
            other = champion if side == "candidate" else candidate
            if other is not None:  # the report shows both values of every metric
                values[SIDES[side == "candidate"]].setdefault(metric, other.get(metric))
        if gate.needs_champion and champion is None:
            results.append(
                GateResult(gate.text, True, None, None, values, "no champion yet: gate skipped")
            )
            continue
        sides = {"candidate": candidate, "champion": champion or {}}
        left = _value(gate.left, sides)
        right = _value(gate.right, sides)
        if left is None or right is None or math.isnan(left) or math.isnan(right):
            results.append(
                GateResult(gate.text, False, left, right, values, "a metric has no value")
            )
            continue
        passed = _COMPARE_BY_SYMBOL[gate.op](left, right)
        results.append(GateResult(gate.text, passed, left, right, values))
    return results


_COMPARE_BY_SYMBOL = {symbol: fn for symbol, fn in _COMPARE.values()}
_FORM = (
    "write METRIC OP EXPRESSION, e.g. 'auc >= 0.80', 'auc >= champion.auc - 0.005' or "
    "'demographic_parity_difference <= 0.1'"
)


def _collect(node: ast.expr, text: str, metrics: list[tuple[str, str]]) -> None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        if isinstance(node.value, bool):
            raise InvalidInput(f"gate {text!r} compares with a boolean", hint=_FORM)
        return
    if isinstance(node, ast.Name | ast.Attribute):
        metrics.append(_metric(node, text))
        return
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
        _collect(node.left, text, metrics)
        _collect(node.right, text, metrics)
        return
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        _collect(node.operand, text, metrics)
        return
    raise InvalidInput(
        f"gate {text!r} holds {ast.unparse(node)!r}, which is not a number or a metric",
        hint=_FORM,
    )


def _metric(node: ast.Name | ast.Attribute, text: str) -> tuple[str, str]:
    """(side, dotted metric name) of a name such as ``champion.dpd.gender``."""
    parts: list[str] = []
    current: ast.expr = node
    while isinstance(current, ast.Attribute):
        parts.append(current.attr)
        current = current.value
    if not isinstance(current, ast.Name):
        raise InvalidInput(f"gate {text!r} holds an unsupported expression", hint=_FORM)
    parts.append(current.id)
    parts.reverse()
    if parts[0] in SIDES and len(parts) > 1:
        return parts[0], ".".join(parts[1:])
    return "candidate", ".".join(parts)


def _value(node: ast.expr, sides: Mapping[str, Mapping[str, float | None]]) -> float | None:
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name | ast.Attribute):
        side, metric = _metric(node, "")
        value = sides[side].get(metric)
        return None if value is None else float(value)
    if isinstance(node, ast.UnaryOp):
        operand = _value(node.operand, sides)
        if operand is None:
            return None
        return -operand if isinstance(node.op, ast.USub) else operand
    assert isinstance(node, ast.BinOp)
    left, right = _value(node.left, sides), _value(node.right, sides)
    if left is None or right is None:
        return None
    try:
        return _ARITHMETIC[type(node.op)](left, right)
    except ZeroDivisionError:
        return math.nan
