"""Deployments: named endpoints over model versions, changed by audited revisions.

Each change writes the next revision of the spec, a revision row and an audit event in
one transaction; a running server polls the revision number and picks the change up.
``rollback`` reinstates the spec before the newest change not undone yet, so repeated
rollbacks walk back through history like an editor's undo.

    create(store, "churn-prod", "churn@champion")
    split(store, "churn-prod", {"b": ("churn@challenger", 20)}, sticky="header:X-User-Id")
    canary(store, "churn-prod", "churn@challenger", steps=[5, 25, 50, 100], interval_s=600)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from ..clock import now_ms
from ..errors import AlreadyExists, Conflict, InvalidInput, NotFound
from ..governance import audit
from ..ops import operation
from ..registry.refs import ModelRef, parse_model_ref
from ..store import Store
from ..store.schema import deployment_revisions, deployments, model_aliases
from . import spec as specs
from .spec import DeploymentSpec

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class Deployment:
    name: str
    spec: DeploymentSpec
    revision: int
    created_by: str
    created_at: int
    updated_at: int

    @property
    def strategy(self) -> str:
        return self.spec.strategy

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "strategy": self.strategy,
            "revision": self.revision,
            **self.spec.to_dict(),
            "created_by": self.created_by,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class Revision:
    revision: int
    action: str
    actor: str
    time: int
    reason: str | None
    undone_by: int | None
    spec: DeploymentSpec

    def to_dict(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "action": self.action,
            "actor": self.actor,
            "time": self.time,
            "reason": self.reason,
            "undone_by": self.undone_by,
            "strategy": self.spec.strategy,
            **self.spec.to_dict(),
        }


def check_deployment_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInput(
            f"invalid deployment name {name!r}",
            hint="use letters, digits, '_', '.' and '-' (at most 128), e.g. churn-prod",
        )
    return name


@operation("deployments.create", role="writer")
def create(store: Store, name: str, model: str, *, reason: str | None = None) -> Deployment:
    """A new deployment sending all traffic to ``model`` (``churn@champion``)."""
    check_deployment_name(name)
    spec = specs.single(model)
    now = now_ms()
    with store.write() as connection:
        _check_models(connection, spec)
        if _row(connection, name) is not None:
            raise AlreadyExists(
                f"deployment '{name}' exists already",
                hint=f"change it with loopml deploy split/canary/switch {name}, or pick a new name",
            )
        try:
            connection.execute(
                insert(deployments).values(
                    name=name,
                    spec=_dump(spec),
                    revision=1,
                    created_by=store.actor,
                    created_at=now,
                    updated_at=now,
                )
            )
        except IntegrityError:  # created by another process since the check above
            raise AlreadyExists(f"deployment '{name}' exists already") from None
        _record(connection, store.actor, name, 1, "create", None, spec, reason)
    return get(store, name)


def ensure(store: Store, name: str, model: str) -> Deployment:
    """The deployment ``name``, created to serve ``model`` if it does not exist yet."""
    try:
        return get(store, name)
    except NotFound:
        try:
            return create(store, name, model, reason="created by loopml serve")
        except AlreadyExists:  # another server created it first
            return get(store, name)


@operation("deployments.get", role="reader")
def get(store: Store, name: str) -> Deployment:
    """Deployment ``name``: its spec and revision."""
    with store.read() as connection:
        return read(connection, name)


@operation("deployments.snapshot", role="reader")
def snapshot(
    store: Store, name: str
) -> tuple[int, DeploymentSpec, dict[str, tuple[str, int, str]]]:
    """What a scoring server needs to serve deployment ``name``, as of one moment: its
    revision, its spec, and for each variant's model the name, version and manifest hash."""
    from ..registry.cache import manifest_hash_in

    with store.read() as connection:
        deployment = read(connection, name)
        resolved = {}
        for variant in deployment.spec.variants:
            ref = parse_model_ref(variant.model)
            assert isinstance(ref, ModelRef)
            digest, uri = manifest_hash_in(connection, ref)
            resolved[variant.model] = (ref.name, int(uri.rsplit("/", 1)[1]), digest)
    return deployment.revision, deployment.spec, resolved


