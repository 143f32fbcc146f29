"""Tokens and roles: who may call what, what a refusal looks like, and who the audit names."""

from __future__ import annotations

import pytest
from sqlalchemy import update

import loopml
from loopml.errors import Forbidden, Unauthorized
from loopml.governance.audit import list_events
from loopml.server.tokens import list_tokens, revoke_token
from loopml.store.schema import api_tokens

from .conftest import Served, remote_env

ERROR_KEYS = {"code", "message", "hint", "details"}


def _error(response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == ERROR_KEYS, body
    return body["error"]


def test_without_tokens_the_caller_is_an_admin_named_by_the_client(served: Served) -> None:
    with served.client(**{"X-Loopml-User": "ana"}) as http:
        assert http.get("/api/v1/whoami").json() == {"user": "ana", "role": "admin", "auth": False}


def test_the_first_token_turns_auth_on_and_requests_without_one_get_401(served: Served) -> None:
    served.token("reader")
    with served.client() as http:
        response = http.post("/api/v1/ops/runs.search", json={})
    assert response.status_code == 401
    error = _error(response)
    assert error["code"] == "unauthorized"
    assert "needs a token" in error["message"]
    assert "LOOPML_TOKEN" in error["hint"]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Bearer lml_000000000000_" + "x" * 43, "not known to this server"),
        ("Bearer not-a-token", "malformed"),
        ("Basic YW5hOnB3", "malformed"),
    ],
)
def test_wrong_tokens_get_401_naming_the_problem(served: Served, header: str, message: str) -> None:
    served.token("admin")
    with served.client(Authorization=header) as http:
        response = http.get("/api/v1/whoami")
    assert response.status_code == 401
    assert message in _error(response)["message"]


def test_an_expired_or_revoked_token_gets_401(served: Served) -> None:
    expiring = served.token("writer", expires_days=1)
    revoked = served.token("writer", "bob")
    token_id = expiring.split("_")[1]
    with served.store.write() as connection:
        connection.execute(
            update(api_tokens).where(api_tokens.c.id == token_id).values(expires_at=1)
        )
    revoke_token(served.store, revoked.split("_")[1])
    with served.client(expiring) as http:
        response = http.get("/api/v1/whoami")
        assert response.status_code == 401
        assert "has expired" in _error(response)["message"]
    with served.client(revoked) as http:
        response = http.get("/api/v1/whoami")
        assert response.status_code == 401
        assert "was revoked" in _error(response)["message"]


def test_a_reader_may_read_but_not_write(served: Served) -> None:
    token = served.token("reader", "rita")
    with served.client(token) as http:
        assert http.post("/api/v1/ops/runs.search", json={"output": "list"}).json() == []
        response = http.post("/api/v1/ops/runs.create", json={"experiment": "x"})
    assert response.status_code == 403
    error = _error(response)
    assert error["code"] == "forbidden"
    assert error["message"] == "rita (reader) may not call runs.create: it needs the writer role"


def test_only_an_admin_manages_tokens(served: Served) -> None:
    admin, writer = served.token("admin", "root"), served.token("writer", "wes")
    body = {"user": "new", "role": "reader"}
    with served.client(writer) as http:
        assert http.post("/api/v1/ops/tokens.create", json=body).status_code == 403
    with served.client(admin) as http:
        created = http.post("/api/v1/ops/tokens.create", json=body).json()
    assert created["user"] == "new" and created["token"].startswith("lml_")
    assert {t.user for t in list_tokens(served.store)} == {"root", "wes", "new"}


def test_the_audit_actor_is_the_tokens_user_whatever_the_client_claims(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = served.token("writer", "ana")
    monkeypatch.setenv("LOOPML_USER", "mallory")
    remote_env(monkeypatch, served, token)
    with loopml.start_run(experiment="churn", params={"depth": 6}) as run:
        run.log_metric("auc", 0.9)
    assert loopml.get_run(run.id).user == "ana"
    actors = {event.actor for event in list_events(served.store, object_id=run.id)}
    assert actors == {"ana"}


def test_the_sdk_raises_the_same_errors_for_refusals(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    served.token("admin")
    remote_env(monkeypatch, served, None)
    with pytest.raises(Unauthorized, match="needs a token"):
        loopml.search_runs()
    remote_env(monkeypatch, served, served.token("reader", "rita"))
    with pytest.raises(Forbidden, match="needs the writer role"):
        loopml.start_run(experiment="x")
