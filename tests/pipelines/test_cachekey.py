"""Cache keys: what a step's result depends on. Cosmetic edits keep the key; edits to the
step, the helpers and constants it reaches, its params or inputs change it, in words."""

from __future__ import annotations

import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from loopml.pipelines.cachekey import cache_key, differences, fingerprint, key_parts
from loopml.pipelines.loading import load_module

# Each test runs on the embedded store and through a team server.
pytestmark = pytest.mark.usefixtures("mode")

BASE = '''
import json
import math

import numpy as np
import loopml

THRESHOLD = 0.5


def clean(values):
    """Drop what is below the threshold."""
    return [v for v in values if v >= THRESHOLD]


@loopml.step
def score(values: list, scale: float = 1.0) -> float:
    """The mean of the clean values, scaled."""
    kept = clean(values)
    return scale * sum(kept) / max(len(kept), 1)


@loopml.step
def stdlib_only(values: list) -> str:
    return json.dumps([math.sqrt(v) for v in values])


@loopml.step
def uses_numpy(values: list) -> float:
    return float(np.mean(values))


@loopml.step
def numpy_through_a_helper(values: list) -> float:
    return mean_of(values)


def mean_of(values):
    return float(np.mean(values))
'''

COSMETIC = {
    "comment": ("    kept = clean(values)\n", "    kept = clean(values)  # the rest is noise\n"),
    "docstring": ("The mean of the clean values, scaled.", "Mean of what is kept."),
    "helper docstring": ("Drop what is below the threshold.", "Keep the big ones."),
    "formatting": (
        "    return scale * sum(kept) / max(len(kept), 1)",
        "    return (scale * sum(kept)\n            / max(len(kept),   1))",
    ),
    "decorator options": (
        "@loopml.step\ndef score",
        "@loopml.step(retries=3, timeout=60)\ndef score",
    ),
}

REAL = {
    "step body": ("scale * sum(kept)", "scale * sum(kept) * 2", "the step's source changed"),
    "helper": ("if v >= THRESHOLD]", "if v > THRESHOLD]", "helper pipe.clean changed"),
    "constant": ("THRESHOLD = 0.5", "THRESHOLD = 0.6", "helper pipe.THRESHOLD changed"),
}