def read(connection: Connection, name: str) -> Deployment:
    """:func:`get` inside the caller's transaction."""
    row = _row(connection, name)
    if row is None:
        raise NotFound(
            f"deployment '{name}' does not exist",
            hint="list them: loopml deploy ls; create one: loopml deploy create NAME --model M",
        )
    return _to_deployment(row)


@operation("deployments.revision", role="reader")
def current_revision(store: Store, name: str) -> int | None:
    """The deployment's revision number, cheaply, for servers polling for changes."""
    with store.read() as connection:
        return connection.execute(
            select(deployments.c.revision).where(deployments.c.name == name)
        ).scalar()


@operation("deployments.list", role="reader")
def list_deployments(store: Store) -> list[Deployment]:
    """Every deployment, by name."""
    with store.read() as connection:
        rows = connection.execute(select(deployments).order_by(deployments.c.name)).all()
    return [_to_deployment(row) for row in rows]


@operation("deployments.history", role="reader")
def history(store: Store, name: str) -> list[Revision]:
    """Every revision of deployment ``name``, oldest first."""
    with store.read() as connection:
        if _row(connection, name) is None:
            raise NotFound(f"deployment '{name}' does not exist", hint="loopml deploy ls")
        rows = connection.execute(
            select(deployment_revisions)
            .where(deployment_revisions.c.name == name)
            .order_by(deployment_revisions.c.revision)
        ).all()
    return [
        Revision(
            r.revision,
            r.action,
            r.actor,
            r.time,
            r.reason,
            r.undone_by,
            DeploymentSpec.from_dict(json.loads(r.spec)),
        )
        for r in rows
    ]


@operation("deployments.split", role="writer")
def split(
    store: Store,
    name: str,
    variants: dict[str, tuple[str | None, int]],
    *,
    sticky: str | None = None,
    reason: str | None = None,
) -> Deployment:
    """A/B: set variants' models and weights; the first variant takes the rest.

    ``sticky`` (``header:X-User-Id`` or ``field:customer_id``) keeps each user on one
    variant; ``{"b": (None, 0)}`` removes variant ``b``.
    """
    return _change(store, name, "split", lambda s: specs.with_split(s, variants, sticky), reason)


@operation("deployments.shadow", role="writer")
def shadow(
    store: Store,
    name: str,
    model: str | None,
    *,
    variant: str = "shadow",
    percent: int = 100,
    reason: str | None = None,
) -> Deployment:
    """Mirror ``percent`` of requests to ``model``; its answers are logged, never returned.

    ``model=None`` stops mirroring.
    """
    return _change(
        store, name, "shadow", lambda s: specs.with_shadow(s, variant, model, percent), reason
    )


@operation("deployments.canary", role="writer")
def canary(
    store: Store,
    name: str,
    model: str,
    *,
    steps: list[int],
    interval_s: float,
    max_error_rate: float | None = None,
    max_p99_ms: float | None = None,
    reason: str | None = None,
) -> Deployment:
    """Start a canary of ``model``: a share of traffic that grows by ``steps`` (percents)
    every ``interval_s`` while it stays within its limits, then is promoted.

    The serving process advances it (see :func:`advance_canary`); breaching a limit
    relative to the stable variant rolls it back.
    """
    now = now_ms()
    return _change(
        store,
        name,
        "canary",
        lambda s: specs.with_canary(
            s, model, list(steps), interval_s, max_error_rate, max_p99_ms, now
        ),
        reason,
    )


@operation("deployments.abort_canary", role="writer")
def abort_canary(store: Store, name: str, *, reason: str | None = None) -> Deployment:
    """Stop deployment ``name``'s running canary; the stable variant takes all traffic."""

    def change(spec: DeploymentSpec) -> DeploymentSpec:
        if spec.canary is None or spec.canary.status != "running":
            raise Conflict(f"deployment '{name}' has no running canary")
        return specs.without_canary(spec, "aborted", reason or "aborted by " + store.actor)

    return _change(store, name, "canary-abort", change, reason)


