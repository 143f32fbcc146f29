"""``loopml deploy`` as a user runs it: create, split, switch, canary, shadow, rollback."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

import loopml
from loopml.config import resolve
from loopml.governance.audit import list_events
from loopml.registry import register, set_alias
from loopml.serving.deployments import create, list_deployments
from loopml.store import open_store

from ..helpers import loopml_cli
from ..modeldata import FEATURES, churn_frame, fit_pipeline, fit_weak

NAME = "churn-prod"


@pytest.fixture
def deploy_project(project: Path) -> Path:
    """A project with churn/1 (``champion``) and churn/2 (``challenger``) registered."""
    frame = churn_frame()
    store = open_store(resolve())
    try:
        for number, model in enumerate((fit_pipeline(frame), fit_weak(frame)), start=1):
            folder = project / f"saved-v{number}"
            loopml.models.save(model, folder, input_example=frame[FEATURES][:5])
            register(store, folder, "churn")
        set_alias(store, "churn", "champion", 1)
        set_alias(store, "churn", "challenger", 2)
    finally:
        store.close()
    return project


@pytest.fixture
def deployed_project(deploy_project: Path) -> Path:
    """The project with ``churn-prod`` serving churn@champion."""
    store = open_store(resolve())
    try:
        create(store, NAME, "churn@champion")
    finally:
        store.close()
    return deploy_project


def stored() -> tuple[list[dict[str, Any]], list[int]]:
    """Every deployment as stored, and the sequence numbers of the audit log."""
    store = open_store(resolve())
    try:
        found = [d.to_dict() for d in list_deployments(store)]
        return found, [e.seq for e in list_events(store, limit=10_000)]
    finally:
        store.close()


def run(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = loopml_cli("deploy", *args, cwd=project)
    assert done.returncode == 0, done.stderr
    return done


def run_json(project: Path, *args: str) -> Any:
    return json.loads(run(project, *args, "--json").stdout)


def layout(shown: dict[str, Any]) -> list[tuple[str, str, int, bool]]:
    return [(v["name"], v["model"], v["weight"], v["shadow"]) for v in shown["variants"]]


def test_create_split_switch_and_roll_back(deploy_project: Path) -> None:
    p = deploy_project
    made = run(p, "create", NAME, "--model", "churn@champion", "--reason", "launch")
    assert f"Created deployment '{NAME}' (revision 1, single)" in made.stdout
    (listed,) = run_json(p, "ls")
    assert (listed["name"], listed["strategy"], listed["revision"]) == (NAME, "single", 1)
    assert layout(listed) == [("main", "churn@champion", 100, False)]
    assert listed["created_by"] == "tester" and listed["canary"] is None

    done = run(
        p, "split", NAME, "--variant", "b=churn@challenger:20", "--sticky", "header:X-User-Id"
    )
    assert "revision 2, ab" in done.stdout
    shown = run_json(p, "show", NAME)
    assert layout(shown) == [
        ("main", "churn@champion", 80, False),
        ("b", "churn@challenger", 20, False),
    ]
    assert shown["sticky"] == "header:X-User-Id" and shown["strategy"] == "ab"
    table = run(p, "show", NAME).stdout
    assert "churn@challenger" in table and "20%" in table and "80%" in table

    assert layout(run_json(p, "split", NAME, "--variant", "b=:0")) == [
        ("main", "churn@champion", 100, False)
    ]
    switched = run(p, "switch", NAME, "--to", "churn@challenger", "--reason", "v2 is ready")
    assert f"Switched deployment '{NAME}' (revision 4, blue-green)" in switched.stdout
    assert layout(run_json(p, "show", NAME)) == [
        ("green", "churn@challenger", 100, False),
        ("main", "churn@champion", 0, False),
    ]
    back = run(p, "rollback", NAME)
    assert f"Rolled back deployment '{NAME}' (revision 5, single)" in back.stdout
    assert layout(run_json(p, "show", NAME)) == [("main", "churn@champion", 100, False)]

    revisions = run_json(p, "history", NAME)
    assert [(r["revision"], r["action"], r["undone_by"]) for r in revisions] == [
        (1, "create", None),
        (2, "split", None),
        (3, "split", None),
        (4, "switch", 5),
        (5, "rollback", None),
    ]
    assert revisions[0]["reason"] == "launch" and revisions[3]["reason"] == "v2 is ready"
    assert {r["actor"] for r in revisions} == {"tester"}
    text = run(p, "history", NAME).stdout
    assert "switch (undone by 5)" in text and "v2 is ready" in text


def test_a_canary_starts_with_its_steps_and_limits_and_can_be_aborted(deployed_project) -> None:
    p = deployed_project
    started = run_json(
        p, "canary", NAME, "churn@challenger", "--steps", "10,50",
        "--interval", "30s", "--max-error-rate", "0.02", "--max-p99-ms", "80",
    )  # fmt: skip
    assert layout(started) == [
        ("main", "churn@champion", 90, False),
        ("canary", "churn@challenger", 10, False),
    ]
    canary = started["canary"]
    assert (canary["steps"], canary["interval_s"], canary["status"], canary["stable"]) == (
        [10, 50, 100],
        30,
        "running",
        "main",
    )
    assert (canary["max_error_rate"], canary["max_p99_ms"]) == (0.02, 80)
    shown = run(p, "show", NAME).stdout
    assert "canary: running, step 1/3 of 10,50,100 every 30s" in shown

    second = loopml_cli("deploy", "canary", NAME, "churn/2", cwd=p)
    assert second.returncode == 4 and "a canary is running on this deployment" in second.stderr

    stopped = run(p, "canary", NAME, "--abort", "--reason", "wrong data")
    assert f"Stopped deployment '{NAME}'" in stopped.stdout
    shown = run_json(p, "show", NAME)
    assert layout(shown) == [("main", "churn@champion", 100, False)]
    assert (shown["canary"]["status"], shown["canary"]["reason"]) == ("aborted", "wrong data")
    assert [r["action"] for r in run_json(p, "history", NAME)] == [
        "create",
        "canary",
        "canary-abort",
    ]


def test_the_default_canary_steps_through_5_25_50_100_every_10_minutes(deployed_project) -> None:
    started = run_json(deployed_project, "canary", NAME, "churn@challenger")
    assert started["canary"]["steps"] == [5, 25, 50, 100]
    assert started["canary"]["interval_s"] == 600
    assert started["canary"]["max_error_rate"] is None and started["canary"]["max_p99_ms"] is None


def test_a_shadow_is_added_and_removed(deployed_project: Path) -> None:
    p = deployed_project
    added = run_json(p, "shadow", NAME, "churn/2", "--percent", "25")
    assert layout(added) == [
        ("main", "churn@champion", 100, False),
        ("shadow", "churn/2", 25, True),
    ]
    assert added["strategy"] == "shadow"
    named = run_json(p, "shadow", NAME, "churn@challenger", "--variant", "mirror")
    assert [(v["name"], v["weight"]) for v in named["variants"] if v["shadow"]] == [
        ("shadow", 25),
        ("mirror", 100),
    ]
    assert "(shadow)" in run(p, "ls").stdout
    run(p, "shadow", NAME, "--remove")
    gone = run_json(p, "shadow", NAME, "--remove", "--variant", "mirror")
    assert layout(gone) == [("main", "churn@champion", 100, False)]
    assert gone["strategy"] == "single"


def test_compare_of_a_deployment_without_traffic_is_empty(deployed_project: Path) -> None:
    assert run_json(deployed_project, "compare", NAME) == {
        "deployment": NAME,
        "requests": 0,
        "variants": [],
    }


def test_ls_without_deployments_says_how_to_make_one(deploy_project: Path) -> None:
    assert run_json(deploy_project, "ls") == []
    assert "loopml deploy create NAME --model M" in run(deploy_project, "ls").stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["split", NAME, "--variant", "b=churn@challenger"], 2, "invalid --variant"),
        (["split", NAME, "--variant", "b=churn@challenger:x"], 2, "invalid --variant"),
        (["split", NAME, "--variant", "b=churn@challenger:-5"], 2, "invalid --variant"),
        (["split", NAME, "--variant", "b"], 2, "invalid --variant 'b'"),
        (["split", NAME, "--variant", "b=churn@challenger:150"], 2, "has weight 150"),
        (["split", NAME, "--variant", "=churn@challenger:20"], 2, "invalid variant name"),
        (["split", NAME, "--variant", "c=:0"], 2, "variant 'c' does not exist yet"),
        (
            ["split", NAME, "--variant", "b=churn@challenger:20", "--sticky", "cookie:x"],
            2,
            "invalid sticky key 'cookie:x'",
        ),
        (["canary", NAME, "churn@challenger", "--steps", "50,10"], 2, "invalid canary steps"),
        (["canary", NAME, "churn@challenger", "--steps", "5,x"], 2, "invalid --steps '5,x'"),
        (["canary", NAME, "churn@challenger", "--interval", "soon"], 2, "invalid duration"),
        (["canary", NAME], 2, "name the candidate model"),
        (["shadow", NAME], 2, "name the model to mirror to"),
        (["shadow", NAME, "churn/2", "--percent", "0"], 2, "shadow share 0%"),
        (["shadow", NAME, "--remove"], 2, "there is no shadow variant 'shadow' to remove"),
        (["create", "bad name", "--model", "churn@champion"], 2, "invalid deployment name"),
        (["show", "nope"], 3, "deployment 'nope' does not exist"),
        (["history", "nope"], 3, "deployment 'nope' does not exist"),
        (["split", "nope", "--variant", "b=churn@challenger:20"], 3, "deployment 'nope'"),
        (["switch", "nope", "--to", "churn/2"], 3, "deployment 'nope' does not exist"),
        (["rollback", "nope"], 3, "deployment 'nope' does not exist"),
        (["canary", "nope", "--abort"], 3, "deployment 'nope' does not exist"),
        (["create", "other", "--model", "churn@nope"], 3, "model 'churn' has no alias 'nope'"),
        (["split", NAME, "--variant", "b=churn@nope:20"], 3, "has no alias 'nope'"),
        (["switch", NAME, "--to", "churn/7"], 3, "model 'churn' has no version 7"),
        (["canary", NAME, "other@champion"], 3, "model 'other' is not registered"),
        (["create", NAME, "--model", "churn@challenger"], 4, f"deployment '{NAME}' exists"),
        (["rollback", NAME], 4, "has no earlier revision to roll back to"),
        (["switch", NAME], 4, "there is no idle variant to switch to"),
        (["canary", NAME, "--abort"], 4, f"deployment '{NAME}' has no running canary"),
    ],
)
def test_a_refused_command_is_one_line_and_changes_nothing(
    deployed_project: Path, args: list[str], code: int, message: str
) -> None:
    before = stored()
    done = loopml_cli("deploy", *args, cwd=deployed_project)
    assert done.returncode == code, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert message in lines[0]
    assert stored() == before
