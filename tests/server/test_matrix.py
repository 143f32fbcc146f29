"""Every path of the OpenAPI document, called with a token of every role: a role below the
path's ``x-loopml-role`` gets 403, every other role gets past the check."""

from __future__ import annotations

import pytest

from loopml.ops import ROLES

from .conftest import Served

METHODS = ("get", "post", "patch")
_HASH = "0" * 64


def _calls(document: dict) -> list[tuple[str, str, str]]:
    calls = []
    for path, entries in document["paths"].items():
        for method in METHODS:
            entry = entries.get(method)
            if entry is not None:
                calls.append((method, path.replace("{hash}", _HASH), entry.get("x-loopml-role")))
    return calls


def test_every_endpoint_enforces_its_role_for_every_role(served: Served) -> None:
    tokens = {role: served.token(role, f"{role}-user") for role in ROLES}
    with served.client() as anonymous:
        document = anonymous.get("/openapi.json").json()
    calls = _calls(document)
    assert len(calls) > 40
    assert {role for _, _, role in calls} == {None, *ROLES}
    checked = 0
    for role, token in tokens.items():
        with served.client(token) as http:
            for method, path, needed in calls:
                headers = {"Upload-Offset": "0"} if method == "patch" else {}
                response = http.request(method.upper(), path, json={}, headers=headers)
                may = needed is None or ROLES.index(role) >= ROLES.index(needed)
                where = f"{method.upper()} {path} as {role} (needs {needed})"
                if may:
                    assert response.status_code not in (401, 403), where
                    assert response.status_code < 500, f"{where}: {response.text}"
                else:
                    assert response.status_code == 403, where
                    assert response.json()["error"]["code"] == "forbidden", where
                checked += 1
    assert checked == len(calls) * len(ROLES)


@pytest.mark.parametrize("method", ["get", "post"])
def test_without_a_token_every_protected_endpoint_is_401(served: Served, method: str) -> None:
    served.token("admin")
    with served.client() as http:
        document = http.get("/openapi.json").json()
        for verb, path, needed in _calls(document):
            if verb != method or needed is None:
                continue
            response = http.request(verb.upper(), path, json={})
            assert response.status_code == 401, f"{verb.upper()} {path}"