@operation("deployments.advance_canary", role="writer")
def advance_canary(
    store: Store, name: str, revision: int, verdict: str, reason: str
) -> Deployment | None:
    """Move a running canary on: ``verdict`` is ``next`` (the next step; promotion after
    the last) or ``rollback``. Only applies if the deployment is still at ``revision``,
    so several replicas judging the same canary change it once; returns None otherwise.
    """

    if verdict not in ("next", "rollback"):
        raise InvalidInput(f"unknown canary verdict {verdict!r}", hint="next or rollback")

    def change(spec: DeploymentSpec) -> DeploymentSpec:
        state = spec.canary
        if state is None or state.status != "running":
            raise Conflict(f"deployment '{name}' has no running canary")
        if verdict == "rollback":
            return specs.without_canary(spec, "rolled_back", reason)
        step = state.step + 1
        if step >= len(state.steps):
            return specs.without_canary(spec, "promoted", reason)
        moved = specs.canary_weight(spec, state.steps[step])
        return replace(moved, canary=replace(state, step=step, step_started_at=now_ms()))

    action = {"rollback": "canary-rollback"}.get(verdict, "canary-step")
    try:
        return _change(store, name, action, change, reason, expect=revision, promote=True)
    except _Stale:
        return None


@operation("deployments.switch", role="writer")
def switch(
    store: Store, name: str, model: str | None = None, *, reason: str | None = None
) -> Deployment:
    """Blue-green: send all traffic to the idle variant (or to ``model``) at once."""
    return _change(store, name, "switch", lambda s: specs.switched(s, model), reason)


@operation("deployments.rollback", role="writer")
def rollback(store: Store, name: str, *, reason: str | None = None) -> Deployment:
    """Reinstate the spec from before the newest change that is not undone yet."""
    check_deployment_name(name)
    with store.write() as connection:
        row = _locked_row(connection, name)
        rows = connection.execute(
            select(deployment_revisions)
            .where(
                deployment_revisions.c.name == name,
                deployment_revisions.c.action != "rollback",
                deployment_revisions.c.undone_by.is_(None),
            )
            .order_by(deployment_revisions.c.revision.desc())
        ).all()
        if len(rows) < 2:
            raise Conflict(
                f"deployment '{name}' has no earlier revision to roll back to",
                hint=f"see its history: loopml deploy history {name}",
            )
        last, earlier = rows[0], rows[1]
        _undo_promotion(connection, store.actor, name, last)
        spec = DeploymentSpec.from_dict(json.loads(earlier.spec))
        if spec.canary is not None and spec.canary.status == "running":
            # Reinstating a half-done canary would restart its clock; stop it instead.
            spec = specs.without_canary(spec, "rolled_back", "deployment rolled back")
        revision = row.revision + 1
        before = DeploymentSpec.from_dict(json.loads(row.spec))
        _write(connection, name, spec, revision)
        _record(
            connection,
            store.actor,
            name,
            revision,
            "rollback",
            before,
            spec,
            reason or f"rollback of revision {last.revision}",
        )
        connection.execute(
            update(deployment_revisions)
            .where(
                deployment_revisions.c.name == name,
                deployment_revisions.c.revision == last.revision,
            )
            .values(undone_by=revision)
        )
    return get(store, name)


def _undo_promotion(connection: Connection, actor: str, name: str, last: Any) -> None:
    """Rolling back a canary's promotion also moves the alias it moved back, if nothing
    has moved that alias since; otherwise the rollback would keep the new version."""
    from ..registry.aliases import move_alias

    canary = DeploymentSpec.from_dict(json.loads(last.spec)).canary
    if canary is None or canary.status != "promoted" or canary.moved is None:
        return
    model, alias, previous, promoted = canary.moved
    current = connection.execute(
        select(model_aliases.c.version).where(
            model_aliases.c.name == model, model_aliases.c.alias == alias
        )
    ).scalar()
    if current != promoted:
        return
    move_alias(
        connection,
        actor,
        model,
        alias,
        previous,
        action="delete" if previous is None else "set",
        reason=f"rollback of deployment {name} revision {last.revision}",
    )


class _Stale(Exception):
    pass


