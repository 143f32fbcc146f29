"""The CLI as a user runs it against a server: ``loopml server`` refusing an open address,
``loopml token``, and commands in remote mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import loopml

from ..helpers import loopml_cli
from .conftest import Served


def test_serving_a_public_address_without_auth_is_refused(project: Path) -> None:
    done = loopml_cli("server", "--host", "0.0.0.0", "--port", "1", cwd=project)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: refusing to serve 0.0.0.0 without authentication")
    assert "--insecure" in lines[0]


def test_tokens_are_created_listed_and_revoked_from_the_cli(project: Path) -> None:
    created = loopml_cli(
        "token", "create", "--user", "ana", "--role", "writer", "--json", cwd=project
    )
    assert created.returncode == 0, created.stderr
    token = json.loads(created.stdout)
    assert token["token"].startswith(f"lml_{token['id']}_")
    listed = json.loads(loopml_cli("token", "ls", "--json", cwd=project).stdout)
    assert [(t["user"], t["role"], t["active"]) for t in listed] == [("ana", "writer", True)]
    assert "token" not in listed[0] and "secret_hash" not in listed[0]
    assert loopml_cli("token", "revoke", token["id"], cwd=project).returncode == 0
    listed = json.loads(loopml_cli("token", "ls", "--json", cwd=project).stdout)
    assert listed[0]["active"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "ana", "--role", "owner"], "role 'owner' is not known"),
        (["--user", "a b", "--role", "reader"], "user 'a b' is not a valid name"),
        (["--user", "ana", "--role", "reader", "--expires-days", "0"], "positive number of days"),
    ],
)
def test_bad_token_options_fail_in_one_line(project: Path, args: list[str], message: str) -> None:
    done = loopml_cli("token", "create", *args, cwd=project)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_commands_work_through_the_server_as_the_tokens_user(
    served: Served, tmp_path: Path
) -> None:
    with loopml.start_run(experiment="churn", run_name="baseline") as run:
        run.log_metric("auc", 0.91)
    token = served.token("reader", "rita")
    env = {"LOOPML_SERVER": served.url, "LOOPML_TOKEN": token, "LOOPML_HOME": ""}
    elsewhere = tmp_path / "laptop"  # no store here: everything comes from the server
    elsewhere.mkdir()
    listed = loopml_cli("runs", "ls", "--json", cwd=elsewhere, env=env)
    assert listed.returncode == 0, listed.stderr
    assert [r["name"] for r in json.loads(listed.stdout)] == ["baseline"]
    refused = loopml_cli("experiments", "create", "other", cwd=elsewhere, env=env)
    assert refused.returncode == 10
    assert "rita (reader) may not call experiments.create" in refused.stderr


def test_a_command_that_runs_where_the_store_is_says_so_in_one_line(
    served: Served, tmp_path: Path
) -> None:
    env = {"LOOPML_SERVER": served.url, "LOOPML_HOME": str(tmp_path / ".loopml")}
    done = loopml_cli("artifacts", "verify", cwd=tmp_path, env=env)
    assert done.returncode == 2
    assert "runs where the artifact store is, not through the server" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_an_unreachable_server_is_named_with_the_fix(project: Path) -> None:
    env = {"LOOPML_SERVER": "http://127.0.0.1:9"}
    done = loopml_cli("runs", "ls", cwd=project, env=env)
    assert done.returncode == 5
    assert "the loopml server at http://127.0.0.1:9 did not answer" in done.stderr
