"""``loopml models`` as a user runs it: register, list, alias, rollback, promote, card, build."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import loopml

from ..helpers import loopml_cli
from ..modeldata import FEATURES, churn_frame, fit_pipeline, fit_weak

# Each command runs on the embedded store and through a team server.
pytestmark = pytest.mark.usefixtures("mode")


@pytest.fixture
def models_project(project: Path) -> Path:
    churn = churn_frame()
    loopml.data.add("customers", churn_frame(rows=300, seed=3))
    for model in (fit_weak(churn), fit_pipeline(churn)):
        with loopml.start_run(experiment="churn"):
            info = loopml.log_model(model, input_example=churn[FEATURES][:5])
        loopml.register(info, "churn")
    return project


def test_list_show_alias_tag_and_rollback(models_project: Path) -> None:
    cli = lambda *args: loopml_cli(*args, cwd=models_project)  # noqa: E731
    assert cli("models", "alias", "churn", "champion", "1", "--reason", "first").returncode == 0
    done = cli("models", "alias", "churn", "champion", "2", "--reason", "retrained")
    assert done.returncode == 0 and "churn@champion → version 2" in done.stdout
    listed = json.loads(cli("models", "ls", "--json").stdout)
    assert listed[0]["aliases"] == {"champion": 2} and listed[0]["latest_version"] == 2
    assert cli("models", "tag", "churn/2", "production-ready=true").returncode == 0
    shown = json.loads(cli("models", "show", "churn@champion", "--json").stdout)
    assert shown["version"] == 2 and shown["tags"] == {"production-ready": "true"}
    back = cli("models", "rollback", "churn", "champion")
    assert back.returncode == 0 and "rolled back to version 1" in back.stdout
    history = cli("models", "show", "churn")
    assert "retrained" in history.stdout and "rollback" in history.stdout


def test_a_failing_gate_exits_non_zero_with_each_gate_and_both_values(models_project) -> None:
    cli = lambda *args: loopml_cli(*args, cwd=models_project)  # noqa: E731
    assert cli("models", "alias", "churn", "champion", "2").returncode == 0
    done = cli(
        "models", "promote", "churn", "1", "--to", "champion",
        "--gate", "auc >= 0.2", "--gate", "auc >= champion.auc - 0.005",
        "--data", "customers@1", "--target", "churned",
    )  # fmt: skip
    assert done.returncode == 8, done.stderr
    assert "FAIL" in done.stdout and "pass" in done.stdout
    assert "candidate (v1)" in done.stdout and "champion (v2)" in done.stdout
    assert done.stderr.strip().startswith("error: promotion of churn/1 to 'champion' refused")
    assert len(done.stderr.strip().splitlines()) == 1
    shown = json.loads(cli("models", "show", "churn@champion", "--json").stdout)
    assert shown["version"] == 2


def test_promotion_with_approval_and_a_second_user(models_project: Path) -> None:
    cli = lambda *args, **kw: loopml_cli(*args, cwd=models_project, **kw)  # noqa: E731
    done = cli(
        "models", "promote", "churn", "2", "--to", "champion", "--gate", "auc >= 0.6",
        "--data", "customers@1", "--target", "churned", "--require-approval",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "held for approval" in done.stdout
    own = cli("models", "approve", "1")
    assert own.returncode == 4 and "cannot also approve it" in own.stderr
    approved = cli("models", "approve", "1", env={"LOOPML_USER": "ana"})
    assert approved.returncode == 0, approved.stderr
    promotions = json.loads(cli("models", "promotions", "churn", "--json").stdout)
    assert promotions[0]["status"] == "promoted" and promotions[0]["decided_by"] == "ana"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["models", "promote", "churn", "7", "--to", "champion"], 3, "has no version 7"),
        (["models", "alias", "churn", "bad alias", "1"], 2, "invalid alias 'bad alias'"),
        (["models", "show", "nope"], 3, "model 'nope' is not registered"),
        (["models", "register", "no/such/folder", "churn"], 3, "no model folder or run"),
        (["models", "tag", "churn/1", "novalue"], 2, "is not KEY=VALUE"),
    ],
)
def test_bad_input_is_one_line_and_a_clear_exit_code(models_project, args, code, message) -> None:
    done = loopml_cli(*args, cwd=models_project)
    assert done.returncode == code, done.stderr
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_evaluate_records_metrics_and_writes_the_report(models_project: Path) -> None:
    done = loopml_cli(
        "models", "evaluate", "churn/2", "--data", "customers@1", "--target", "churned",
        "--sensitive", "gender", "-o", "report.html", "--json", cwd=models_project,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["evaluation"] == 1 and 0.5 < result["metrics"]["auc"] <= 1
    assert "demographic_parity_difference" in result["metrics"]
    assert (models_project / "report.html").read_text().startswith("<!DOCTYPE html>")


def test_build_writes_a_context_and_refuses_a_full_folder(models_project: Path) -> None:
    assert (
        loopml_cli("models", "alias", "churn", "champion", "2", cwd=models_project).returncode == 0
    )
    done = loopml_cli("models", "build", "churn@champion", "-o", "image", cwd=models_project)
    assert done.returncode == 0, done.stderr
    assert "docker build -t churn:2" in done.stdout
    context = models_project / "image"
    assert {"Dockerfile", "requirements.txt", "model", "wheels", "k8s"} <= {
        p.name for p in context.iterdir()
    }
    again = loopml_cli("models", "build", "churn@champion", "-o", "image", cwd=models_project)
    assert again.returncode == 4 and "image" in again.stderr
