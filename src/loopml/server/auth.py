"""Who is calling, and may they: the bearer token (or the UI's cookie) checked per request.

Auth is on when the server was started with ``--auth`` or once any token exists (a token
created while the server runs turns it on within a second). With auth off every caller
is an admin and the actor is the ``X-Loopml-User`` header the client sends, as with an
embedded store; that is only allowed on a loopback address (see ``loopml server``).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from starlette.requests import HTTPConnection

from ..errors import Forbidden, Unauthorized
from ..ops import Role
from ..store import Store
from .tokens import authenticate, count_tokens, role_allows

COOKIE = "loopml_token"
_USER_HEADER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$")
_TOKENS_RECHECK_S = 1.0


@dataclass(frozen=True)
class Principal:
    """The caller of one request."""

    user: str
    role: Role
    token_id: str | None = None


class Gate:
    """Authenticates requests against the store's tokens."""

    def __init__(self, store: Store, *, required: bool = False) -> None:
        self.store = store
        self.required = required
        self._tokens_seen = False
        self._checked_at = -1e9

    def enabled(self) -> bool:
        if self.required or self._tokens_seen:
            return True
        now = time.monotonic()
        if now - self._checked_at >= _TOKENS_RECHECK_S:
            self._tokens_seen = count_tokens(self.store) > 0
            self._checked_at = now
        return self._tokens_seen

    def principal(self, connection: HTTPConnection) -> Principal:
        """The caller; Unauthorized without a valid token while auth is on."""
        if not self.enabled():
            claimed = connection.headers.get("x-loopml-user", "")
            user = claimed if _USER_HEADER.match(claimed) else self.store.actor
            return Principal(user, "admin")
        token = bearer_token(connection)
        if token is None:
            raise Unauthorized(
                "this server needs a token",
                hint="send 'Authorization: Bearer <token>' (set LOOPML_TOKEN for the SDK and CLI)",
            )
        info = authenticate(self.store, token)
        return Principal(info.user, info.role, info.id)


def bearer_token(connection: HTTPConnection) -> str | None:
    header = connection.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return "malformed"
    return connection.cookies.get(COOKIE) or None


def require(principal: Principal, role: Role, what: str) -> None:
    """Forbidden unless ``principal``'s role covers ``role``."""
    if not role_allows(principal.role, role):
        raise Forbidden(
            f"{principal.user} ({principal.role}) may not {what}: it needs the {role} role",
            hint="ask an admin for a token with that role (loopml token create)",
        )
