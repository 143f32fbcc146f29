from __future__ import annotations

from pathlib import Path

import pytest

from loopml.errors import InvalidInput
from loopml.project import load_project, make_project, save_project


def test_defaults_follow_the_task() -> None:
    assert make_project("p").objective.metric == "roc_auc"
    regression = make_project("p", task="regression")
    assert (regression.objective.metric, regression.objective.direction) == ("rmse", "minimize")
    assert make_project("p", metric="log_loss").objective.direction == "minimize"


def test_a_project_round_trips_through_yaml(tmp_path: Path) -> None:
    project = make_project("churn", target="churned", threshold=0.8)
    save_project(project, tmp_path / "loopml.yaml")
    assert load_project(tmp_path / "loopml.yaml") == project


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: [unclosed", "not valid YAML"),
        ("- a list", "must be a mapping"),
        ("task: regression", "must be a mapping with at least a 'name'"),
        ("name: p\ntask: astrology", "task 'astrology' is not known"),
        ("name: p\nobjective: fast", "'objective' must be a mapping"),
        ("name: p\nobjective: {metric: auc, direction: up}", "direction 'up' is not known"),
        ("name: p\nstore: {db: x}", "unknown store setting"),
    ],
)
def test_a_broken_project_file_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "loopml.yaml"
    path.write_text(text)
    with pytest.raises(InvalidInput, match=message):
        load_project(path)
