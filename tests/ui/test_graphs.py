"""The DAG layout: columns follow the longest path, edges join the right boxes, and a
cycle or an unknown node cannot break it."""

from __future__ import annotations

from loopml.ui.graphs import COLUMN_GAP, MARGIN, NODE_WIDTH, GraphNode, layout


def nodes(*names: str) -> list[GraphNode]:
    return [GraphNode(id=name, label=name) for name in names]


def columns(drawn: dict) -> dict[str, int]:
    return {n["id"]: (n["x"] - MARGIN) // (NODE_WIDTH + COLUMN_GAP) for n in drawn["nodes"]}


def test_a_node_sits_one_column_after_its_furthest_input() -> None:
    drawn = layout(
        nodes("load", "clean", "train", "report"),
        [
            ("load", "clean"),
            ("clean", "train"),
            ("load", "report"),
            ("train", "report"),
        ],
    )
    assert columns(drawn) == {"load": 0, "clean": 1, "train": 2, "report": 3}
    assert len(drawn["edges"]) == 4


def test_an_edge_that_skips_a_column_arches_above_the_row() -> None:
    drawn = layout(nodes("a", "b", "c"), [("a", "b"), ("b", "c"), ("a", "c")])
    assert min(n["y"] for n in drawn["nodes"]) > MARGIN  # room left above for the arch
    starts, controls = [], []
    for path in drawn["edges"]:  # "Mx,y Cx,y x,y x,y"
        points = [tuple(map(float, p.lstrip("MC").split(","))) for p in path.split()]
        starts.append(points[0][1])
        controls.append(points[1][1])
    assert [control < start for start, control in zip(starts, controls, strict=True)] == [
        False,
        False,
        True,  # a -> c passes over b
    ]


def test_cycles_self_loops_and_unknown_ends_are_dropped_or_drawn_safely() -> None:
    drawn = layout(nodes("a", "b"), [("a", "b"), ("b", "a"), ("a", "a"), ("a", "ghost")])
    assert {n["id"] for n in drawn["nodes"]} == {"a", "b"}
    assert len(drawn["edges"]) == 2


def test_long_labels_are_shortened_and_kept_whole_in_the_tooltip() -> None:
    label = "a-very-long-step-name-that-goes-on-and-on"
    drawn = layout([GraphNode(id="x", label=label)], [])
    node = drawn["nodes"][0]
    assert node["label"].endswith("…") and len(node["label"]) == 24
    assert node["title"] == label
