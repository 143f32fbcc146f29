"""A pipeline's DAG for people (a Rich tree in the terminal) and for scripts (JSON)."""

from __future__ import annotations

import json
from typing import Any

from rich.markup import escape
from rich.text import Text
from rich.tree import Tree

from .graph import Graph


def graph_dict(graph: Graph) -> dict[str, Any]:
    nodes = []
    for name in graph.order:
        node = graph.nodes[name]
        nodes.append(
            {
                "name": name,
                "step": node.step.name,
                "upstream": node.upstream,
                "inputs": {arg: ref.node for arg, ref in node.inputs.items()},
                "params": node.params,
                "map": node.map_arg is not None,
                "retries": node.step.retries,
                "timeout": node.step.timeout,
                "cache": node.step.cache,
            }
        )
    edges = [[u, n["name"]] for n in nodes for u in n["upstream"]]
    return {"pipeline": graph.pipeline, "params": graph.params, "nodes": nodes, "edges": edges}


def dag_tree(graph: Graph) -> Tree:
    """Roots first; a node with several upstream steps shows under each (marked ↩ after
    the first), so every edge is visible without drawing crossing lines."""
    params = ", ".join(f"{k}={json.dumps(v)}" for k, v in graph.params.items())
    title = f"[bold]{escape(graph.pipeline)}[/]" + (
        f" [dim]({escape(params)})[/]" if params else ""
    )
    root = Tree(Text.from_markup(title))
    shown: set[str] = set()

    def add(parent: Tree, name: str) -> None:
        node = graph.nodes[name]
        if name in shown:
            parent.add(Text.from_markup(f"[dim]↩ {escape(name)}[/]"))
            return
        shown.add(name)
        label = f"[bold cyan]{escape(name)}[/]"
        if node.map_arg is not None:
            label += " [magenta](map)[/]"
        details = [f"{k}={json.dumps(v)}" for k, v in node.params.items()]
        if node.step.retries:
            details.append(f"retries={node.step.retries}")
        if node.step.timeout:
            details.append(f"timeout={node.step.timeout:g}s")
        if not node.step.cache:
            details.append("no cache")
        if details:
            label += f" [dim]{escape(' '.join(details))}[/]"
        branch = parent.add(Text.from_markup(label))
        for child in graph.downstream(name):
            add(branch, child)

    for name in graph.order:
        if not graph.nodes[name].upstream:
            add(root, name)
    return root