def _score_key(folder: Path, source: str, step: str = "score") -> tuple[str, dict]:
    """The key of ``step`` in ``source`` saved as ``folder/pipe.py`` (its own project)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "pipe.py"
    path.write_text(source, encoding="utf-8")
    func = getattr(load_module(path), step).func
    parts = key_parts(fingerprint(func, folder), {"scale": 1.0}, {"values": "ab12"})
    return cache_key(parts), parts


@pytest.mark.parametrize("edit", COSMETIC.values(), ids=list(COSMETIC))
def test_a_cosmetic_edit_keeps_the_key(tmp_path, edit) -> None:
    old, new = edit
    assert old in BASE
    before, _ = _score_key(tmp_path / "before", BASE)
    after, parts = _score_key(tmp_path / "after", BASE.replace(old, new))
    assert after == before
    assert set(parts["code"]) == {"pipe.clean", "pipe.THRESHOLD"}


@pytest.mark.parametrize("edit", REAL.values(), ids=list(REAL))
def test_an_edit_to_the_code_a_step_reaches_changes_the_key_and_says_which(tmp_path, edit) -> None:
    old, new, said = edit
    assert old in BASE
    before, before_parts = _score_key(tmp_path / "before", BASE)
    after, after_parts = _score_key(tmp_path / "after", BASE.replace(old, new))
    assert after != before
    assert differences(before_parts, after_parts) == [said]


def test_the_key_does_not_depend_on_where_the_project_is_checked_out(tmp_path) -> None:
    # Two clones sharing one store reuse each other's results.
    here, _ = _score_key(tmp_path / "alice" / "churn", BASE)
    there, _ = _score_key(tmp_path / "ci" / "build" / "churn", BASE)
    assert here == there


def test_an_unrelated_edit_elsewhere_in_the_file_keeps_the_key(tmp_path) -> None:
    before, _ = _score_key(tmp_path / "before", BASE)
    edited = BASE.replace("return float(np.mean(values))", "return float(np.median(values))")
    after, _ = _score_key(tmp_path / "after", edited)
    assert after == before  # score does not reach mean_of or uses_numpy


def test_param_and_input_changes_are_named() -> None:
    code = fingerprint(_plain_step, Path(__file__).parent)
    before = key_parts(code, {"max_depth": 3, "rate": 0.1}, {"features": "aa", "labels": "bb"})
    after = key_parts(code, {"max_depth": 6, "rate": 0.1}, {"features": "cc", "labels": "bb"})
    assert cache_key(before) != cache_key(after)
    assert differences(before, after) == ["param max_depth: 3 -> 6", "input features changed"]
    added = key_parts(code, {"max_depth": 3, "rate": 0.1, "seed": 1}, {"features": "aa"})
    assert differences(before, added) == ["param seed: (none) -> 1", "input labels removed"]
    assert differences(before, before) == []


def _plain_step(features: list, max_depth: int = 3) -> int:
    return max_depth + len(features)


@pytest.mark.parametrize(
    ("step", "packages"),
    [
        ("stdlib_only", {}),
        ("uses_numpy", {"numpy": version("numpy")}),
        ("numpy_through_a_helper", {"numpy": version("numpy")}),
    ],
)
def test_the_versions_of_third_party_packages_the_code_uses_are_part_of_the_key(
    tmp_path, step, packages
) -> None:
    _, parts = _score_key(tmp_path, BASE, step)
    assert parts["packages"] == packages
    assert "json" not in parts["packages"] and "math" not in parts["packages"]
    assert not set(parts["packages"]) & set(sys.stdlib_module_names)


def test_a_package_upgrade_is_named() -> None:
    code = fingerprint(_plain_step, Path(__file__).parent)
    before = {**key_parts(code, {}, {}), "packages": {"numpy": "1.26.4"}}
    after = {**key_parts(code, {}, {}), "packages": {"numpy": "2.1.0"}}
    assert differences(before, after) == ['package numpy: "1.26.4" -> "2.1.0"']


HELPER = """
def normalise(values):
    top = max(values)
    return [v / top for v in values]


def unused(values):
    return values
"""

PIPELINE = """
import loopml
import helpers


@loopml.step
def load() -> list:
    return [1.0, 2.0, 4.0]


@loopml.step
def features(values: list) -> list:
    return helpers.normalise(values)


@loopml.step
def report(values: list) -> int:
    return len(values)


@loopml.pipeline
def churn():
    values = load()
    report(features(values))
"""


def test_editing_a_helper_module_invalidates_the_step_that_calls_it(write, cli) -> None:
    # Fresh interpreters, as a user re-runs the command after editing helpers.py.
    write(PIPELINE)
    write(HELPER, "helpers.py")
    cli.json("pipeline", "run", "pipe.py")
    write(HELPER.replace("return values", "return list(values)"), "helpers.py")
    untouched = cli.json("pipeline", "run", "pipe.py")
    assert {s["status"] for s in untouched["steps"]} == {"CACHED"}  # features never calls it

    # The same result computed differently: the step runs again, and what follows it is
    # reused, since its input is the same content.
    write(HELPER.replace("v / top for v in", "value / top for value in"), "helpers.py")
    again = cli.json("pipeline", "run", "pipe.py")
    steps = {s["name"]: s for s in again["steps"]}
    assert steps["load"]["status"] == "CACHED"
    assert steps["features"]["status"] == "COMPLETED"
    assert steps["features"]["reason"] == "helper helpers.normalise changed"
    assert steps["report"]["status"] == "CACHED"  # same output, so the same input hash
    explained = cli("pipeline", "explain", again["id"][:8])
    assert explained.returncode == 0, explained.stderr
    line = next(row for row in explained.stdout.splitlines() if row.startswith("features"))
    assert "COMPLETED" in line and "helper helpers.normalise changed" in line
