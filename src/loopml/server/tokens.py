"""API tokens: who may call the team server, and with which role.

A token reads ``lml_<id>_<secret>``. Only a SHA-256 of the secret is stored (the secret
is 32 random bytes, so a fast hash is enough; a slow password hash would only slow every
request), and the id makes the check one primary-key read. Roles nest: a ``writer`` may do
what a ``reader`` may, an ``admin`` everything.

>>> token = create_token(store, "ana", "writer")  # doctest: +SKIP
>>> token.token  # shown once, never stored
'lml_3f2a9c0d1b7e_...'
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import func, insert, select, update

from ..clock import now_ms
from ..errors import InvalidInput, NotFound, Unauthorized
from ..governance import audit
from ..ops import ROLES, Role, operation
from ..store import Store
from ..store.schema import api_tokens

_USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$")
_TOKEN = re.compile(r"^lml_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_DAY_MS = 86_400_000
_HINT = "create one with: loopml token create --user NAME --role reader|writer|admin"


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: never its secret."""

    id: str
    user: str
    role: Role
    created_at: int
    created_by: str
    expires_at: int | None = None
    revoked_at: int | None = None
    description: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now_ms())


@dataclass(frozen=True)
class NewToken:
    """A token just created; ``token`` is the only copy of the secret."""

    id: str
    user: str
    role: Role
    token: str
    expires_at: int | None = None


def role_allows(granted: str, needed: str) -> bool:
    """Whether a token of role ``granted`` may call something that needs ``needed``."""
    return ROLES.index(granted) >= ROLES.index(needed)  # type: ignore[arg-type]


@operation("tokens.create", role="admin")
def create_token(
    store: Store,
    user: str,
    role: Role,
    *,
    expires_days: int | None = None,
    description: str | None = None,
) -> NewToken:
    """Create a token for ``user`` with ``role``; the secret is returned once."""
    if not isinstance(user, str) or not _USER.match(user):
        raise InvalidInput(
            f"user {user!r} is not a valid name",
            hint="use letters, digits and _.@+- (at most 64 characters)",
        )
    if role not in ROLES:
        raise InvalidInput(f"role {role!r} is not known", hint="use reader, writer or admin")
    if expires_days is not None and (
        isinstance(expires_days, bool) or not isinstance(expires_days, int) or expires_days < 1
    ):
        raise InvalidInput(f"expires_days must be a positive number of days, not {expires_days!r}")
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    now = now_ms()
    expires_at = now + expires_days * _DAY_MS if expires_days else None
    with store.write() as connection:
        connection.execute(
            insert(api_tokens).values(
                id=token_id,
                user=user,
                role=role,
                secret_hash=_digest(secret),
                description=description,
                created_at=now,
                created_by=store.actor,
                expires_at=expires_at,
            )
        )
        audit.record(
            connection,
            actor=store.actor,
            action="token.create",
            object_type="token",
            object_id=token_id,
            after={"user": user, "role": role, "expires_at": expires_at},
        )
    return NewToken(token_id, user, role, f"lml_{token_id}_{secret}", expires_at)


@operation("tokens.list", role="admin")
def list_tokens(store: Store) -> list[TokenInfo]:
    """Every token, newest first, without secrets."""
    with store.read() as connection:
        rows = connection.execute(
            select(api_tokens).order_by(api_tokens.c.created_at.desc(), api_tokens.c.id)
        ).all()
    return [_info(row) for row in rows]


@operation("tokens.revoke", role="admin")
def revoke_token(store: Store, token_id: str) -> TokenInfo:
    """Revoke a token at once; requests carrying it are refused from then on."""
    with store.write() as connection:
        row = connection.execute(select(api_tokens).where(api_tokens.c.id == token_id)).first()
        if row is None:
            raise NotFound(f"token '{token_id}' not found", hint="list them with: loopml token ls")
        if row.revoked_at is None:
            connection.execute(
                update(api_tokens).where(api_tokens.c.id == token_id).values(revoked_at=now_ms())
            )
            audit.record(
                connection,
                actor=store.actor,
                action="token.revoke",
                object_type="token",
                object_id=token_id,
                before={"user": row.user, "role": row.role},
            )
        row = connection.execute(select(api_tokens).where(api_tokens.c.id == token_id)).one()
    return _info(row)


def authenticate(store: Store, token: str) -> TokenInfo:
    """The active token ``token`` is; Unauthorized if unknown, revoked or expired."""
    match = _TOKEN.match(token)
    if match is None:
        raise Unauthorized("the token is malformed", hint=_HINT)
    token_id, secret = match.groups()
    with store.read() as connection:
        row = connection.execute(select(api_tokens).where(api_tokens.c.id == token_id)).first()
    if row is None or not hmac.compare_digest(row.secret_hash, _digest(secret)):
        raise Unauthorized("the token is not known to this server", hint=_HINT)
    info = _info(row)
    if info.revoked_at is not None:
        raise Unauthorized(f"token '{token_id}' was revoked", hint=_HINT)
    if info.expires_at is not None and info.expires_at <= now_ms():
        raise Unauthorized(f"token '{token_id}' has expired", hint=_HINT)
    return info


def count_tokens(store: Store) -> int:
    """How many tokens were ever created (auth turns on with the first one)."""
    with store.read() as connection:
        return int(connection.execute(select(func.count()).select_from(api_tokens)).scalar_one())


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _info(row: object) -> TokenInfo:
    return TokenInfo(
        id=row.id,  # type: ignore[attr-defined]
        user=row.user,  # type: ignore[attr-defined]
        role=row.role,  # type: ignore[attr-defined]
        created_at=row.created_at,  # type: ignore[attr-defined]
        created_by=row.created_by,  # type: ignore[attr-defined]
        expires_at=row.expires_at,  # type: ignore[attr-defined]
        revoked_at=row.revoked_at,  # type: ignore[attr-defined]
        description=row.description,  # type: ignore[attr-defined]
    )
