from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopml.artifacts import clean_artifact_path, join_artifact_path
from loopml.errors import InvalidInput


@pytest.mark.parametrize(
    ("given_path", "expected"),
    [
        ("model.pkl", "model.pkl"),
        ("plots/roc.png", "plots/roc.png"),
        ("a//b/./c.txt", "a/b/c.txt"),
        ("dir/", "dir"),
        ("my file.txt", "my file.txt"),
    ],
)
def test_clean_paths_are_normalised(given_path: str, expected: str) -> None:
    assert clean_artifact_path(given_path) == expected


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("/etc/passwd", "absolute"),
        ("../secrets", "climbs out"),
        ("a/../../b", "climbs out"),
        ("a/..", "climbs out"),
        ("..", "climbs out"),
        ("C:/Windows", "absolute"),
        ("a\\..\\b", "backslash"),
        ("a\x00b", "control character"),
        ("line\nbreak", "control character"),
        (".", "names no file"),
        ("x" * 1025, "limit is 1024"),
    ],
)
def test_paths_that_could_escape_the_store_are_refused(bad: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        clean_artifact_path(bad)


def test_non_string_paths_are_refused() -> None:
    with pytest.raises(InvalidInput, match="must be a string"):
        clean_artifact_path(Path("x"))  # type: ignore[arg-type]


def test_join_checks_both_parts() -> None:
    assert join_artifact_path("plots", "roc.png") == "plots/roc.png"
    assert join_artifact_path(None, "roc.png") == "roc.png"
    with pytest.raises(InvalidInput):
        join_artifact_path("../up", "x")
    with pytest.raises(InvalidInput):
        join_artifact_path("plots", "../../x")


@given(st.text(alphabet=st.sampled_from(list("ab./\\:~ \x00")), min_size=0, max_size=30))
def test_any_accepted_path_stays_inside_the_destination(candidate: str) -> None:
    root = Path("/srv/store/run")
    try:
        cleaned = clean_artifact_path(candidate)
    except InvalidInput:
        return
    target = (root / cleaned).resolve()
    assert target.is_relative_to(root)
    assert target != root