def _change(
    store: Store,
    name: str,
    action: str,
    change: Callable[[DeploymentSpec], DeploymentSpec],
    reason: str | None,
    *,
    expect: int | None = None,
    promote: bool = False,
) -> Deployment:
    check_deployment_name(name)
    with store.write() as connection:
        row = _locked_row(connection, name)
        if expect is not None and row.revision != expect:
            raise _Stale
        before = DeploymentSpec.from_dict(json.loads(row.spec))
        spec = change(before)
        _check_models(connection, spec)
        if promote and spec.canary is not None and spec.canary.status == "promoted":
            spec = _promote_canary(connection, store.actor, before, spec)
        revision = row.revision + 1
        _write(connection, name, spec, revision)
        _record(connection, store.actor, name, revision, action, before, spec, reason)
    return get(store, name)


def _promote_canary(
    connection: Connection, actor: str, before: DeploymentSpec, after: DeploymentSpec
) -> DeploymentSpec:
    """The completed canary's version becomes the stable variant's.

    When the stable variant follows an alias (``churn@champion``), the alias moves (with
    its history and audit event), so everything else reading that alias follows too;
    otherwise the variant is pinned to the canary's version.
    """
    from ..registry.aliases import move_alias
    from ..registry.versions import resolve_version

    assert before.canary is not None
    stable = before.variant(before.canary.stable)
    candidate = parse_model_ref(before.variant("canary").model)
    assert isinstance(candidate, ModelRef)
    number = resolve_version(connection, candidate)
    target = parse_model_ref(stable.model)
    assert isinstance(target, ModelRef)
    if target.alias and target.name == candidate.name:
        previous = resolve_version(connection, target)
        move_alias(
            connection, actor, target.name, target.alias, number, action="set", reason="canary"
        )
        assert after.canary is not None
        moved = (target.name, target.alias, previous, number)
        return replace(after, canary=replace(after.canary, moved=moved))
    pinned = f"{candidate.name}/{number}"
    return replace(
        after,
        variants=tuple(
            replace(v, model=pinned) if v.name == stable.name else v for v in after.variants
        ),
    )


def _check_models(connection: Connection, spec: DeploymentSpec) -> None:
    """Every variant's model resolves now, so a typo fails the command, not the server."""
    from ..registry.versions import resolve_version

    for variant in spec.variants:
        ref = parse_model_ref(variant.model)
        assert isinstance(ref, ModelRef)
        resolve_version(connection, ref)


def _row(connection: Connection, name: str) -> Any:
    return connection.execute(select(deployments).where(deployments.c.name == name)).first()


def _locked_row(connection: Connection, name: str) -> Any:
    row = connection.execute(
        select(deployments).where(deployments.c.name == name).with_for_update()
    ).first()
    if row is None:
        raise NotFound(
            f"deployment '{name}' does not exist",
            hint="create it: loopml deploy create NAME --model MODEL",
        )
    return row


def _write(connection: Connection, name: str, spec: DeploymentSpec, revision: int) -> None:
    connection.execute(
        update(deployments)
        .where(deployments.c.name == name)
        .values(spec=_dump(spec), revision=revision, updated_at=now_ms())
    )


def _record(
    connection: Connection,
    actor: str,
    name: str,
    revision: int,
    action: str,
    before: DeploymentSpec | None,
    after: DeploymentSpec,
    reason: str | None,
) -> None:
    connection.execute(
        insert(deployment_revisions).values(
            name=name,
            revision=revision,
            spec=_dump(after),
            action=action,
            actor=actor,
            reason=reason,
            time=now_ms(),
        )
    )
    audit.record(
        connection,
        actor=actor,
        action=f"deployment.{action}",
        object_type="deployment",
        object_id=name,
        before=None if before is None else before.to_dict(),
        after={**after.to_dict(), "revision": revision, "reason": reason},
    )


def _dump(spec: DeploymentSpec) -> str:
    return json.dumps(spec.to_dict(), sort_keys=True)


def _to_deployment(row: Any) -> Deployment:
    return Deployment(
        row.name,
        DeploymentSpec.from_dict(json.loads(row.spec)),
        row.revision,
        row.created_by,
        row.created_at,
        row.updated_at,
    )
