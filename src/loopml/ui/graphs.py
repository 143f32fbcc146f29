"""Directed graphs drawn as SVG by the server: pipeline DAGs and lineage.

Nodes are placed in columns by their longest path from a source (left to right, the way
data flows) and ordered within a column by the mean row of their predecessors, which
keeps most edges short and straight. The result is geometry only; ``_graph.html.j2``
draws it, escaping every label, so a graph needs no script at all.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

NODE_WIDTH = 180
NODE_HEIGHT = 46
COLUMN_GAP = 56
ROW_GAP = 14
MARGIN = 8
LABEL_CHARS = 24
ARCH = 40
"""Room above the top row for edges that skip a column."""


@dataclass(frozen=True)
class GraphNode:
    id: str
    label: str
    detail: str = ""
    """A second, smaller line: a status, a version, a cache hit."""
    kind: str = "plain"
    """A CSS class: the step status (``completed``, ``cached``, ``failed``) or object kind."""
    href: str | None = None
    title: str = ""
    """The tooltip: the full label and anything else worth a hover."""


def layout(nodes: Sequence[GraphNode], edges: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """Positions for ``nodes`` and SVG paths for ``edges`` (pairs of node ids)."""
    known = {node.id for node in nodes}
    edges = list(dict.fromkeys((a, b) for a, b in edges if a in known and b in known and a != b))
    column = _columns([node.id for node in nodes], edges)
    parents: dict[str, list[str]] = defaultdict(list)
    for source, target in edges:
        parents[target].append(source)

    by_column: dict[int, list[GraphNode]] = defaultdict(list)
    for node in nodes:
        by_column[column[node.id]].append(node)
    row: dict[str, float] = {}
    for index in sorted(by_column):
        members = by_column[index]
        members.sort(key=lambda n: _mean([row[p] for p in parents[n.id] if p in row], default=0.0))
        for position, node in enumerate(members):
            row[node.id] = position

    # An edge that skips a column arches over the nodes between; leave room above them.
    top = MARGIN + (ARCH if any(column[b] - column[a] > 1 for a, b in edges) else 0)
    placed = {}
    for node in nodes:
        x = MARGIN + column[node.id] * (NODE_WIDTH + COLUMN_GAP)
        y = top + int(row[node.id]) * (NODE_HEIGHT + ROW_GAP)
        placed[node.id] = {
            "id": node.id,
            "x": x,
            "y": y,
            "label": _shorten(node.label),
            "detail": _shorten(node.detail),
            "kind": node.kind,
            "href": node.href,
            "title": node.title or node.label,
        }
    paths = []
    for source, target in edges:
        a, b = placed[source], placed[target]
        x1, y1 = a["x"] + NODE_WIDTH, a["y"] + NODE_HEIGHT / 2
        x2, y2 = b["x"], b["y"] + NODE_HEIGHT / 2
        lift = 0.0
        if x2 <= x1:  # same or earlier column (a cycle's back edge): route around below
            x2, y2 = b["x"] + NODE_WIDTH / 2, b["y"] + NODE_HEIGHT
        elif column[target] - column[source] > 1:
            lift = ARCH + NODE_HEIGHT / 2  # a cubic reaches 3/4 of its control points' lift
        bend = max(COLUMN_GAP / 2, (x2 - x1) / 2)
        middle = f"{x1 + bend:.0f},{y1 - lift:.0f} {x2 - bend:.0f},{y2 - lift:.0f}"
        paths.append(f"M{x1:.0f},{y1:.0f} C{middle} {x2:.0f},{y2:.0f}")
    columns = max(column.values(), default=0) + 1
    rows = max((len(members) for members in by_column.values()), default=1)
    return {
        "width": 2 * MARGIN + columns * NODE_WIDTH + (columns - 1) * COLUMN_GAP,
        "height": top + MARGIN + rows * NODE_HEIGHT + (rows - 1) * ROW_GAP,
        "node_width": NODE_WIDTH,
        "node_height": NODE_HEIGHT,
        "nodes": list(placed.values()),
        "edges": paths,
    }


def _columns(ids: list[str], edges: list[tuple[str, str]]) -> dict[str, int]:
    """Longest path from a source for every node (Kahn's order); a cycle's nodes keep
    the column they had reached when the cycle stopped the walk."""
    incoming = {node: 0 for node in ids}
    children: dict[str, list[str]] = defaultdict(list)
    for source, target in edges:
        incoming[target] += 1
        children[source].append(target)
    column = dict.fromkeys(ids, 0)
    ready = deque(node for node in ids if incoming[node] == 0)
    while ready:
        node = ready.popleft()
        for child in children[node]:
            column[child] = max(column[child], column[node] + 1)
            incoming[child] -= 1
            if incoming[child] == 0:
                ready.append(child)
    return column


def _mean(values: list[float], *, default: float) -> float:
    return sum(values) / len(values) if values else default


def _shorten(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"
